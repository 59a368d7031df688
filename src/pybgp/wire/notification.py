"""NOTIFICATION helpers: RFC 9003 shutdown communication and readable error names.

Owns: `shutdown_data` / `parse_shutdown` (the Data of Cease subcodes 2 Administrative Shutdown and 4
Administrative Reset), and `describe(code, subcode)` for logs and `pybgpctl`. Never does: decide when
to send a NOTIFICATION (the FSM does) or encode the message itself (`messages.py`).

Shutdown Communication (RFC 9003 section 2):

    +---------------------+-------------------------------------------+
    | Length (1 octet)    | Shutdown Communication (0..255 octets)    |
    +---------------------+-------------------------------------------+
    UTF-8, no NUL terminator; a receiver MUST NOT rely on it being valid UTF-8 (section 5).
"""

from __future__ import annotations

from pybgp.wire.constants import (
    CeaseSubcode,
    FsmSubcode,
    MessageHeaderSubcode,
    NotificationCode,
    OpenSubcode,
    RouteRefreshErrorSubcode,
    UpdateSubcode,
)

MAX_SHUTDOWN_LEN = 255  # RFC 9003 section 2 (RFC 8203 had 128)

_SUBCODES: dict[
    int,
    type[
        MessageHeaderSubcode
        | OpenSubcode
        | UpdateSubcode
        | FsmSubcode
        | CeaseSubcode
        | RouteRefreshErrorSubcode
    ],
] = {
    NotificationCode.MESSAGE_HEADER_ERROR: MessageHeaderSubcode,
    NotificationCode.OPEN_MESSAGE_ERROR: OpenSubcode,
    NotificationCode.UPDATE_MESSAGE_ERROR: UpdateSubcode,
    NotificationCode.FSM_ERROR: FsmSubcode,
    NotificationCode.CEASE: CeaseSubcode,
    NotificationCode.ROUTE_REFRESH_MESSAGE_ERROR: RouteRefreshErrorSubcode,
}


def shutdown_data(text: str) -> bytes:
    """Length-prefixed UTF-8 `text`, cut at a character boundary to fit 255 octets."""
    raw = text.encode("utf-8")
    if len(raw) > MAX_SHUTDOWN_LEN:
        raw = raw[:MAX_SHUTDOWN_LEN].decode("utf-8", errors="ignore").encode("utf-8")
    return bytes((len(raw),)) + raw


def parse_shutdown(data: bytes) -> str | None:
    """The shutdown communication in a Cease NOTIFICATION's Data, or None if absent or invalid.

    Invalid means a length octet pointing past the data or bytes that are not UTF-8 (RFC 9003 section 5:
    log it as invalid rather than trust it); an empty communication returns "".
    """
    if not data:
        return None
    length = data[0]
    if 1 + length > len(data):
        return None
    try:
        return data[1 : 1 + length].decode("utf-8")
    except UnicodeDecodeError:
        return None


def describe(code: int, subcode: int) -> str:
    """ "CEASE/ADMINISTRATIVE_SHUTDOWN" style names; unknown numbers stay numbers."""
    try:
        code_name = NotificationCode(code).name
    except ValueError:
        return f"{code}/{subcode}"
    enum = _SUBCODES.get(code)
    if enum is not None:
        try:
            return f"{code_name}/{enum(subcode).name}"
        except ValueError:
            pass
    return f"{code_name}/{subcode}"
