"""The RIB's shortcuts give the answers of the general code they bypass: `rank_pair` vs `select`,
`never_exported` vs `export_path`, the Loc-RIB's one- and two-candidate paths, the shared prefix
key, the identity-keyed policy cache, the bulk `LocRib.update_many`, `Rib.receive`'s one-prefix
shortcut, the cheap constructors, the next hop an import policy keeps on the path, and
`benchmarks/rib_ingest.py` (smoke run)."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
import subprocess
import sys
from pathlib import Path as FsPath
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.rib.adj_rib import export_path
from pybgp.rib.decision import DecisionOptions, Reason, _all_equal, rank_pair, select
from pybgp.rib.loc_rib import LocRib
from pybgp.rib.manager import Rib, never_exported
from pybgp.rib.policy import Policy, PolicyContext, policy_context
from pybgp.rib.route import BestChange, Path, PeerInfo, Source, best_change, make_path, rewrite_attributes
from pybgp.wire.attributes import AsPathSegment, PathAttributes, WireImage
from pybgp.wire.constants import AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update, decode_message
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
ROOT = FsPath(__file__).resolve().parents[2]
PFX = Prefix.parse("10.1.0.0/24")


def peer(name: str, n: int, *, asn: int = 64600, rr_client: bool = False,
         source: Source = Source.BGP) -> PeerInfo:
    return PeerInfo(name=name, source=source, address=IP(f"10.69.0.{n}"), asn=asn, local_as=64600,
                    router_id=IP(f"10.0.0.{n}"), local_address=IP("10.69.0.100"), rr_client=rr_client,
                    subnet=ipaddress.ip_network("10.69.0.0/24"))


attrs_st = st.builds(
    lambda lp, asns, med, origin, oid, clusters: PathAttributes(
        origin=origin, local_pref=lp, med=med, next_hop=IP("10.70.0.1"),
        as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, tuple(asns)),) if asns else (),
        originator_id=oid, cluster_list=tuple(IP(f"10.9.9.{c}") for c in range(clusters))),
    st.sampled_from([None, 100, 200]), st.lists(st.sampled_from([65001, 65002]), max_size=2),
    st.sampled_from([None, 0, 10]), st.sampled_from([Origin.IGP, Origin.INCOMPLETE]),
    st.sampled_from([None, IP("10.0.0.7"), IP("10.0.0.1")]), st.integers(0, 2))
PAIR_PEERS = [peer("a", 1), peer("b", 2), peer("e", 3, asn=65001)]


@settings(max_examples=300, deadline=None)
@given(attrs_st, attrs_st, st.sampled_from(PAIR_PEERS), st.sampled_from(PAIR_PEERS), st.booleans(),
       st.integers(0, 1), st.integers(0, 1), st.sampled_from([1, 2, 16]), st.booleans())
def test_rank_pair_agrees_with_select(a1: PathAttributes, a2: PathAttributes, p1: PeerInfo, p2: PeerInfo,
                                      same_attrs: bool, id1: int, id2: int, limit: int, relax: bool) -> None:
    options = DecisionOptions(multipath_limit=limit, multipath_relax=relax)
    a = Path(attributes=a1, peer=p1, path_id=id1)
    b = Path(attributes=a1 if same_attrs else a2, peer=p2, path_id=id2)
    if p1 is p2 and id1 == id2:
        return  # one origin's path replaces its previous one: never two candidates
    pair = rank_pair(a, b, options)
    sel = select((a, b), options)
    assert (pair is None) == (not _all_equal((a, b), options))  # declines exactly where select eliminates
    if pair is None:
        return  # the caller runs select itself
    ordered, count = pair
    expected = sel.multipath + tuple(p for p, _ in sel.losers)
    assert [id(p) for p in ordered] == [id(p) for p in expected]
    assert count == len(sel.multipath)


def test_add_path_pair_without_multipath_keeps_the_loser() -> None:
    """Two paths of one ADD-PATH peer tie on every tie-breaker; with ECMP off the second must stay a
    candidate (it was dropped from the Selection before `Reason.PATH_ID`)."""
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"))
    a = Path(attributes=attrs, peer=PAIR_PEERS[0], path_id=2)
    b = Path(attributes=attrs, peer=PAIR_PEERS[0], path_id=1)
    sel = select((a, b), DecisionOptions(multipath_limit=1))
    assert sel.best is b and sel.losers == ((a, Reason.PATH_ID),)
    loc = LocRib(DecisionOptions(multipath_limit=1))
    loc.update(PFX, PAIR_PEERS[0], a, 2)
    loc.update(PFX, PAIR_PEERS[0], b, 1)
    change = loc.update(PFX, PAIR_PEERS[0], None, 1)
    assert change is not None and change.best == a


def test_rank_pair_declines_when_a_step_decides() -> None:
    lp200 = PathAttributes(origin=Origin.IGP, local_pref=200, next_hop=IP("10.70.0.1"))
    lp100 = PathAttributes(origin=Origin.IGP, local_pref=100, next_hop=IP("10.70.0.1"))
    assert rank_pair(Path(attributes=lp100, peer=PAIR_PEERS[0]), Path(attributes=lp200, peer=PAIR_PEERS[1]),
                     DecisionOptions()) is None


KINDS = {
    "ibgp": peer("ibgp", 11), "ibgp2": peer("ibgp2", 15), "ibgp-client": peer("client", 12, rr_client=True),
    "ebgp": peer("ebgp", 13, asn=65001), "local": peer("static", 14, source=Source.STATIC),
}


def test_never_exported_only_where_export_path_refuses() -> None:
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100,
                           as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65001,)),))
    refused = set()
    for oname, origin in KINDS.items():
        for tname, target in KINDS.items():
            if target.source is not Source.BGP:
                continue
            path = Path(attributes=attrs, peer=origin)
            out = export_path(path, PFX, target, router_id=IP("10.0.0.100"))
            if never_exported(origin, target):
                assert out is None, (oname, tname)
                refused.add((oname, tname))
    # RFC 4271 9.2 / RFC 4456 8: exactly these are known without looking at the path
    itself = {(name, name) for name in ("ibgp", "ibgp2", "ibgp-client", "ebgp")}
    assert refused == itself | {("ibgp", "ibgp2"), ("ibgp2", "ibgp")}


def tor_rib(*, client: bool = False) -> Rib:
    rib = Rib(local_as=64600, router_id=IP("10.69.0.100"))
    names = [("tor1", 1, False), ("tor2", 2, False)] + ([("c1", 3, True)] if client else [])
    for name, n, is_client in names:
        rib.add_neighbor(name, import_policy=Policy.accept_all(), export_policy=Policy.accept_all(),
                         rr_client=is_client)
        rib.neighbor_up(name, peer(name, n, rr_client=is_client), WireContext(ibgp=True), [(1, 1)], 0.0)
        rib.sync_step(0.0)
    rib.output(1.0, force=True)  # the End-of-RIBs
    return rib


def test_ibgp_path_goes_to_client_only() -> None:
    rib = tor_rib(client=True)
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100)
    rib.receive("tor1", Update(attributes=attrs, nlri=(PFX,)), 0.0)
    out = rib.output(1.0, force=True)
    assert set(out) == {"c1"}  # reflected to the client, not to the other non-client ToR
    assert PFX in rib.neighbors["c1"].adj_out.sent and not rib.neighbors["tor2"].adj_out.sent


def test_withdraw_sent_when_an_unexportable_path_takes_over() -> None:
    """A local route was advertised to tor2; an iBGP path with a higher LOCAL_PREF wins: the fast
    refusal must still withdraw what tor2 had, not merely skip it."""
    rib = tor_rib()
    static = rib.local_origin("static")
    rib.originate(PFX, PathAttributes(origin=Origin.IGP), static, 0.0)
    rib.output(1.0, force=True)
    assert PFX in rib.neighbors["tor2"].adj_out.sent
    better = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=200)
    changes = rib.receive("tor1", Update(attributes=better, nlri=(PFX,)), 0.0)
    assert changes and changes[0].best is not None and changes[0].best.peer.name == "tor1"
    assert rib.output(2.0, force=True)["tor2"]  # the withdrawal
    assert PFX not in rib.neighbors["tor2"].adj_out.sent


def test_reject_all_export_skips_preparation() -> None:
    """An eBGP neighbor without an export policy (RFC 8212) or with `export = "reject"` gets nothing,
    and no path is rewritten for it (its export cache stays empty)."""
    rib = tor_rib()
    for name, policy in (("lb", None), ("lb2", Policy.reject_all())):
        rib.add_neighbor(name, import_policy=Policy.accept_all(), export_policy=policy)
        rib.neighbor_up(name, peer(name, 20 + len(name), asn=65099), WireContext(), [(1, 1)], 0.0)
        rib.sync_step(0.0)
    rib.output(1.0, force=True)
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100)
    rib.receive("tor1", Update(attributes=attrs, nlri=(PFX,)), 0.0)
    rib.receive("lb", Update(attributes=PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.22"), as_path=(
        AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65099,)),)), nlri=(Prefix.parse("10.3.0.0/24"),)), 0.0)
    out = rib.output(2.0, force=True)
    assert "lb" not in out and "lb2" not in out
    assert not rib.neighbors["lb"].export_cache and not rib.neighbors["lb2"].export_cache
    assert set(out) == {"tor1", "tor2"}  # the lb's route goes to both ToRs (eBGP-learned)
    # the old way round: a policy that turns to reject-all withdraws what was sent
    rib.set_export_policy("tor1", Policy.reject_all(), 3.0)
    assert rib.output(4.0, force=True)["tor1"] and not rib.neighbors["tor1"].adj_out.sent


def test_adj_rib_in_shares_the_loc_rib_key() -> None:
    rib = tor_rib()
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100)
    for name in ("tor1", "tor2"):
        fresh = Prefix(PFX.afi, PFX.network + 0, PFX.length)  # each UPDATE decodes its own object
        rib.receive(name, Update(attributes=attrs, nlri=(fresh,)), 0.0)
    key = rib.loc.key(PFX)
    assert key == PFX and len(rib.loc.multipath(PFX)) == 2
    for name in ("tor1", "tor2"):
        adj = rib.neighbors[name].adj_in
        assert adj is not None
        assert next(iter(adj.pre)) is key
    assert rib.loc.key(Prefix.parse("10.2.0.0/24")) == Prefix.parse("10.2.0.0/24")  # absent: itself


def test_two_candidate_shapes_in_loc_rib() -> None:
    loc = LocRib(DecisionOptions(multipath_limit=1))
    p1, p2 = peer("tor1", 1), peer("tor2", 2)
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100)
    a, b = Path(attributes=attrs, peer=p1), Path(attributes=attrs, peer=p2)
    assert loc.update(PFX, p1, a) is not None
    assert loc.update(PFX, p1, a) is None  # the same object again: nothing changed
    assert loc.update(PFX, p2, b) is None  # tor1 has the lower router ID; no ECMP with limit 1
    assert loc.multipath(PFX) == (a,) and loc.candidates(PFX) == (a, b)
    assert loc.remove_peer("tor2", [PFX]) == []  # the loser left: selection unchanged
    assert loc.update(PFX, p2, b) is None
    change = loc.remove_peer("tor1", [PFX])
    assert len(change) == 1 and change[0].best == b and change[0].multipath == (b,)
    change = loc.remove_peer("tor2", [PFX])
    assert change[0].best is None and PFX not in loc
    # with ECMP both are selected, and losing either one is a change
    loc = LocRib()
    loc.update(PFX, p1, a)
    ecmp = loc.update(PFX, p2, b)
    assert ecmp is not None and ecmp.multipath == (a, b)
    assert [c.multipath for c in loc.remove_peer("tor2", [PFX])] == [(a,)]
    assert dict(loc.items()) == {PFX: (a,)}


def test_policy_cache_by_identity_gives_the_same_answers() -> None:
    policy = Policy.from_dict({"rules": [
        {"set": {"local_pref": 300}, "action": "continue"},
        {"match": {"local_pref": {"ge": 300}}, "set": {"next_hop": "peer-unless-same-subnet"}},
    ], "default": "reject"})
    tor = peer("tor1", 1)
    ctx = PolicyContext(prefix=PFX, neighbor=tor)
    for _ in range(2):  # a miss, then a hit; a distinct but equal set misses and agrees
        for nh in ("10.70.0.1", "10.69.0.5"):
            attrs = PathAttributes(origin=Origin.IGP, next_hop=IP(nh), local_pref=100)
            out = policy.apply(Path(attributes=attrs, peer=tor), ctx)
            assert out is not None and out.attributes.local_pref == 300
            assert out.next_hop == (IP("10.69.0.1") if nh == "10.70.0.1" else IP(nh))
    assert Policy.from_dict({"rules": [{"action": "reject"}], "default": "accept"}).apply(
        Path(attributes=PathAttributes(), peer=tor), ctx) is None


@settings(max_examples=100, deadline=None)
@given(attrs_st, st.dictionaries(st.sampled_from(["next_hop", "local_pref", "med", "communities"]),
                                 st.sampled_from([None, 7])))
def test_rewrite_attributes_is_dataclasses_replace(attrs: PathAttributes, raw: dict[str, object]) -> None:
    changes: dict[str, Any] = {
        k: ((7,) if k == "communities" else IP("10.9.9.9") if k == "next_hop" and v else v)
        for k, v in raw.items()}
    with_wire = dataclasses.replace(attrs, wire=WireImage(semantic=(), parts=(), as4=True, ibgp=True))
    out = rewrite_attributes(with_wire, changes)
    expected = dataclasses.replace(with_wire, **changes, wire=None)
    assert out == expected and hash(out) == hash(expected) and out.wire is None
    assert [getattr(out, f.name) for f in dataclasses.fields(out)] == \
        [getattr(expected, f.name) for f in dataclasses.fields(expected)]
    with pytest.raises(TypeError):
        rewrite_attributes(attrs, {"nexthop": None})


def test_best_change_is_the_dataclass() -> None:
    a = Path(attributes=PathAttributes(origin=Origin.IGP), peer=PAIR_PEERS[0])
    for best, multipath in ((a, (a,)), (None, ())):
        fast = best_change(PFX, best, multipath)
        slow = BestChange(prefix=PFX, best=best, multipath=multipath)
        assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
        assert type(fast) is BestChange and fast.best is best and fast.multipath is multipath
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.best = a  # type: ignore[misc]


def test_make_path_is_the_dataclass() -> None:
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"))
    for args in ((attrs, PAIR_PEERS[0]), (attrs, PAIR_PEERS[1], (IP("10.69.0.1"),), True, 7)):
        fast = make_path(*args)  # type: ignore[arg-type]
        slow = Path(**dict(zip(("attributes", "peer", "next_hops", "stale", "path_id"), args, strict=False)))
        assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
        assert type(fast) is Path and fast.attributes is attrs
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.stale = False  # type: ignore[misc]


def test_policy_context_is_the_dataclass() -> None:
    for args in ((PFX, PAIR_PEERS[0]), (PFX, None, True)):
        fast = policy_context(*args)  # type: ignore[arg-type]
        slow = PolicyContext(**dict(zip(("prefix", "neighbor", "export"), args, strict=False)))
        assert fast == slow and hash(fast) == hash(slow) and repr(fast) == repr(slow)
        assert type(fast) is PolicyContext and fast.prefix is PFX
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.export = False  # type: ignore[misc]


def _same_candidates(fast: tuple[Path, ...], slow: tuple[Path, ...]) -> bool:
    """The same candidates: equal paths holding the very same attribute set (the Loc-RIB builds the
    `Path`s it hands out from what it stores, and a twin (`LocRib._twin`) holds the other path's set)."""
    return len(fast) == len(slow) and all(
        f.attributes is s.attributes and f == s for f, s in zip(fast, slow, strict=True))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PAIR_PEERS), attrs_st, st.lists(st.integers(0, 3), max_size=5)),
                max_size=8), st.sampled_from([1, 2, 16]))
