"""The BGP-4 finite state machine of one neighbor, sans-IO (RFC 4271 section 8).

Owns: `BgpSession`. Inputs (`pybgp.fsm.events`) go in through `handle(event, now)`, actions
(`pybgp.fsm.actions`) come out; `next_deadline()` says when to call `handle(Timeout(), now)` again.
The transition table `TRANSITIONS` maps `(State, EventType)` to a handler; a pair missing from it is
the RFC's "any other event": ignored in Idle, a drop to Idle in Connect/Active, and the FSM Error
NOTIFICATION with its RFC 6608 subcode in OpenSent/OpenConfirm/Established.
The session frames and decodes the bytes of each connection itself (one `MessageFramer` per
connection) and tracks at most two connections: the primary one and, during a collision (6.8), a
second one in OpenSent until `collision.py` decides which survives.
Never does: I/O, reading a clock, or randomness of its own (an injected `random.Random` jitters).
"""

from __future__ import annotations

import logging
import random
import struct
from collections.abc import Callable
from dataclasses import dataclass, field

from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.collision import keep_locally_initiated
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.events import EventType
from pybgp.fsm.negotiate import Negotiated, build_open, negotiate, open_asn, validate_open
from pybgp.fsm.states import State
from pybgp.fsm.timers import ErrorBackoff, Timers, jitter
from pybgp.wire.constants import (
    Afi,
    CeaseSubcode,
    FsmSubcode,
    MessageType,
    NotificationCode,
    OpenSubcode,
    Safi,
    UpdateSubcode,
)
from pybgp.wire.context import DEFAULT_CONTEXT, WireContext
from pybgp.wire.errors import NotificationError, UpdateAction
from pybgp.wire.framing import MessageFramer
from pybgp.wire.messages import (
    Keepalive,
    Message,
    Notification,
    Open,
    RouteRefresh,
    Update,
    decode_message,
    encode_message,
)
from pybgp.wire.nlri import Prefix
from pybgp.wire.notification import parse_shutdown, shutdown_data

log = logging.getLogger(__name__)

_FSM_SUBCODE = {
    State.OPENSENT: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT,
    State.OPENCONFIRM: FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENCONFIRM,
    State.ESTABLISHED: FsmSubcode.UNEXPECTED_MESSAGE_IN_ESTABLISHED,
}
"""RFC 6608 section 3: the FSM Error subcode names the state the unexpected event arrived in."""

QUICK_RETRY = 1.0
"""Seconds before the first retry after the peer's Cease for a reset that was no error of ours."""
_QUICK_RETRY_CEASES = frozenset(
    {CeaseSubcode.ADMINISTRATIVE_RESET, CeaseSubcode.BFD_DOWN, CeaseSubcode.HARD_RESET}
)

_MESSAGE_EVENT: dict[int, EventType] = {
    MessageType.OPEN: EventType.BGP_OPEN,
    MessageType.UPDATE: EventType.UPDATE_MSG,
    MessageType.NOTIFICATION: EventType.NOTIF_MSG,
    MessageType.KEEPALIVE: EventType.KEEPALIVE_MSG,
    MessageType.ROUTE_REFRESH: EventType.ROUTE_REFRESH_MSG,
}
_DECODE_ERROR_EVENT: dict[int, EventType] = {
    MessageType.OPEN: EventType.BGP_OPEN_MSG_ERR,
    MessageType.UPDATE: EventType.UPDATE_MSG_ERR,
}
_FALLBACK_ERROR: dict[int, tuple[int, int]] = {
    MessageType.OPEN: (NotificationCode.OPEN_MESSAGE_ERROR, 0),
    MessageType.UPDATE: (NotificationCode.UPDATE_MESSAGE_ERROR, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST),
}


@dataclass(slots=True)
class _Conn:
    """One TCP connection as the FSM sees it."""

    id: int
    outgoing: bool
    framer: MessageFramer
    remote_open: Open | None = None


@dataclass(slots=True)
class _Fired:
    """One RFC event being processed, with what it carries."""

    type: EventType
    conn: _Conn | None = None
    message: Message | None = None
    error: NotificationError | None = None
    stop: ev.ManualStop | ev.AutomaticStop | None = None
    reason: str = ""


@dataclass(slots=True)
class SessionCounters:
    """Plain counters for `pybgpctl` and metrics."""

    messages_in: dict[str, int] = field(default_factory=dict)
    messages_out: dict[str, int] = field(default_factory=dict)
    established_transitions: int = 0
    connect_attempts: int = 0
    last_error: str = ""
    last_notification_sent: Notification | None = None
    last_notification_received: Notification | None = None


Handler = Callable[["BgpSession", _Fired, float], None]


