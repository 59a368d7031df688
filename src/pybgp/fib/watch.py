"""`KernelWatcher`: link carrier, interface addresses and table routes from rtnetlink events, in asyncio.

Owns: a non-blocking netlink socket subscribed to RTNLGRP_LINK, IPV4/IPV6_IFADDR and IPV4/IPV6_ROUTE,
read from the event loop with `loop.add_reader` (no thread, no polling), turned into typed events:
`LinkEvent` (carrier / admin state changes by interface name), `AddressEvent` (addresses added or
removed, e.g. node0's /32 to originate), `RouteEvent` (routes of chosen tables and protocols, e.g.
CNI pod routes in table 119 with protocol 30; `ignore_protocols`, pybgpd's own routes, are dropped by a
socket filter in the kernel), `Overflow` (the kernel dropped events: resync with `dump()`).
Delivered to subscribed callbacks and to `async for`. Never does: change kernel state.

Timestamps: netlink messages carry no kernel timestamp (SO_TIMESTAMPNS yields no control message
on netlink sockets), so `at` is `time.monotonic()` when the event loop read the message.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from ipaddress import IPv4Interface, IPv6Interface, ip_address, ip_interface

from pybgp.fib.model import NextHop
from pybgp.fib.netlink_msgs import (
    AF_INET,
    AF_INET6,
    RTM_DELADDR,
    RTM_DELLINK,
    RTM_DELROUTE,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETROUTE,
    RTM_NEWADDR,
    RTM_NEWLINK,
    RTM_NEWROUTE,
    RawRoute,
    iter_attrs,
    iter_messages,
    parse_route,
)
from pybgp.fib.netlink_socket import NetlinkChannel, drop_route_protocols, open_netlink_socket
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

log = logging.getLogger("pybgp.fib.watch")

RTMGRP_LINK, RTMGRP_IPV4_IFADDR, RTMGRP_IPV4_ROUTE = 0x1, 0x10, 0x40
RTMGRP_IPV6_IFADDR, RTMGRP_IPV6_ROUTE = 0x100, 0x400
IFF_UP, IFF_LOWER_UP = 0x1, 0x10000
IFLA_IFNAME, IFLA_OPERSTATE = 3, 16
IFA_ADDRESS, IFA_LOCAL = 1, 2
OPER_STATES = ("unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG_HEAD = struct.Struct("=BBBBBB")  # rtm_family, dst_len, src_len, tos, table, protocol
RT_TABLE_COMPAT = 252


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkEvent:
    """An interface appeared, changed carrier or admin state, or was removed (`removed`)."""

    ifname: str
    ifindex: int
    carrier: bool
    admin_up: bool
    oper_state: str
    removed: bool = False
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressEvent:
    """An address was added to (`added`) or removed from an interface."""

    ifname: str
    ifindex: int
    address: IPv4Interface | IPv6Interface
    added: bool
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteEvent:
    """A route of a watched table/protocol was added or replaced (`added`) or deleted."""

    prefix: Prefix
    table: int
    protocol: int
    route_type: int
    nexthops: tuple[NextHop, ...]
    added: bool
    at: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Overflow:
    """The socket's buffer overflowed and events were lost: call `dump()` and resynchronise."""

    at: float


KernelEvent = LinkEvent | AddressEvent | RouteEvent | Overflow


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelSnapshot:
    """A full dump for the periodic resync: links by name, addresses, watched routes by prefix."""

    links: dict[str, LinkEvent]
    addresses: list[AddressEvent]
    routes: dict[Prefix, RouteEvent]