def test_update_many_is_update_per_prefix(steps: list[tuple[PeerInfo, PathAttributes, list[int]]],
                                          limit: int) -> None:
    options = DecisionOptions(multipath_limit=limit)
    fast, slow = LocRib(options), LocRib(options)
    prefixes = [Prefix.parse(f"10.{i}.0.0/24") for i in range(4)]
    for origin, attrs, picks in steps:
        path = Path(attributes=attrs, peer=origin)
        run = [prefixes[i] for i in picks]
        fast_changes: list[BestChange] = []
        keys = fast.update_many(run, origin, path, fast_changes)
        slow_changes = [c for p in run if (c := slow.update(p, origin, path)) is not None]
        assert fast_changes == slow_changes
        assert keys == run and all(k is fast.key(k) for k in keys)
    for prefix in prefixes:
        assert _same_candidates(fast.candidates(prefix), slow.candidates(prefix))
        assert fast.multipath(prefix) == slow.multipath(prefix)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(PAIR_PEERS), attrs_st, st.integers(0, 3)), max_size=10),
       st.sampled_from([1, 2, 16]))
def test_update_one_is_update(steps: list[tuple[PeerInfo, PathAttributes, int]], limit: int) -> None:
    """`LocRib.update_one` (the one-prefix UPDATE's path) leaves the state, changes and key object of
    `update`."""
    options = DecisionOptions(multipath_limit=limit)
    fast, slow = LocRib(options), LocRib(options)
    prefixes = [Prefix.parse(f"10.{i}.0.0/24") for i in range(4)]
    for origin, attrs, pick in steps:
        path = Path(attributes=attrs, peer=origin)
        fast_changes: list[BestChange] = []
        key = fast.update_one(prefixes[pick], origin, path, fast_changes)
        change = slow.update(prefixes[pick], origin, path)
        assert fast_changes == ([change] if change is not None else [])
        assert key == prefixes[pick] and key is fast.key(key)
    for prefix in prefixes:
        assert _same_candidates(fast.candidates(prefix), slow.candidates(prefix))
        assert fast.multipath(prefix) == slow.multipath(prefix)


