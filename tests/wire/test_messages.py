"""Message-level codec: OPEN (capabilities, RFC 9072 extended parameters), NOTIFICATION with RFC 9003
shutdown communication, KEEPALIVE, ROUTE-REFRESH (RFC 7313), header errors (RFC 4271 section 6.1)."""

from __future__ import annotations

import ipaddress
import struct

import pytest

from pybgp.wire.capabilities import (
    AddPath,
    AddPathFamily,
    EnhancedRouteRefreshCap,
    ExtendedMessage,
    ExtendedNextHop,
    ExtendedNextHopFamily,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    GracefulRestartFamily,
    LongLivedGracefulRestart,
    LongLivedGracefulRestartFamily,
    Multiprotocol,
    Role,
    RouteRefreshCap,
    UnknownCapability,
    decode_capabilities,
)
from pybgp.wire.constants import MessageHeaderSubcode, NotificationCode, OpenSubcode
from pybgp.wire.context import WireContext
from pybgp.wire.errors import LocalUsageError, NotificationError
from pybgp.wire.messages import (
    Keepalive,
    Notification,
    Open,
    RouteRefresh,
    Update,
    decode_message,
    encode_message,
    end_of_rib_family,
)
from pybgp.wire.notification import describe, parse_shutdown, shutdown_data
from pybgp.wire.packing import end_of_rib

CTX = WireContext()
ALL_CAPS = (
    Multiprotocol(afi=1, safi=1),
    Multiprotocol(afi=2, safi=1),
    RouteRefreshCap(),
    EnhancedRouteRefreshCap(),
    FourOctetAs(asn=4200000000),
    GracefulRestart(
        restart_state=True,
        notification=True,
        restart_time=120,
        families=(GracefulRestartFamily(afi=1, safi=1, forwarding_preserved=True),),
    ),
    LongLivedGracefulRestart(families=(LongLivedGracefulRestartFamily(afi=1, safi=1, stale_time=3600),)),
    AddPath(families=(AddPathFamily(afi=1, safi=1, send_receive=3),)),
    ExtendedNextHop(families=(ExtendedNextHopFamily(afi=1, safi=1, nexthop_afi=2),)),
    ExtendedMessage(),
    Fqdn(hostname="server-1", domain="rack0.example"),
    Role(role=3),
    UnknownCapability(code=128, value=b""),
    UnknownCapability(code=200, value=b"\x01\x02"),
)


def _open(**kw: object) -> Open:
    fields: dict[str, object] = {
        "my_as": 23456,
        "hold_time": 240,
        "bgp_id": ipaddress.IPv4Address("10.69.0.1"),
    }
    fields.update(kw)
    return Open(**fields)  # type: ignore[arg-type]


def test_open_with_every_capability_round_trips() -> None:
    msg = _open(capabilities=ALL_CAPS)
    raw = encode_message(msg, CTX)
    back = decode_message(raw, CTX)
    assert back == msg and isinstance(back, Open) and back.asn == 4200000000
    assert encode_message(back, CTX) == raw


def test_open_asn_without_capability_is_my_as() -> None:
    assert _open(my_as=64600).asn == 64600


def test_open_keeps_one_capability_per_parameter_layout() -> None:
    # Old Cisco style: each capability in its own optional parameter.
    params = b"\x02\x06\x01\x04\x00\x01\x00\x01" + b"\x02\x02\x02\x00" + b"\x09\x01\xaa"
    body = struct.pack("!BHH4sB", 4, 65001, 90, bytes((1, 2, 3, 4)), len(params)) + params
    raw = b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 1) + body
    msg = decode_message(raw, CTX)
    assert isinstance(msg, Open) and msg.raw_optional_parameters == ((9, b"\xaa"),)
    assert msg.capabilities == (Multiprotocol(afi=1, safi=1), RouteRefreshCap())
    assert encode_message(msg, CTX) == raw


def test_open_extended_optional_parameters_rfc9072() -> None:
    big = UnknownCapability(code=250, value=b"\x00" * 250)
    msg = _open(capabilities=(big, big, Multiprotocol(afi=1, safi=1)))
    raw = encode_message(msg, CTX)
    assert raw[28] == 255 and raw[29] == 255  # Non-Ext OP Len 255, Non-Ext OP Type 255
    back = decode_message(raw, CTX)
    assert back == msg and isinstance(back, Open) and back.extended_parameters
    assert encode_message(back, CTX) == raw


def test_open_errors() -> None:
    raw = bytearray(encode_message(_open(capabilities=(RouteRefreshCap(),)), CTX))
    bad_version = bytes(raw[:19]) + b"\x03" + bytes(raw[20:])
    with pytest.raises(NotificationError) as info:
        decode_message(bad_version, CTX)
    assert (info.value.code, info.value.subcode, info.value.data) == (
        2,
        OpenSubcode.UNSUPPORTED_VERSION_NUMBER,
        b"\x00\x04",
    )
    raw[28] += 1  # Opt Parm Len beyond the message
    with pytest.raises(NotificationError) as info:
        decode_message(bytes(raw), CTX)
    assert (info.value.code, info.value.subcode) == (NotificationCode.OPEN_MESSAGE_ERROR, 0)
    with pytest.raises(NotificationError):
        decode_capabilities(b"\x02\x05\x00")


