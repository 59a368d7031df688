"""NetlinkFib against the real kernel, in throwaway namespaces: groups, failover, fallback, reconcile."""

from __future__ import annotations

import sys
from collections.abc import Iterable
from ipaddress import ip_address
from typing import Any

import pytest

from pybgp.fib import netlink_writer
from pybgp.fib.model import FibPort, FibRoute, NextHop
from pybgp.fib.netlink import MODE_MULTIPATH, MODE_NEXTHOP_OBJECTS, NetlinkFib
from pybgp.fib.netlink_groups import Hops
from pybgp.wire.nlri import Prefix

from .conftest import ip, ip_json

pytestmark = pytest.mark.lab


class SettledThreadedFib(NetlinkFib):
    """`NetlinkFib` with the writer thread, each write waiting until its requests landed: the tests in
    this file read the kernel with `ip` right after a call, and must see the same results in both modes
    (the asynchronous behaviour itself: test_netlink_writer_lab.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("writer_thread", True)
        super().__init__(*args, **kwargs)

    def apply_nexthops(self, wanted: dict[Prefix, Hops], delete: Iterable[Prefix] = ()) -> None:
        super().apply_nexthops(wanted, delete)
        self.settle(wait=True)


@pytest.fixture(autouse=True, params=[False, True], ids=["sync", "writer-thread"])
def writer_thread(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Every test of this file runs without and with the netlink writer thread."""
    if request.param:
        monkeypatch.setattr(sys.modules[__name__], "NetlinkFib", SettledThreadedFib)
    return bool(request.param)

A = NextHop(ip_address("10.0.1.2"), "eth0")
B = NextHop(ip_address("10.0.2.2"), "eth1")
A6 = NextHop(ip_address("2001:db8:1::2"), "eth0")
B6 = NextHop(ip_address("2001:db8:2::2"), "eth1")
PROTO = 186


def v4(n: int, start: int = 0) -> list[Prefix]:
    return [Prefix.parse(f"10.{100 + (start + i) // 256}.{(start + i) % 256}.0/24") for i in range(n)]


def kernel_routes(netns: str, family: str = "-4") -> list[dict[str, Any]]:
    args = (family, "route", "show", "table", "main", "proto", str(PROTO))
    routes: list[dict[str, Any]] = ip_json(netns, *args)
    return routes


def kernel_nexthops(netns: str) -> list[dict[str, Any]]:
    return [nh for nh in ip_json(netns, "nexthop", "show") if nh.get("protocol") in ("bgp", str(PROTO))]


def gateways(route: dict[str, Any], groups: dict[int, list[str]]) -> set[str]:
    if "nhid" in route and route["nhid"] in groups:
        return set(groups[route["nhid"]])
    if "nexthops" in route:
        return {hop["gateway"] for hop in route["nexthops"]}
    return {route["gateway"]}


def group_members(netns: str) -> dict[int, list[str]]:
    """Group id -> member gateways, from `ip -j nexthop show`."""
    nhs = kernel_nexthops(netns)
    singles = {nh["id"]: nh["gateway"] for nh in nhs if "gateway" in nh}
    return {nh["id"]: [singles[m["id"]] for m in nh["group"]] for nh in nhs if "group" in nh}


def test_ecmp_routes_share_nexthop_groups(netns: str) -> None:
    fib = NetlinkFib(netns=netns)
    try:
        assert isinstance(fib, FibPort) and fib.mode == MODE_NEXTHOP_OBJECTS
        ps = v4(300)
        six = [Prefix.parse(f"2001:db8:ff:{i:x}::/64") for i in range(20)]
        fib.apply(
            replace=[FibRoute(p, (A, B)) for p in ps[:250]]
            + [FibRoute(p, (A,)) for p in ps[250:]]
            + [FibRoute(p, (A6, B6)) for p in six]
        )
        assert fib.failures() == {}
        assert fib.nexthop_group_count() == 3
        groups = group_members(netns)
        routes = kernel_routes(netns)
        assert len(routes) == 300
        assert len({r["nhid"] for r in routes}) == 2  # 300 IPv4 routes, two shared groups
        assert sum(gateways(r, groups) == {"10.0.1.2", "10.0.2.2"} for r in routes) == 250
        routes6 = kernel_routes(netns, "-6")
        assert len(routes6) == 20 and len({r["nhid"] for r in routes6}) == 1
        assert gateways(routes6[0], groups) == {"2001:db8:1::2", "2001:db8:2::2"}
        assert fib.route_count() == 320
        assert len(fib.routes()) == 320 and fib.routes()[ps[0]] == FibRoute(ps[0], (A, B))
        writes = fib.stats.route_writes
        fib.apply(replace=[FibRoute(p, (B, A)) for p in ps[:250]])  # same sets: nothing sent
        assert fib.stats.route_writes == writes
    finally:
        fib.close(flush=True)
    assert kernel_routes(netns) == [] and kernel_nexthops(netns) == []


