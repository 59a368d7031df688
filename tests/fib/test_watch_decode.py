"""KernelWatcher decoding without a kernel: transitions only, filters, overflow, junk never raises."""

from __future__ import annotations

import asyncio
import errno
import struct

from hypothesis import given
from hypothesis import strategies as st

from pybgp.fib.netlink_msgs import (
    AF_INET,
    RTM_DELLINK,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    encode_route_multipath,
    iter_messages,
)
from pybgp.fib.watch import AddressEvent, KernelEvent, KernelWatcher, LinkEvent, Overflow, RouteEvent
from pybgp.wire.nlri import Prefix

IFF_UP, IFF_LOWER_UP = 0x1, 0x10000


def attr(kind: int, value: bytes) -> bytes:
    return struct.pack("=HH", 4 + len(value), kind) + value + b"\0" * (-len(value) % 4)


def link_msg(ifindex: int, name: str, flags: int, oper: int, msg_type: int = RTM_NEWLINK) -> memoryview:
    head = struct.pack("=BxHiII", 0, 1, ifindex, flags, 0)
    body = head + attr(3, name.encode() + b"\0") + attr(16, bytes([oper]))
    return memoryview(struct.pack("=IHHII", 16 + len(body), msg_type, 0, 0, 0) + body)


def addr_msg(ifindex: int, address: bytes, plen: int) -> memoryview:
    body = struct.pack("=BBBBI", AF_INET, plen, 0, 0, ifindex) + attr(2, address) + attr(1, address)
    return memoryview(struct.pack("=IHHII", 16 + len(body), RTM_NEWADDR, 0, 0, 0) + body)


def test_link_events_only_on_transitions() -> None:
    watcher = KernelWatcher()
    up = IFF_UP | IFF_LOWER_UP
    first = watcher._decode(RTM_NEWLINK, link_msg(3, "eth0", up, 6), 1.0, track=True)
    assert isinstance(first, LinkEvent) and first.carrier and first.oper_state == "up"
    assert watcher._decode(RTM_NEWLINK, link_msg(3, "eth0", up, 6), 1.1, track=True) is None  # stats noise
    lost = watcher._decode(RTM_NEWLINK, link_msg(3, "eth0", IFF_UP, 5), 1.2, track=True)
    assert isinstance(lost, LinkEvent) and not lost.carrier and lost.admin_up and lost.at == 1.2
    gone = watcher._decode(RTM_DELLINK, link_msg(3, "eth0", IFF_UP, 2, RTM_DELLINK), 1.3, track=True)
    assert isinstance(gone, LinkEvent) and gone.removed and not gone.carrier


def test_address_uses_interface_name_learned_from_links() -> None:
    watcher = KernelWatcher()
    watcher._decode(RTM_NEWLINK, link_msg(7, "node0", IFF_UP | IFF_LOWER_UP, 6), 0.0, track=True)
    event = watcher._decode(RTM_NEWADDR, addr_msg(7, bytes([10, 69, 0, 7]), 32), 0.5, track=True)
    assert isinstance(event, AddressEvent) and event.ifname == "node0"
    assert str(event.address) == "10.69.0.7/32" and event.added


def test_route_filters_by_table_and_protocol() -> None:
    watcher = KernelWatcher(route_tables={119}, route_protocols={30})
    pod = encode_route_multipath(1, AF_INET, bytes([10, 224, 0, 0]), 30, 119, 30, 0, [(1, None)])
    other_proto = encode_route_multipath(2, AF_INET, bytes([10, 224, 0, 4]), 30, 119, 31, 0, [(1, None)])
    main = encode_route_multipath(3, AF_INET, bytes([10, 224, 0, 8]), 30, 254, 30, 0, [(1, None)])
    event = watcher._decode(RTM_NEWROUTE, memoryview(pod), 0.0, track=True)
    assert isinstance(event, RouteEvent) and event.prefix == Prefix.parse("10.224.0.0/30") and event.added
    assert watcher._decode(RTM_NEWROUTE, memoryview(other_proto), 0.0, track=True) is None
    assert watcher._decode(RTM_NEWROUTE, memoryview(main), 0.0, track=True) is None


def test_route_host_bits_are_masked() -> None:
    watcher = KernelWatcher(route_tables=None)
    raw = encode_route_multipath(1, AF_INET, bytes([10, 224, 0, 3]), 30, 119, 30, 0, [(1, None)])
    event = watcher._decode(RTM_NEWROUTE, memoryview(raw), 0.0, track=True)
    assert isinstance(event, RouteEvent) and event.prefix == Prefix.parse("10.224.0.0/30")


class OverflowingSocket:
    """A socket whose receive queue overflowed once, then is empty."""

    def __init__(self) -> None:
        self.calls = 0

    def recv_into(self, buf: bytearray) -> int:
        self.calls += 1
        if self.calls == 1:
            raise OSError(errno.ENOBUFS, "No buffer space available")
        raise BlockingIOError


async def test_overflow_is_reported_for_resync() -> None:
    watcher = KernelWatcher()
    events: list[KernelEvent] = []
    watcher.subscribe(events.append)
    watcher._sock = OverflowingSocket()  # type: ignore[assignment]
    watcher._on_readable()
    watcher._sock = None
    assert len(events) == 1 and isinstance(events[0], Overflow)


async def test_broken_subscriber_does_not_stop_delivery() -> None:
    watcher = KernelWatcher()
    seen: list[KernelEvent] = []

    def broken(_event: KernelEvent) -> None:
        raise RuntimeError("subscriber bug")

    watcher.subscribe(broken)
    unsubscribe = watcher.subscribe(seen.append)
    stream = aiter(watcher)
    watcher._emit(Overflow(at=1.0))
    assert len(seen) == 1
    assert isinstance(await asyncio.wait_for(anext(stream), 1.0), Overflow)
    unsubscribe()
    watcher._emit(Overflow(at=2.0))
    assert len(seen) == 1


@given(st.binary(max_size=300), st.sampled_from([16, 17, 20, 21, 24, 25]))
def test_decode_is_total_on_junk(data: bytes, msg_type: int) -> None:
    watcher = KernelWatcher(route_tables=None)
    watcher._decode(msg_type, memoryview(data), 0.0, track=True)
    for kind, _f, _s, msg in iter_messages(data):
        watcher._decode(kind, msg, 0.0, track=True)


async def test_close_ends_async_iteration_after_pending_events() -> None:
    watcher = KernelWatcher()
    stream = aiter(watcher)
    watcher._emit(Overflow(at=1.0))
    watcher.close()
    assert [event async for event in stream] == [Overflow(at=1.0)]
    assert [event async for event in watcher] == []
