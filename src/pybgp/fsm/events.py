"""Inputs of the session FSM: the RFC 4271 section 8.1 event numbers and the objects callers pass in.

Owns: `EventType` (the RFC's events, numbered as in the RFC, which key the transition table) and the
frozen input objects the I/O adapter hands to `BgpSession.handle()`.
Never does: decide anything. Bytes arrive as `DataReceived`; the session frames and decodes them and
fires the message events (BGPOpen, UpdateMsg, ...) itself, so the adapter stays thin.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from pybgp.wire.constants import CeaseSubcode, RouteRefreshSubtype


class EventType(IntEnum):
    """RFC 4271 section 8.1 events (same numbers). Optional events we do not implement
    (DelayOpen, TCP connection validation, peer oscillation damping: 6, 7, 12, 14, 15, 20) are left out;
    ROUTE_REFRESH_MSG is RFC 2918's message, which RFC 4271 does not list."""

    MANUAL_START = 1
    MANUAL_STOP = 2
    AUTOMATIC_START = 3
    MANUAL_START_PASSIVE = 4
    AUTOMATIC_START_PASSIVE = 5
    AUTOMATIC_STOP = 8
    CONNECT_RETRY_TIMER_EXPIRES = 9
    HOLD_TIMER_EXPIRES = 10
    KEEPALIVE_TIMER_EXPIRES = 11
    IDLE_HOLD_TIMER_EXPIRES = 13
    TCP_CR_ACKED = 16
    TCP_CONNECTION_CONFIRMED = 17
    TCP_CONNECTION_FAILS = 18
    BGP_OPEN = 19
    BGP_HEADER_ERR = 21
    BGP_OPEN_MSG_ERR = 22
    OPEN_COLLISION_DUMP = 23
    NOTIF_MSG_VER_ERR = 24
    NOTIF_MSG = 25
    KEEPALIVE_MSG = 26
    UPDATE_MSG = 27
    UPDATE_MSG_ERR = 28
    ROUTE_REFRESH_MSG = 101


# ---- what the adapter passes in -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualStart:
    """Operator enables the peer (events 1 / 4). Automatic restarts are allowed until a ManualStop."""

    passive: bool | None = None  # None: as configured


@dataclass(frozen=True, slots=True, kw_only=True)
class AutomaticStart:
    """The system says the path is good again (BFD Up, carrier back): event 3 / 5. In Idle it ends the
    idle hold early (only while automatic restarts are allowed); in Connect/Active it connects now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ManualStop:
    """Operator disables the peer (event 2): Cease with `subcode` and an RFC 9003 `message`."""

    subcode: int = CeaseSubcode.ADMINISTRATIVE_SHUTDOWN
    message: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class AutomaticStop:
    """The system tears the session down but will restart it (event 8): admin reset, BFD Down
    (Cease 10, RFC 9384), ... `retry_after` overrides the first idle-hold delay of an error sequence."""

    subcode: int = CeaseSubcode.ADMINISTRATIVE_RESET
    message: str = ""
    retry_after: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpCrAcked:
    """Our outgoing connection `conn` completed (event 16). `conn` ids are chosen by the adapter."""

    conn: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpConnectionConfirmed:
    """The peer's incoming connection `conn` was accepted (event 17)."""

    conn: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TcpConnectionFails:
    """Connection `conn` closed or failed; `conn=None` means our pending outgoing connect failed (18)."""

    conn: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class DataReceived:
    """Bytes read from connection `conn`, any split: the session frames them."""

    conn: int
    data: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class Timeout:
    """The deadline the session asked for (`next_deadline()`) has come: fire the expired timers."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendUpdates:
    """Pre-encoded UPDATE messages (whole, with header) to send when Established; restarts the
    KeepaliveTimer as RFC 4271 8.2.2 asks for every KEEPALIVE or UPDATE sent."""

    messages: tuple[bytes, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class SendRouteRefresh:
    """Ask the peer to resend a family (RFC 2918), or mark BoRR/EoRR (RFC 7313)."""

    afi: int
    safi: int
    subtype: int = RouteRefreshSubtype.NORMAL


Input = (
    ManualStart
    | AutomaticStart
    | ManualStop
    | AutomaticStop
    | TcpCrAcked
    | TcpConnectionConfirmed
    | TcpConnectionFails
    | DataReceived
    | Timeout
    | SendUpdates
    | SendRouteRefresh
)