class BgpSession:
    """One neighbor's FSM. Not thread-safe; drive it from one task (the adapter's event loop)."""

    def __init__(self, settings: PeerSettings, *, rng: random.Random | None = None) -> None:
        self.settings = settings
        self.state = State.IDLE
        self.negotiated: Negotiated | None = None
        self.counters = SessionCounters()
        self.established_at: float | None = None
        self.allow_automatic_start = False
        self.connect_retry_counter = 0
        self._rng = rng if rng is not None else random.Random()
        self._timers = Timers()
        self._backoff = ErrorBackoff(
            minimum=settings.error_wait_min, maximum=settings.error_wait_max, forget=settings.error_wait_max
        )
        self._backoff.forget = settings.error_forget_time
        self._conn: _Conn | None = None
        self._second: _Conn | None = None
        self._connecting = False
        self._local_open = build_open(settings)
        self._ctx: WireContext = DEFAULT_CONTEXT
        self._out: list[act.Action] = []
        self._retry_after: float | None = None
        self._received: dict[tuple[int, int], set[Prefix]] = {}

    # ---- public surface -----------------------------------------------------------------------

    @property
    def connection(self) -> int | None:
        """The primary connection's id, if any."""
        return self._conn.id if self._conn else None

    @property
    def context(self) -> WireContext:
        return self._ctx

    def next_deadline(self) -> float | None:
        return self._timers.next_deadline()

    def prefix_count(self) -> int:
        """Prefixes currently accepted (only tracked when `max_prefix` is configured)."""
        return sum(len(s) for s in self._received.values())

    def handle(self, event: ev.Input, now: float) -> list[act.Action]:
        """Process one input and return the actions to perform, in order."""
        self._out = []
        if isinstance(event, ev.Timeout):
            for expired in self._timers.pop_expired(now):
                self._fire(_Fired(type=expired, conn=self._conn), now)
        elif isinstance(event, ev.DataReceived):
            self._on_data(event, now)
        elif isinstance(event, ev.ManualStart):
            passive = self.settings.passive if event.passive is None else event.passive
            self._fire(
                _Fired(type=EventType.MANUAL_START_PASSIVE if passive else EventType.MANUAL_START), now
            )
        elif isinstance(event, ev.ManualStop):
            self._fire(_Fired(type=EventType.MANUAL_STOP, stop=event, conn=self._conn), now)
        elif isinstance(event, ev.AutomaticStop):
            self._fire(_Fired(type=EventType.AUTOMATIC_STOP, stop=event, conn=self._conn), now)
        elif isinstance(event, ev.TcpCrAcked | ev.TcpConnectionConfirmed):
            outgoing = isinstance(event, ev.TcpCrAcked)
            if outgoing:
                self._connecting = False
            conn = _Conn(id=event.conn, outgoing=outgoing, framer=MessageFramer())
            kind = EventType.TCP_CR_ACKED if outgoing else EventType.TCP_CONNECTION_CONFIRMED
            self._fire(_Fired(type=kind, conn=conn), now)
        elif isinstance(event, ev.TcpConnectionFails):
            self._on_tcp_fails(event, now)
        elif isinstance(event, ev.SendUpdates):
            self._send_updates(event, now)
        elif isinstance(event, ev.SendRouteRefresh):
            self._send_route_refresh(event)
        out, self._out = self._out, []
        return out

    # ---- input plumbing -----------------------------------------------------------------------

    def _on_tcp_fails(self, event: ev.TcpConnectionFails, now: float) -> None:
        if event.conn is None:
            if self._connecting:
                self._connecting = False
                self._fire(_Fired(type=EventType.TCP_CONNECTION_FAILS, reason=event.reason), now)
            return
        if self._second is not None and event.conn == self._second.id:
            self._second = None
            return
        if self._conn is not None and event.conn == self._conn.id:
            reason = event.reason or "connection closed by peer"
            self._fire(_Fired(type=EventType.TCP_CONNECTION_FAILS, conn=self._conn, reason=reason), now)

    def _on_data(self, event: ev.DataReceived, now: float) -> None:
        conn = self._conn if self._conn is not None and self._conn.id == event.conn else None
        if conn is None and self._second is not None and self._second.id == event.conn:
            conn = self._second
        if conn is None:
            return  # stale bytes from a connection we already dropped
        try:
            frames = conn.framer.feed(event.data)
        except NotificationError as exc:
            frames = []
            header_error: NotificationError | None = exc
        except Exception as exc:  # the framer must never crash the session, whatever the bytes
            frames = []
            header_error = NotificationError(
                NotificationCode.MESSAGE_HEADER_ERROR, 0, b"", f"framing: {exc!r}"
            )
        else:
            header_error = None
        for frame in frames:
            if conn is not self._conn and conn is not self._second:
                return  # the connection was closed by an earlier frame
            self._on_frame(conn, frame, now)
        if header_error is not None and (conn is self._conn or conn is self._second):
            self._fire(_Fired(type=EventType.BGP_HEADER_ERR, conn=conn, error=header_error), now)

    def _on_frame(self, conn: _Conn, frame: bytes, now: float) -> None:
        mtype = frame[18] if len(frame) > 18 else 0
        try:
            msg = decode_message(frame, self._ctx if conn is self._conn else DEFAULT_CONTEXT)
        except NotificationError as exc:
            self._fire(self._decode_error(conn, mtype, exc), now)
            return
        except Exception as exc:  # bad input never crashes: name the closest error (WireError or worse)
            code, subcode = _FALLBACK_ERROR.get(mtype, (NotificationCode.MESSAGE_HEADER_ERROR, 0))
            self._fire(self._decode_error(conn, mtype, NotificationError(code, subcode, b"", repr(exc))), now)
            return
        name = type(msg).__name__
        self.counters.messages_in[name] = self.counters.messages_in.get(name, 0) + 1
        kind = _MESSAGE_EVENT.get(mtype, EventType.BGP_HEADER_ERR)
        if (
            isinstance(msg, Notification)
            and msg.code == NotificationCode.OPEN_MESSAGE_ERROR
            and msg.subcode == 1
        ):
            kind = EventType.NOTIF_MSG_VER_ERR
        if (
            isinstance(msg, Update)
            and msg.fault is not None
            and msg.fault.action is UpdateAction.SESSION_RESET
        ):
            error = NotificationError(msg.fault.code, msg.fault.subcode, msg.fault.data, msg.fault.reason)
            self._fire(_Fired(type=EventType.UPDATE_MSG_ERR, conn=conn, error=error), now)
            return
        self._fire(_Fired(type=kind, conn=conn, message=msg), now)

    @staticmethod
    def _decode_error(conn: _Conn, mtype: int, exc: NotificationError) -> _Fired:
        kind = _DECODE_ERROR_EVENT.get(mtype, EventType.BGP_HEADER_ERR)
        if mtype == MessageType.ROUTE_REFRESH and exc.code == NotificationCode.ROUTE_REFRESH_MESSAGE_ERROR:
            kind = EventType.UPDATE_MSG_ERR  # RFC 7313 5: also a NOTIFICATION and a reset in Established
        return _Fired(type=kind, conn=conn, error=exc)

    def _fire(self, fired: _Fired, now: float) -> None:
        """Dispatch one RFC event through the table (events on the collision connection apart)."""
        if fired.conn is not None and fired.conn is self._second:
            self._on_second(fired, now)
            return
        handler = TRANSITIONS.get((self.state, fired.type))
        if handler is None:
            handler = _DEFAULTS[self.state]
        handler(self, fired, now)

    # ---- helpers the handlers share --------------------------------------------------------------

    def _set_state(self, new: State) -> None:
        if new is not self.state:
            self._out.append(act.StateChanged(old=self.state, new=new))
            self.state = new

    def _send(self, conn: _Conn, msg: Message) -> None:
        data = encode_message(msg, self._ctx if conn is self._conn else DEFAULT_CONTEXT)
        name = type(msg).__name__
        self.counters.messages_out[name] = self.counters.messages_out.get(name, 0) + 1
        self._out.append(act.Send(conn=conn.id, data=data, message=msg))

    def _send_updates(self, event: ev.SendUpdates, now: float) -> None:
        if self.state is not State.ESTABLISHED or self._conn is None or not event.messages:
            return
        for data in event.messages:
            self._out.append(act.Send(conn=self._conn.id, data=data))
        self.counters.messages_out["Update"] = self.counters.messages_out.get("Update", 0) + len(
            event.messages
        )
        self._restart_keepalive(now)

    def _send_route_refresh(self, event: ev.SendRouteRefresh) -> None:
        if self.state is State.ESTABLISHED and self._conn is not None:
            self._send(self._conn, RouteRefresh(afi=event.afi, safi=event.safi, subtype=event.subtype))

    def _restart_keepalive(self, now: float) -> None:
        if self.negotiated is not None and self.negotiated.keepalive_time > 0:
            self._timers.keepalive = now + jitter(self._rng, self.negotiated.keepalive_time)

    def _restart_hold(self, now: float) -> None:
        if self.negotiated is not None and self.negotiated.hold_time > 0:
            self._timers.hold = now + self.negotiated.hold_time

    def _start_connect_retry(self, now: float, seconds: float | None = None) -> None:
        base = self.settings.connect_retry_time if seconds is None else seconds
        self._timers.connect_retry = now + (jitter(self._rng, base) if base > 0 else 0.0)

    def _connect(self) -> None:
        self._connecting = True
        self.counters.connect_attempts += 1
        self._out.append(act.Connect())

    def _abort_connect(self) -> None:
        if self._connecting:
            self._connecting = False
            self._out.append(act.AbortConnect())

    def _close(self, conn: _Conn | None, reason: str) -> None:
        if conn is None:
            return
        self._out.append(act.Close(conn=conn.id, reason=reason))
        if conn is self._conn:
            self._conn = None
        if conn is self._second:
            self._second = None

    def _notify(self, conn: _Conn | None, code: int, subcode: int, data: bytes = b"") -> Notification:
        note = Notification(code=code, subcode=subcode, data=data)
        if conn is not None:
            self._send(conn, note)
        self.counters.last_notification_sent = note
        return note

    def _adopt(self, conn: _Conn, now: float) -> None:
        """A connection became the session's: send OPEN, large hold timer, OpenSent (8.2.2)."""
        self._timers.connect_retry = None
        self._abort_connect()
        self._conn = conn
        self._ctx = DEFAULT_CONTEXT
        self._send(conn, self._local_open)
        self._timers.hold = now + self.settings.open_hold_time
        self._set_state(State.OPENSENT)

    def _go_idle(
        self, now: float, reason: str, note: Notification | None, sent: bool, *, error: bool
    ) -> None:
        """Release everything and go Idle; restart later per the backoff when allowed (8.2.2 + BIRD)."""
        was_established = self.state is State.ESTABLISHED
        self._abort_connect()
        self._close(self._conn, reason)
        self._close(self._second, reason)
        self._timers.stop_all()
        self.negotiated = None
        self._ctx = DEFAULT_CONTEXT
        self._received.clear()
        self.counters.last_error = reason
        if was_established:
            self._out.append(act.SessionDown(reason=reason, notification=note, sent=sent))
        elif error:
            self._out.append(act.SessionFailed(reason=reason, notification=note, sent=sent))
        self.established_at = None
        self._set_state(State.IDLE)
        if error:
            self.connect_retry_counter += 1
        if self.allow_automatic_start:
            if error:
                delay = self._backoff.next_delay(now, self._retry_after)
            else:
                delay = self._retry_after if self._retry_after is not None else 0.0
            self._timers.idle_hold = now + delay
        self._retry_after = None

    def _fail(self, fired: _Fired, now: float, code: int, subcode: int, data: bytes, reason: str) -> None:
        note = self._notify(self._conn, code, subcode, data)
        self._go_idle(now, reason, note, True, error=True)

    # ---- the collision connection --------------------------------------------------------------

    def _on_second(self, fired: _Fired, now: float) -> None:
        """Events on the second connection of a collision (RFC 4271 6.8)."""
        second = fired.conn
        assert second is not None
        if fired.type is EventType.BGP_OPEN and isinstance(fired.message, Open):
            try:
                validate_open(fired.message, self.settings)
            except NotificationError as exc:
                self._notify(second, exc.code, exc.subcode, exc.data)
                self._close(second, exc.reason)
                return
            second.remote_open = fired.message
            self._resolve_collision(fired.message, now)
            return
        if fired.type in (EventType.NOTIF_MSG, EventType.NOTIF_MSG_VER_ERR, EventType.TCP_CONNECTION_FAILS):
            self._close(second, "collision connection closed")
            return
        error = fired.error
        if error is not None:
            self._notify(second, error.code, error.subcode, error.data)
        else:
            self._notify(second, NotificationCode.FSM_ERROR, FsmSubcode.UNEXPECTED_MESSAGE_IN_OPENSENT)
        self._close(second, "unexpected message on collision connection")

    def _resolve_collision(self, remote: Open, now: float) -> None:
        primary, second = self._conn, self._second
        assert primary is not None and second is not None
        keep_local = keep_locally_initiated(
            self.settings.router_id, remote.bgp_id, self.settings.local_as, open_asn(remote)
        )
        keep_second = second.outgoing == keep_local and primary.outgoing != keep_local
        cease = CeaseSubcode.CONNECTION_COLLISION_RESOLUTION
        if not keep_second:
            # The primary survives; if its OPEN is still to come it simply stays in OpenSent.
            self._notify(second, NotificationCode.CEASE, cease)
            self._close(second, "connection collision resolution")
            return
        # The second connection wins: dump the primary (event 23, OpenCollisionDump) and promote it.
        self._notify(primary, NotificationCode.CEASE, cease)
        self._out.append(act.Close(conn=primary.id, reason="connection collision resolution"))
        self._conn, self._second = second, None
        self.negotiated = None
        self._ctx = DEFAULT_CONTEXT
        self._timers.keepalive = None
        self._set_state(State.OPENSENT)
        if second.remote_open is not None:
            self._open_received(second, second.remote_open, now)
        else:
            self._timers.hold = now + self.settings.open_hold_time

    def _check_collision_on_open(self, remote: Open, now: float) -> bool:
        """OPEN on the primary while a second connection waits: resolve now. True if primary lost."""
        if self._second is None:
            return False
        primary = self._conn
        self._resolve_collision(remote, now)
        return self._conn is not primary

    # ---- OPEN processing ------------------------------------------------------------------------

    def _open_received(self, conn: _Conn, remote: Open, now: float) -> None:
        """Valid OPEN in OpenSent: negotiate, KEEPALIVE, timers, OpenConfirm (8.2.2)."""
        conn.remote_open = remote
        self.negotiated = negotiate(self._local_open, remote, self.settings)
        self._ctx = self.negotiated.context
        conn.framer.max_len = self._ctx.max_message_len
        self._timers.connect_retry = None
        self._send(conn, Keepalive())
        if self.negotiated.hold_time > 0:
            self._restart_hold(now)
            self._restart_keepalive(now)
        else:
            self._timers.hold = self._timers.keepalive = None
        self._set_state(State.OPENCONFIRM)

    # ---- max-prefix (RFC 4486 Cease subcode 1) ---------------------------------------------------

    def _count_prefixes(self, update: Update) -> tuple[int, int] | None:
        """Track accepted prefixes; return the family that went over `max_prefix`, if any."""
        limit = self.settings.max_prefix
        if limit is None:
            return None
        withdraw_all = update.fault is not None and update.fault.action is UpdateAction.TREAT_AS_WITHDRAW
        v4 = self._received.setdefault((Afi.IPV4, Safi.UNICAST), set())
        v4.difference_update(update.withdrawn)
        if update.mp_unreach is not None:
            fam = self._received.setdefault((update.mp_unreach.afi, update.mp_unreach.safi), set())
            fam.difference_update(p for p in update.mp_unreach.nlri if isinstance(p, Prefix))
        announced: list[tuple[tuple[int, int], Prefix]] = [((Afi.IPV4, Safi.UNICAST), p) for p in update.nlri]
        if update.mp_reach is not None:
            key = (update.mp_reach.afi, update.mp_reach.safi)
            announced.extend((key, p) for p in update.mp_reach.nlri if isinstance(p, Prefix))
        for key, prefix in announced:
            fam = self._received.setdefault(key, set())
            if withdraw_all:
                fam.discard(prefix)
            else:
                fam.add(prefix)
        for key, prefixes in self._received.items():
            if len(prefixes) > limit:
                return key
        return None


