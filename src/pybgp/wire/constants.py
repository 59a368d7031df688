"""Code points of BGP-4 and its extensions, as enums.

Owns: every number the wire format gives a name to (message types, AFI/SAFI, attribute
codes and flags, capability codes, NOTIFICATION codes and subcodes, ORIGIN values).
Never does: any encoding or decoding; it is the one place the numbers are written down.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

MARKER = b"\xff" * 16
HEADER_LEN = 19
MAX_MESSAGE_LEN = 4096  # RFC 4271 section 4.1
MAX_EXTENDED_MESSAGE_LEN = 65535  # RFC 8654
BGP_PORT = 179
AS_TRANS = 23456  # RFC 6793 section 9
MIN_LENGTH = {1: 29, 2: 23, 3: 21, 4: 19, 5: 23}
"""Smallest legal length of each message type, header included (RFC 4271 section 4)."""


class MessageType(IntEnum):
    OPEN = 1
    UPDATE = 2
    NOTIFICATION = 3
    KEEPALIVE = 4
    ROUTE_REFRESH = 5  # RFC 2918


class Afi(IntEnum):
    IPV4 = 1
    IPV6 = 2
    L2VPN = 25
    BGP_LS = 16388


class Safi(IntEnum):
    UNICAST = 1
    MULTICAST = 2
    MPLS_LABEL = 4
    MCAST_VPN = 5
    VPLS = 65
    EVPN = 70
    BGP_LS = 71
    MPLS_VPN = 128
    RTC = 132
    FLOWSPEC = 133
    FLOWSPEC_VPN = 134


class AttrFlag(IntFlag):
    OPTIONAL = 0x80
    TRANSITIVE = 0x40
    PARTIAL = 0x20
    EXTENDED_LENGTH = 0x10


class AttrCode(IntEnum):
    ORIGIN = 1
    AS_PATH = 2
    NEXT_HOP = 3
    MULTI_EXIT_DISC = 4
    LOCAL_PREF = 5
    ATOMIC_AGGREGATE = 6
    AGGREGATOR = 7
    COMMUNITIES = 8  # RFC 1997
    ORIGINATOR_ID = 9  # RFC 4456
    CLUSTER_LIST = 10  # RFC 4456
    MP_REACH_NLRI = 14  # RFC 4760
    MP_UNREACH_NLRI = 15  # RFC 4760
    EXTENDED_COMMUNITIES = 16  # RFC 4360
    AS4_PATH = 17  # RFC 6793
    AS4_AGGREGATOR = 18  # RFC 6793
    LARGE_COMMUNITIES = 32  # RFC 8092
    OTC = 35  # RFC 9234


class OptionalParameterType(IntEnum):
    """RFC 4271 section 4.2 optional parameter types (RFC 9072: 255 flags the extended length form)."""

    CAPABILITIES = 2  # RFC 5492
    EXTENDED_LENGTH = 255  # RFC 9072


class Origin(IntEnum):
    IGP = 0
    EGP = 1
    INCOMPLETE = 2


class AsPathSegmentType(IntEnum):
    AS_SET = 1
    AS_SEQUENCE = 2
    AS_CONFED_SEQUENCE = 3  # RFC 5065
    AS_CONFED_SET = 4  # RFC 5065


class CapabilityCode(IntEnum):
    MULTIPROTOCOL = 1  # RFC 4760
    ROUTE_REFRESH = 2  # RFC 2918
    EXTENDED_NEXT_HOP = 5  # RFC 8950
    EXTENDED_MESSAGE = 6  # RFC 8654
    ROLE = 9  # RFC 9234
    GRACEFUL_RESTART = 64  # RFC 4724
    FOUR_OCTET_AS = 65  # RFC 6793
    ADD_PATH = 69  # RFC 7911
    ENHANCED_ROUTE_REFRESH = 70  # RFC 7313
    LONG_LIVED_GRACEFUL_RESTART = 71  # draft-ietf-idr-long-lived-gr
    FQDN = 73  # draft-walton-bgp-hostname-capability


class NotificationCode(IntEnum):
    MESSAGE_HEADER_ERROR = 1
    OPEN_MESSAGE_ERROR = 2
    UPDATE_MESSAGE_ERROR = 3
    HOLD_TIMER_EXPIRED = 4
    FSM_ERROR = 5
    CEASE = 6
    ROUTE_REFRESH_MESSAGE_ERROR = 7  # RFC 7313


class MessageHeaderSubcode(IntEnum):
    CONNECTION_NOT_SYNCHRONIZED = 1
    BAD_MESSAGE_LENGTH = 2
    BAD_MESSAGE_TYPE = 3


class OpenSubcode(IntEnum):
    UNSUPPORTED_VERSION_NUMBER = 1
    BAD_PEER_AS = 2
    BAD_BGP_IDENTIFIER = 3
    UNSUPPORTED_OPTIONAL_PARAMETER = 4
    UNACCEPTABLE_HOLD_TIME = 6
    UNSUPPORTED_CAPABILITY = 7  # RFC 5492
    ROLE_MISMATCH = 11  # RFC 9234


class UpdateSubcode(IntEnum):
    MALFORMED_ATTRIBUTE_LIST = 1
    UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE = 2
    MISSING_WELL_KNOWN_ATTRIBUTE = 3
    ATTRIBUTE_FLAGS_ERROR = 4
    ATTRIBUTE_LENGTH_ERROR = 5
    INVALID_ORIGIN_ATTRIBUTE = 6
    INVALID_NEXT_HOP_ATTRIBUTE = 8
    OPTIONAL_ATTRIBUTE_ERROR = 9
    INVALID_NETWORK_FIELD = 10
    MALFORMED_AS_PATH = 11


class FsmSubcode(IntEnum):
    """RFC 6608 subcodes of the FSM Error NOTIFICATION."""

    UNSPECIFIED = 0
    UNEXPECTED_MESSAGE_IN_OPENSENT = 1
    UNEXPECTED_MESSAGE_IN_OPENCONFIRM = 2
    UNEXPECTED_MESSAGE_IN_ESTABLISHED = 3


class CeaseSubcode(IntEnum):
    """RFC 4486 subcodes of Cease, plus RFC 9384 BFD Down."""

    MAX_PREFIXES_REACHED = 1
    ADMINISTRATIVE_SHUTDOWN = 2
    PEER_DECONFIGURED = 3
    ADMINISTRATIVE_RESET = 4
    CONNECTION_REJECTED = 5
    OTHER_CONFIGURATION_CHANGE = 6
    CONNECTION_COLLISION_RESOLUTION = 7
    OUT_OF_RESOURCES = 8
    HARD_RESET = 9  # RFC 8538
    BFD_DOWN = 10  # RFC 9384


class RouteRefreshErrorSubcode(IntEnum):
    """RFC 7313 section 5 subcodes of the ROUTE-REFRESH Message Error NOTIFICATION."""

    INVALID_MESSAGE_LENGTH = 1


class RouteRefreshSubtype(IntEnum):
    """RFC 7313 message subtypes carried in the ROUTE-REFRESH reserved octet."""

    NORMAL = 0
    BORR = 1
    EORR = 2


class BgpRole(IntEnum):
    """RFC 9234 roles."""

    PROVIDER = 0
    RS = 1
    RS_CLIENT = 2
    CUSTOMER = 3
    PEER = 4


WELL_KNOWN_COMMUNITIES: dict[int, str] = {
    0xFFFF0000: "GRACEFUL_SHUTDOWN",  # RFC 8326
    0xFFFF0001: "ACCEPT_OWN",  # RFC 7611
    0xFFFF0006: "LLGR_STALE",
    0xFFFF0007: "NO_LLGR",
    0xFFFF029A: "BLACKHOLE",  # RFC 7999
    0xFFFFFF01: "NO_EXPORT",
    0xFFFFFF02: "NO_ADVERTISE",
    0xFFFFFF03: "NO_EXPORT_SUBCONFED",
    0xFFFFFF04: "NOPEER",  # RFC 3765
}
