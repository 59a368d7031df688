"""The sans-IO pipeline (Adj-RIB-In -> policy -> Loc-RIB -> Adj-RIB-Out -> UPDATE bytes) in virtual
time: the TARGET server's routing, graceful restart, loops, RFC 7606, refresh, two RIBs back to back."""

from __future__ import annotations

import ipaddress

import pytest

from pybgp.rib.manager import Rib
from pybgp.rib.policy import Policy
from pybgp.rib.route import PeerInfo, Source
from pybgp.wire.attributes import AsPathSegment, MpUnreach, PathAttributes
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.errors import UpdateAction, UpdateFault
from pybgp.wire.messages import Update, decode_message, end_of_rib_family
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
SEQ = AsPathSegmentType.AS_SEQUENCE
IBGP = WireContext(ibgp=True)
V4 = (1, 1)
SERVER_ID = IP("10.69.0.3")


def tor(n: int) -> PeerInfo:
    addr, local, net = (("10.69.0.65", "10.69.0.67", "10.69.0.64/26") if n == 1
                        else ("10.69.0.129", "10.69.0.131", "10.69.0.128/26"))
    return PeerInfo(name=f"tor{n}", address=IP(addr), asn=64600, local_as=64600, router_id=IP(addr),
                    local_address=IP(local), subnet=ipaddress.ip_network(net), interface=f"eth{n - 1}")


LB = PeerInfo(name="lb", address=IP("127.0.0.2"), asn=64698, local_as=64699, router_id=IP("127.0.0.2"),
              local_address=IP("127.0.0.1"))


def announce(*prefixes: str, nh: str, asns: tuple[int, ...] = (64599, 64597), **kw: object) -> Update:
    attrs = PathAttributes(origin=Origin.IGP, as_path=(AsPathSegment(SEQ, asns),) if asns else (),
                           next_hop=IP(nh), local_pref=100, **kw)  # type: ignore[arg-type]
    return Update(attributes=attrs, nlri=tuple(Prefix.parse(p) for p in prefixes))


def withdraw(*prefixes: str) -> Update:
    return Update(withdrawn=tuple(Prefix.parse(p) for p in prefixes))


def decoded(messages: list[bytes], ctx: WireContext = IBGP) -> list[Update]:
    out = []
    for m in messages:
        msg = decode_message(m, ctx)
        assert isinstance(msg, Update)
        out.append(msg)
    return out


def sent_routes(messages: list[bytes]) -> dict[str, PathAttributes | None]:
    routes: dict[str, PathAttributes | None] = {}
    for u in decoded(messages):
        for p in u.withdrawn:
            routes[str(p)] = None
        for p in u.nlri:
            routes[str(p)] = u.attributes
    return routes


def server_rib(import_table: bool = True) -> Rib:
    """The TARGET server: iBGP to both ToRs (rule 4 import, next-hop-self export), LB eBGP session;
    with `import_table=False` no neighbor keeps its pre-policy Adj-RIB-In."""
    rib = Rib(local_as=64600, router_id=SERVER_ID, batch_delay=0.01)
    tor_import = Policy.from_dict({"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}],
                                   "default": "accept"})
    tor_export = Policy.from_dict({"rules": [{"set": {"next_hop": "self"}}], "default": "accept"})
    for n in (1, 2):
        rib.add_neighbor(f"tor{n}", import_policy=tor_import, export_policy=tor_export,
                         import_table=import_table)
    rib.add_neighbor("lb", import_policy=Policy.from_dict(
        {"rules": [{"set": {"community_add": ["64698:64699"]}}], "default": "accept"}),
        export_policy=Policy.from_dict({"default": "reject"}), import_table=import_table)
    return rib