# ---- transition handlers ---------------------------------------------------------------------------


def _start(s: BgpSession, f: _Fired, now: float) -> None:
    """Idle + ManualStart/AutomaticStart (1, 3): connect (after BIRD's connect delay) or listen."""
    s.allow_automatic_start = True
    s._timers.idle_hold = None
    passive = f.type in (EventType.MANUAL_START_PASSIVE, EventType.AUTOMATIC_START_PASSIVE)
    if passive:
        s._timers.connect_retry = None
        s._set_state(State.ACTIVE)
    elif s.settings.connect_delay_time > 0:
        s._start_connect_retry(now, s.settings.connect_delay_time)
        s._set_state(State.ACTIVE)
    else:
        s._start_connect_retry(now)
        s._connect()
        s._set_state(State.CONNECT)


def _idle_hold_expires(s: BgpSession, f: _Fired, now: float) -> None:
    """Idle + IdleHoldTimer_Expires (13): the automatic restart after an error."""
    if not s.allow_automatic_start:
        return
    kind = EventType.AUTOMATIC_START_PASSIVE if s.settings.passive else EventType.AUTOMATIC_START
    _start(s, _Fired(type=kind), now)


def _idle_stop(s: BgpSession, f: _Fired, now: float) -> None:
    """Idle + ManualStop (2): stay Idle and cancel any automatic restart."""
    if f.type is EventType.MANUAL_STOP:
        s.allow_automatic_start = False
        s._timers.idle_hold = None


