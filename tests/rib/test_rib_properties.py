"""Hypothesis: after any sequence of announcements, withdrawals, session losses and local
originations, the Loc-RIB equals a from-scratch decision over what every origin currently holds,
and the reported changes replay to the same state (what the kernel layer relies on)."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.rib.decision import select
from pybgp.rib.manager import Rib
from pybgp.rib.policy import Policy
from pybgp.rib.route import BestChange, Path, PeerInfo, same_path
from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
PREFIXES = [Prefix.parse(f"10.{i}.0.0/16") for i in range(6)]
PEERS = {
    f"p{i}": PeerInfo(name=f"p{i}", address=IP(f"10.255.0.{i + 1}"), asn=64600 if i < 2 else 65000 + i,
                      local_as=64600, router_id=IP(f"1.1.1.{i + 1}"), local_address=IP("10.255.0.100"))
    for i in range(3)
}
attrs_st = st.builds(
    lambda lp, asns, med, origin, nh: PathAttributes(
        origin=origin, local_pref=lp, med=med, next_hop=nh,
        as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, tuple(asns)),) if asns else ()),
    st.sampled_from([None, 100, 200]), st.lists(st.sampled_from([65001, 65002, 65003]), max_size=3),
    st.sampled_from([None, 0, 10]), st.sampled_from(list(Origin)),
    # two next hops: sets equal but for NEXT_HOP (the two ToRs' copies) become twins (`LocRib._twin`)
    st.sampled_from([IP("10.255.1.1"), IP("10.255.1.2")]))
names_st = st.sampled_from(sorted(PEERS))
prefixes_st = st.sets(st.sampled_from(PREFIXES), min_size=1)
op_st = st.one_of(
    st.tuples(st.just("announce"), names_st, prefixes_st, attrs_st),
    st.tuples(st.just("withdraw"), names_st, prefixes_st),
    st.tuples(st.just("down"), st.sampled_from(sorted(PEERS))),
    st.tuples(st.just("local"), st.sampled_from(PREFIXES), st.booleans()),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(op_st, max_size=25))
def test_loc_rib_matches_fresh_decision(ops: list[tuple[object, ...]]) -> None:
    rib = Rib(local_as=64600, router_id=IP("10.255.0.100"))
    for name, peer in PEERS.items():
        rib.add_neighbor(name, import_policy=Policy.accept_all())
        rib.neighbor_up(name, peer, WireContext(ibgp=peer.ibgp), [(1, 1)], 0.0)
    static = rib.local_origin("static")
    replay: dict[Prefix, tuple[Path, ...]] = {}

    def apply(changes: list[BestChange]) -> None:
        for c in changes:
            if c.best is None:
                replay.pop(c.prefix, None)
            else:
                replay[c.prefix] = c.multipath

    for op in ops:
        kind = op[0]
        if kind == "announce":
            _, who, prefixes, attrs = op
            assert isinstance(who, str) and isinstance(prefixes, set) and isinstance(attrs, PathAttributes)
            name = who
            if rib.neighbors[name].peer is None:
                rib.neighbor_up(name, PEERS[name], WireContext(), [(1, 1)], 0.0)
            apply(rib.receive(name, Update(attributes=attrs, nlri=tuple(sorted(prefixes))), 0.0))
        elif kind == "withdraw":
            _, who, prefixes = op
            assert isinstance(who, str) and isinstance(prefixes, set)
            name = who
            apply(rib.receive(name, Update(withdrawn=tuple(sorted(prefixes))), 0.0))
        elif kind == "down":
            assert isinstance(op[1], str)
            apply(rib.neighbor_down(op[1], 0.0))
        else:
            _, prefix, add = op
            assert isinstance(prefix, Prefix)
            if add:
                apply(rib.originate(prefix, PathAttributes(origin=Origin.IGP), static, 0.0))
            else:
                apply(rib.withdraw_local(prefix, static, 0.0))

    for prefix in PREFIXES:
        # accept-all import: the path as received (Adj-RIB-In) is the candidate, independent of the Loc-RIB
        adjs = [rib.neighbors[name].adj_in for name in PEERS]
        candidates = [p for adj in adjs if adj is not None and (p := adj.pre.get(prefix)) is not None]
        local = rib.origins["static"][1].get(prefix)
        if local is not None:
            candidates.append(local)
        expected = select(candidates)
        got = rib.loc.multipath(prefix)
        # The Loc-RIB may hold a twin of a received path (`LocRib._twin`): the same path, not the object.
        assert len(got) == len(expected.multipath)
        assert all(any(same_path(g, e) for e in expected.multipath) for g in got)
        best = expected.best
        assert (got[0] if got else None) is best or (best is not None and same_path(got[0], best))
        assert replay.get(prefix, ()) == got


REJECT = 65000 << 16 | 666
IMPORTS = {  # prefix-free import policies: rule 4 (no subnet here: always the peer), a reject, none
    "p0": {"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}]},
    "p1": {"rules": [{"match": {"community": "65000:666"}, "action": "reject"},
                     {"set": {"next_hop": "peer-unless-same-subnet", "local_pref": 150}}],
           "default": "accept"},
    "p2": {"rules": [], "default": "accept"},
}
bulk_op_st = st.one_of(
    st.tuples(st.just("announce"), names_st, prefixes_st, attrs_st, st.booleans()),
    st.tuples(st.just("withdraw"), names_st, prefixes_st),
    st.tuples(st.just("down"), names_st, st.booleans()),
    st.tuples(st.just("eor"), names_st),
    st.tuples(st.just("policy"), names_st),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(bulk_op_st, max_size=25))
def test_bulk_receive_is_the_per_prefix_receive(ops: list[tuple[object, ...]]) -> None:
    """`Rib.receive` takes an UPDATE in runs (`LocRib.update_many`, one policy run, one Adj-RIB-In
    `dict.update`) unless ADD-PATH is negotiated; a Rib whose sessions negotiated it (every path
    identifier 0 here) takes the per-prefix loop. Both must end in the same state, change by change."""
    ribs = [Rib(local_as=64600, router_id=IP("10.255.0.100")) for _ in range(2)]
    contexts = [WireContext(ibgp=True), WireContext(ibgp=True, addpath_rx=frozenset({(1, 1)}))]

    def up(rib: Rib, ctx: WireContext, name: str) -> None:
        rib.neighbor_up(name, PEERS[name], ctx, [(1, 1)], 0.0)

    for rib, ctx in zip(ribs, contexts, strict=True):
        for name in PEERS:
            rib.add_neighbor(name, import_policy=Policy.from_dict(IMPORTS[name], name))
            up(rib, ctx, name)
    for op in ops:
        results = []
        for rib, ctx in zip(ribs, contexts, strict=True):
            kind, name = op[0], op[1]
            assert isinstance(name, str)
            nb = rib.neighbors[name]
            if nb.peer is None:
                up(rib, ctx, name)
            if kind == "announce":
                _, _, prefixes, attrs, tagged = op
                assert isinstance(prefixes, set) and isinstance(attrs, PathAttributes)
                if tagged:
                    attrs = PathAttributes(origin=attrs.origin, as_path=attrs.as_path, med=attrs.med,
                                           next_hop=attrs.next_hop, local_pref=attrs.local_pref,
                                           communities=(REJECT,))
                results.append(rib.receive(name, Update(attributes=attrs, nlri=tuple(sorted(prefixes))), 0.0))
            elif kind == "withdraw":
                assert isinstance(op[2], set)
                results.append(rib.receive(name, Update(withdrawn=tuple(sorted(op[2]))), 0.0))
            elif kind == "down":  # with graceful restart: paths stay, stale, until End-of-RIB
                results.append(rib.neighbor_down(name, 0.0, graceful_restart_time=30.0 if op[2] else None))
            elif kind == "eor":
                results.append(rib.receive(name, Update(), 0.0))
            else:  # soft reconfiguration: accept everything as received
                results.append(rib.set_import_policy(name, Policy.accept_all(), 0.0))
        assert results[0] == results[1]
        for name in PEERS:
            fast, slow = (rib.neighbors[name].adj_in for rib in ribs)
            assert (fast is None) == (slow is None)
            if fast is not None and slow is not None:
                assert fast.pre == slow.pre and fast.rejected == slow.rejected and fast.stale == slow.stale
        for prefix in PREFIXES:
            assert ribs[0].loc.candidates(prefix) == ribs[1].loc.candidates(prefix)
            assert ribs[0].loc.multipath(prefix) == ribs[1].loc.multipath(prefix)