@pytest.mark.parametrize("objects", [True, False])
def test_apply_nexthops_matches_apply(netns: str, objects: bool) -> None:
    """The exporter's fast path (nexthop tuples by prefix, no FibRoutes) installs what `apply` would."""
    fib = NetlinkFib(netns=netns, nexthop_objects=objects)
    try:
        ps = v4(200)
        both, one = (A, B), (A,)
        fib.apply_nexthops({p: both if i % 2 else one for i, p in enumerate(ps)})
        assert fib.failures() == {} and fib.route_count() == 200
        fib.apply_nexthops({p: both for p in ps[:50]}, delete=ps[150:])
        expected = {p: FibRoute(p, both if i < 50 or i % 2 else one) for i, p in enumerate(ps[:150])}
        assert fib.routes() == expected
        groups = group_members(netns)
        routes = {r["dst"]: gateways(r, groups) for r in kernel_routes(netns)}
        assert routes == {str(p): {str(nh.gateway) for nh in r.nexthops} for p, r in expected.items()}
    finally:
        fib.close(flush=True)
    assert kernel_routes(netns) == [] and kernel_nexthops(netns) == []


def test_nexthop_down_rewrites_groups_and_every_route_follows(netns: str) -> None:
    fib = NetlinkFib(netns=netns)
    try:
        ps = v4(2000)
        fib.apply(replace=[FibRoute(p, (A, B)) for p in ps[:1900]] + [FibRoute(p, (A,)) for p in ps[1900:]])
        assert fib.nexthops() == {A, B}
        before = fib.stats.requests
        fib.nexthop_down(A)
        assert fib.nexthops() == {B}
        assert fib.stats.requests - before <= 3  # one group rewrite, one group delete, the nexthop object
        routes = kernel_routes(netns)
        groups = group_members(netns)
        assert len(routes) == 1900  # routes only via A went with their group
        assert all(gateways(r, groups) == {"10.0.2.2"} for r in routes)
        assert set(fib.routes()) == set(ps[:1900])
        assert all(route.nexthops == (B,) for route in fib.routes().values())
        # the RIB follows with per-route updates to {B}: no-ops in the kernel
        writes = fib.stats.route_writes
        fib.apply(replace=[FibRoute(p, (B,)) for p in ps[:1900]])
        assert fib.stats.route_writes == writes
        # A comes back for every route of the group: one group rewrite, not 1900 route writes
        requests = fib.stats.requests
        fib.apply(replace=[FibRoute(p, (A, B)) for p in ps[:1900]])
        assert fib.stats.requests - requests <= 2 and fib.stats.route_writes == writes
        groups = group_members(netns)
        assert all(gateways(r, groups) == {"10.0.1.2", "10.0.2.2"} for r in kernel_routes(netns))
    finally:
        fib.close(flush=True)


def test_multipath_fallback_mode(netns: str) -> None:
    fib = NetlinkFib(netns=netns, nexthop_objects=False)
    try:
        assert fib.mode == MODE_MULTIPATH
        ps = v4(100)
        fib.apply(replace=[FibRoute(p, (A, B)) for p in ps[:90]] + [FibRoute(p, (B,)) for p in ps[90:]])
        routes = kernel_routes(netns)
        assert len(routes) == 100 and not any("nhid" in r for r in routes)
        assert sum(gateways(r, {}) == {"10.0.1.2", "10.0.2.2"} for r in routes) == 90
        assert kernel_nexthops(netns) == []
        assert fib.nexthops() == {A, B}
        fib.nexthop_down(B)
        assert fib.nexthops() == {A}
        routes = kernel_routes(netns)
        assert len(routes) == 90 and all(gateways(r, {}) == {"10.0.1.2"} for r in routes)
        assert fib.routes()[ps[0]] == FibRoute(ps[0], (A,))
    finally:
        fib.close(flush=True)
    assert kernel_routes(netns) == []