def _refuse(s: BgpSession, f: _Fired, now: float) -> None:
    """Idle + incoming connection: refused (8.2.2, Idle state)."""
    if f.conn is not None:
        s._out.append(act.Close(conn=f.conn.id, reason="refused in Idle"))


def _ignore(s: BgpSession, f: _Fired, now: float) -> None:
    """Idle + any other event: no change (8.2.2)."""


def _stop_no_bgp(s: BgpSession, f: _Fired, now: float) -> None:
    """Connect/Active + ManualStop/AutomaticStop: no BGP connection yet, so no NOTIFICATION."""
    manual = f.type is EventType.MANUAL_STOP
    if manual:
        s.allow_automatic_start = False
    elif isinstance(f.stop, ev.AutomaticStop):
        s._retry_after = f.stop.retry_after
    s._go_idle(now, "stopped", None, False, error=False)


def _connect_retry_expires(s: BgpSession, f: _Fired, now: float) -> None:
    """Connect/Active + ConnectRetryTimer_Expires (9): (re)try the outgoing connection."""
    s._abort_connect()
    s._start_connect_retry(now)
    if s.settings.passive:
        return
    s._connect()
    s._set_state(State.CONNECT)


def _connection_up(s: BgpSession, f: _Fired, now: float) -> None:
    """Connect/Active + TcpCrAcked/TcpConnectionConfirmed (16, 17): send OPEN, go OpenSent."""
    assert f.conn is not None
    s._adopt(f.conn, now)