class KernelWatcher:
    """Kernel link/address/route events for the daemon, in `netns` when given.

    `route_tables` / `route_protocols` filter route events (None: any); `families` chooses IPv4
    and/or IPv6. Link events are reported on change only (carrier, admin state, appearance,
    removal), not for every RTM_NEWLINK the kernel sends about statistics or flags.
    """

    def __init__(
        self,
        *,
        netns: str | None = None,
        route_tables: Collection[int] | None = (119,),
        route_protocols: Collection[int] | None = None,
        families: Collection[int] = (AF_INET, AF_INET6),
        links: bool = True,
        addresses: bool = True,
        routes: bool = True,
        ignore_protocols: Collection[int] = (),
    ) -> None:
        self.netns = netns
        self.route_tables = frozenset(route_tables) if route_tables is not None else None
        self.route_protocols = frozenset(route_protocols) if route_protocols is not None else None
        # e.g. the daemon's own route protocol: every route it installs comes back as an event
        self.ignore_protocols = frozenset(ignore_protocols)
        # rtm_table is one octet: tables above 255 show as RT_TABLE_COMPAT and need RTA_TABLE
        self._header_tables = (
            self.route_tables
            if self.route_tables is not None and all(t < RT_TABLE_COMPAT for t in self.route_tables)
            else None
        )
        self.routes_skipped = 0  # route events dropped on the rtmsg header, before any parsing
        # True once the kernel drops `ignore_protocols` route events itself (a socket filter): those
        # are then neither read nor counted in `routes_skipped`
        self.kernel_filter = False
        self.families = frozenset(families)
        groups = RTMGRP_LINK if links else 0
        if addresses:
            groups |= (RTMGRP_IPV4_IFADDR if AF_INET in self.families else 0) | (
                RTMGRP_IPV6_IFADDR if AF_INET6 in self.families else 0
            )
        if routes:
            groups |= (RTMGRP_IPV4_ROUTE if AF_INET in self.families else 0) | (
                RTMGRP_IPV6_ROUTE if AF_INET6 in self.families else 0
            )
        self._groups = groups
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callbacks: list[Callable[[KernelEvent], None]] = []
        self._queue: asyncio.Queue[KernelEvent | None] | None = None  # None ends `async for`
        self._names: dict[int, str] = {}
        self._link_state: dict[int, tuple[bool, bool]] = {}
        self._buf = bytearray(1 << 20)
        self.events_read = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe (before the initial dump, so nothing falls between) and start reading."""
        if self._sock is not None:
            return
        self._loop = asyncio.get_running_loop()
        self._sock = open_netlink_socket(self.netns, self._groups)
        self._sock.setblocking(False)
        if self._groups & (RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE) and self.ignore_protocols:
            # our own routes never reach this socket (the header check below stays as the fallback)
            self.kernel_filter = drop_route_protocols(self._sock, self.ignore_protocols)
        self.dump()  # learns interface names and current link state
        self._loop.add_reader(self._sock.fileno(), self._on_readable)

    def close(self) -> None:
        """Stop reading; an `async for` over the watcher ends once it has drained earlier events."""
        if self._queue is not None:
            self._queue.put_nowait(None)
        if self._sock is None:
            return
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        self._sock = None

    async def __aenter__(self) -> KernelWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    # -- delivery -------------------------------------------------------------------------------

    def subscribe(self, callback: Callable[[KernelEvent], None]) -> Callable[[], None]:
        """Call `callback(event)` on the event loop for every event; returns an unsubscribe function."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            if callback in self._callbacks:
                self._callbacks.remove(callback)

        return unsubscribe

    def __aiter__(self) -> KernelWatcher:
        """Async iteration sees events from the first `aiter()` on (earlier ones went to callbacks)."""
        if self._queue is None:
            self._queue = asyncio.Queue()
        return self

    async def __anext__(self) -> KernelEvent:
        if self._queue is None:
            self._queue = asyncio.Queue()
        event = await self._queue.get()
        if event is None:
            self._queue.put_nowait(None)  # every later __anext__ ends too
            raise StopAsyncIteration
        return event

    def _emit(self, event: KernelEvent) -> None:
        self.events_read += 1
        for callback in list(self._callbacks):
            try:
                callback(event)
            except Exception:  # one broken subscriber must not silence the others
                log.exception("kernel event subscriber failed on %s", event)
        if self._queue is not None:
            self._queue.put_nowait(event)

    # -- reading --------------------------------------------------------------------------------

    def _on_readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(64):  # bounded: let other callbacks run between bursts
            try:
                n = sock.recv_into(self._buf)
            except BlockingIOError:
                return
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    log.warning("netlink event overflow: resync needed")
                    self._emit(Overflow(at=time.monotonic()))
                    continue
                log.error("netlink event socket failed: %s", exc)
                self.close()
                return
            now = time.monotonic()
            for msg_type, _flags, _seq, msg in iter_messages(bytes(self._buf[:n])):
                event = self._decode(msg_type, msg, now, track=True)
                if event is not None:
                    self._emit(event)

    def _decode(self, msg_type: int, msg: memoryview, now: float, *, track: bool) -> KernelEvent | None:
        """One netlink message as an event, or None when filtered out or malformed (never raises)."""
        try:
            if msg_type in (RTM_NEWLINK, RTM_DELLINK):
                return self._link(msg, msg_type == RTM_DELLINK, now, track)
            if msg_type in (RTM_NEWADDR, RTM_DELADDR):
                return self._address(msg, msg_type == RTM_NEWADDR, now)
            if msg_type in (RTM_NEWROUTE, RTM_DELROUTE):
                if len(msg) >= 28 and self._unwanted_route(msg):
                    self.routes_skipped += 1
                    return None
                raw = parse_route(msg)
                return self._route(raw, msg_type == RTM_NEWROUTE, now) if raw is not None else None
        except (ValueError, struct.error, IndexError) as exc:
            log.warning("malformed netlink message type %d ignored: %s", msg_type, exc)
        return None

    def _unwanted_route(self, msg: memoryview) -> bool:
        """Filter on the fixed rtmsg header (family, table, protocol) before parsing attributes: a
        daemon installing a million routes in table 254 gets a million events it must drop cheaply."""
        family, _dst_len, _src, _tos, table, protocol = _RTMSG_HEAD.unpack_from(msg, 16)
        if family not in self.families or protocol in self.ignore_protocols:
            return True
        if self.route_protocols is not None and protocol not in self.route_protocols:
            return True
        tables = self._header_tables
        return tables is not None and table != RT_TABLE_COMPAT and table not in tables

    def _link(self, msg: memoryview, removed: bool, now: float, track: bool) -> LinkEvent | None:
        if len(msg) < 32:
            return None
        _family, _type, ifindex, flags, _change = _IFINFO.unpack_from(msg, 16)
        attrs = iter_attrs(msg, 32)
        name = _text(attrs[IFLA_IFNAME]) if IFLA_IFNAME in attrs else self._names.get(ifindex, f"if{ifindex}")
        oper = attrs.get(IFLA_OPERSTATE)
        oper_state = OPER_STATES[oper[0]] if oper is not None and len(oper) and oper[0] < 7 else "unknown"
        carrier = bool(flags & IFF_LOWER_UP) and not removed
        admin_up = bool(flags & IFF_UP) and not removed
        self._names[ifindex] = name
        before = self._link_state.get(ifindex)
        if removed:
            self._link_state.pop(ifindex, None)
            self._names.pop(ifindex, None)
        else:
            self._link_state[ifindex] = (carrier, admin_up)
        if track and before == (carrier, admin_up) and not removed:
            return None
        return LinkEvent(
            ifname=name, ifindex=ifindex, carrier=carrier, admin_up=admin_up, oper_state=oper_state,
            removed=removed, at=now,
        )

    def _address(self, msg: memoryview, added: bool, now: float) -> AddressEvent | None:
        if len(msg) < 24:
            return None
        family, prefixlen, _flags, _scope, ifindex = _IFADDR.unpack_from(msg, 16)
        if family not in self.families:
            return None
        attrs = iter_attrs(msg, 24)
        raw = attrs.get(IFA_LOCAL) if family == AF_INET and IFA_LOCAL in attrs else attrs.get(IFA_ADDRESS)
        if raw is None or len(raw) != (4 if family == AF_INET else 16):
            return None
        address = ip_interface(f"{ip_address(bytes(raw))}/{prefixlen}")
        name = self._names.get(ifindex, f"if{ifindex}")
        return AddressEvent(ifname=name, ifindex=ifindex, address=address, added=added, at=now)

    def _route(self, raw: RawRoute, added: bool, now: float) -> RouteEvent | None:
        if raw.family not in self.families:
            return None
        if self.route_tables is not None and raw.table not in self.route_tables:
            return None
        if self.route_protocols is not None and raw.protocol not in self.route_protocols:
            return None
        afi = Afi.IPV4 if raw.family == AF_INET else Afi.IPV6
        bits = 32 if afi == Afi.IPV4 else 128
        if raw.dst_len > bits:
            return None
        network = int.from_bytes(raw.dst, "big") & (((1 << bits) - 1) ^ ((1 << (bits - raw.dst_len)) - 1))
        hops = tuple(
            NextHop(ip_address(gw) if gw else None, self._names.get(ifindex, f"if{ifindex}"))
            for ifindex, gw in raw.hops
            if gw is None or len(gw) in (4, 16)
        )
        return RouteEvent(
            prefix=Prefix(afi, network, raw.dst_len), table=raw.table, protocol=raw.protocol,
            route_type=raw.route_type, nexthops=hops, added=added, at=now,
        )

    # -- resync ---------------------------------------------------------------------------------

    def dump(self) -> KernelSnapshot:
        """Current links, addresses and watched routes, read on a separate request socket."""
        chan = NetlinkChannel(self.netns)
        try:
            now = time.monotonic()
            links: dict[str, LinkEvent] = {}
            for kind, msg in chan.dump(RTM_GETLINK):
                link = self._decode(kind, msg, now, track=False)
                if isinstance(link, LinkEvent):
                    links[link.ifname] = link
            addresses: list[AddressEvent] = []
            routes: dict[Prefix, RouteEvent] = {}
            tables, protocols = self.route_tables or (), self.route_protocols or ()
            table = next(iter(tables)) if len(tables) == 1 else 0  # kernel-side filter when exact
            protocol = next(iter(protocols)) if len(protocols) == 1 else 0
            for family in sorted(self.families):
                for kind, msg in chan.dump(RTM_GETADDR, family):
                    addr = self._decode(kind, msg, now, track=False)
                    if isinstance(addr, AddressEvent):
                        addresses.append(addr)
                for kind, msg in chan.dump(RTM_GETROUTE, family, table=table, protocol=protocol):
                    route = self._decode(kind, msg, now, track=False)
                    if isinstance(route, RouteEvent):
                        routes[route.prefix] = route
            return KernelSnapshot(links=links, addresses=addresses, routes=routes)
        finally:
            chan.close()


def _text(raw: memoryview) -> str:
    return bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")