def test_start_removes_stale_routes_of_our_protocol_only(netns: str) -> None:
    ip(netns, "route", "add", "10.50.0.0/16", "via", "10.0.1.2", "proto", "static")
    old = NetlinkFib(netns=netns)
    old.apply(replace=[FibRoute(p, (A, B)) for p in v4(50)])
    old.close()  # keep: routes stay, as for a restart
    assert len(kernel_routes(netns)) == 50 and kernel_nexthops(netns)
    fresh = NetlinkFib(netns=netns)
    try:
        assert fresh.routes() == {}
        assert kernel_routes(netns) == [] and kernel_nexthops(netns) == []
        assert "10.50.0.0/16" in ip(netns, "route", "show", "proto", "static")
    finally:
        fresh.close()


def test_graceful_restart_adopts_then_reconcile_cleans(netns: str) -> None:
    ps = v4(60)
    old = NetlinkFib(netns=netns)
    old.apply(replace=[FibRoute(p, (A, B)) for p in ps[:50]] + [FibRoute(p, (A,)) for p in ps[50:]])
    old.close(flush=False)
    fib = NetlinkFib(netns=netns, graceful_restart=True)
    try:
        assert len(fib.routes()) == 60 and fib.routes()[ps[0]].nexthops == (A, B)
        assert len(kernel_routes(netns)) == 60  # nothing removed while restarting
        writes = fib.stats.route_writes
        fib.reconcile([FibRoute(p, (A, B)) for p in ps[:40]])
        assert fib.stats.route_writes == writes  # kept routes already right: no rewrite
        assert len(kernel_routes(netns)) == 40 and set(fib.routes()) == set(ps[:40])
        assert len(group_members(netns)) == 1  # the {A} group, now unused, was removed
    finally:
        fib.close(flush=True)


def test_reconcile_repairs_routes_deleted_behind_our_back(netns: str) -> None:
    fib = NetlinkFib(netns=netns)
    try:
        routes = [FibRoute(p, (A, B)) for p in v4(10)]
        fib.apply(replace=routes)
        ip(netns, "route", "del", "10.100.3.0/24", "proto", str(PROTO))
        fib.reconcile(routes)
        assert len(kernel_routes(netns)) == 10
    finally:
        fib.close(flush=True)


def test_kernel_errors_are_per_route(netns: str) -> None:
    seen: list[str] = []
    fib = NetlinkFib(netns=netns, on_error=lambda f: seen.append(str(f)))
    try:
        good, bad, nodev = v4(3)
        unreachable = NextHop(ip_address("192.0.2.1"), "eth0")
        fib.apply(
            replace=[
                FibRoute(good, (A,)),
                FibRoute(bad, (unreachable,)),
                FibRoute(nodev, (NextHop(ip_address("10.0.1.9"), "nosuch0"),)),
            ],
            delete=[Prefix.parse("10.200.0.0/16")],
        )
        assert set(fib.routes()) == {good}
        failures = fib.failures()
        assert set(failures) == {bad, nodev}
        assert "192.0.2.1" in failures[bad].message and failures[bad].errno != 0
        assert failures[nodev].errno == 19 and len(seen) == 2
        fib.apply(replace=[FibRoute(bad, (B,))])  # a later good change clears the failure
        assert set(fib.failures()) == {nodev}
    finally:
        fib.close(flush=True)


@pytest.mark.parametrize("objects", [True, False])
def test_replace_never_deletes_first(netns: str, objects: bool) -> None:
    """Changing a route's nexthops is one RTM_NEWROUTE replace: no RTM_DELROUTE in between."""
    from pybgp.fib.netlink_msgs import RTM_DELROUTE
    from pybgp.fib.netlink_socket import open_netlink_socket

    monitor = open_netlink_socket(netns, groups=0x40)  # RTMGRP_IPV4_ROUTE
    monitor.settimeout(0.2)
    fib = NetlinkFib(netns=netns, nexthop_objects=objects)
    try:
        ps = v4(20)
        fib.apply(replace=[FibRoute(p, (A, B)) for p in ps])
        fib.apply(replace=[FibRoute(p, (A,)) for p in ps[:10]] + [FibRoute(p, (B,)) for p in ps[10:]])
        deletes = 0
        try:
            while True:
                data = monitor.recv(1 << 16)
                from pybgp.fib.netlink_msgs import iter_messages

                deletes += sum(1 for t, *_ in iter_messages(data) if t == RTM_DELROUTE)
        except TimeoutError:
            pass
        assert deletes == 0
        groups = group_members(netns)
        assert {frozenset(gateways(r, groups)) for r in kernel_routes(netns)} == {
            frozenset({"10.0.1.2"}),
            frozenset({"10.0.2.2"}),
        }
    finally:
        monitor.close()
        fib.close(flush=True)