def test_import_path_is_apply() -> None:
    """`Policy.import_path` answers as `apply` with the import context, for every kind of policy."""
    by_prefix = {"rules": [{"match": {"prefix": "10.1.0.0/16 le 24"}, "set": {"local_pref": 50}}]}
    tor = PAIR_PEERS[0]
    for policy in (*IMPORTS, Policy.from_dict(by_prefix)):
        for med, nh in ((10, IP("10.70.0.1")), (5, IP("10.69.0.7")), (None, IP("10.69.0.1"))):
            path = Path(attributes=PathAttributes(origin=Origin.IGP, next_hop=nh, med=med), peer=tor)
            expected = policy.apply(path, PolicyContext(prefix=PFX, neighbor=tor))
            assert policy.import_path(path, PFX, tor) == expected


class RunsRib(Rib):
    """A Rib whose one-prefix shortcut hands its prefix to the general `_receive_runs` instead."""

    def _receive_one(self, adj: Any, peer: PeerInfo, policy: Policy, attrs: PathAttributes,
                     prefix: Prefix, changes: list[BestChange]) -> None:
        self._receive_runs(adj, peer, policy, attrs, [((), (prefix,))], changes)


def test_export_verdict_is_per_session() -> None:
    """`_export_changes` remembers "iBGP origin refused towards this session" per neighbor; a new
    session of the neighbor (here: now a route-reflector client) gets a new verdict."""
    rib = Rib(local_as=64600, router_id=IP("10.69.0.100"))
    for name, n in (("tor1", 1), ("c1", 3)):
        rib.add_neighbor(name)
        rib.neighbor_up(name, peer(name, n), WireContext(ibgp=True), [(1, 1)], 0.0)
        rib.sync_step(0.0)
    rib.output(1.0, force=True)  # the End-of-RIBs
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100)
    other = Prefix.parse("10.2.0.0/24")
    for prefix in (PFX, other):  # the second one meets the remembered verdict
        rib.receive("tor1", Update(attributes=attrs, nlri=(prefix,)), 2.0)
    assert rib.output(3.0, force=True) == {}  # iBGP to a non-client: refused
    rib.neighbor_down("c1", 4.0)
    rib.neighbor_up("c1", peer("c1", 3, rr_client=True), WireContext(ibgp=True), [(1, 1)], 4.0)
    rib.sync_step(4.0)
    third = Prefix.parse("10.3.0.0/24")
    rib.receive("tor1", Update(attributes=attrs, nlri=(third,)), 5.0)
    rib.output(6.0, force=True)
    assert set(rib.neighbors["c1"].adj_out.sent) == {PFX, other, third}


