"""The transition table of the BGP FSM (RFC 4271 section 8.2.2): one handler per (state, event).

Owns: `TRANSITIONS` (`(State, EventType) -> handler`), `DEFAULTS` (the RFC's "any other event" per
state), the handlers themselves, and the two small records they work on (`Conn`, `Fired`).
This is the table half of `session.py`: handlers act on a `BgpSession` through its helper methods
(send, close, go Idle, timers), so each handler reads like the RFC's list for that state and event.
Never does: I/O, clocks, or decoding; `BgpSession.handle()` turns inputs into fired events first.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.events import EventType
from pybgp.fsm.negotiate import validate_open
from pybgp.fsm.states import State
from pybgp.wire.constants import CeaseSubcode, FsmSubcode, NotificationCode
from pybgp.wire.context import DEFAULT_CONTEXT
from pybgp.wire.errors import NotificationError
from pybgp.wire.framing import MessageFramer
from pybgp.wire.messages import Message, Notification, Open, RouteRefresh, Update, encode_message
from pybgp.wire.notification import parse_shutdown, shutdown_data

if TYPE_CHECKING:
    from pybgp.fsm.session import BgpSession

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


@dataclass(slots=True)
class Conn:
    """One TCP connection as the FSM sees it."""

    id: int
    outgoing: bool
    framer: MessageFramer
    remote_open: Open | None = None


@dataclass(slots=True)
class Fired:
    """One RFC event being processed, with what it carries."""

    type: EventType
    conn: Conn | None = None
    message: Message | None = None
    error: NotificationError | None = None
    stop: ev.ManualStop | ev.AutomaticStop | None = None
    reason: str = ""


Handler = Callable[["BgpSession", Fired, float], None]


# ---- transition handlers ---------------------------------------------------------------------------


def _start(s: BgpSession, f: Fired, now: float) -> None:
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


def _idle_hold_expires(s: BgpSession, f: Fired, now: float) -> None:
    """Idle + IdleHoldTimer_Expires (13): the automatic restart after an error."""
    if not s.allow_automatic_start:
        return
    kind = EventType.AUTOMATIC_START_PASSIVE if s.settings.passive else EventType.AUTOMATIC_START
    _start(s, Fired(type=kind), now)


def _automatic_start(s: BgpSession, f: Fired, now: float) -> None:
    """Idle + AutomaticStart (3, 5): restart now, skipping what is left of the idle hold (used when
    BFD comes back Up: the path is known good again). Ignored after a ManualStop."""
    if s.allow_automatic_start:
        _start(s, f, now)


def _retry_now(s: BgpSession, f: Fired, now: float) -> None:
    """Connect/Active + AutomaticStart: connect at once instead of waiting for the ConnectRetryTimer
    (a connect pending on a dead path would only succeed at TCP's next SYN retransmission)."""
    if f.type is EventType.AUTOMATIC_START_PASSIVE or s.settings.passive:
        return
    _connect_retry_expires(s, f, now)


def _idle_stop(s: BgpSession, f: Fired, now: float) -> None:
    """Idle + ManualStop (2): stay Idle and cancel any automatic restart."""
    if f.type is EventType.MANUAL_STOP:
        s.allow_automatic_start = False
        s._timers.idle_hold = None


def _refuse(s: BgpSession, f: Fired, now: float) -> None:
    """Idle + incoming connection: refused (8.2.2, Idle state)."""
    if f.conn is not None:
        s._out.append(act.Close(conn=f.conn.id, reason="refused in Idle"))


def _ignore(s: BgpSession, f: Fired, now: float) -> None:
    """Idle + any other event: no change (8.2.2)."""


def _stop_no_bgp(s: BgpSession, f: Fired, now: float) -> None:
    """Connect/Active + ManualStop/AutomaticStop: no BGP connection yet, so no NOTIFICATION."""
    manual = f.type is EventType.MANUAL_STOP
    if manual:
        s.allow_automatic_start = False
    elif isinstance(f.stop, ev.AutomaticStop):
        s._retry_after = f.stop.retry_after
    s._go_idle(now, "stopped", None, False, error=False)


def _connect_retry_expires(s: BgpSession, f: Fired, now: float) -> None:
    """Connect/Active + ConnectRetryTimer_Expires (9): (re)try the outgoing connection."""
    s._abort_connect()
    s._start_connect_retry(now)
    if s.settings.passive:
        return
    s._connect()
    s._set_state(State.CONNECT)


def _connection_up(s: BgpSession, f: Fired, now: float) -> None:
    """Connect/Active + TcpCrAcked/TcpConnectionConfirmed (16, 17): send OPEN, go OpenSent."""
    assert f.conn is not None
    s._adopt(f.conn, now)


def _connect_fails(s: BgpSession, f: Fired, now: float) -> None:
    """Connect/Active + TcpConnectionFails (18): keep listening in Active and retry on the timer.

    RFC 4271 sends Connect to Idle here unless DelayOpen runs; we take its DelayOpen branch (Active,
    ConnectRetryTimer restarted) because a refused TCP connect is not a BGP error and must not feed
    the error backoff: a ToR that reboots is reconnected on the ConnectRetry period."""
    if s._timers.connect_retry is None:
        s._start_connect_retry(now)
    s._set_state(State.ACTIVE)


def _drop_to_idle(s: BgpSession, f: Fired, now: float) -> None:
    """Connect/Active + any other event (8.2.2): drop everything, count it, go Idle."""
    s._go_idle(now, f"unexpected event {f.type.name} in {s.state}", None, False, error=True)


def _stop_with_cease(s: BgpSession, f: Fired, now: float) -> None:
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


def _hold_expires(s: BgpSession, f: Fired, now: float) -> None:
    """OpenSent/OpenConfirm/Established + HoldTimer_Expires (10): NOTIFICATION 4/0, Idle."""
    s._fail(f, now, NotificationCode.HOLD_TIMER_EXPIRED, 0, b"", "hold timer expired")


def _keepalive_expires(s: BgpSession, f: Fired, now: float) -> None:
    """OpenConfirm/Established + KeepaliveTimer_Expires (11): send KEEPALIVE, restart the timer."""
    if s._conn is not None:
        s._send_keepalive(s._conn, now)
    s._restart_keepalive(now)


def _second_connection(s: BgpSession, f: Fired, now: float) -> None:
    """OpenSent/OpenConfirm + a second connection (16, 17): keep it for collision detection (6.8)."""
    assert f.conn is not None
    if s._second is not None:
        s._out.append(act.Close(conn=f.conn.id, reason="third connection"))
        return
    s._second = f.conn
    s._send(f.conn, s._local_open)


def _established_collision(s: BgpSession, f: Fired, now: float) -> None:
    """Established + a new connection: 6.8, the new connection is closed (Cease 7)."""
    assert f.conn is not None
    data = encode_message(
        Notification(code=NotificationCode.CEASE, subcode=CeaseSubcode.CONNECTION_COLLISION_RESOLUTION),
        DEFAULT_CONTEXT,
    )
    s._out.append(act.Send(conn=f.conn.id, data=data))
    s._out.append(act.Close(conn=f.conn.id, reason="collision with Established session"))


def _opensent_tcp_fails(s: BgpSession, f: Fired, now: float) -> None:
    """OpenSent + TcpConnectionFails (18): close, restart ConnectRetryTimer, Active (8.2.2)."""
    s._close(s._conn, f.reason)
    s._timers.hold = None
    if s._second is not None:
        # The collision connection carries on alone, still waiting for its OPEN under the large
        # OpenSent hold time.
        s._conn, s._second = s._second, None
        s._timers.hold = now + s.settings.open_hold_time
        return
    s.counters.last_error = f.reason
    s._out.append(act.SessionFailed(reason=f.reason))
    s._start_connect_retry(now)
    s._set_state(State.ACTIVE)


def _tcp_fails(s: BgpSession, f: Fired, now: float) -> None:
    """OpenConfirm/Established + TcpConnectionFails (18): Idle, restart after the backoff."""
    s._go_idle(now, f.reason or "connection lost", None, False, error=True)


def _open_in_opensent(s: BgpSession, f: Fired, now: float) -> None:
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


def _message_error(s: BgpSession, f: Fired, now: float) -> None:
    """BGPHeaderErr/BGPOpenMsgErr/UpdateMsgErr (21, 22, 28): the NOTIFICATION the codec named."""
    err = f.error
    if err is None:
        err = NotificationError(NotificationCode.MESSAGE_HEADER_ERROR, 0)
    s._fail(f, now, err.code, err.subcode, err.data, err.reason)


def _notification(s: BgpSession, f: Fired, now: float) -> None:
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


def _keepalive_in_openconfirm(s: BgpSession, f: Fired, now: float) -> None:
    """OpenConfirm + KeepAliveMsg (26): Established (8.2.2)."""
    assert s.negotiated is not None
    s._restart_hold(now)
    s.established_at = now
    s.counters.established_transitions += 1
    s._received.clear()
    s._set_state(State.ESTABLISHED)
    s._out.append(act.SessionEstablished(negotiated=s.negotiated))


def _keepalive_in_established(s: BgpSession, f: Fired, now: float) -> None:
    """Established + KeepAliveMsg (26): restart the HoldTimer."""
    s._restart_hold(now)


def _update_in_established(s: BgpSession, f: Fired, now: float) -> None:
    """Established + UpdateMsg (27): restart HoldTimer, enforce max-prefix, hand to the RIB."""
    assert isinstance(f.message, Update)
    established_update(s, f.message, now)


def established_update(s: BgpSession, update: Update, now: float) -> None:
    """The body of Established + UpdateMsg (27), shared by the table's handler and the session's
    per-UPDATE fast path (in `BgpSession._on_data`), so both do exactly this."""
    s._update_heard(now)  # the HoldTimer restarts; the KeepaliveTimer may expire early after it
    over = s._count_prefixes(update) if s.settings.max_prefix is not None else None
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
    s._out.append(act.deliver_update(update))


def _route_refresh_in_established(s: BgpSession, f: Fired, now: float) -> None:
    """Established + ROUTE-REFRESH (RFC 2918 section 4: ignore families not negotiated)."""
    assert isinstance(f.message, RouteRefresh)
    s._restart_hold(now)
    negotiated = s.negotiated
    if negotiated is None or not negotiated.route_refresh:
        return
    if (f.message.afi, f.message.safi) not in negotiated.families:
        return
    s._out.append(act.DeliverRouteRefresh(message=f.message))


def _fsm_error(s: BgpSession, f: Fired, now: float) -> None:
    """OpenSent/OpenConfirm/Established + any other event: FSM Error with the RFC 6608 subcode."""
    subcode = _FSM_SUBCODE.get(s.state, FsmSubcode.UNSPECIFIED)
    s._fail(f, now, NotificationCode.FSM_ERROR, subcode, b"", f"FSM error: {f.type.name} in {s.state}")


_S = State
_E = EventType
TRANSITIONS: dict[tuple[State, EventType], Handler] = {
    # Idle
    (_S.IDLE, _E.MANUAL_START): _start,
    (_S.IDLE, _E.AUTOMATIC_START): _automatic_start,
    (_S.IDLE, _E.MANUAL_START_PASSIVE): _start,
    (_S.IDLE, _E.AUTOMATIC_START_PASSIVE): _automatic_start,
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
            (_state, _E.AUTOMATIC_START): _retry_now,
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
DEFAULTS: dict[State, Handler] = {
    _S.IDLE: _ignore,
    _S.CONNECT: _drop_to_idle,
    _S.ACTIVE: _drop_to_idle,
    _S.OPENSENT: _fsm_error,
    _S.OPENCONFIRM: _fsm_error,
    _S.ESTABLISHED: _fsm_error,
}
"""The RFC's "any other event" per state (8.2.2)."""
