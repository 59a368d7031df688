"""Outputs of the session FSM: what the I/O adapter must do.

Owns: the frozen action objects `BgpSession.handle()` returns, in order.
Never does: perform them. The adapter (`pybgp.aio.peer`) or a test harness carries them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from pybgp.fsm.negotiate import Negotiated
from pybgp.fsm.states import State
from pybgp.wire.messages import Message, Notification, RouteRefresh, Update


@dataclass(frozen=True, slots=True, kw_only=True)
class Connect:
    """Open an outgoing TCP connection to the peer; answer with TcpCrAcked or TcpConnectionFails."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AbortConnect:
    """Give up the pending outgoing connect attempt, if any (no event is expected back)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Send:
    """Write `data` (whole messages) on connection `conn`. `message` is the decoded form for logs when
    `data` is one message we encoded; None for a batch of pre-encoded UPDATEs."""

    conn: int
    data: bytes
    message: Message | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Close:
    """Close connection `conn` after writing what is queued (a NOTIFICATION must get out first)."""

    conn: int
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class StateChanged:
    """For logs and metrics."""

    old: State
    new: State


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEstablished:
    """The session reached Established with these negotiated facts."""

    negotiated: Negotiated


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionDown:
    """The Established session ended: the routes learned from it must go.

    `notification` is the NOTIFICATION sent (`sent=True`) or received, if any."""

    reason: str
    notification: Notification | None = None
    sent: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionFailed:
    """A session attempt ended before Established (for logs: wrong AS, hold expiry in OpenSent...)."""

    reason: str
    notification: Notification | None = None
    sent: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverUpdate:
    """An UPDATE for the RIB (may carry an RFC 7606 `fault`; treat-as-withdraw is the RIB's job)."""

    update: Update


_SET_UPDATE = vars(DeliverUpdate)["update"].__set__
_new_object = object.__new__


def deliver_update(update: Update) -> DeliverUpdate:
    """`DeliverUpdate(update=update)` without the frozen keyword `__init__` (its `object.__setattr__`
    call costs more than the rest of building the action): one is made per received UPDATE."""
    action = _new_object(DeliverUpdate)
    _SET_UPDATE(action, update)
    return action


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliverRouteRefresh:
    """The peer asked us to resend a family, or marks BoRR/EoRR (RFC 7313)."""

    message: RouteRefresh


Action = (
    Connect
    | AbortConnect
    | Send
    | Close
    | StateChanged
    | SessionEstablished
    | SessionDown
    | SessionFailed
    | DeliverUpdate
    | DeliverRouteRefresh
)
