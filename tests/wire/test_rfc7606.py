"""RFC 7606 revised error handling: each malformation gets its named action (treat-as-withdraw,
attribute-discard, session reset), never an exception other than `NotificationError`."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from tests.wire.builders import AS_PATH_65001, BASE, NEXT_HOP, NLRI_10_8, ORIGIN_IGP, attr, update

from pybgp.wire.constants import AttrCode, NotificationCode, UpdateSubcode
from pybgp.wire.context import WireContext
from pybgp.wire.errors import NotificationError, UpdateAction
from pybgp.wire.messages import Update, decode_message, encode_message

EBGP = WireContext()
IBGP = WireContext(ibgp=True)
TAW = UpdateAction.TREAT_AS_WITHDRAW
DISCARD = UpdateAction.ATTRIBUTE_DISCARD


def _decode(raw: bytes, ctx: WireContext = EBGP) -> Update:
    msg = decode_message(raw, ctx)
    assert isinstance(msg, Update)
    return msg


def test_well_formed_base_has_no_fault() -> None:
    msg = _decode(update(BASE))
    assert msg.fault is None and msg.attributes is not None and len(msg.nlri) == 1


@pytest.mark.parametrize(
    ("attrs", "missing"),
    [
        (AS_PATH_65001 + NEXT_HOP, AttrCode.ORIGIN),
        (ORIGIN_IGP + NEXT_HOP, AttrCode.AS_PATH),
        (ORIGIN_IGP + AS_PATH_65001, AttrCode.NEXT_HOP),
        (b"", AttrCode.ORIGIN),
    ],
)
def test_missing_well_known_attribute_is_treat_as_withdraw(attrs: bytes, missing: int) -> None:
    # RFC 7606 section 3 d.
    fault = _decode(update(attrs)).fault
    assert fault is not None and fault.action is TAW
    assert fault.subcode == UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE and fault.data == bytes((missing,))


def test_missing_attributes_without_nlri_is_fine() -> None:
    # A withdraw-only UPDATE needs no attributes at all.
    assert _decode(update(b"", nlri=b"", withdrawn=NLRI_10_8)).fault is None


@pytest.mark.parametrize("value", [b"\x03", b"\xff", b"\x00\x00", b""])
def test_bad_origin_is_treat_as_withdraw(value: bytes) -> None:
    # RFC 7606 section 7.1: undefined value or length other than 1.
    fault = _decode(update(attr(1, value) + AS_PATH_65001 + NEXT_HOP)).fault
    assert fault is not None and fault.action is TAW and fault.attr_code == AttrCode.ORIGIN


@pytest.mark.parametrize(
    ("code", "value", "action"),
    [
        (3, b"\x01\x02\x03", TAW),  # NEXT_HOP not 4 octets (7.3)
        (4, b"\x00\x00\x01", TAW),  # MED (7.4)
        (6, b"\x00", DISCARD),  # ATOMIC_AGGREGATE non-empty (7.6)
        (7, b"\x00\x01\x02", DISCARD),  # AGGREGATOR (7.7)
        (8, b"\x00\x00\x00", TAW),  # COMMUNITIES not a multiple of 4 (7.8)
        (8, b"", TAW),  # COMMUNITIES empty
        (16, b"\x00" * 7, TAW),  # EXTENDED COMMUNITIES (7.14)
        (32, b"\x00" * 11, TAW),  # LARGE COMMUNITIES (RFC 8092 section 6)
        (35, b"\x00\x00", TAW),  # OTC (RFC 9234 section 5)
        (17, b"\x02\x02\x00\x00", DISCARD),  # AS4_PATH (RFC 6793 section 6)
    ],
)
def test_bad_attribute_length(code: int, value: bytes, action: UpdateAction) -> None:
    attrs = BASE if code != 3 else ORIGIN_IGP + AS_PATH_65001
    raw = update(
        attrs + attr(code, value),
    )
    ctx = WireContext(as4=False) if code == 17 else EBGP
    if code == 17:
        raw = update(ORIGIN_IGP + attr(2, b"\x02\x01\x00\x01") + NEXT_HOP + attr(code, value))
    fault = _decode(raw, ctx).fault
    assert fault is not None and fault.action is action and fault.attr_code == code


def test_attribute_error_data_is_the_attribute() -> None:
    bad = attr(3, b"\x01\x02\x03")
    fault = _decode(update(ORIGIN_IGP + AS_PATH_65001 + bad)).fault
    assert fault is not None and fault.data == bad and fault.code == NotificationCode.UPDATE_MESSAGE_ERROR


def test_duplicate_attributes_keep_the_first() -> None:
    # RFC 7606 section 3 g: discard all but the first occurrence.
    msg = _decode(update(BASE + attr(4, struct.pack("!I", 5)) + attr(4, struct.pack("!I", 9))))
    assert msg.attributes is not None and msg.attributes.med == 5
    assert msg.fault is not None and msg.fault.action is DISCARD


@pytest.mark.parametrize(
    "value",
    [
        b"\x05\x01\x00\x00\xfd\xe9",  # unknown segment type
        b"\x02\x00",  # zero-length segment
        b"\x02\x02\x00\x00\xfd\xe9",  # overrun
        b"\x02\x01\x00\x00\xfd\xe9\x02",  # lone trailing octet
    ],
)
def test_malformed_as_path_is_treat_as_withdraw(value: bytes) -> None:
    # RFC 7606 section 7.2.
    fault = _decode(update(ORIGIN_IGP + attr(2, value) + NEXT_HOP)).fault
    assert fault is not None and fault.action is TAW and fault.subcode == UpdateSubcode.MALFORMED_AS_PATH


def test_local_pref_from_ebgp_discarded_from_ibgp_kept() -> None:
    # RFC 7606 section 7.5.
    raw = update(BASE + attr(5, struct.pack("!I", 300)))
    ebgp = _decode(raw, EBGP)
    assert ebgp.attributes is not None and ebgp.attributes.local_pref is None
    assert ebgp.fault is not None and ebgp.fault.action is DISCARD
    ibgp = _decode(raw, IBGP)
    assert ibgp.attributes is not None and ibgp.attributes.local_pref == 300 and ibgp.fault is None
    # The received bytes, with the discarded attribute, still re-encode exactly.
    assert encode_message(ebgp, EBGP) == raw


def test_route_reflection_attributes_from_ebgp_discarded() -> None:
    raw = update(BASE + attr(9, bytes((1, 1, 1, 1))) + attr(10, bytes((2, 2, 2, 2))))
    ebgp = _decode(raw, EBGP)
    assert ebgp.attributes is not None and ebgp.attributes.originator_id is None
    ibgp = _decode(raw, IBGP)
    assert ibgp.attributes is not None and ibgp.attributes.cluster_list == (ipaddress.IPv4Address("2.2.2.2"),)


def test_attribute_flags_conflict() -> None:
    # RFC 7606 section 3 c: ORIGIN sent as optional.
    fault = _decode(update(attr(1, b"\x00", flags=0xC0) + AS_PATH_65001 + NEXT_HOP)).fault
    assert fault is not None and fault.action is TAW and fault.subcode == UpdateSubcode.ATTRIBUTE_FLAGS_ERROR


def test_attribute_overrunning_the_field_is_treat_as_withdraw() -> None:
    # RFC 7606 section 4: the Total Path Attribute Length still locates the NLRI.
    attrs = BASE + b"\xc0\x08\x08\x00\x00"  # COMMUNITIES claims 8 octets, 2 present
    msg = _decode(update(attrs))
    assert msg.fault is not None and msg.fault.action is TAW and len(msg.nlri) == 1
    assert encode_message(msg, EBGP) == update(attrs)


def test_truncated_attribute_header_is_treat_as_withdraw() -> None:
    msg = _decode(update(BASE + b"\xc0\x08"))
    assert msg.fault is not None and msg.fault.action is TAW


def test_unknown_well_known_attribute_is_treat_as_withdraw() -> None:
    fault = _decode(update(BASE + attr(99, b"abc", flags=0x40))).fault
    assert fault is not None and fault.action is TAW
    assert fault.subcode == UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE


def test_unknown_optional_attribute_is_kept() -> None:
    msg = _decode(update(BASE + attr(99, b"abc", flags=0xC0)))
    assert msg.fault is None and msg.attributes is not None
    assert [(r.flags, r.code, r.value) for r in msg.attributes.unknown] == [(0xC0, 99, b"abc")]


def test_repeated_mp_reach_resets_the_session() -> None:
    mp = attr(14, b"\x00\x02\x01\x10" + b"\x20\x01" + b"\x00" * 14 + b"\x00", flags=0x80)
    with pytest.raises(NotificationError) as info:
        decode_message(update(ORIGIN_IGP + AS_PATH_65001 + mp + mp, nlri=b""), EBGP)
    assert info.value.code == NotificationCode.UPDATE_MESSAGE_ERROR


def test_mp_reach_bad_next_hop_length_is_treat_as_withdraw() -> None:
    # RFC 7606 section 7.11: the NLRI can still be located.
    mp = attr(14, b"\x00\x02\x01\x05" + b"\x00" * 5 + b"\x00" + b"\x20\x20\x01\x0d\xb8", flags=0x80)
    msg = _decode(update(ORIGIN_IGP + AS_PATH_65001 + mp, nlri=b""))
    assert msg.fault is not None and msg.fault.action is TAW
    assert msg.mp_reach is not None and [str(p) for p in msg.mp_reach.nlri] == ["2001:db8::/32"]


def test_mp_reach_too_short_resets_the_session() -> None:
    with pytest.raises(NotificationError):
        decode_message(update(ORIGIN_IGP + AS_PATH_65001 + attr(14, b"\x00\x02", flags=0x80), nlri=b""), EBGP)


def test_mp_reach_without_origin_is_treat_as_withdraw() -> None:
    mp = attr(14, b"\x00\x02\x01\x10" + b"\x20\x01" + b"\x00" * 14 + b"\x00\x20\x20\x01\x0d\xb8", flags=0x80)
    fault = _decode(update(AS_PATH_65001 + mp, nlri=b"")).fault
    assert fault is not None and fault.action is TAW


@pytest.mark.parametrize(
    "raw_body",
    [
        b"\x00\x05\x08\x0a",  # withdrawn length overruns
        b"\x00\x00\x00\x10",  # attribute length overruns
    ],
)
def test_length_fields_that_do_not_add_up_reset(raw_body: bytes) -> None:
    raw = b"\xff" * 16 + struct.pack("!HB", 19 + len(raw_body), 2) + raw_body
    with pytest.raises(NotificationError) as info:
        decode_message(raw, EBGP)
    assert info.value.subcode == UpdateSubcode.MALFORMED_ATTRIBUTE_LIST


@pytest.mark.parametrize("nlri", [b"\x21\x0a\x00\x00\x00\x00", b"\x18\x0a\x00"])
def test_invalid_nlri_resets(nlri: bytes) -> None:
    # RFC 7606 section 5.3 / RFC 4271 section 6.3 Invalid Network Field.
    with pytest.raises(NotificationError) as info:
        decode_message(update(BASE, nlri=nlri), EBGP)
    assert info.value.subcode == UpdateSubcode.INVALID_NETWORK_FIELD


def test_bgpsec_path_stands_in_for_as_path() -> None:
    # RFC 8205 section 3: BGPsec_PATH (33) replaces AS_PATH; it is carried opaque.
    bgpsec = attr(33, b"\x00\x08\x00\x00\xfd\xe9\x01\x00", flags=0x90)
    msg = _decode(update(ORIGIN_IGP + NEXT_HOP + bgpsec))
    assert msg.fault is None and msg.attributes is not None and msg.attributes.unknown[0].code == 33
