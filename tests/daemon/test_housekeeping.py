"""The daemon's per-table housekeeping stays O(1) or O(change) (issue 6): accepted-path counters,
kernel gauges, per-neighbor installed counts, the watcher's header filter, and the BFD-Down flush
of a big table in slices after the session reset. No sockets, no namespaces."""

from __future__ import annotations

import asyncio
import ipaddress
import struct
from typing import Any

import pytest

from pybgp.aio.speaker import FLUSH_SLICE, Speaker
from pybgp.daemon.config import parse_config
from pybgp.daemon.kernel import KernelExporter
from pybgp.daemon.metrics import Metrics
from pybgp.fib import watch as watch_mod
from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import NextHop
from pybgp.fib.netlink_msgs import AF_INET, RTM_NEWROUTE, encode_route_nhid
from pybgp.fib.watch import KernelWatcher, RouteEvent
from pybgp.fsm.config import PeerSettings
from pybgp.rib.manager import Rib
from pybgp.rib.policy import Policy
from pybgp.rib.route import BestChange, Path, PeerInfo
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import CeaseSubcode, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
IBGP = WireContext(ibgp=True)
NAME = "10.69.0.65"  # the neighbor name: PeerSettings.display_name without a name


def tor(n: int) -> PeerInfo:
    addr = f"10.69.0.{65 if n == 1 else 129}"
    return PeerInfo(name=addr, address=IP(addr), asn=64600, local_as=64600, router_id=IP(addr),
                    interface=f"eth{n - 1}")


def announce(prefixes: list[Prefix], nh: str, med: int = 0) -> Update:
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP(nh), local_pref=100, med=med)
    return Update(attributes=attrs, nlri=tuple(prefixes))


def p24(i: int) -> Prefix:
    return Prefix.parse(f"10.{(i >> 8) & 255}.{i & 255}.0/24")


# -- accepted counter --------------------------------------------------------------------------


def test_accepted_count_tracks_policy_withdrawals_and_policy_changes() -> None:
    reject_odd = Policy.from_dict({"rules": [{"match": {"med": 1}, "action": "reject"}], "default": "accept"})
    rib = Rib(local_as=64600, router_id=IP("10.69.0.3"))
    rib.add_neighbor(NAME, import_policy=reject_odd)
    rib.neighbor_up(NAME, tor(1), IBGP, [(1, 1)], 0.0)
    good = [p24(i) for i in range(10)]
    bad = [p24(i) for i in range(10, 14)]
    rib.receive(NAME, announce(good, "10.69.0.65"), 0.0)
    rib.receive(NAME, announce(bad, "10.69.0.65", med=1), 0.0)

    def check(expected: int) -> None:
        assert rib.accepted_count(NAME) == len(rib.accepted(NAME)) == expected

    check(10)
    rib.receive(NAME, announce(bad[:2], "10.69.0.65"), 1.0)  # re-announced acceptable
    check(12)
    rib.receive(NAME, announce(good[:3], "10.69.0.65", med=1), 1.0)  # now rejected
    check(9)
    rib.receive(NAME, Update(withdrawn=(good[5], bad[3])), 2.0)  # one accepted, one rejected gone
    check(8)
    rib.set_import_policy(NAME, None, 3.0)  # iBGP default: accept everything still held
    check(len(rib.neighbors[NAME].adj_in.pre))  # type: ignore[union-attr]
    rib.set_import_policy(NAME, reject_odd, 4.0)
    check(8)
    rib.neighbor_down(NAME, 5.0)
    check(0)


# -- kernel exporter ---------------------------------------------------------------------------


class CountingFib(MemoryFib):
    """MemoryFib that fails the test if the exporter copies the whole table for its gauges."""

    copies = 0

    def routes(self) -> Any:
        self.copies += 1
        return super().routes()


def change(prefix: Prefix, *paths: Path) -> BestChange:
    return BestChange(prefix=prefix, best=paths[0] if paths else None, multipath=tuple(paths))