RULE_4 = {"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}]}
IMPORTS = [Policy.accept_all(), Policy.reject_all(), Policy.from_dict(RULE_4),
           Policy.from_dict({"rules": [{"match": {"med": 10}, "action": "reject"}], "default": "accept"})]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["announce", "withdraw", "restart"]), st.integers(0, 1),
                          attrs_st, st.integers(0, 2), st.integers(0, len(IMPORTS) - 1), st.booleans()),
                max_size=12))
def test_receive_one_is_receive_runs(steps: list[tuple[str, int, PathAttributes, int, int, bool]]) -> None:
    """`Rib.receive`'s one-prefix shortcut (`_receive_one`) leaves the state and changes of the
    general run code: Adj-RIB-In (received, rejected, stale), Loc-RIB, and the UPDATEs for a client."""
    ribs = []
    for cls in (Rib, RunsRib):
        rib = cls(local_as=64600, router_id=IP("10.69.0.100"))
        for name, n, client in (("tor1", 1, False), ("tor2", 2, False), ("c1", 3, True)):
            rib.add_neighbor(name, rr_client=client)
            rib.neighbor_up(name, peer(name, n, rr_client=client), WireContext(ibgp=True), [(1, 1)], 0.0)
            rib.sync_step(0.0)
        ribs.append(rib)
    prefixes = [Prefix.parse(f"10.{i}.0.0/24") for i in range(3)]
    for now, (kind, tor, attrs, pick, policy, reflected) in enumerate(steps):
        name = ("tor1", "tor2")[tor]
        if not reflected:  # no RFC 4456 attributes: the shortcut's shape (the others take the loop check)
            attrs = dataclasses.replace(attrs, originator_id=None, cluster_list=())
        results = []
        for rib in ribs:
            if kind == "restart":  # graceful restart: stale paths, a new session, a new import policy
                rib.neighbor_down(name, now, graceful_restart_time=60.0)
                rib.neighbor_up(name, peer(name, tor + 1), WireContext(ibgp=True), [(1, 1)], now)
                rib.set_import_policy(name, IMPORTS[policy], now)
                rib.sync_step(now)
                continue
            update = (Update(attributes=attrs, nlri=(prefixes[pick],)) if kind == "announce"
                      else Update(withdrawn=(prefixes[pick],)))
            results.append(rib.receive(name, update, now))
        if results:
            assert results[0] == results[1]
    fast, slow = ribs
    for name in ("tor1", "tor2"):
        a, b = fast.neighbors[name].adj_in, slow.neighbors[name].adj_in
        assert a is not None and b is not None
        assert (a.pre, a.rejected, a.stale) == (b.pre, b.rejected, b.stale)
    for prefix in prefixes:
        assert fast.loc.candidates(prefix) == slow.loc.candidates(prefix)
        assert fast.loc.multipath(prefix) == slow.loc.multipath(prefix)
    assert fast.output(1e6, force=True) == slow.output(1e6, force=True)