def test_malformed_known_capability_stays_opaque() -> None:
    assert decode_capabilities(b"\x01\x03\x00\x01\x00") == (UnknownCapability(code=1, value=b"\x00\x01\x00"),)


def test_notification_with_shutdown_communication() -> None:
    data = shutdown_data("maintenance: rack 0 ✓")
    msg = Notification(code=6, subcode=2, data=data)
    back = decode_message(encode_message(msg, CTX), CTX)
    assert back == msg and isinstance(back, Notification)
    assert parse_shutdown(back.data) == "maintenance: rack 0 ✓"
    assert describe(6, 2) == "CEASE/ADMINISTRATIVE_SHUTDOWN" and describe(99, 1) == "99/1"


def test_shutdown_communication_limits() -> None:
    long = shutdown_data("é" * 200)
    assert long[0] == len(long) - 1 <= 255 and parse_shutdown(long) == "é" * 127
    assert parse_shutdown(b"") is None
    assert parse_shutdown(b"\x05ab") is None  # length beyond the data
    assert parse_shutdown(b"\x02\xff\xfe") is None  # not UTF-8
    assert parse_shutdown(b"\x00") == ""


def test_keepalive_and_route_refresh() -> None:
    assert encode_message(Keepalive(), CTX) == b"\xff" * 16 + b"\x00\x13\x04"
    for subtype in (0, 1, 2):
        rr = RouteRefresh(afi=2, safi=1, subtype=subtype)
        assert decode_message(encode_message(rr, CTX), CTX) == rr


def test_route_refresh_bad_length_rfc7313() -> None:
    for raw in (
        b"\xff" * 16 + b"\x00\x18\x05" + b"\x00\x01\x01\x01\x00",
        b"\xff" * 16 + b"\x00\x16\x05\x00\x01\x00",
    ):
        with pytest.raises(NotificationError) as info:
            decode_message(raw, CTX)
        assert (info.value.code, info.value.subcode, info.value.data) == (7, 1, raw)


def test_route_refresh_with_orf_entries_rfc5291() -> None:
    # From Wireshark's bgp-orf sample: a normal request followed by an address-prefix ORF.
    raw = bytes.fromhex("ffffffffffffffffffffffffffffffff001c050001000102400001c0")
    msg = decode_message(raw, CTX)
    assert msg == RouteRefresh(afi=1, safi=1, subtype=0, orf=bytes.fromhex("02400001c0"))
    assert encode_message(msg, CTX) == raw


@pytest.mark.parametrize(
    ("raw", "subcode"),
    [
        (b"\xfe" + b"\xff" * 15 + b"\x00\x13\x04", MessageHeaderSubcode.CONNECTION_NOT_SYNCHRONIZED),
        (b"\xff" * 16 + b"\x00\x14\x04\x00", MessageHeaderSubcode.BAD_MESSAGE_LENGTH),
        (b"\xff" * 16 + b"\x00\x13\x06", MessageHeaderSubcode.BAD_MESSAGE_TYPE),
        (b"\xff" * 16 + b"\x00\x13\x02", MessageHeaderSubcode.BAD_MESSAGE_LENGTH),
        (b"\xff" * 16 + b"\x00\x14\x03\x06", MessageHeaderSubcode.BAD_MESSAGE_LENGTH),
        (b"\xff" * 16 + b"\x00\x20\x04", MessageHeaderSubcode.BAD_MESSAGE_LENGTH),
        (b"\xff" * 10, MessageHeaderSubcode.BAD_MESSAGE_LENGTH),
    ],
)
def test_header_errors(raw: bytes, subcode: int) -> None:
    with pytest.raises(NotificationError) as info:
        decode_message(raw, CTX)
    assert (info.value.code, info.value.subcode) == (NotificationCode.MESSAGE_HEADER_ERROR, subcode)


def test_bad_type_and_length_data_rfc4271() -> None:
    with pytest.raises(NotificationError) as info:
        decode_message(b"\xff" * 16 + b"\x00\x13\x09", CTX)
    assert info.value.data == b"\x09"
    with pytest.raises(NotificationError) as info:
        decode_message(b"\xff" * 16 + b"\x10\x01\x02" + b"\x00" * (0x1001 - 19), CTX)
    assert info.value.data == b"\x10\x01"
    ok = decode_message(
        b"\xff" * 16 + b"\x10\x01\x02" + b"\x00" * 4 + b"\x00" * (0x1001 - 23),
        WireContext(extended_message=True),
    )
    assert isinstance(ok, Update)  # 4097 octets of (host-bit) NLRI: fine once RFC 8654 is negotiated


def test_end_of_rib_markers() -> None:
    for family in ((1, 1), (2, 1), (1, 128), (25, 70)):
        msg = decode_message(end_of_rib(*family, CTX), CTX)
        assert isinstance(msg, Update) and end_of_rib_family(msg) == family
    assert end_of_rib_family(Update(withdrawn=(), nlri=())) == (1, 1)


def test_encoding_refuses_impossible_values() -> None:
    with pytest.raises(LocalUsageError):
        encode_message(_open(my_as=70000), CTX)
    with pytest.raises(LocalUsageError):
        encode_message(Notification(code=300, subcode=0), CTX)
    with pytest.raises(LocalUsageError):
        encode_message(Notification(code=6, subcode=2, data=b"x" * 5000), CTX)