def _connect_fails(s: BgpSession, f: _Fired, now: float) -> None:
    """Connect/Active + TcpConnectionFails (18): keep listening in Active and retry on the timer.

    RFC 4271 sends Connect to Idle here unless DelayOpen runs; we take its DelayOpen branch (Active,
    ConnectRetryTimer restarted) because a refused TCP connect is not a BGP error and must not feed
    the error backoff: a ToR that reboots is reconnected on the ConnectRetry period."""
    if s._timers.connect_retry is None:
        s._start_connect_retry(now)
    s._set_state(State.ACTIVE)


def _drop_to_idle(s: BgpSession, f: _Fired, now: float) -> None:
    """Connect/Active + any other event (8.2.2): drop everything, count it, go Idle."""
    s._go_idle(now, f"unexpected event {f.type.name} in {s.state}", None, False, error=True)


def _stop_with_cease(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenSent/OpenConfirm/Established + Manual/AutomaticStop (2, 8): Cease with RFC 9003 text."""
    stop = f.stop
    assert stop is not None
    data = b""
    if (
        stop.subcode in (CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, CeaseSubcode.ADMINISTRATIVE_RESET)
        and stop.message
    ):
        data = shutdown_data(stop.message)
    elif stop.subcode == CeaseSubcode.MAX_PREFIXES_REACHED:
        data = b""
    note = s._notify(s._conn, NotificationCode.CEASE, stop.subcode, data)
    reason = f"Cease/{stop.subcode}" + (f": {stop.message}" if stop.message else "")
    if isinstance(stop, ev.ManualStop):
        s.allow_automatic_start = False
        s._go_idle(now, reason, note, True, error=False)
    else:
        s._retry_after = stop.retry_after
        s._go_idle(now, reason, note, True, error=True)


def _hold_expires(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenSent/OpenConfirm/Established + HoldTimer_Expires (10): NOTIFICATION 4/0, Idle."""
    s._fail(f, now, NotificationCode.HOLD_TIMER_EXPIRED, 0, b"", "hold timer expired")


def _keepalive_expires(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenConfirm/Established + KeepaliveTimer_Expires (11): send KEEPALIVE, restart the timer."""
    if s._conn is not None:
        s._send(s._conn, Keepalive())
    s._restart_keepalive(now)


def _second_connection(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenSent/OpenConfirm + a second connection (16, 17): keep it for collision detection (6.8)."""
    assert f.conn is not None
    if s._second is not None:
        s._out.append(act.Close(conn=f.conn.id, reason="third connection"))
        return
    s._second = f.conn
    s._send(f.conn, s._local_open)


def _established_collision(s: BgpSession, f: _Fired, now: float) -> None:
    """Established + a new connection: 6.8, the new connection is closed (Cease 7)."""
    assert f.conn is not None
    data = encode_message(
        Notification(code=NotificationCode.CEASE, subcode=CeaseSubcode.CONNECTION_COLLISION_RESOLUTION),
        DEFAULT_CONTEXT,
    )
    s._out.append(act.Send(conn=f.conn.id, data=data))
    s._out.append(act.Close(conn=f.conn.id, reason="collision with Established session"))


def _opensent_tcp_fails(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenSent + TcpConnectionFails (18): close, restart ConnectRetryTimer, Active (8.2.2)."""
    s._close(s._conn, f.reason)
    s._timers.hold = None
    if s._second is not None:
        s._conn, s._second = s._second, None  # the collision connection carries on alone
        return
    s.counters.last_error = f.reason
    s._out.append(act.SessionFailed(reason=f.reason))
    s._start_connect_retry(now)
    s._set_state(State.ACTIVE)


def _tcp_fails(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenConfirm/Established + TcpConnectionFails (18): Idle, restart after the backoff."""
    s._go_idle(now, f.reason or "connection lost", None, False, error=True)


def _open_in_opensent(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenSent + BGPOpen (19): validate, resolve a pending collision, then OpenConfirm."""
    assert f.conn is not None and isinstance(f.message, Open)
    try:
        validate_open(f.message, s.settings)
    except NotificationError as exc:
        s._fail(f, now, exc.code, exc.subcode, exc.data, f"OPEN rejected: {exc.reason}")
        return
    conn = f.conn
    conn.remote_open = f.message
    if s._check_collision_on_open(f.message, now):
        return  # the primary lost; the second connection carries on in OpenSent
    s._open_received(conn, f.message, now)


def _message_error(s: BgpSession, f: _Fired, now: float) -> None:
    """BGPHeaderErr/BGPOpenMsgErr/UpdateMsgErr (21, 22, 28): the NOTIFICATION the codec named."""
    err = f.error
    if err is None:
        err = NotificationError(NotificationCode.MESSAGE_HEADER_ERROR, 0)
    s._fail(f, now, err.code, err.subcode, err.data, err.reason)


def _notification(s: BgpSession, f: _Fired, now: float) -> None:
    """Any state + NotifMsg / NotifMsgVerErr (24, 25): close, Idle; the peer told us why."""
    note = f.message if isinstance(f.message, Notification) else None
    s.counters.last_notification_received = note
    reason = f"NOTIFICATION received {note.code}/{note.subcode}" if note else "NOTIFICATION received"
    if note is not None and note.code == NotificationCode.CEASE and note.subcode in (2, 4):
        text = parse_shutdown(note.data)
        if text:
            reason += f": {text}"
    if note is not None and note.code == NotificationCode.CEASE and note.subcode in _QUICK_RETRY_CEASES:
        # The peer reset a healthy session (BFD Down, admin reset): come back as fast as it will.
        s._retry_after = min(QUICK_RETRY, s.settings.error_wait_min)
    s._go_idle(now, reason, note, False, error=f.type is not EventType.NOTIF_MSG_VER_ERR)


def _keepalive_in_openconfirm(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenConfirm + KeepAliveMsg (26): Established (8.2.2)."""
    assert s.negotiated is not None
    s._restart_hold(now)
    s.established_at = now
    s.counters.established_transitions += 1
    s._received.clear()
    s._set_state(State.ESTABLISHED)
    s._out.append(act.SessionEstablished(negotiated=s.negotiated))


def _keepalive_in_established(s: BgpSession, f: _Fired, now: float) -> None:
    """Established + KeepAliveMsg (26): restart the HoldTimer."""
    s._restart_hold(now)


def _update_in_established(s: BgpSession, f: _Fired, now: float) -> None:
    """Established + UpdateMsg (27): restart HoldTimer, enforce max-prefix, hand to the RIB."""
    assert isinstance(f.message, Update)
    s._restart_hold(now)
    over = s._count_prefixes(f.message)
    if over is not None:
        limit = s.settings.max_prefix or 0
        # RFC 4486 section 4: AFI (2), SAFI (1), the prefix upper bound (4).
        data = struct.pack("!HBI", over[0], over[1], limit)
        note = s._notify(s._conn, NotificationCode.CEASE, CeaseSubcode.MAX_PREFIXES_REACHED, data)
        restart = s.settings.max_prefix_restart
        if restart is None:
            s.allow_automatic_start = False
        s._retry_after = restart
        s._go_idle(now, f"max-prefix {limit} exceeded for {over}", note, True, error=restart is not None)
        if restart is not None:
            s._timers.idle_hold = now + restart
        return
    s._out.append(act.DeliverUpdate(update=f.message))


def _route_refresh_in_established(s: BgpSession, f: _Fired, now: float) -> None:
    """Established + ROUTE-REFRESH (RFC 2918 section 4: ignore families not negotiated)."""
    assert isinstance(f.message, RouteRefresh)
    s._restart_hold(now)
    negotiated = s.negotiated
    if negotiated is None or not negotiated.route_refresh:
        return
    if (f.message.afi, f.message.safi) not in negotiated.families:
        return
    s._out.append(act.DeliverRouteRefresh(message=f.message))


def _fsm_error(s: BgpSession, f: _Fired, now: float) -> None:
    """OpenSent/OpenConfirm/Established + any other event: FSM Error with the RFC 6608 subcode."""
    subcode = _FSM_SUBCODE.get(s.state, FsmSubcode.UNSPECIFIED)
    s._fail(f, now, NotificationCode.FSM_ERROR, subcode, b"", f"FSM error: {f.type.name} in {s.state}")


_S = State
_E = EventType
TRANSITIONS: dict[tuple[State, EventType], Handler] = {
    # Idle
    (_S.IDLE, _E.MANUAL_START): _start,
    (_S.IDLE, _E.AUTOMATIC_START): _start,
    (_S.IDLE, _E.MANUAL_START_PASSIVE): _start,
    (_S.IDLE, _E.AUTOMATIC_START_PASSIVE): _start,
    (_S.IDLE, _E.MANUAL_STOP): _idle_stop,
    (_S.IDLE, _E.AUTOMATIC_STOP): _idle_stop,
    (_S.IDLE, _E.IDLE_HOLD_TIMER_EXPIRES): _idle_hold_expires,
    (_S.IDLE, _E.TCP_CR_ACKED): _refuse,
    (_S.IDLE, _E.TCP_CONNECTION_CONFIRMED): _refuse,
}
for _state in (_S.CONNECT, _S.ACTIVE):
    TRANSITIONS.update(
        {
            (_state, _E.MANUAL_START): _ignore,
            (_state, _E.AUTOMATIC_START): _ignore,
            (_state, _E.MANUAL_START_PASSIVE): _ignore,
            (_state, _E.AUTOMATIC_START_PASSIVE): _ignore,
            (_state, _E.MANUAL_STOP): _stop_no_bgp,
            (_state, _E.AUTOMATIC_STOP): _stop_no_bgp,
            (_state, _E.CONNECT_RETRY_TIMER_EXPIRES): _connect_retry_expires,
            (_state, _E.TCP_CR_ACKED): _connection_up,
            (_state, _E.TCP_CONNECTION_CONFIRMED): _connection_up,
            (_state, _E.TCP_CONNECTION_FAILS): _connect_fails,
        }
    )
for _state in (_S.OPENSENT, _S.OPENCONFIRM, _S.ESTABLISHED):
    TRANSITIONS.update(
        {
            (_state, _E.MANUAL_START): _ignore,
            (_state, _E.AUTOMATIC_START): _ignore,
            (_state, _E.MANUAL_START_PASSIVE): _ignore,
            (_state, _E.AUTOMATIC_START_PASSIVE): _ignore,
            (_state, _E.MANUAL_STOP): _stop_with_cease,
            (_state, _E.AUTOMATIC_STOP): _stop_with_cease,
            (_state, _E.HOLD_TIMER_EXPIRES): _hold_expires,
            (_state, _E.BGP_HEADER_ERR): _message_error,
            (_state, _E.BGP_OPEN_MSG_ERR): _message_error,
            (_state, _E.NOTIF_MSG): _notification,
            (_state, _E.NOTIF_MSG_VER_ERR): _notification,
            (_state, _E.CONNECT_RETRY_TIMER_EXPIRES): _ignore,  # a stale timer: nothing to retry
        }
    )
TRANSITIONS.update(
    {
        (_S.OPENSENT, _E.TCP_CR_ACKED): _second_connection,
        (_S.OPENSENT, _E.TCP_CONNECTION_CONFIRMED): _second_connection,
        (_S.OPENSENT, _E.TCP_CONNECTION_FAILS): _opensent_tcp_fails,
        (_S.OPENSENT, _E.BGP_OPEN): _open_in_opensent,
        (_S.OPENCONFIRM, _E.TCP_CR_ACKED): _second_connection,
        (_S.OPENCONFIRM, _E.TCP_CONNECTION_CONFIRMED): _second_connection,
        (_S.OPENCONFIRM, _E.TCP_CONNECTION_FAILS): _tcp_fails,
        (_S.OPENCONFIRM, _E.KEEPALIVE_TIMER_EXPIRES): _keepalive_expires,
        (_S.OPENCONFIRM, _E.KEEPALIVE_MSG): _keepalive_in_openconfirm,
        (_S.ESTABLISHED, _E.TCP_CR_ACKED): _established_collision,
        (_S.ESTABLISHED, _E.TCP_CONNECTION_CONFIRMED): _established_collision,
        (_S.ESTABLISHED, _E.TCP_CONNECTION_FAILS): _tcp_fails,
        (_S.ESTABLISHED, _E.KEEPALIVE_TIMER_EXPIRES): _keepalive_expires,
        (_S.ESTABLISHED, _E.KEEPALIVE_MSG): _keepalive_in_established,
        (_S.ESTABLISHED, _E.UPDATE_MSG): _update_in_established,
        (_S.ESTABLISHED, _E.UPDATE_MSG_ERR): _message_error,
        (_S.ESTABLISHED, _E.ROUTE_REFRESH_MSG): _route_refresh_in_established,
    }
)
_DEFAULTS: dict[State, Handler] = {
    _S.IDLE: _ignore,
    _S.CONNECT: _drop_to_idle,
    _S.ACTIVE: _drop_to_idle,
    _S.OPENSENT: _fsm_error,
    _S.OPENCONFIRM: _fsm_error,
    _S.ESTABLISHED: _fsm_error,
}
"""The RFC's "any other event" per state (8.2.2)."""

__all__ = ["TRANSITIONS", "BgpSession", "OpenSubcode", "SessionCounters"]