def test_rule_4_next_hop_rides_on_the_path() -> None:
    """TARGET rule 4 rewrites the next hop into `Path.next_hops`: both ToRs' paths keep the one
    received attribute set, every reader of `next_hop` sees the ToR, and the export to a client
    carries it in NEXT_HOP."""
    rib = tor_rib(client=True)
    rule_4 = Policy.from_dict({"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}]})
    for name in ("tor1", "tor2"):
        rib.set_import_policy(name, rule_4, 0.0)
    outside = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100)
    rack_mate = PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.70"), local_pref=100)
    other = Prefix.parse("10.2.0.0/24")
    for name in ("tor1", "tor2"):
        rib.receive(name, Update(attributes=outside, nlri=(PFX,)), 0.0)
        rib.receive(name, Update(attributes=rack_mate, nlri=(other,)), 0.0)
    one, two = rib.loc.multipath(PFX)
    assert one.attributes is outside and two.attributes is outside  # no rewritten copies
    assert {one.next_hop, two.next_hop} == {IP("10.69.0.1"), IP("10.69.0.2")}
    assert all(p.attributes is rack_mate and p.next_hops == () and p.next_hop == IP("10.69.0.70")
               for p in rib.loc.multipath(other))  # inside the subnet: kept, nothing rewritten
    assert rib.neighbors["tor1"].adj_in is not None
    assert rib.neighbors["tor1"].adj_in.pre[PFX].next_hop == IP("10.70.0.1")  # pre-policy, as received
    sent = {}
    for data in rib.output(2.0, force=True)["c1"]:
        msg = decode_message(data, WireContext(ibgp=True))
        assert isinstance(msg, Update)
        sent.update({p: msg.attributes for p in msg.nlri})
    best = rib.loc.best(PFX)
    assert best is not None and sent[PFX] is not None and sent[PFX].next_hop == best.next_hop
    assert sent[other] is not None and sent[other].next_hop == IP("10.69.0.70")
    # The same policy on export still writes NEXT_HOP, the attribute that goes on the wire.
    out = rule_4.apply(Path(attributes=outside, peer=peer("x", 9)),
                       PolicyContext(prefix=PFX, neighbor=peer("c1", 3), export=True))
    assert out is not None and out.next_hops == () and out.attributes.next_hop == IP("10.69.0.3")


NH_OBJECTS = [IP("10.69.0.70"), IP("10.70.0.1"), None]  # one object each, as the codec's value cache gives
NH_ACTIONS = ["peer-unless-same-subnet", "peer", "self", "unchanged", "10.9.9.9"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(NH_ACTIONS), st.sampled_from(["accept", "continue", "reject"])),
                min_size=1, max_size=3),
       st.sampled_from(["accept", "reject"]),
       st.lists(st.tuples(attrs_st, st.sampled_from(NH_OBJECTS), st.booleans(), st.integers(1, 2)),
                min_size=1, max_size=8))