def test_interface_recreated_then_reconcile_restores_ecmp(netns: str) -> None:
    """The kernel drops nexthops of a deleted device; reconcile rebuilds from what is really there."""
    fib = NetlinkFib(netns=netns)
    try:
        routes = [FibRoute(p, (A, B)) for p in v4(30)]
        fib.apply(replace=routes)
        ip(netns, "link", "del", "eth1")  # removes peer1 too; the kernel drops B from the group
        ip(netns, "link", "add", "name", "eth1", "type", "veth", "peer", "name", "peer1")
        ip(netns, "link", "set", "peer1", "up")
        ip(netns, "link", "set", "eth1", "up")
        ip(netns, "addr", "add", "10.0.2.1/24", "dev", "eth1")
        fib.reconcile(routes)
        assert fib.failures() == {}
        groups = group_members(netns)
        kernel = kernel_routes(netns)
        assert len(kernel) == 30
        assert all(gateways(r, groups) == {"10.0.1.2", "10.0.2.2"} for r in kernel)
    finally:
        fib.close(flush=True)
    assert kernel_nexthops(netns) == []


@pytest.mark.parametrize("objects", [True, False])
def test_random_operations_match_memory_fib_and_kernel(netns: str, objects: bool) -> None:
    """Differential test: NetlinkFib, MemoryFib and the kernel agree after every step of a random run."""
    import random

    from pybgp.fib.memory import MemoryFib

    rng = random.Random(5880 + objects)
    hops = [A, B, NextHop(ip_address("10.0.1.3"), "eth0")]
    ps = v4(24)
    fib = NetlinkFib(netns=netns, nexthop_objects=objects)
    mem = MemoryFib()
    try:
        for _step in range(40):
            action = rng.random()
            if action < 0.15:
                nh = rng.choice(hops)
                fib.nexthop_down(nh)
                mem.nexthop_down(nh)
            else:
                replace = [
                    FibRoute(p, tuple(rng.sample(hops, rng.randint(1, 3)))) for p in rng.sample(ps, 8)
                ]
                delete = rng.sample(ps, 3)
                fib.apply(replace=replace, delete=delete)
                mem.apply(replace=replace, delete=delete)
            assert fib.routes() == mem.routes()
            assert fib.failures() == {}
            groups = group_members(netns)
            kernel = {Prefix.parse(r["dst"]): gateways(r, groups) for r in kernel_routes(netns)}
            expect = {p: {str(h.gateway) for h in r.nexthops} for p, r in mem.routes().items()}
            assert kernel == expect
        if objects:  # no leaked groups: every group is used by a route
            used = {r["nhid"] for r in kernel_routes(netns)}
            assert set(group_members(netns)) == used
    finally:
        fib.close(flush=True)


def test_device_only_nexthops(netns: str) -> None:
    """`dev X` nexthops: a shared group for IPv4; IPv6 keeps them as a classic route (no AF_INET object)."""
    fib = NetlinkFib(netns=netns)
    try:
        p4, p6, p6_ecmp = (Prefix.parse(t) for t in ("10.77.0.0/16", "2001:db8:77::/64", "2001:db8:78::/64"))
        dev0, dev1 = NextHop(None, "eth0"), NextHop(None, "eth1")
        fib.apply(
            replace=[FibRoute(p4, (dev0, dev1)), FibRoute(p6, (dev0,)), FibRoute(p6_ecmp, (dev0, dev1))]
        )
        # the kernel refuses device-only IPv6 ECMP through the multipath API: reported, not raised
        assert set(fib.failures()) == {p6_ecmp}
        assert fib.group_of(p4) is not None and fib.group_of(p6) is None
        assert "nhid" in kernel_routes(netns)[0]
        assert kernel_routes(netns, "-6")[0]["dev"] == "eth0"
        fib.nexthop_down(dev1)
        assert fib.routes()[p4].nexthops == (dev0,) and fib.routes()[p6].nexthops == (dev0,)
        fib.nexthop_down(dev0)
        assert fib.routes() == {}
        assert kernel_routes(netns) == [] and kernel_routes(netns, "-6") == []
    finally:
        fib.close(flush=True)


