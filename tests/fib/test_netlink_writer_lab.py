"""The netlink writer thread against the real kernel (throwaway `k3w-*` namespaces): order, refused
writes settled exactly as without the thread, exceptions reported, shutdown, nexthop removal not starved."""

from __future__ import annotations

import errno
import logging
import threading
import time
from collections.abc import Iterator
from ipaddress import ip_address

import pytest

from pybgp.fib import netlink_writer
from pybgp.fib.model import FibFailure, FibRoute, NextHop
from pybgp.fib.netlink import NetlinkFib
from pybgp.fib.netlink_socket import NetlinkChannel
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

from .conftest import ip, veth_netns
from .test_netlink_lab import group_members, kernel_routes, v4

pytestmark = pytest.mark.lab

A = NextHop(ip_address("10.0.1.2"), "eth0")
B = NextHop(ip_address("10.0.2.2"), "eth1")


@pytest.fixture
def ns() -> Iterator[str]:
    yield from veth_netns("k3w")


def kernel_table(netns: str) -> dict[str, set[str]]:
    """prefix -> gateways of our routes, as the kernel has them."""
    groups = group_members(netns)
    out: dict[str, set[str]] = {}
    for route in kernel_routes(netns):
        gws = set(groups.get(route.get("nhid", -1), ()))
        out[route["dst"]] = gws
    return out


def writer_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "pybgp-netlink-writer"]


def test_many_chunks_in_flight_keep_their_order(ns: str) -> None:
    """Each prefix changes four times (more chunks than the queue holds) before anything is waited for:
    the kernel ends with the last state, the bookkeeping agrees, every write was counted."""
    fib = NetlinkFib(netns=ns, writer_thread=True)
    try:
        prefixes = v4(3000)
        for hops in ((A,), (B,), (A, B)):
            fib.apply_nexthops(dict.fromkeys(prefixes, hops))
        fib.apply_nexthops({}, prefixes[:1000])  # deletions queued behind the moves
        fib.apply_nexthops(dict.fromkeys(prefixes[:500], (B,)))
        fib.settle(wait=True)
        table = kernel_table(ns)
        assert len(table) == 2500
        assert all(table[str(p)] == {"10.0.2.2"} for p in prefixes[:500])
        assert all(str(p) not in table for p in prefixes[500:1000])
        assert all(table[str(p)] == {"10.0.1.2", "10.0.2.2"} for p in prefixes[1000:])
        assert fib.route_count() == 2500 and fib.failures() == {}
        assert {p: r.nexthops for p, r in fib.routes().items()} == {
            **dict.fromkeys(prefixes[:500], (B,)), **dict.fromkeys(prefixes[1000:], (A, B))
        }
        assert fib.stats.route_deletes == 1000
    finally:
        fib.close(flush=True)


Outcome = tuple[dict[Prefix, FibFailure], dict[Prefix, FibRoute], list[Prefix]]


def _refusing_run(netns: str, threaded: bool) -> Outcome:
    """Install 300 routes via group {A}; delete that group behind pybgpd's back (the kernel drops its
    routes); then, without waiting, 300 new prefixes via {A} (refused: the group is gone), 100 of them
    moved again to {A, B} (accepted) and 50 of those deleted."""
    reported: list[Prefix] = []
    fib = NetlinkFib(netns=netns, writer_thread=threaded, on_error=lambda f: reported.append(f.prefix))
    try:
        old, new = v4(300), v4(300, start=300)
        fib.apply_nexthops(dict.fromkeys(old, (A,)))
        gid = fib.group_of(old[0])
        fib.settle(wait=True)
        ip(netns, "nexthop", "del", "id", str(gid))
        fib.apply_nexthops(dict.fromkeys(new, (A,)))
        fib.apply_nexthops(dict.fromkeys(new[:100], (A, B)))
        fib.apply_nexthops({}, new[:50])
        fib.settle(wait=True)
        failures = fib.failures()
        routes = fib.routes()
        table = kernel_table(netns)
        # the bookkeeping of what was refused matches the kernel: only the re-moved ones are there
        assert {str(p) for p in new if p in routes} == {str(p) for p in new if str(p) in table}
        return failures, routes, reported
    finally:
        fib.close(flush=True)


