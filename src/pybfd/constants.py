"""BFD code points (RFC 5880 section 4.1, RFC 5881, RFC 5883) as enums, plus the reasons a packet is dropped.

Owns: every number the protocol gives a name to (states, diagnostics, authentication types, UDP ports,
TTL rules) and the `DropReason` enum that counts each rejected packet. Never does: parsing, I/O or
any behaviour; it is a table of names.
"""

from __future__ import annotations

import enum

#: RFC 5880 section 4.1: the only protocol version defined.
BFD_VERSION = 1
#: RFC 5881 section 4: single-hop BFD Control packets go to UDP port 3784.
SINGLE_HOP_PORT = 3784
#: RFC 5883 section 5: multihop BFD Control packets go to UDP port 4784.
MULTIHOP_PORT = 4784
#: RFC 5881 section 4: the source port MUST be in 49152-65535.
SOURCE_PORT_MIN = 49152
SOURCE_PORT_MAX = 65535
#: RFC 5881 section 5 (GTSM, RFC 5082): single-hop packets are sent with TTL/Hop Limit 255, and a
#: received packet whose TTL is not 255 MUST be discarded.
SINGLE_HOP_TTL = 255
#: RFC 5880 section 6.8.3: while not Up, transmit no faster than one packet per second.
SLOW_TX_INTERVAL_US = 1_000_000
#: Mandatory section length (RFC 5880 section 4.1).
MANDATORY_LEN = 24


class State(enum.IntEnum):
    """RFC 5880 section 4.1 "Sta": the session state as carried on the wire."""

    ADMIN_DOWN = 0
    DOWN = 1
    INIT = 2
    UP = 3


class Diag(enum.IntEnum):
    """RFC 5880 section 4.1 "Diag": why the session last left Up (or is being held down)."""

    NO_DIAGNOSTIC = 0
    CONTROL_DETECTION_TIME_EXPIRED = 1
    ECHO_FUNCTION_FAILED = 2
    NEIGHBOR_SIGNALED_SESSION_DOWN = 3
    FORWARDING_PLANE_RESET = 4
    PATH_DOWN = 5
    CONCATENATED_PATH_DOWN = 6
    ADMINISTRATIVELY_DOWN = 7
    REVERSE_CONCATENATED_PATH_DOWN = 8
    MIS_CONNECTIVITY_DEFECT = 9  # RFC 6428 (MPLS-TP); seen in captures


def diag_name(code: int) -> str:
    """Human name of a diagnostic code, tolerant of values no RFC assigned (5 bits allow 0-31)."""
    try:
        return Diag(code).name
    except ValueError:
        return f"RESERVED_{code}"


class AuthType(enum.IntEnum):
    """RFC 5880 section 4.1 "Auth Type"."""

    RESERVED = 0
    SIMPLE_PASSWORD = 1
    KEYED_MD5 = 2
    METICULOUS_KEYED_MD5 = 3
    KEYED_SHA1 = 4
    METICULOUS_KEYED_SHA1 = 5


class DropReason(enum.Enum):
    """Why a received packet was discarded: one member per reception check (RFC 5880 6.8.6, RFC 5881/5883).

    Each rejected packet increments exactly one counter keyed by this enum, so an operator can tell
    a misconfigured key from a routing loop from garbage.
    """

    TOO_SHORT = "too_short"  # fewer than 24 bytes of payload
    BAD_VERSION = "bad_version"  # 6.8.6: version != 1
    BAD_LENGTH = "bad_length"  # 6.8.6: Length < 24 (26 with A), or > payload
    ZERO_DETECT_MULT = "zero_detect_mult"  # 6.8.6: Detect Mult == 0
    MULTIPOINT = "multipoint"  # 6.8.6: M bit set
    ZERO_MY_DISCR = "zero_my_discr"  # 6.8.6: My Discriminator == 0
    ZERO_YOUR_DISCR_NOT_DOWN = "zero_your_discr_not_down"  # 6.8.6: Your Discr 0, State not Down/AdminDown
    UNKNOWN_YOUR_DISCR = "unknown_your_discr"  # 6.8.6: Your Discr names no session
    NO_SESSION = "no_session"  # 6.8.6: Your Discr 0 and no session for the addresses
    AUTH_MISMATCH = "auth_mismatch"  # 6.8.6: A bit differs from bfd.AuthType
    AUTH_MALFORMED = "auth_malformed"  # 4.2-4.4: auth section bad length/type
    AUTH_FAILED = "auth_failed"  # 6.7: key id unknown, password/digest wrong
    AUTH_SEQUENCE = "auth_sequence"  # 6.7.3/6.7.4: sequence number out of window
    POLL_AND_FINAL = "poll_and_final"  # 6.8.6 (via 4.1): P and F both set
    BAD_TTL = "bad_ttl"  # RFC 5881 section 5 / RFC 5883 section 2: TTL check
    ADDRESS_MISMATCH = "address_mismatch"  # RFC 5881 section 3/ RFC 5883: addresses differ from session's