@pytest.mark.parametrize("import_table", [True, False])
def test_target_server_pipeline(import_table: bool) -> None:
    rib = server_rib(import_table)
    t = 0.0
    node = rib.local_origin("direct:node0", Source.INTERFACE, interface="node0")
    pods = rib.local_origin("kernel:119", Source.KERNEL, table=119)
    rib.originate(Prefix.parse("10.69.0.3/32"), PathAttributes(origin=Origin.IGP), node, t)
    rib.originate(Prefix.parse("10.224.0.0/30"), PathAttributes(origin=Origin.INCOMPLETE), pods, t)
    for n in (1, 2):
        rib.neighbor_up(f"tor{n}", tor(n), IBGP, [V4], t)
    rib.neighbor_up("lb", LB, WireContext(), [V4], t)
    rib.sync_step(t)
    assert rib.output(t) == {}  # batching delay not over yet
    assert rib.next_deadline() == 0.01
    out = rib.output(0.01)
    assert set(out) == {"tor1", "tor2", "lb"}
    lb_out = decoded(out["lb"], WireContext())  # export policy rejects all: only End-of-RIB
    assert len(lb_out) == 1 and end_of_rib_family(lb_out[0]) == V4
    routes = sent_routes(out["tor1"])
    assert set(routes) == {"10.69.0.3/32", "10.224.0.0/30"}
    assert all(a is not None and a.next_hop == IP("10.69.0.67") and a.local_pref == 100
               for a in routes.values())
    assert end_of_rib_family(decoded(out["tor1"])[-1]) == V4
    assert rib.output(1.0) == {}

    # Rule 5: the default route reflected by both ToRs merges; rule 4 rewrites its next hop.
    ch1 = rib.receive("tor1", announce("0.0.0.0/0", nh="10.69.5.1"), 1.0)
    ch2 = rib.receive("tor2", announce("0.0.0.0/0", nh="10.69.5.1"), 1.0)
    assert ch1[0].multipath[0].next_hop == IP("10.69.0.65")
    assert [str(p.next_hop) for p in ch2[0].multipath] == ["10.69.0.65", "10.69.0.129"]
    # A rack-mate's /32 reflected by ToR1 keeps its next hop (same /26).
    ch = rib.receive("tor1", announce("10.69.0.9/32", nh="10.69.0.73", asns=()), 1.0)
    assert ch[0].best is not None and ch[0].best.next_hop == IP("10.69.0.73")
    # iBGP-learned routes are not sent back to the other ToR (we are not a reflector).
    assert rib.output(2.0) == {}

    # Rule 8: LB addresses come in over eBGP, get the community, and go to both ToRs.
    rib.receive("lb", announce("192.0.2.10/32", nh="127.0.0.2", asns=(64698,)), 2.0)
    out = rib.output(3.0)
    for n in (1, 2):
        attrs = sent_routes(out[f"tor{n}"])["192.0.2.10/32"]
        assert attrs is not None and (64698 << 16 | 64699) in attrs.communities
        assert attrs.next_hop == tor(n).local_address
    assert "lb" not in out

    # The BFD path: ToR1 down flushes its paths in one batch; the default route keeps ToR2 only.
    changes = rib.neighbor_down("tor1", 4.0)
    assert {str(c.prefix) for c in changes} == {"0.0.0.0/0", "10.69.0.9/32"}
    default = next(c for c in changes if str(c.prefix) == "0.0.0.0/0")
    assert [str(p.next_hop) for p in default.multipath] == ["10.69.0.129"]
    # Withdraw from LB: ToR2 hears the withdrawal.
    rib.receive("lb", withdraw("192.0.2.10/32"), 5.0)
    assert sent_routes(rib.output(6.0)["tor2"]) == {"192.0.2.10/32": None}


@pytest.mark.parametrize("import_table", [True, False])
def test_graceful_restart_helper(import_table: bool) -> None:
    rib = server_rib(import_table)
    rib.neighbor_up("tor1", tor(1), IBGP, [V4], 0.0)
    rib.receive("tor1", announce("10.1.0.0/16", "10.2.0.0/16", nh="10.69.0.65"), 0.0)
    changes = rib.neighbor_down("tor1", 1.0, graceful_restart_time=120)
    assert changes == []  # forwarding unchanged while the peer restarts
    best = rib.loc.best(Prefix.parse("10.1.0.0/16"))
    assert best is not None and best.stale
    assert rib.next_deadline() == 121.0
    # Session back: 10.1/16 re-announced, then End-of-RIB sweeps 10.2/16.
    rib.neighbor_up("tor1", tor(1), IBGP, [V4], 5.0)
    rib.receive("tor1", announce("10.1.0.0/16", nh="10.69.0.65"), 5.0)
    changes = rib.receive("tor1", Update(), 6.0)
    assert [(str(c.prefix), c.best) for c in changes] == [("10.2.0.0/16", None)]
    fresh = rib.loc.best(Prefix.parse("10.1.0.0/16"))
    assert fresh is not None and not fresh.stale
    # Restart timer expiry sweeps everything still stale.
    rib.neighbor_down("tor1", 10.0, graceful_restart_time=30)
    assert rib.tick(39.0) == []
    changes = rib.tick(40.0)
    assert [(str(c.prefix), c.best) for c in changes] == [("10.1.0.0/16", None)]
    assert len(rib.loc) == 0