def test_exporter_counts_without_walking_the_table() -> None:
    fib = CountingFib()
    exp = KernelExporter(fib, parse_config('[global]\nasn = 64600\nrouter_id = "10.69.0.3"\n'), Metrics())
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.65"), local_pref=100)
    a1 = Path(attributes=attrs, peer=tor(1))
    a2 = Path(attributes=PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.129"), local_pref=100),
              peer=tor(2))
    prefixes = [p24(i) for i in range(300)]
    exp.on_best_changes([change(p, a1, a2) for p in prefixes])  # no loop: written at once
    assert fib.route_count() == exp.installed_count == 300
    exp.on_best_changes([change(p, a2) for p in prefixes[:100]])  # tor1 gone from 100 routes
    exp.on_best_changes([change(p) for p in prefixes[250:]])  # 50 routes withdrawn
    assert exp.installed_count == fib.route_count() == 250
    assert fib.copies == 0  # the gauges never copied the table
    # per neighbor: from the FIB's routes per nexthop (NetlinkFib: per group; this fake: one walk)
    assert exp.installed_per_neighbor() == {"10.69.0.65": 150, "10.69.0.129": 250}
    fib.nexthop_route_counts = lambda: {NextHop(IP("10.69.0.65"), "eth0"): 7}  # type: ignore[attr-defined]
    assert exp.installed_per_neighbor() == {"10.69.0.65": 7}
    assert fib.copies == 1
    route = fib.routes()[prefixes[0]]  # trusted construction is still the normalised form
    assert route.nexthops == tuple(sorted(route.nexthops)) and len(route.nexthops) == 1
    both = fib.routes()[prefixes[200]]
    assert [str(nh.gateway) for nh in both.nexthops] == ["10.69.0.65", "10.69.0.129"]


async def test_exporter_batch_keeps_one_shared_nexthop_set_per_prefix_and_last_change_wins() -> None:
    """Within a loop turn the exporter keeps only each prefix's nexthop tuple (shared by every prefix
    of one selection: no FibRoute per pending prefix, issue 6) and the last change of a prefix wins."""
    seen: list[tuple[list[Prefix], list[Prefix]]] = []

    class RecordingFib(MemoryFib):
        def apply(self, replace: Any = (), delete: Any = ()) -> None:
            routes, gone = list(replace), list(delete)  # the exporter may hand over a generator
            seen.append(([r.prefix for r in routes], gone))
            super().apply(routes, gone)

    fib = RecordingFib()
    exp = KernelExporter(fib, parse_config('[global]\nasn = 64600\nrouter_id = "10.69.0.3"\n'))
    a1 = Path(attributes=PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.65"), local_pref=100),
              peer=tor(1))
    a2 = Path(attributes=PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.129"), local_pref=100),
              peer=tor(2))
    prefixes = [p24(i) for i in range(50)]
    exp.on_best_changes([change(p, a1, a2) for p in prefixes])  # in a loop: one batch at the turn's end
    pending = list(exp._pending.values())
    assert len(pending) == 50 and all(hops is pending[0] for hops in pending)  # one tuple, shared
    exp.on_best_changes([change(p) for p in prefixes[:10]])  # withdrawn in the same turn
    exp.on_best_changes([change(prefixes[0], a2)])  # ... and one comes back on tor2 only
    assert seen == []
    await asyncio.sleep(0)
    assert len(seen) == 1 and sorted(seen[0][1]) == sorted(prefixes[1:10])
    assert len(seen[0][0]) == 41 and exp.installed_count == 41
    assert [str(nh.gateway) for nh in fib.routes()[prefixes[0]].nexthops] == ["10.69.0.129"]
    assert prefixes[5] not in fib.routes()


