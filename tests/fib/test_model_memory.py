"""FibRoute normalisation and the MemoryFib fake: the FibPort semantics every implementation shares."""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from pybgp.fib import MAX_ECMP, FibPort, FibRoute, MemoryFib, NextHop
from pybgp.wire.nlri import Prefix

A = NextHop(ip_address("10.0.1.2"), "eth0")
B = NextHop(ip_address("10.0.2.2"), "eth1")
C = NextHop(ip_address("2001:db8::1"), "eth1")
D = NextHop(None, "lo")
P1 = Prefix.parse("10.9.0.0/24")
P2 = Prefix.parse("10.9.1.0/24")


def test_route_nexthops_are_a_set_in_canonical_order() -> None:
    assert FibRoute(P1, (B, A, B)) == FibRoute(P1, (A, B))
    assert FibRoute(P1, (C, B, D, A)).nexthops == (D, A, B, C)
    assert hash(FibRoute(P1, (B, A))) == hash(FibRoute(P1, (A, B)))


def test_route_drops_path_id_and_caps_ecmp() -> None:
    route = FibRoute(Prefix.parse("10.9.0.0/24", path_id=7), (A,))
    assert route.prefix == P1 and route.prefix.path_id == 0
    many = tuple(NextHop(ip_address(f"10.0.1.{i}"), "eth0") for i in range(1, 40))
    assert len(FibRoute(P1, many).nexthops) == MAX_ECMP


def test_trusted_construction_equals_normal_one() -> None:
    route = FibRoute(P1, (B, A))
    assert FibRoute.trusted(P1, route.nexthops) == route


def test_route_without_nexthops_is_a_caller_bug() -> None:
    with pytest.raises(ValueError):
        FibRoute(P1, ())


def test_nexthop_positional_and_keyword_construction_agree() -> None:
    assert NextHop(ip_address("10.0.1.2"), "eth0") == NextHop(gateway=ip_address("10.0.1.2"), ifname="eth0")
    assert str(A) == "via 10.0.1.2 dev eth0" and str(D) == "dev lo"


def test_memory_fib_is_a_fibport() -> None:
    assert isinstance(MemoryFib(), FibPort)


def test_apply_replaces_and_skips_equal_routes() -> None:
    changes: list[tuple[Prefix, FibRoute | None]] = []
    fib = MemoryFib(on_change=lambda p, r: changes.append((p, r)))
    fib.apply(replace=[FibRoute(P1, (A, B)), FibRoute(P2, (A,))])
    fib.apply(replace=[FibRoute(P1, (B, A))])  # same set, other order: nothing to do
    assert fib.stats.replaced == 2 and fib.stats.unchanged == 1
    fib.apply(replace=[FibRoute(P1, (B,))], delete=[P2, Prefix.parse("10.10.0.0/16")])
    assert fib.routes() == {P1: FibRoute(P1, (B,))}
    assert [p for p, _ in changes] == [P1, P2, P1, P2]
    assert changes[-1] == (P2, None)


def test_nexthop_down_drops_it_everywhere_and_removes_orphans() -> None:
    fib = MemoryFib()
    fib.apply(replace=[FibRoute(P1, (A, B)), FibRoute(P2, (A,))])
    assert fib.nexthops() == {A, B}
    fib.nexthop_down(A)
    assert fib.routes() == {P1: FibRoute(P1, (B,))} and fib.nexthops() == {B} and fib.route_count() == 1
    fib.nexthop_down(A)  # idempotent
    assert fib.routes() == {P1: FibRoute(P1, (B,))}


def test_unknown_interface_is_a_per_route_failure() -> None:
    fib = MemoryFib(interfaces={"eth0"})
    fib.apply(replace=[FibRoute(P1, (A,)), FibRoute(P2, (B,))])
    assert set(fib.routes()) == {P1}
    assert set(fib.failures()) == {P2} and fib.failures()[P2].errno == 19
    fib.set_interfaces({"eth0", "eth1"})
    fib.apply(replace=[FibRoute(P2, (B,))])
    assert fib.failures() == {} and set(fib.routes()) == {P1, P2}


def test_reconcile_flush_close() -> None:
    fib = MemoryFib()
    fib.apply(replace=[FibRoute(P1, (A,)), FibRoute(P2, (A,))])
    fib.reconcile([FibRoute(P2, (B,))])
    assert fib.routes() == {P2: FibRoute(P2, (B,))}
    fib.reconcile({P1: FibRoute(P1, (A,))})
    assert fib.routes() == {P1: FibRoute(P1, (A,))}
    fib.flush()
    assert fib.routes() == {}
    fib.apply(replace=[FibRoute(P1, (A,))])
    fib.close(flush=True)
    assert fib.routes() == {}
    with pytest.raises(RuntimeError):
        fib.apply(replace=[FibRoute(P1, (A,))])