def test_loops_and_treat_as_withdraw() -> None:
    rib = Rib(local_as=64600, router_id=SERVER_ID)
    spine = PeerInfo(name="spine", address=IP("10.1.0.1"), asn=64599, local_as=64600,
                     router_id=IP("10.1.0.1"), local_address=IP("10.1.0.2"))
    rib.add_neighbor("spine", import_policy=Policy.accept_all(), export_policy=Policy.accept_all())
    rib.add_neighbor("tor1")
    rib.neighbor_up("spine", spine, WireContext(), [V4], 0.0)
    rib.neighbor_up("tor1", tor(1), IBGP, [V4], 0.0)
    assert rib.receive("spine", announce("10.9.0.0/16", nh="10.1.0.1", asns=(64599, 64600)), 0.0) == []
    assert rib.neighbors["spine"].loops == 1
    assert rib.receive("tor1", announce("10.8.0.0/16", nh="10.69.0.65", originator_id=SERVER_ID), 0.0) == []
    assert len(rib.loc) == 0
    ok = rib.receive("spine", announce("10.7.0.0/16", nh="10.1.0.1", asns=(64599,)), 0.0)
    assert len(ok) == 1
    fault = UpdateFault(action=UpdateAction.TREAT_AS_WITHDRAW, code=3, subcode=1)
    bad = announce("10.7.0.0/16", nh="10.1.0.1", asns=(64599,))
    bad = Update(attributes=bad.attributes, nlri=bad.nlri, fault=fault)
    changes = rib.receive("spine", bad, 1.0)
    assert [c.best for c in changes] == [None]


def test_rfc8212_ebgp_without_policy_exchanges_nothing() -> None:
    rib = Rib(local_as=64600, router_id=SERVER_ID)
    rib.add_neighbor("lb")
    rib.neighbor_up("lb", LB, WireContext(), [V4], 0.0)
    assert rib.receive("lb", announce("192.0.2.1/32", nh="127.0.0.2", asns=(64698,)), 0.0) == []
    assert rib.neighbors["lb"].adj_in is not None and len(rib.neighbors["lb"].adj_in.pre) == 1
    assert rib.accepted("lb") == {}
    rib.originate(Prefix.parse("10.0.0.0/8"), PathAttributes(origin=Origin.IGP),
                  rib.local_origin("static"), 0.0)
    rib.sync_step(0.0)
    out = rib.output(1.0)["lb"]  # only End-of-RIB
    assert len(out) == 1 and end_of_rib_family(decoded(out, WireContext())[0]) == V4


def test_import_policy_change_and_route_refresh() -> None:
    rib = server_rib()
    rib.neighbor_up("tor1", tor(1), IBGP, [V4], 0.0)
    rib.receive("tor1", announce("10.1.0.0/16", nh="10.69.9.9"), 0.0)
    changes = rib.set_import_policy("tor1", Policy.from_dict(
        {"rules": [{"match": {"prefix": "10.1.0.0/16"}, "action": "reject"}], "default": "accept"}), 1.0)
    assert [c.best for c in changes] == [None]
    changes = rib.set_import_policy("tor1", None, 2.0)  # back to iBGP default: accept as received
    assert changes[0].best is not None and changes[0].best.next_hop == IP("10.69.9.9")
    # Route refresh: the Adj-RIB-Out is sent again.
    static = rib.local_origin("static")
    rib.originate(Prefix.parse("10.69.0.3/32"), PathAttributes(origin=Origin.IGP), static, 2.0)
    rib.sync_step(2.0)
    first = rib.output(3.0)["tor1"]
    again = rib.route_refresh("tor1", 1, 1)
    assert sent_routes(again) == {k: v for k, v in sent_routes(first).items()}
    assert rib.route_refresh("tor1", 2, 1) == []


def test_initial_sync_in_slices() -> None:
    rib = server_rib()
    static = rib.local_origin("static")
    for i in range(5000):
        prefix = Prefix(Afi.IPV4, (10 << 24) | (i << 8), 24)
        rib.originate(prefix, PathAttributes(origin=Origin.IGP), static, 0.0)
    rib.neighbor_up("tor1", tor(1), IBGP, [V4], 0.0)
    steps = 0
    while rib.sync_step(0.0, budget=1000):
        steps += 1
    assert steps == 4
    out = rib.output(1.0)["tor1"]
    routes = sent_routes(out)
    assert len(routes) == 5000
    assert len(out) < 30  # packed: ~4096-byte UPDATEs, not one per prefix
    assert end_of_rib_family(decoded(out)[-1]) == V4