async def test_nexthop_down_reaches_changes_waiting_for_the_batch() -> None:
    """A BFD Down between a best-path change and the loop turn's kernel write: the batch must not put
    the dead nexthop back (it was computed while the nexthop was alive); a prefix left without any
    nexthop is deleted."""
    fib = MemoryFib()
    exp = KernelExporter(fib, parse_config('[global]\nasn = 64600\nrouter_id = "10.69.0.3"\n'))
    a1 = Path(attributes=PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.65"), local_pref=100),
              peer=tor(1))
    a2 = Path(attributes=PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.129"), local_pref=100),
              peer=tor(2))
    exp.on_best_changes([change(p24(i), a1, a2) for i in range(20)] + [change(p24(20), a1)])
    exp.on_best_changes([change(p24(21), a2)])
    exp.nexthop_down(NextHop(IP("10.69.0.65"), "eth0"), "BFD Down")
    await asyncio.sleep(0)
    routes = fib.routes()
    assert set(routes) == {p24(i) for i in range(20)} | {p24(21)}
    assert all([str(nh.gateway) for nh in r.nexthops] == ["10.69.0.129"] for r in routes.values())


# -- watcher header filter ---------------------------------------------------------------------


def route_msg(table: int, protocol: int) -> memoryview:
    raw = encode_route_nhid(1, AF_INET, bytes([10, 1, 2, 0]), 24, table, protocol, 32, 7)
    return memoryview(raw)


def test_watcher_drops_other_tables_and_own_protocol_before_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    w = KernelWatcher(route_tables=(119,), ignore_protocols=(186,))
    calls = []
    real = watch_mod.parse_route  # type: ignore[attr-defined]

    def counting(msg: memoryview) -> Any:
        calls.append(1)
        return real(msg)

    monkeypatch.setattr(watch_mod, "parse_route", counting)
    assert w._decode(RTM_NEWROUTE, (route_msg(254, 186)), 0.0, track=True) is None
    assert w._decode(RTM_NEWROUTE, (route_msg(254, 30)), 0.0, track=True) is None
    assert w._decode(RTM_NEWROUTE, (route_msg(119, 186)), 0.0, track=True) is None
    assert calls == [] and w.routes_skipped == 3
    ev = w._decode(RTM_NEWROUTE, (route_msg(119, 30)), 0.0, track=True)
    assert isinstance(ev, RouteEvent) and ev.table == 119 and str(ev.prefix) == "10.1.2.0/24"
    # a table above 255 is only in RTA_TABLE: the header cannot rule it out, the parser decides
    big = KernelWatcher(route_tables=(1000,))
    assert big._decode(RTM_NEWROUTE, route_msg(254, 30), 0.0, track=True) is None
    assert isinstance(big._decode(RTM_NEWROUTE, route_msg(1000, 30), 0.0, track=True), RouteEvent)
    assert len(calls) == 3
    assert w._decode(RTM_NEWROUTE, memoryview(b"\0" * 20), 0.0, track=True) is None  # short: ignored


# -- BFD Down with a big table -----------------------------------------------------------------


async def test_bfd_down_resets_first_then_flushes_in_slices() -> None:
    speaker = Speaker(local_as=64600, router_id="10.69.0.3")
    for n in (1, 2):
        speaker.add_neighbor(PeerSettings(local_as=64600, remote_as=64600, router_id=IP("10.69.0.3"),
                                          remote_address=IP(tor(n).address), passive=True), enabled=False)
    names = list(speaker._neighbors)
    count = 5 * FLUSH_SLICE + 7
    prefixes = [p24(i) for i in range(count)]
    for i, name in enumerate(names):
        speaker.rib.neighbor_up(name, tor(i + 1), IBGP, [(1, 1)], 0.0)
        speaker.rib.receive(name, announce(prefixes, str(tor(i + 1).address)), 0.0)
    assert len(speaker.rib.loc) == count
    order: list[str] = []
    batches: list[int] = []
    peer = speaker.peer(names[0])
    real_reset = peer.reset

    def reset(subcode: int, message: str, retry_after: float | None) -> None:
        held = len(speaker.rib.loc.candidates(prefixes[0]))
        order.append(f"reset {CeaseSubcode(subcode).name} with {held} paths")
        real_reset(subcode, message, retry_after)

    peer.reset = reset  # type: ignore[method-assign,assignment]
    speaker.on_best_change(lambda b: batches.append(len(b)))
    await speaker.start()
    try:
        speaker.neighbor_down(names[0], "BFD down", retry_after=None)
        assert order == ["reset BFD_DOWN with 2 paths"]  # Cease before any path was removed
        assert batches == [FLUSH_SLICE]  # one slice at once, the rest by the worker
        assert speaker.neighbors()[0].accepted == 0
        for _ in range(500):
            if sum(batches) == count:
                break
            await asyncio.sleep(0.01)
        assert sum(batches) == count and len(batches) == 6
        assert all(len(speaker.rib.loc.candidates(p)) == 1 for p in prefixes)
        assert speaker.neighbors()[1].accepted == count
    finally:
        await speaker.stop()


