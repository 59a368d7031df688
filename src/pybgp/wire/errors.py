"""Errors of the codec, each carrying its wire consequence.

Owns: the exception types the decoder raises and the RFC 7606 fault record an UPDATE can carry.
Never does: decide what a session does about an error beyond naming it; the FSM acts on these.

Two families, kept apart on purpose (h11's LocalProtocolError / RemoteProtocolError):
- `WireError` and subclasses: the *peer* sent something wrong. `NotificationError` names the
  NOTIFICATION (code, subcode, data) RFC 4271 section 6 / RFC 7606 require in reply.
- `LocalUsageError`: *our caller* asked for something impossible (an attribute set that cannot fit in a
  message, a value out of range). It is a bug on our side and never becomes a NOTIFICATION.
Decoding never raises anything but `WireError` subclasses, whatever the bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class WireError(Exception):
    """A remote fault found while decoding bytes from a peer."""


class NotificationError(WireError):
    """A fault whose consequence is a NOTIFICATION and the end of the session."""

    def __init__(self, code: int, subcode: int, data: bytes = b"", reason: str = "") -> None:
        self.code = code
        self.subcode = subcode
        self.data = bytes(data)
        self.reason = reason or f"NOTIFICATION {code}/{subcode}"
        super().__init__(self.reason)


class LocalUsageError(Exception):
    """Our own caller misused the codec (never caused by peer input)."""


class UpdateAction(Enum):
    """RFC 7606 section 2 approaches, weakest first."""

    ATTRIBUTE_DISCARD = "attribute-discard"
    TREAT_AS_WITHDRAW = "treat-as-withdraw"
    AFISAFI_DISABLE = "afi-safi-disable"
    SESSION_RESET = "session-reset"


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateFault:
    """What was wrong with an UPDATE that did not need a session reset (RFC 7606).

    `code`/`subcode`/`data` are what RFC 4271 would have sent, kept for logs and counters.
    """

    action: UpdateAction
    code: int
    subcode: int
    data: bytes = b""
    reason: str = ""
    attr_code: int | None = None


class MalformedAttribute(WireError):
    """One path attribute is malformed; `decode_path_attributes` turns it into an `UpdateFault`.

    Raised by the per-attribute decoders and never escapes the attribute codec: the action
    (discard or treat-as-withdraw) is named where the attribute is described (RFC 7606 section 7).
    """

    def __init__(self, reason: str, subcode: int = 0) -> None:
        self.reason = reason
        self.subcode = subcode
        super().__init__(reason)