def test_two_ribs_back_to_back() -> None:
    a = Rib(local_as=64600, router_id=IP("10.0.0.1"))
    b = Rib(local_as=64601, router_id=IP("10.0.0.2"))
    pa = PeerInfo(name="b", address=IP("10.0.0.2"), asn=64601, local_as=64600, router_id=IP("10.0.0.2"),
                  local_address=IP("10.0.0.1"))
    pb = PeerInfo(name="a", address=IP("10.0.0.1"), asn=64600, local_as=64601, router_id=IP("10.0.0.1"),
                  local_address=IP("10.0.0.2"))
    a.add_neighbor("b", import_policy=Policy.accept_all(), export_policy=Policy.accept_all())
    b.add_neighbor("a", import_policy=Policy.accept_all(), export_policy=Policy.accept_all())
    a.neighbor_up("b", pa, WireContext(), [V4], 0.0)
    b.neighbor_up("a", pb, WireContext(), [V4], 0.0)
    a.originate(Prefix.parse("10.10.0.0/16"), PathAttributes(origin=Origin.IGP, med=5),
                a.local_origin("s"), 0.0)
    a.sync_step(0.0)
    b.sync_step(0.0)
    for msg in decoded(a.output(1.0)["b"], WireContext()):
        b.receive("a", msg, 1.0)
    best = b.loc.best(Prefix.parse("10.10.0.0/16"))
    assert best is not None
    assert best.attributes.as_path == (AsPathSegment(SEQ, (64600,)),)
    assert best.next_hop == IP("10.0.0.1") and best.attributes.med == 5
    assert b.neighbors["a"].adj_in is not None and b.neighbors["a"].adj_in.eor_received == {V4}
    # b must not send it back to a (it came from there): only b's End-of-RIB goes out.
    back = decoded(b.output(2.0)["a"], WireContext())
    assert len(back) == 1 and end_of_rib_family(back[0]) == V4
    a.withdraw_local(Prefix.parse("10.10.0.0/16"), a.local_origin("s"), 3.0)
    for msg in decoded(a.output(4.0)["b"], WireContext()):
        b.receive("a", msg, 4.0)
    assert len(b.loc) == 0


def test_ipv6_end_of_rib_is_recognised() -> None:
    rib = server_rib()
    rib.neighbor_up("tor1", tor(1), IBGP, [V4, (2, 1)], 0.0)
    rib.receive("tor1", Update(attributes=PathAttributes(), mp_unreach=MpUnreach(afi=2, safi=1)), 0.0)
    adj = rib.neighbors["tor1"].adj_in
    assert adj is not None and adj.eor_received == {(2, 1)}


def test_ipv6_routes_travel_in_mp_reach() -> None:
    v6 = (2, 1)
    a = Rib(local_as=64600, router_id=IP("10.0.0.1"))
    b = Rib(local_as=64600, router_id=IP("10.0.0.2"))
    pa = PeerInfo(name="b", address=ipaddress.IPv6Address("fd00::2"), asn=64600, local_as=64600,
                  router_id=IP("10.0.0.2"), local_address=ipaddress.IPv6Address("fd00::1"))
    pb = PeerInfo(name="a", address=ipaddress.IPv6Address("fd00::1"), asn=64600, local_as=64600,
                  router_id=IP("10.0.0.1"), local_address=ipaddress.IPv6Address("fd00::2"))
    a.add_neighbor("b")
    b.add_neighbor("a")
    a.neighbor_up("b", pa, IBGP, [V4, v6], 0.0)
    b.neighbor_up("a", pb, IBGP, [V4, v6], 0.0)
    static = a.local_origin("static")
    a.originate(Prefix.parse("2001:db8:1::/48"), PathAttributes(origin=Origin.IGP), static, 0.0)
    a.originate(Prefix.parse("10.1.0.0/16"), PathAttributes(origin=Origin.IGP), static, 0.0)
    a.sync_step(0.0)
    msgs = decoded(a.output(1.0)["b"])
    for msg in msgs:
        b.receive("a", msg, 1.0)
    best = b.loc.best(Prefix.parse("2001:db8:1::/48"))
    assert best is not None and best.next_hop == ipaddress.IPv6Address("fd00::1")
    # IPv4 next-hop-self is impossible on an IPv6-only session: not advertised rather than wrong.
    assert b.loc.best(Prefix.parse("10.1.0.0/16")) is None
    adj = b.neighbors["a"].adj_in
    assert adj is not None and adj.eor_received == {V4, v6}
    # Withdrawal in MP_UNREACH.
    a.withdraw_local(Prefix.parse("2001:db8:1::/48"), static, 2.0)
    for msg in decoded(a.output(3.0)["b"]):
        b.receive("a", msg, 3.0)
    assert len(b.loc) == 0