def test_refused_writes_are_settled_as_without_the_thread(ns: str) -> None:
    sync_failures, sync_routes, sync_reported = _refusing_run(ns, threaded=False)
    failures, routes, reported = _refusing_run(ns, threaded=True)
    new = v4(300, start=300)
    assert set(failures) == set(sync_failures) == set(new[100:])
    assert {p: (f.operation, f.errno) for p, f in failures.items()} == {
        p: (f.operation, f.errno) for p, f in sync_failures.items()
    }
    assert routes == sync_routes
    assert sorted(reported) == sorted(sync_reported)
    assert all(p in routes for p in new[50:100]) and not any(p in routes for p in new[:50])


def test_an_exception_in_the_thread_is_reported_not_lost(
    ns: str, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    fib = NetlinkFib(netns=ns, writer_thread=True)
    try:
        fib.apply_nexthops(dict.fromkeys(v4(10), (A,)))  # the group exists: the rest is route writes
        fib.settle(wait=True)
        real = NetlinkChannel.send_chunk_to
        calls = []

        def broken(self: NetlinkChannel, payload: bytes, sentinel: int, failures: dict[int, object]) -> None:
            calls.append(threading.current_thread().name)
            if len(calls) == 1:
                raise OSError(errno.ENOBUFS, "simulated")
            real(self, payload, sentinel, failures)  # type: ignore[arg-type]

        monkeypatch.setattr(NetlinkChannel, "send_chunk_to", broken)
        first, rest = v4(100, start=10), v4(100, start=110)
        with caplog.at_level(logging.ERROR, logger="pybgp.fib"):
            fib.apply_nexthops(dict.fromkeys(first, (A,)))
            fib.apply_nexthops(dict.fromkeys(rest, (A,)))
            fib.settle(wait=True)
            failures = fib.failures()
        assert calls[0] == "pybgp-netlink-writer"
        assert set(failures) == set(first) and all(f.errno == errno.ENOBUFS for f in failures.values())
        assert "unconfirmed" in caplog.text
        assert all(fib.group_of(p) is None for p in first) and all(fib.group_of(p) for p in rest)
        fib.apply_nexthops(dict.fromkeys(first, (A,)))  # a later write succeeds: the failure goes
        fib.settle(wait=True)
        assert fib.failures() == {} and fib.route_count() == 210
    finally:
        fib.close(flush=True)


@pytest.mark.parametrize("flush", [True, False])
def test_close_drains_the_queue_and_stops_the_thread(ns: str, flush: bool) -> None:
    before = len(writer_threads())
    fib = NetlinkFib(netns=ns, writer_thread=True)
    assert len(writer_threads()) == before + 1
    fib.apply_nexthops(dict.fromkeys(v4(5000), (A, B)))
    fib.apply_nexthops(dict.fromkeys(v4(2000), (A,)))
    fib.close(flush=flush)  # queued writes land first; then either all go, or all stay
    assert len(writer_threads()) == before
    table = kernel_table(ns)
    if flush:
        assert table == {}
    else:
        assert len(table) == 5000
        assert sum(1 for gws in table.values() if gws == {"10.0.1.2"}) == 2000
    with pytest.raises(RuntimeError):
        fib.apply_nexthops({v4(1)[0]: (A,)})


def test_nexthop_down_is_not_starved_behind_a_big_batch(ns: str) -> None:
    """The loop thread queues at most QUEUE_DEPTH chunks ahead of the one being sent, so a nexthop
    removal right after a 40,000-route batch waits for a few small chunks, not for the batch."""
    fib = NetlinkFib(netns=ns, writer_thread=True)
    try:
        prefixes = [Prefix(Afi.IPV4, (10 << 24) + (i << 8), 24) for i in range(40_000)]
        fib.apply_nexthops(dict.fromkeys(prefixes, (A, B)))
        fib.settle(wait=True)
        # every other route moves (one request each, no whole-group rewrite): 20,000 route writes
        fib.apply_nexthops(dict.fromkeys(prefixes[::2], (A,)))
        assert fib._stream is not None
        assert fib._stream.writer._unfinished <= netlink_writer.QUEUE_DEPTH + 1
        started = time.perf_counter()
        fib.nexthop_down(B)
        took = time.perf_counter() - started
        assert took < 0.25, f"nexthop_down waited {took * 1000:.1f} ms"
        assert B not in fib.nexthops()
        table = kernel_table(ns)
        assert len(table) == 40_000 and all(gws == {"10.0.1.2"} for gws in table.values())
    finally:
        fib.close(flush=True)