def test_next_hop_only_policy_memo_is_evaluate(
    rules: list[tuple[str, str]], default: str, paths: list[tuple[PathAttributes, IP | None, bool, int]]
) -> None:
    """A policy of next-hop rules only (rule 4's shape) answers imports from a memo per (next hop,
    session); every answer equals the rules' own evaluation, with the attribute set untouched."""
    spec = [{"set": {"next_hop": nh}, "action": verdict} for nh, verdict in rules]
    policy = Policy.from_dict({"rules": spec, "default": default})
    v6 = (ipaddress.IPv6Address("fd00::1"),)
    for attrs, nh, mp, n in paths:
        tor = PAIR_PEERS[n - 1]
        path = Path(attributes=dataclasses.replace(attrs, next_hop=nh), peer=tor, next_hops=v6 if mp else ())
        ctx = PolicyContext(prefix=PFX, neighbor=tor)
        expected = policy.evaluate(path, ctx)
        for use_import in (False, True, False, True):  # a miss, then hits, through both entry points
            got = policy.import_path(path, PFX, tor) if use_import else policy.apply(path, ctx)
            if expected is None:
                assert got is None
            else:
                assert got is not None and got.attributes is path.attributes
                assert got.next_hops == expected[1] and expected[0] is path.attributes
                assert (got is path) == (expected[1] is path.next_hops)