def test_policy_prepend_and_med_on_export() -> None:
    a = Rib(local_as=64600, router_id=IP("10.0.0.1"))
    spine = PeerInfo(name="spine", address=IP("10.1.0.1"), asn=64599, local_as=64600,
                     router_id=IP("10.1.0.1"), local_address=IP("10.1.0.2"))
    a.add_neighbor("spine", export_policy=Policy.from_dict(
        {"rules": [{"match": {"prefix": "10.5.0.0/16 le 24"}, "set": {"as_path_prepend": 2, "med": 30}}]}))
    a.neighbor_up("spine", spine, WireContext(), [V4], 0.0)
    static = a.local_origin("static")
    a.originate(Prefix.parse("10.5.1.0/24"), PathAttributes(origin=Origin.IGP), static, 0.0)
    a.originate(Prefix.parse("10.6.0.0/16"), PathAttributes(origin=Origin.IGP), static, 0.0)
    a.sync_step(0.0)
    routes = {}
    for u in decoded(a.output(1.0)["spine"], WireContext()):
        routes.update({str(p): u.attributes for p in u.nlri})
    assert set(routes) == {"10.5.1.0/24"}  # explicit policy: default reject for the rest
    attrs = routes["10.5.1.0/24"]
    assert attrs is not None and attrs.med == 30 and attrs.next_hop == IP("10.1.0.2")
    assert attrs.as_path == (AsPathSegment(SEQ, (64600, 64600, 64600)),)


@pytest.mark.parametrize("import_table", [True, False])
def test_enhanced_route_refresh_sweeps_what_was_not_resent(import_table: bool) -> None:
    rib = server_rib(import_table)
    rib.neighbor_up("tor1", tor(1), IBGP, [V4], 0.0)
    rib.receive("tor1", announce("10.1.0.0/16", "10.2.0.0/16", nh="10.69.0.65"), 0.0)
    assert rib.refresh_begin("tor1", V4) == 2
    rib.receive("tor1", announce("10.1.0.0/16", nh="10.69.0.65"), 1.0)
    changes = rib.refresh_end("tor1", V4, 2.0)
    assert [(str(c.prefix), c.best) for c in changes] == [("10.2.0.0/16", None)]
    assert rib.loc.best(Prefix.parse("10.1.0.0/16")) is not None


@pytest.mark.parametrize("import_table", [True, False])
def test_add_path_receive_keeps_each_path(import_table: bool) -> None:
    rib = server_rib(import_table)
    rib.neighbor_up("tor1", tor(1), WireContext(ibgp=True, addpath_rx=frozenset({V4})), [V4], 0.0)
    p1, p2 = Prefix.parse("10.9.0.0/16", path_id=1), Prefix.parse("10.9.0.0/16", path_id=2)
    attrs = announce("10.9.0.0/16", nh="10.69.0.70", asns=()).attributes
    attrs2 = announce("10.9.0.0/16", nh="10.69.0.71", asns=()).attributes
    rib.receive("tor1", Update(attributes=attrs, nlri=(p1,)), 0.0)
    rib.receive("tor1", Update(attributes=attrs2, nlri=(p2,)), 0.0)
    key = Prefix.parse("10.9.0.0/16")
    assert [str(p.next_hop) for p in rib.loc.multipath(key)] == ["10.69.0.70", "10.69.0.71"]
    assert set(rib.accepted("tor1")) == {p1, p2}
    changes = rib.receive("tor1", Update(withdrawn=(p1,)), 1.0)
    assert [str(p.next_hop) for p in changes[0].multipath] == ["10.69.0.71"]
    changes = rib.neighbor_down("tor1", 2.0)
    assert [c.best for c in changes] == [None] and len(rib.loc) == 0
