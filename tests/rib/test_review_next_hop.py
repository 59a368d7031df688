"""Review of the RIB's next-hop handling after the "rule-4 next hop kept on the Path" change: every
consumer sees the import policy's next hop, the received one stays in the Adj-RIB-In only, and the
identity-keyed policy caches never answer for another session.

Each test states the property it pins; together they guard the paths the bulk receive and the
policy memos bypass (MP_REACH-carried IPv4, soft reconfiguration, session resets, ECMP, graceful
restart, one UPDATE holding duplicates and withdrawals)."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.rib.manager import Rib
from pybgp.rib.policy import Policy, PolicyContext
from pybgp.rib.route import Path, PeerInfo
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update, decode_message, encode_message
from pybgp.wire.mp import MpReach
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
SUBNET = ipaddress.ip_network("10.69.0.0/24")
PFX = Prefix.parse("10.1.0.0/24")
PFX2 = Prefix.parse("10.2.0.0/24")
OUTSIDE = IP("10.70.0.1")
RULE_4 = {"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}]}
CTX = WireContext(as4=True, ibgp=True)


def peer(name: str, n: int, *, rr_client: bool = False, local: str = "10.69.0.100") -> PeerInfo:
    return PeerInfo(name=name, address=IP(f"10.69.0.{n}"), asn=64600, local_as=64600,
                    router_id=IP(f"10.0.0.{n}"), local_address=IP(local), rr_client=rr_client,
                    subnet=SUBNET)


def server_rib(import_spec: dict[str, object] | None = None) -> Rib:
    """A server: two ToRs (iBGP, the import policy under test) and one route-reflector client."""
    rib = Rib(local_as=64600, router_id=IP("10.69.0.100"))
    for name, n in (("tor1", 1), ("tor2", 2)):
        rib.add_neighbor(name, import_policy=Policy.from_dict(import_spec or RULE_4, name))
        rib.neighbor_up(name, peer(name, n), CTX, [(1, 1), (2, 1)], 0.0)
    rib.add_neighbor("c1", import_policy=Policy.accept_all(), export_policy=Policy.accept_all(),
                     rr_client=True)
    rib.neighbor_up("c1", peer("c1", 3, rr_client=True), CTX, [(1, 1)], 0.0)
    rib.sync_step(0.0)
    rib.output(1.0, force=True)  # End-of-RIB out of the way
    return rib


def wire(update: Update) -> Update:
    """The UPDATE as a session decodes it (interned attribute set, wire image)."""
    msg = decode_message(encode_message(update, CTX), CTX)
    assert isinstance(msg, Update)
    return msg


def sent_next_hops(rib: Rib, name: str, now: float) -> dict[Prefix, IP | None]:
    """Prefix -> the NEXT_HOP (or MP_REACH next hop) of what `name` was sent; None = withdrawn."""
    out: dict[Prefix, IP | None] = {}
    for data in rib.output(now, force=True).get(name, []):
        msg = decode_message(data, CTX)
        assert isinstance(msg, Update)
        out.update(dict.fromkeys(msg.withdrawn, None))
        if msg.attributes is not None:
            out.update(dict.fromkeys(msg.nlri, msg.attributes.next_hop))
        if msg.mp_reach is not None:
            nh = msg.mp_reach.next_hops[0]
            assert isinstance(nh, IP)
            out.update(dict.fromkeys(msg.mp_reach.nlri, nh))
    return out


def test_ipv4_in_mp_reach_exports_the_policy_next_hop() -> None:
    """An IPv4 prefix carried in MP_REACH (RFC 4760) next to a NEXT_HOP attribute: rule 4 rewrites
    the MP next hop; the reflected UPDATE must carry the ToR, not the received NEXT_HOP attribute
    (33a37f7 sent the received one: the rewritten next hop stayed in `next_hops`)."""
    rib = server_rib()
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.70"), local_pref=100)
    rib.receive("tor1", wire(Update(attributes=attrs, mp_reach=MpReach(afi=1, safi=1, next_hops=(OUTSIDE,),
                                                                      nlri=(PFX,)))), 2.0)
    best = rib.loc.best(PFX)
    assert best is not None and best.next_hop == IP("10.69.0.1")
    assert sent_next_hops(rib, "c1", 3.0) == {PFX: IP("10.69.0.1")}


def test_policy_reload_moves_the_next_hop_both_ways() -> None:
    """Soft reconfiguration: from rule 4 to "unchanged" the received next hop comes back (the old
    policy's is dropped from the Loc-RIB and the client is told), and back to rule 4 it goes again."""
    rib = server_rib()
    attrs = PathAttributes(origin=Origin.IGP, next_hop=OUTSIDE, local_pref=100)
    rib.receive("tor1", wire(Update(attributes=attrs, nlri=(PFX,))), 2.0)
    assert sent_next_hops(rib, "c1", 3.0) == {PFX: IP("10.69.0.1")}
    changes = rib.set_import_policy("tor1", Policy.from_dict({"rules": [], "default": "accept"}), 4.0)
    best = rib.loc.best(PFX)
    assert best is not None and best.next_hop == OUTSIDE and best.next_hops == ()
    assert [c.best.next_hop for c in changes if c.best is not None] == [OUTSIDE]
    assert sent_next_hops(rib, "c1", 5.0) == {PFX: OUTSIDE}
    rib.set_import_policy("tor1", Policy.from_dict(RULE_4), 6.0)
    best = rib.loc.best(PFX)
    assert best is not None and best.next_hop == IP("10.69.0.1")
    assert sent_next_hops(rib, "c1", 7.0) == {PFX: IP("10.69.0.1")}
    adj = rib.neighbors["tor1"].adj_in
    assert adj is not None and adj.pre[PFX].next_hop == OUTSIDE  # pre-policy view: as received


@pytest.mark.parametrize("spec", [
    {"rules": [{"set": {"next_hop": "self", "local_pref": 150}}]},  # the general policy cache
    {"rules": [{"set": {"next_hop": "self"}}]},  # the next-hop-only memo
])
def test_policy_caches_answer_per_session_object(spec: dict[str, object]) -> None:
    """The import and export policy caches are keyed by identity; a new session of the same
    neighbor (a new `PeerInfo`, here with another local address) must not get the old session's
    answer: "self" is the new session's address (33a37f7's cache, keyed by names, answered the old one)."""
    policy = Policy.from_dict(spec)
    attrs = PathAttributes(origin=Origin.IGP, next_hop=OUTSIDE)
    for local in ("10.69.0.100", "10.69.0.200", "10.69.0.100"):
        tor = peer("tor1", 1, local=local)
        for export in (False, True):
            ctx = PolicyContext(prefix=PFX, neighbor=tor, export=export)
            got = policy.apply(Path(attributes=attrs, peer=tor), ctx)
            assert got is not None and got.next_hop == IP(local), (local, export)


def test_same_attributes_other_next_hops_stay_ecmp() -> None:
    """Both ToRs send one interned set: rule 4 gives each path its ToR, and both stay selected; with a
    next hop inside the subnet nothing is rewritten and both paths still count (the kernel merges
    the equal next hops, the Loc-RIB must not)."""
    rib = server_rib()
    outside = PathAttributes(origin=Origin.IGP, next_hop=OUTSIDE, local_pref=100)
    inside = PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.70"), local_pref=100)
    for name in ("tor1", "tor2"):
        rib.receive(name, wire(Update(attributes=outside, nlri=(PFX,))), 2.0)
        rib.receive(name, wire(Update(attributes=inside, nlri=(PFX2,))), 2.0)
    assert sorted(str(p.next_hop) for p in rib.loc.multipath(PFX)) == ["10.69.0.1", "10.69.0.2"]
    both = rib.loc.multipath(PFX2)
    assert [p.peer.name for p in both] == ["tor1", "tor2"]
    assert {p.next_hop for p in both} == {IP("10.69.0.70")}


def test_graceful_restart_stale_paths_keep_the_policy_next_hop() -> None:
    rib = server_rib()
    rib.receive("tor1", wire(Update(attributes=PathAttributes(origin=Origin.IGP, next_hop=OUTSIDE,
                                                              local_pref=100), nlri=(PFX,))), 2.0)
    rib.neighbor_down("tor1", 3.0, graceful_restart_time=30.0)
    best = rib.loc.best(PFX)
    assert best is not None and best.stale and best.next_hop == IP("10.69.0.1")


@pytest.mark.parametrize("addpath", [False, True])
def test_one_update_with_duplicates_and_withdrawals(addpath: bool) -> None:
    """One UPDATE withdrawing and announcing the same prefix, with a prefix twice and an IPv4 run in
    MP_REACH beside the NLRI field: the bulk path (no ADD-PATH) and the per-prefix path agree, and
    the last announcement of a prefix wins (MP_REACH's, read after the NLRI field)."""
    rib = Rib(local_as=64600, router_id=IP("10.69.0.100"))
    ctx = dataclasses.replace(CTX, addpath_rx=frozenset({(2, 1)}) if addpath else frozenset())
    rib.add_neighbor("tor1", import_policy=Policy.from_dict(RULE_4))
    rib.neighbor_up("tor1", peer("tor1", 1), ctx, [(1, 1)], 0.0)
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.70"), local_pref=100)
    rib.receive("tor1", Update(attributes=attrs, nlri=(PFX, PFX2)), 1.0)
    update = Update(withdrawn=(PFX,), attributes=attrs, nlri=(PFX, PFX, PFX2),
                    mp_reach=MpReach(afi=1, safi=1, next_hops=(OUTSIDE,), nlri=(PFX2,)))
    rib.receive("tor1", update, 2.0)
    one, two = rib.loc.best(PFX), rib.loc.best(PFX2)
    assert one is not None and one.next_hop == IP("10.69.0.70")
    assert two is not None and two.next_hop == IP("10.69.0.1")  # rule 4 on the MP_REACH run
    assert rib.accepted_count("tor1") == 2


# -- the bulk receive against the per-prefix one, with MP_REACH runs and session resets ------------

V4 = [Prefix.parse(f"10.{i}.0.0/24") for i in range(4)]
V6 = [Prefix.parse(f"2001:db8:{i}::/48") for i in range(3)]
V6_HOPS = [(ipaddress.ip_address("fd00:69::70"),),
           (ipaddress.ip_address("2001:db8:ff::1"), ipaddress.ip_address("fe80::1"))]
POLICIES = [RULE_4, {"rules": [{"set": {"next_hop": "self"}}]},
            {"rules": [{"set": {"next_hop": "peer-unless-same-subnet", "local_pref": 150}}]},
            {"rules": [{"set": {"next_hop": "peer"}, "action": "continue"}], "default": "accept"}]
update_st = st.builds(
    lambda nlri, v4_mp, v6, hops, nh, withdrawn: Update(
        withdrawn=tuple(withdrawn),
        attributes=PathAttributes(origin=Origin.IGP, next_hop=IP(nh), local_pref=100),
        nlri=tuple(nlri),
        mp_reach=(MpReach(afi=2, safi=1, next_hops=hops, nlri=tuple(v6)) if v6
                  else MpReach(afi=1, safi=1, next_hops=(OUTSIDE,), nlri=tuple(v4_mp)) if v4_mp else None)),
    st.lists(st.sampled_from(V4), max_size=3), st.lists(st.sampled_from(V4), max_size=2),
    st.lists(st.sampled_from(V6), max_size=2), st.sampled_from(V6_HOPS),
    st.sampled_from(["10.69.0.70", "10.70.0.1"]), st.lists(st.sampled_from(V4), max_size=2))
review_op_st = st.one_of(
    st.tuples(st.just("update"), st.sampled_from(["tor1", "tor2"]), update_st),
    st.tuples(st.just("reset"), st.sampled_from(["tor1", "tor2"]), st.booleans()),
    st.tuples(st.just("policy"), st.sampled_from(["tor1", "tor2"]), st.integers(0, len(POLICIES) - 1)),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(review_op_st, max_size=20), st.integers(0, len(POLICIES) - 1))
def test_bulk_and_per_prefix_receive_agree_with_mp_reach(ops: list[tuple[object, ...]], first: int) -> None:
    """`tests/rib/test_rib_properties.py` compares the two receive loops on IPv4 NLRI; here the
    UPDATEs also carry IPv4 and IPv6 MP_REACH runs (global + link-local next hops), the sessions
    come back as new `PeerInfo` objects (the next-hop memo is keyed by them), with and without
    graceful restart, and import policies change in between."""
    contexts = [CTX, dataclasses.replace(CTX, addpath_rx=frozenset({(1, 1), (2, 1)}))]
    ribs = [Rib(local_as=64600, router_id=IP("10.69.0.100")) for _ in contexts]
    for rib, ctx in zip(ribs, contexts, strict=True):
        for name, n in (("tor1", 1), ("tor2", 2)):
            rib.add_neighbor(name, import_policy=Policy.from_dict(POLICIES[first], name))
            rib.neighbor_up(name, peer(name, n), ctx, [(1, 1), (2, 1)], 0.0)
    for op in ops:
        kind, name = op[0], str(op[1])
        sessions = {name: peer(name, 1 if name == "tor1" else 2)}  # a new object per session
        results = []
        for rib, ctx in zip(ribs, contexts, strict=True):
            if kind == "update":
                assert isinstance(op[2], Update)
                results.append(rib.receive(name, op[2], 1.0))
            elif kind == "reset":
                results.append(rib.neighbor_down(name, 1.0, graceful_restart_time=30.0 if op[2] else None))
                rib.neighbor_up(name, sessions[name], ctx, [(1, 1), (2, 1)], 1.0)
            else:
                assert isinstance(op[2], int)
                results.append(rib.set_import_policy(name, Policy.from_dict(POLICIES[op[2]]), 1.0))
        assert results[0] == results[1]
        for prefix in V4 + V6:
            fast, slow = (rib.loc.candidates(prefix) for rib in ribs)
            assert fast == slow
            assert [p.next_hop for p in fast] == [p.next_hop for p in slow]