async def test_reconnect_interleaves_with_the_flush_and_keeps_new_paths() -> None:
    speaker = Speaker(local_as=64600, router_id="10.69.0.3")
    for n in (1, 2):
        speaker.add_neighbor(PeerSettings(local_as=64600, remote_as=64600, router_id=IP("10.69.0.3"),
                                          remote_address=IP(tor(n).address), passive=True), enabled=False)
    names = list(speaker._neighbors)
    count = 10 * FLUSH_SLICE
    prefixes = [p24(i) for i in range(count)]
    for i, name in enumerate(names):
        speaker.rib.neighbor_up(name, tor(i + 1), IBGP, [(1, 1)], 0.0)
        speaker.rib.receive(name, announce(prefixes, str(tor(i + 1).address)), 0.0)
    first_ecmp: list[int] = []
    flushed = [0]

    def watch(batch: list[BestChange]) -> None:
        flushed[0] += sum(1 for c in batch if len(c.multipath) == 1)
        if not first_ecmp and any(len(c.multipath) == 2 for c in batch):
            first_ecmp.append(flushed[0])

    speaker.on_best_change(watch)
    await speaker.start()
    try:
        speaker.neighbor_down(names[0], "BFD down", retry_after=None)
        # the session is back at once and re-announces the first half (as one UPDATE per 1,000)
        speaker.rib.neighbor_up(names[0], tor(1), IBGP, [(1, 1)], 1.0)
        peer = speaker.peer(names[0])
        half = prefixes[: count // 2]
        for i in range(0, len(half), 1000):
            speaker.on_update(peer, announce(half[i:i + 1000], "10.69.0.65"))
        for _ in range(1000):
            if not any(e[0] == "flush" for e in speaker._events) and not speaker._events:
                break
            await asyncio.sleep(0.01)
        assert first_ecmp and first_ecmp[0] < count // 2  # ECMP came back before the flush ended
        assert all(len(speaker.rib.loc.multipath(p)) == 2 for p in half)  # new paths survived the flush
        assert all(len(speaker.rib.loc.multipath(p)) == 1 for p in prefixes[count // 2:])
        assert speaker.neighbors()[0].accepted == count // 2
    finally:
        await speaker.stop()


async def test_remove_neighbor_finishes_a_pending_flush() -> None:
    speaker = Speaker(local_as=64600, router_id="10.69.0.3")
    speaker.add_neighbor(PeerSettings(local_as=64600, remote_as=64600, router_id=IP("10.69.0.3"),
                                      remote_address=IP("10.69.0.65"), passive=True), enabled=False)
    name = next(iter(speaker._neighbors))
    prefixes = [p24(i) for i in range(3 * FLUSH_SLICE)]
    speaker.rib.neighbor_up(name, tor(1), IBGP, [(1, 1)], 0.0)
    speaker.rib.receive(name, announce(prefixes, "10.69.0.65"), 0.0)
    await speaker.start()
    try:
        speaker.neighbor_down(name)
        await speaker.remove_neighbor(name)
        assert len(speaker.rib.loc) == 0
    finally:
        await speaker.stop()


def test_header_struct_matches_rtmsg() -> None:
    msg = route_msg(119, 30)
    assert struct.unpack_from("=BBBBBB", msg, 16)[4:] == (119, 30)