@pytest.mark.parametrize("table", [[], ["--no-import-table"]], ids=["import_table", "no_import_table"])
def test_rib_ingest_benchmark_smoke(table: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "rib_ingest.py"), "--prefixes", "3000", "--sets", "7",
         "--unique", "300", "--json", *table],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    results = {r["feed"]: r for r in json.loads(proc.stdout.strip().splitlines()[-1])}
    shared, unique = results["shared"], results["unique"]
    assert shared["paths"] == 6000 and unique["paths"] == 600
    assert shared["best_changes"] == 6000  # first path, then the ECMP pair, per prefix
    assert shared["down_changes"] == 3000 and unique["down_changes"] == 300
    assert shared["paths_per_s"] > 0 and shared["receive_cpu_s"] >= 0
    assert "paths/s" in proc.stdout and "bytes per path" in proc.stdout and "BFD-down flush" in proc.stdout


def test_rib_ingest_real_feed_smoke(testdata: FsPath) -> None:
    """`--real`: the first prefixes of feed (a), each ToR with its own next hop (kept by rule 4)."""
    proc = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "rib_ingest.py"), "--prefixes", "0", "--unique", "0",
         "--real", "--real-limit", "2000", "--testdata", str(testdata), "--json"],
        capture_output=True, text=True, timeout=120, cwd=ROOT, check=True)
    (real,) = json.loads(proc.stdout.strip().splitlines()[-1])
    assert real["feed"] == "real" and real["prefixes"] == 2000 and real["paths"] == 4000
    assert real["best_changes"] == 4000 and real["down_changes"] == 2000
