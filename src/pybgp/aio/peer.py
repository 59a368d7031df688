"""The asyncio shell around one neighbor's sans-IO FSM: sockets, one timer, and the handler calls.

Owns: `Peer` (drives a `BgpSession` from TCP bytes and loop time, carries out its actions) and the
`PeerHandler` protocol the RIB/Speaker implements. Outgoing connections are made here (source
address, SO_BINDTODEVICE, TCP MD5, TTL/GTSM set before `connect`); incoming ones are handed over by
`pybgp.aio.listener.Listener`; both speak through `pybgp.aio.connection._Connection` (which hands reads
to the FSM in pieces and fair loop turns).
Never does: protocol decisions (all in `pybgp.fsm`), or touch routes (the handler does).

Back-pressure: each transport gets write-buffer limits (`high_water`/`low_water`); above the high mark
`writable` is False and `await drain()` blocks the producer (the Speaker) until the peer catches up, so
a slow peer never makes memory grow without bound. Reading stops on `pause_reading()` (the Speaker's
`ReadThrottle` while its queue of decoded UPDATEs is long). Handler exceptions are caught and logged, and
that peer alone is reset (Cease / Out of Resources): one bad peer never takes the others down.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import random
import socket
from collections.abc import Callable, Sequence
from typing import Protocol

from pybgp.aio import sockopts
from pybgp.aio.clock import Clock, LoopClock
from pybgp.aio.connection import _Connection, new_connection_id
from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.negotiate import Negotiated
from pybgp.fsm.session import BgpSession, SessionCounters
from pybgp.fsm.states import State
from pybgp.wire.constants import CeaseSubcode, RouteRefreshSubtype
from pybgp.wire.messages import Notification, RouteRefresh, Update

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_HIGH_WATER = 1 << 20
DEFAULT_LOW_WATER = 256 << 10
CONNECT_TIMEOUT = 30.0


class PeerHandler(Protocol):
    """What a Peer tells its owner (the Speaker). Called on the loop, synchronously; must not block.

    A handler may also define `on_updates(peer, updates: list[Update])`: the Peer then hands it the
    UPDATEs decoded from one socket read in one call (in order; the list is the handler's to keep)
    instead of one `on_update` call each, unless an `observer` is set (it sees each delivery as it
    is carried out). A handler that resets its peer from inside `on_updates` drops the rest itself."""

    def on_established(self, peer: Peer) -> None: ...

    def on_update(self, peer: Peer, update: Update) -> None: ...

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None: ...

    def on_route_refresh(self, peer: Peer, msg: RouteRefresh) -> None: ...


class Peer:
    """One BGP neighbor on the running event loop.

    Usage: `peer = Peer(settings, handler); peer.start(); ...; await peer.stop()`.
    `negotiated` is None unless the session is past OpenSent; `state` is the FSM state.
    """

    def __init__(
        self,
        settings: PeerSettings,
        handler: PeerHandler,
        *,
        rng: random.Random | None = None,
        clock: Clock | None = None,
        high_water: int = DEFAULT_HIGH_WATER,
        low_water: int = DEFAULT_LOW_WATER,
        observer: Callable[[Peer, act.Action], None] | None = None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.observer = observer  # sees every FSM action after it is carried out (logs, metrics)
        self.session = BgpSession(settings, rng=rng)
        self._clock: Clock = clock if clock is not None else LoopClock()
        self._high_water = high_water
        self._low_water = low_water
        self._conns: dict[int, _Connection] = {}
        self._connect_task: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._state_waiters: list[tuple[State, asyncio.Future[None]]] = []
        self._writable = asyncio.Event()
        self._writable.set()
        self._started = False
        self._resetting = False
        self._epoch = 0

    # ---- public API --------------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.settings.display_name

    @property
    def state(self) -> State:
        return self.session.state

    @property
    def negotiated(self) -> Negotiated | None:
        return self.session.negotiated

    @property
    def counters(self) -> SessionCounters:
        return self.session.counters

    @property
    def started(self) -> bool:
        return self._started

    @property
    def writable(self) -> bool:
        """False while the peer's socket buffer is over the high-water mark."""
        return self._writable.is_set()

    @property
    def write_buffer_size(self) -> int:
        conn = self._primary()
        if conn is None or conn.transport is None:
            return 0
        return conn.transport.get_write_buffer_size()

    @property
    def local_endpoint(self) -> tuple[IPAddress, int] | None:
        """Our (address, port) on the current connection: the next hop for next-hop-self when no
        `local_address` is configured. None without a connection."""
        return self._endpoint("sockname")

    @property
    def remote_endpoint(self) -> tuple[IPAddress, int] | None:
        """The peer's (address, port) on the current connection (IPv4-mapped addresses unmapped)."""
        return self._endpoint("peername")

    def _endpoint(self, which: str) -> tuple[IPAddress, int] | None:
        conn = self._primary()
        if conn is None or conn.transport is None:
            return None
        name = conn.transport.get_extra_info(which)
        try:
            address = sockopts.unmap(ipaddress.ip_address(str(name[0]).partition("%")[0]))
            return address, int(name[1])
        except (TypeError, ValueError, IndexError):
            return None

    def start(self, passive: bool | None = None) -> None:
        """ManualStart (RFC 4271 event 1, or 4 when passive). Needs a running loop."""
        self._started = True
        self._input(ev.ManualStart(passive=passive))

    async def stop(self, subcode: int = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, message: str = "") -> None:
        """ManualStop: Cease (RFC 9003 `message` for shutdown/reset), close, stay Idle. Waits (<= 2 s)
        for the connections to be flushed and closed."""
        self._started = False
        self._input(ev.ManualStop(subcode=subcode, message=message))
        await self._close_all(timeout=2.0)

    def reset(
        self,
        subcode: int = CeaseSubcode.ADMINISTRATIVE_RESET,
        message: str = "",
        retry_after: float | None = None,
    ) -> None:
        """AutomaticStop: tear the session down with Cease `subcode` and restart it after `retry_after`
        (or the error backoff). BFD Down: `reset(CeaseSubcode.BFD_DOWN, retry_after=1.0)` (RFC 9384)."""
        self._input(ev.AutomaticStop(subcode=subcode, message=message, retry_after=retry_after))

    def retry_now(self) -> None:
        """AutomaticStart: the path is good again (BFD Up, carrier back), so reconnect at once instead of
        waiting out the idle hold or the ConnectRetryTimer. No effect after `stop()` or when up."""
        self._input(ev.AutomaticStart())

    def send_messages(self, messages: Sequence[bytes]) -> None:
        """Queue whole pre-encoded UPDATE messages (dropped unless Established). Check `writable` /
        `await drain()` between batches."""
        if messages:
            self._input(ev.SendUpdates(messages=tuple(messages)))

    def send_route_refresh(self, afi: int, safi: int, subtype: int = RouteRefreshSubtype.NORMAL) -> None:
        """Ask the peer to resend a family (RFC 2918) or send BoRR/EoRR (RFC 7313)."""
        self._input(ev.SendRouteRefresh(afi=afi, safi=safi, subtype=subtype))

    async def drain(self) -> None:
        """Wait until the write buffer is below the low-water mark (or the connection is gone)."""
        await self._writable.wait()

    def pause_reading(self, paused: bool = True) -> None:
        """Stop (`paused=True`) or restart reading this neighbor's sockets: the handler's back-pressure while
        it holds many decoded UPDATEs not yet applied; TCP flow control then keeps the rest of the table
        in the kernel. A connection opened later starts reading."""
        for conn in self._conns.values():
            conn.throttled = paused
            conn.set_reading()

    async def wait_state(self, state: State, timeout: float) -> None:
        """Wait until the FSM is in `state` (asyncio.TimeoutError otherwise); for tests and tools."""
        if self.state is state:
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._state_waiters.append((state, fut))
        try:
            await asyncio.wait_for(fut, timeout)
        finally:
            self._state_waiters = [(s, f) for s, f in self._state_waiters if f is not fut]

    # ---- incoming connections (from the Listener) ------------------------------------------------

    def incoming(self, conn: _Connection, sock: sockopts.SocketLike | None) -> None:
        """An accepted connection from this peer's address (event 17)."""
        conn.peer = self
        if sock is not None:
            self._apply_session_sockopts(sock, listening=False)
        if conn.transport is not None:
            conn.transport.set_write_buffer_limits(self._high_water, self._low_water)
        self._conns[conn.id] = conn
        self._input(ev.TcpConnectionConfirmed(conn=conn.id))
        if conn.id in self._conns:
            conn.activate()

    # ---- the FSM driver -------------------------------------------------------------------------

    def _input(self, event: ev.Input) -> None:
        now = self._clock.now()
        try:
            actions = self.session.handle(event, now)
        except Exception:
            log.exception("%s: FSM failed on %s", self.name, type(event).__name__)
            actions = []
        self._perform(actions)
        self._rearm()

    def _perform(self, actions: list[act.Action]) -> None:
        # A handler may reset or stop this peer from inside a callback (a nested `_input`). Routes
        # decoded before that must not reach the handler after its on_down: `_epoch` counts the
        # sessions ended, and deliveries from an ended session are dropped.
        epoch = self._epoch
        observer = self.observer
        batched: Callable[[Peer, list[Update]], None] | None = (
            getattr(self.handler, "on_updates", None) if observer is None else None
        )
        run: list[Update] = []  # consecutive UPDATEs for `on_updates`, handed over before any other action
        for action in actions:
            if isinstance(action, act.DeliverUpdate):  # the per-UPDATE case: first and cheapest
                if epoch == self._epoch:
                    if batched is not None:
                        run.append(action.update)
                        continue
                    self._deliver_update(action.update)
                if observer is not None:
                    self._observe(observer, action)
                continue
            if run:
                self._deliver_updates(batched, run)
                run = []
            if isinstance(action, act.Send):
                conn = self._conns.get(action.conn)
                if conn is not None and conn.transport is not None and not conn.closed:
                    conn.transport.write(action.data)
            elif isinstance(action, act.Close):
                conn = self._conns.pop(action.conn, None)
                if conn is not None:
                    conn.close()
                    self._flow_changed()
            elif isinstance(action, act.Connect):
                self._start_connect()
            elif isinstance(action, act.AbortConnect):
                if self._connect_task is not None:
                    self._connect_task.cancel()
                    self._connect_task = None
            elif isinstance(action, act.StateChanged):
                log.info("%s: %s -> %s", self.name, action.old, action.new)
                if action.old is State.ESTABLISHED:
                    self._epoch += 1
                self._wake(action.new)
            elif isinstance(action, act.SessionEstablished):
                self._call_handler("on_established", self)
            elif isinstance(action, act.SessionDown):
                log.warning("%s: session down: %s", self.name, action.reason)
                self._call_handler("on_down", self, action.reason, action.notification)
            elif isinstance(action, act.SessionFailed):
                log.info("%s: session attempt failed: %s", self.name, action.reason)
            elif isinstance(action, act.DeliverRouteRefresh) and epoch == self._epoch:
                self._call_handler("on_route_refresh", self, action.message)
            if observer is not None:
                self._observe(observer, action)
        if run:
            self._deliver_updates(batched, run)

    def _deliver_update(self, update: Update) -> None:
        """`on_update` for one UPDATE (`_call_handler` without the name lookup: it runs per UPDATE)."""
        try:
            self.handler.on_update(self, update)
        except Exception:
            self._handler_failed("on_update")

    def _deliver_updates(
        self, on_updates: Callable[[Peer, list[Update]], None] | None, run: list[Update]
    ) -> None:
        assert on_updates is not None  # `run` only fills when the handler has `on_updates`
        try:
            on_updates(self, run)
        except Exception:
            self._handler_failed("on_updates")

    def _observe(self, observer: Callable[[Peer, act.Action], None], action: act.Action) -> None:
        try:
            observer(self, action)
        except Exception:
            log.exception("%s: observer failed", self.name)

    def _call_handler(self, method: str, *args: object) -> None:
        try:
            getattr(self.handler, method)(*args)
        except Exception:
            self._handler_failed(method)

    def _handler_failed(self, method: str) -> None:
        """Log the handler's exception (call from its `except`) and reset this peer alone, once."""
        log.exception("%s: handler %s failed; resetting this peer", self.name, method)
        if not self._resetting:
            self._resetting = True
            asyncio.get_running_loop().call_soon(self._reset_after_crash)

    def _reset_after_crash(self) -> None:
        self._resetting = False
        self.reset(CeaseSubcode.OUT_OF_RESOURCES, "internal error")

    def _rearm(self) -> None:
        """Keep one `call_at` armed for the session's deadline (STYLE rule 2).

        The hold timer moves forward on every UPDATE; re-creating the loop timer each time would cost
        more than decoding the UPDATE. So a timer armed for an earlier instant than needed is kept:
        it fires early, the session finds nothing expired, and the timer is re-armed then."""
        deadline = self.session.next_deadline()
        if deadline is None:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
                self._timer_at = None
            return
        if self._timer is not None and self._timer_at is not None and self._timer_at <= deadline:
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - self._clock.now())
        self._timer = loop.call_at(loop.time() + delay, self._on_timer)

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        self._input(ev.Timeout())

    def _wake(self, state: State) -> None:
        for wanted, fut in self._state_waiters:
            if wanted is state and not fut.done():
                fut.set_result(None)

    # ---- connections ----------------------------------------------------------------------------

    def _primary(self) -> _Connection | None:
        conn_id = self.session.connection
        return self._conns.get(conn_id) if conn_id is not None else None

    def _flow_changed(self) -> None:
        conn = self._primary()
        if conn is None or not conn.paused:
            self._writable.set()
        else:
            self._writable.clear()

    def _connection_gone(self, conn: _Connection, closed_by_us: bool, exc: Exception | None) -> None:
        if self._conns.pop(conn.id, None) is None or closed_by_us:
            return
        reason = f"connection lost: {exc}" if exc else "connection closed by peer"
        self._input(ev.TcpConnectionFails(conn=conn.id, reason=reason))

    async def _close_all(self, timeout: float) -> None:
        if self._connect_task is not None:
            self._connect_task.cancel()
            self._connect_task = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
            self._timer_at = None
        conns = list(self._conns.values())
        self._conns.clear()
        for conn in conns:
            conn.close()
        deadline = asyncio.get_running_loop().time() + timeout
        while any(c.transport is not None and not c.transport.is_closing() for c in conns):
            if asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.01)
        for conn in conns:
            if conn.transport is not None and conn.transport.get_write_buffer_size() == 0:
                continue
            if conn.transport is not None:
                conn.transport.abort()
        self._writable.set()

    def _sockaddr(self) -> tuple[int, tuple[object, ...]]:
        addr = self.settings.remote_address
        if isinstance(addr, ipaddress.IPv4Address):
            return socket.AF_INET, (str(addr), self.settings.port)
        host, _, scope = str(addr).partition("%")
        scope = scope or (self.settings.interface or "")
        scope_id = socket.if_nametoindex(scope) if scope and addr.is_link_local else 0
        return socket.AF_INET6, (host, self.settings.port, 0, scope_id)

    def _local_sockaddr(self, address: IPAddress) -> tuple[object, ...]:
        """Where to bind before connecting; an IPv6 link-local address needs its interface's scope."""
        if isinstance(address, ipaddress.IPv4Address):
            return (str(address), 0)
        host, _, scope = str(address).partition("%")
        scope = scope or (self.settings.interface or "")
        scope_id = socket.if_nametoindex(scope) if scope and address.is_link_local else 0
        return (host, 0, 0, scope_id)

    def _apply_session_sockopts(self, sock: sockopts.SocketLike, *, listening: bool) -> None:
        """TTL/GTSM and TCP_NODELAY for a session socket (MD5 is set before connect/listen)."""
        sockopts.set_nodelay(sock)
        ttl = self.settings.outgoing_ttl()
        if ttl is not None:
            sockopts.set_ttl(sock, ttl)
        min_ttl = self.settings.minimum_ttl()
        if min_ttl is not None:
            sockopts.set_min_ttl(sock, min_ttl)

    def _start_connect(self) -> None:
        if self._connect_task is not None:
            self._connect_task.cancel()
        self._connect_task = asyncio.get_running_loop().create_task(self._connect())

    async def _connect(self) -> None:
        loop = asyncio.get_running_loop()
        family, sockaddr = self._sockaddr()
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            s = self.settings
            if s.interface:
                sockopts.bind_to_device(sock, s.interface)
            if s.md5_password:
                sockopts.set_md5(sock, s.remote_address, s.md5_password)
            self._apply_session_sockopts(sock, listening=False)
            if s.local_address is not None:
                sock.bind(self._local_sockaddr(s.local_address))
            timeout = min(CONNECT_TIMEOUT, max(1.0, s.connect_retry_time))
            await asyncio.wait_for(loop.sock_connect(sock, sockaddr), timeout)
            conn = _Connection(self, new_connection_id())
            await loop.create_connection(lambda: conn, sock=sock)
        except asyncio.CancelledError:
            sock.close()
            raise
        except (OSError, TimeoutError) as exc:
            sock.close()
            self._connect_task = None
            self._input(ev.TcpConnectionFails(conn=None, reason=f"connect: {exc!r}"))
            return
        self._connect_task = None
        assert conn.transport is not None
        conn.transport.set_write_buffer_limits(self._high_water, self._low_water)
        self._conns[conn.id] = conn
        self._input(ev.TcpCrAcked(conn=conn.id))
        if conn.id in self._conns:
            conn.activate()
        elif not conn.closed:
            conn.close()

    def __repr__(self) -> str:
        return f"<Peer {self.name} {self.state}>"


async def close_quietly(peer: Peer) -> None:
    """Stop a peer, swallowing errors (test and shutdown helper)."""
    with contextlib.suppress(Exception):
        await peer.stop()