@pytest.mark.parametrize("objects", [True, False])
def test_ipv4_routes_via_ipv6_nexthops(netns: str, objects: bool) -> None:
    """RFC 8950 style: an IPv4 prefix over IPv6 link nexthops (RTA_VIA, or an AF_INET6 nexthop object)."""
    fib = NetlinkFib(netns=netns, nexthop_objects=objects)
    try:
        prefix = Prefix.parse("10.88.0.0/16")
        fib.apply(replace=[FibRoute(prefix, (A6, B6))])
        assert fib.failures() == {}
        text = ip(netns, "route", "show", "10.88.0.0/16")
        assert "2001:db8:1::2" in text and "2001:db8:2::2" in text
    finally:
        fib.close(flush=True)


def test_a_batch_is_few_sendmsg_calls_not_one_per_route(netns: str, writer_thread: bool) -> None:
    fib = NetlinkFib(netns=netns)
    try:
        calls = fib.sendmsg_calls
        fib.apply(replace=[FibRoute(p, (A, B)) for p in v4(5000)])
        # 5000 route requests of 64 bytes plus 4 nexthop/group requests: 2 chunks, plus the
        # nexthop/group batch; pyroute2's per-call API would make 5000 round trips. The writer thread
        # sends smaller chunks (CHUNK_ROUTES each, so a nexthop removal never waits long behind them)
        chunks = -(-5000 // netlink_writer.CHUNK_ROUTES) if writer_thread else 2
        assert fib.sendmsg_calls - calls <= chunks + 2
        assert len(kernel_routes(netns)) == 5000
    finally:
        fib.close(flush=True)


def test_mode_switch_restart_keeps_forwarding_then_cleans_objects(netns: str) -> None:
    """A graceful restart from nexthop-object mode into multipath mode: routes stay, objects go."""
    routes = [FibRoute(p, (A, B)) for p in v4(20)]
    old = NetlinkFib(netns=netns)
    old.apply(replace=routes)
    old.close()
    fib = NetlinkFib(netns=netns, nexthop_objects=False, graceful_restart=True)
    try:
        assert fib.routes() == {r.prefix: r for r in routes}  # adopted from the nhid routes' nexthops
        assert kernel_nexthops(netns)  # still used by the kept routes
        fib.reconcile(routes)
        kernel = kernel_routes(netns)
        assert len(kernel) == 20 and not any("nhid" in r for r in kernel)
        assert kernel_nexthops(netns) == []
    finally:
        fib.close(flush=True)
    fresh = NetlinkFib(netns=netns)  # and a plain start after a multipath run leaves nothing behind
    fresh.close()
    assert kernel_routes(netns) == []


def test_group_route_counts_follow_adoption_reconcile_and_dead_groups(netns: str) -> None:
    """Groups count their routes (no per-group route set, issue 6): counts stay right when routes
    are adopted at a restart, reconciled from a generator or a mapping, and lost with a dead group."""
    ps = v4(300)
    old = NetlinkFib(netns=netns)
    old.apply(replace=[FibRoute(p, (A, B)) for p in ps[:200]] + [FibRoute(p, (A,)) for p in ps[200:]])
    old.close(flush=False)
    fib = NetlinkFib(netns=netns, graceful_restart=True)
    try:
        assert fib.nexthop_route_counts() == {A: 300, B: 200}
        gids = {fib.group_of(p) for p in ps}
        assert len(gids) == 2 and all(isinstance(g, int) for g in gids)
        fib.reconcile(FibRoute(p, (A, B)) for p in ps[:250])  # a generator, consumed once
        assert fib.nexthop_route_counts() == {A: 250, B: 250} and fib.route_count() == 250
        assert len(kernel_routes(netns)) == 250 and fib.nexthop_group_count() == 1
        fib.reconcile({p: FibRoute(p, (B,)) for p in ps[:100]})  # a mapping: 150 routes go
        assert fib.nexthop_route_counts() == {B: 100} and len(kernel_routes(netns)) == 100
        fib.apply(replace=[FibRoute(p, (A,)) for p in ps[100:150]])
        fib.nexthop_down(B)  # the {B} group dies with its 100 routes; {A} keeps its 50
        assert fib.nexthop_route_counts() == {A: 50} and set(fib.routes()) == set(ps[100:150])
        assert len(kernel_routes(netns)) == 50 and fib.failures() == {}
    finally:
        fib.close(flush=True)
