"""The BGP-4 finite state machine of one neighbor, sans-IO (RFC 4271 section 8).

Owns: `BgpSession`. Inputs (`pybgp.fsm.events`) go in through `handle(event, now)`, actions
(`pybgp.fsm.actions`) come out; `next_deadline()` says when to call `handle(Timeout(), now)` again.
The transition table `TRANSITIONS` (in `transitions.py`) maps `(State, EventType)` to a handler; a
pair missing from it is the RFC's "any other event": ignored in Idle, a drop to Idle in
Connect/Active, and the FSM Error NOTIFICATION with its RFC 6608 subcode in OpenSent/OpenConfirm/
Established.
The session frames and decodes the bytes of each connection itself (one `MessageFramer` per
connection) and tracks at most two connections: the primary one and, during a collision (6.8), a
second one in OpenSent until `collision.py` decides which survives.
Never does: I/O, reading a clock, or randomness of its own (an injected `random.Random` jitters).
"""

from __future__ import annotations

import logging
import math
import random
from dataclasses import dataclass, field

from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.collision import keep_locally_initiated
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.events import EventType
from pybgp.fsm.negotiate import Negotiated, build_open, negotiate, open_asn, validate_open
from pybgp.fsm.states import State
from pybgp.fsm.timers import KEEPALIVE_MIN_INTERVAL, QUIET_KEEPALIVE, ErrorBackoff, Timers, jitter
from pybgp.fsm.transitions import DEFAULTS, TRANSITIONS, Conn, Fired, established_update
from pybgp.wire.constants import (
    Afi,
    CeaseSubcode,
    FsmSubcode,
    MessageType,
    NotificationCode,
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

log = logging.getLogger(__name__)

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
_UPDATE = int(MessageType.UPDATE)
_RESET = UpdateAction.SESSION_RESET
_FALLBACK_ERROR: dict[int, tuple[int, int]] = {
    MessageType.OPEN: (NotificationCode.OPEN_MESSAGE_ERROR, 0),
    MessageType.UPDATE: (NotificationCode.UPDATE_MESSAGE_ERROR, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST),
}


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


class BgpSession:
    """One neighbor's FSM. Not thread-safe; drive it from one task (the adapter's event loop)."""

    fast_updates = True
    """Take a well-formed UPDATE on the Established connection straight to the handler the table
    names for it (in `_on_data`'s frame loop), skipping the generic dispatch. The table-driven path
    stays the reference: tests set this to False on one of two sessions fed the same inputs and
    require the same actions, state and counters from both."""

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
            minimum=settings.error_wait_min,
            maximum=settings.error_wait_max,
            forget=settings.error_forget_time,
        )
        self._conn: Conn | None = None
        self._second: Conn | None = None
        self._connecting = False
        self._local_open = build_open(settings)
        self._ctx: WireContext = DEFAULT_CONTEXT
        self._out: list[act.Action] = []
        self._retry_after: float | None = None
        self._received: dict[tuple[int, int], set[Prefix]] = {}
        self._keepalive_sent = -math.inf  # when we last sent a KEEPALIVE (`_send_keepalive`)

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
                self._fire(Fired(type=expired, conn=self._conn), now)
        elif isinstance(event, ev.DataReceived):
            self._on_data(event, now)
        elif isinstance(event, ev.ManualStart):
            passive = self.settings.passive if event.passive is None else event.passive
            self._fire(Fired(type=EventType.MANUAL_START_PASSIVE if passive else EventType.MANUAL_START), now)
        elif isinstance(event, ev.AutomaticStart):
            kind = EventType.AUTOMATIC_START_PASSIVE if self.settings.passive else EventType.AUTOMATIC_START
            self._fire(Fired(type=kind), now)
        elif isinstance(event, ev.ManualStop):
            self._fire(Fired(type=EventType.MANUAL_STOP, stop=event, conn=self._conn), now)
        elif isinstance(event, ev.AutomaticStop):
            self._fire(Fired(type=EventType.AUTOMATIC_STOP, stop=event, conn=self._conn), now)
        elif isinstance(event, ev.TcpCrAcked | ev.TcpConnectionConfirmed):
            outgoing = isinstance(event, ev.TcpCrAcked)
            if outgoing:
                self._connecting = False
            conn = Conn(id=event.conn, outgoing=outgoing, framer=MessageFramer())
            kind = EventType.TCP_CR_ACKED if outgoing else EventType.TCP_CONNECTION_CONFIRMED
            self._fire(Fired(type=kind, conn=conn), now)
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
                self._fire(Fired(type=EventType.TCP_CONNECTION_FAILS, reason=event.reason), now)
            return
        if self._second is not None and event.conn == self._second.id:
            self._second = None
            return
        if self._conn is not None and event.conn == self._conn.id:
            reason = event.reason or "connection closed by peer"
            self._fire(Fired(type=EventType.TCP_CONNECTION_FAILS, conn=self._conn, reason=reason), now)

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
        fast = self.fast_updates
        counts = self.counters.messages_in
        for frame in frames:
            if conn is self._conn and fast and frame[18] == _UPDATE and self.state is State.ESTABLISHED:
                # The common case of a loaded session, one UPDATE after another, handled here rather
                # than through `_on_frame`: what `_fire` would do through the table
                # (`TRANSITIONS[ESTABLISHED, UPDATE_MSG]` is `_update_in_established`, which calls the
                # same `established_update`), minus the `Fired` record, the lookups and two calls.
                try:
                    msg = decode_message(frame, self._ctx)
                except Exception as exc:
                    self._on_decode_error(conn, _UPDATE, exc, now)
                    continue
                if isinstance(msg, Update) and (msg.fault is None or msg.fault.action is not _RESET):
                    counts["Update"] = counts.get("Update", 0) + 1
                    established_update(self, msg, now)
                else:
                    self._on_message(conn, _UPDATE, msg, now)  # a session-resetting fault
            elif conn is self._conn or conn is self._second:
                self._on_frame(conn, frame, now)
            else:
                return  # the connection was closed by an earlier frame
        if header_error is not None and (conn is self._conn or conn is self._second):
            self._fire(Fired(type=EventType.BGP_HEADER_ERR, conn=conn, error=header_error), now)

    def _on_frame(self, conn: Conn, frame: bytes, now: float) -> None:
        mtype = frame[18] if len(frame) > 18 else 0
        try:
            msg = decode_message(frame, self._ctx if conn is self._conn else DEFAULT_CONTEXT)
        except Exception as exc:
            self._on_decode_error(conn, mtype, exc, now)
            return
        self._on_message(conn, mtype, msg, now)

    def _on_decode_error(self, conn: Conn, mtype: int, exc: Exception, now: float) -> None:
        if not isinstance(exc, NotificationError):
            # Bad input never crashes: name the closest error (a WireError, or worse, a bug).
            code, subcode = _FALLBACK_ERROR.get(mtype, (NotificationCode.MESSAGE_HEADER_ERROR, 0))
            exc = NotificationError(code, subcode, b"", repr(exc))
        self._fire(self._decode_error(conn, mtype, exc), now)

    def _on_message(self, conn: Conn, mtype: int, msg: Message, now: float) -> None:
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
            self._fire(Fired(type=EventType.UPDATE_MSG_ERR, conn=conn, error=error), now)
            return
        self._fire(Fired(type=kind, conn=conn, message=msg), now)

    @staticmethod
    def _decode_error(conn: Conn, mtype: int, exc: NotificationError) -> Fired:
        kind = _DECODE_ERROR_EVENT.get(mtype, EventType.BGP_HEADER_ERR)
        if mtype == MessageType.ROUTE_REFRESH and exc.code == NotificationCode.ROUTE_REFRESH_MESSAGE_ERROR:
            kind = EventType.UPDATE_MSG_ERR  # RFC 7313 5: also a NOTIFICATION and a reset in Established
        return Fired(type=kind, conn=conn, error=exc)

    def _fire(self, fired: Fired, now: float) -> None:
        """Dispatch one RFC event through the table (events on the collision connection apart)."""
        if fired.conn is not None and fired.conn is self._second:
            self._on_second(fired, now)
            return
        handler = TRANSITIONS.get((self.state, fired.type))
        if handler is None:
            handler = DEFAULTS[self.state]
        handler(self, fired, now)

    # ---- helpers the handlers share --------------------------------------------------------------

    def _set_state(self, new: State) -> None:
        if new is not self.state:
            self._out.append(act.StateChanged(old=self.state, new=new))
            self.state = new

    def _send(self, conn: Conn, msg: Message) -> None:
        data = encode_message(msg, self._ctx if conn is self._conn else DEFAULT_CONTEXT)
        name = type(msg).__name__
        self.counters.messages_out[name] = self.counters.messages_out.get(name, 0) + 1
        self._out.append(act.Send(conn=conn.id, data=data, message=msg))

    def _send_updates(self, event: ev.SendUpdates, now: float) -> None:
        if self.state is not State.ESTABLISHED or self._conn is None or not event.messages:
            return
        # One write for the batch: the transport copies it once instead of once per message.
        data = event.messages[0] if len(event.messages) == 1 else b"".join(event.messages)
        self._out.append(act.Send(conn=self._conn.id, data=data))
        self.counters.messages_out["Update"] = self.counters.messages_out.get("Update", 0) + len(
            event.messages
        )
        self._restart_keepalive(now)

    def _send_route_refresh(self, event: ev.SendRouteRefresh) -> None:
        if self.state is State.ESTABLISHED and self._conn is not None:
            self._send(self._conn, RouteRefresh(afi=event.afi, safi=event.safi, subtype=event.subtype))

    def _restart_keepalive(self, now: float) -> None:
        self._timers.quiet = None  # what we just sent reached the peer as well as a KEEPALIVE would
        if self.negotiated is not None and self.negotiated.keepalive_time > 0:
            self._timers.keepalive = now + jitter(self._rng, self.negotiated.keepalive_time)

    def _send_keepalive(self, conn: Conn, now: float) -> None:
        self._send(conn, Keepalive())
        self._keepalive_sent = now

    def _update_heard(self, now: float) -> None:
        """An UPDATE in Established: restart the HoldTimer, and have the KeepaliveTimer expire
        `QUIET_KEEPALIVE` after it if no other UPDATE follows (never sooner than
        `KEEPALIVE_MIN_INTERVAL` after our last KEEPALIVE, nor later than it would anyway).

        Why: BIRD 2.0 sometimes stops in the last few kB of a table it sends, its main loop asleep
        until its 3 s poll timeout, while its socket is idle; any message from us wakes it (seen in
        a third of the feed benchmark's (c) runs, benchmarks/feed_server.py, at 1.3-2.2 s each). So
        a burst of UPDATEs that goes quiet gets one KEEPALIVE, at most one per second in all, which
        RFC 4271 section 4.4 allows at any time (no KEEPALIVE at all with a zero hold time)."""
        self._restart_hold(now)
        if self._timers.hold is not None:  # a zero hold time runs no HoldTimer and sends no KEEPALIVE
            quiet, earliest = now + QUIET_KEEPALIVE, self._keepalive_sent + KEEPALIVE_MIN_INTERVAL
            self._timers.quiet = quiet if quiet > earliest else earliest

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

    def _close(self, conn: Conn | None, reason: str) -> None:
        if conn is None:
            return
        self._out.append(act.Close(conn=conn.id, reason=reason))
        if conn is self._conn:
            self._conn = None
        if conn is self._second:
            self._second = None

    def _notify(self, conn: Conn | None, code: int, subcode: int, data: bytes = b"") -> Notification:
        note = Notification(code=code, subcode=subcode, data=data)
        if conn is not None:
            self._send(conn, note)
        self.counters.last_notification_sent = note
        return note

    def _adopt(self, conn: Conn, now: float) -> None:
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

    def _fail(self, fired: Fired, now: float, code: int, subcode: int, data: bytes, reason: str) -> None:
        note = self._notify(self._conn, code, subcode, data)
        self._go_idle(now, reason, note, True, error=True)

    # ---- the collision connection --------------------------------------------------------------

    def _on_second(self, fired: Fired, now: float) -> None:
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

    def _open_received(self, conn: Conn, remote: Open, now: float) -> None:
        """Valid OPEN in OpenSent: negotiate, KEEPALIVE, timers, OpenConfirm (8.2.2)."""
        conn.remote_open = remote
        self.negotiated = negotiate(self._local_open, remote, self.settings)
        self._ctx = self.negotiated.context
        conn.framer.max_len = self._ctx.max_message_len
        self._timers.connect_retry = None
        self._send_keepalive(conn, now)
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


__all__ = ["TRANSITIONS", "BgpSession", "SessionCounters"]
