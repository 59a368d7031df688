"""Path attribute codec: RFC 6793 AS4 handling, interning, exact vs canonical re-encoding, unknown
attributes and the Partial bit, community display."""

from __future__ import annotations

import dataclasses
import ipaddress
import struct

from tests.wire.builders import BASE, NEXT_HOP, ORIGIN_IGP, attr

from pybgp.wire import attributes, image, intern
from pybgp.wire.aspath import merge_as4_path, path_length
from pybgp.wire.attributes import (
    Aggregator,
    AsPathSegment,
    PathAttributes,
    RawAttribute,
    clear_intern_cache,
    decode_path_attributes,
    encode_path_attributes,
    for_readvertisement,
)
from pybgp.wire.communities import (
    format_community,
    format_extended_community,
    parse_community,
)
from pybgp.wire.constants import AS_TRANS, AsPathSegmentType, AttrFlag, Origin
from pybgp.wire.context import WireContext

SEQ = AsPathSegmentType.AS_SEQUENCE
SET = AsPathSegmentType.AS_SET
OLD = WireContext(as4=False)
NEW = WireContext()


def _as2(*asns: int, stype: int = 2) -> bytes:
    return bytes((stype, len(asns))) + struct.pack(f"!{len(asns)}H", *asns)


def _as4(*asns: int, stype: int = 2) -> bytes:
    return bytes((stype, len(asns))) + struct.pack(f"!{len(asns)}I", *asns)


def test_as4_path_merged_for_a_two_octet_peer() -> None:
    # RFC 6793 section 4.2.3: AS_PATH has one more AS than AS4_PATH (an OLD speaker prepended 100).
    data = ORIGIN_IGP + attr(2, _as2(100, AS_TRANS, 200)) + NEXT_HOP + attr(17, _as4(70000, 200))
    attrs, _, _, fault = decode_path_attributes(data, OLD, has_nlri=True)
    assert fault is None
    assert attrs.as_path == (AsPathSegment(SEQ, (100, 70000, 200)),)
    assert encode_path_attributes(attrs, OLD) == data  # received bytes come back unchanged


def test_as4_path_longer_than_as_path_is_ignored() -> None:
    data = ORIGIN_IGP + attr(2, _as2(100)) + NEXT_HOP + attr(17, _as4(70000, 200))
    attrs, *_ = decode_path_attributes(data, OLD)
    assert attrs.as_path == (AsPathSegment(SEQ, (100,)),)


def test_as4_ignored_when_aggregator_is_a_real_two_octet_as() -> None:
    data = (
        ORIGIN_IGP
        + attr(2, _as2(100, AS_TRANS))
        + NEXT_HOP
        + attr(7, struct.pack("!H", 300) + bytes(4))
        + attr(17, _as4(70000))
        + attr(18, struct.pack("!I", 80000) + bytes(4))
    )
    attrs, *_ = decode_path_attributes(data, OLD)
    assert attrs.as_path == (AsPathSegment(SEQ, (100, AS_TRANS)),)
    assert attrs.aggregator == Aggregator(300, ipaddress.IPv4Address(0))


def test_as4_aggregator_replaces_as_trans() -> None:
    data = (
        BASE + attr(7, struct.pack("!H", AS_TRANS) + bytes(4)) + attr(18, struct.pack("!I", 80000) + bytes(4))
    )
    attrs, *_ = decode_path_attributes(data, WireContext(as4=False))
    assert attrs.aggregator is not None and attrs.aggregator.asn == 80000


def test_as4_attributes_from_a_new_speaker_are_dropped() -> None:
    data = BASE + attr(17, _as4(1, 2, 3))
    attrs, *_ = decode_path_attributes(data, NEW)
    assert attrs.as_path == (AsPathSegment(SEQ, (65001,)),) and attrs.unknown == ()


def test_canonical_encoding_towards_an_old_speaker_writes_as4_path() -> None:
    attrs = PathAttributes(
        origin=Origin.IGP,
        as_path=(AsPathSegment(SEQ, (65001, 4200000000)), AsPathSegment(SET, (1, 2))),
        next_hop=ipaddress.IPv4Address("192.0.2.1"),
        aggregator=Aggregator(4200000001, ipaddress.IPv4Address("10.0.0.1")),
    )
    wire = encode_path_attributes(attrs, OLD)
    back, *_ = decode_path_attributes(wire, OLD)
    assert back == attrs
    assert _as2(65001, AS_TRANS) in wire and _as4(65001, 4200000000) in wire


def test_merge_keeps_leading_set_and_confederation_segments() -> None:
    confed = AsPathSegment(AsPathSegmentType.AS_CONFED_SEQUENCE, (65500,))
    as_path = (confed, AsPathSegment(SEQ, (1, AS_TRANS)), AsPathSegment(SET, (7, 8)))
    merged = merge_as4_path(as_path, (AsPathSegment(SEQ, (70000,)), AsPathSegment(SET, (7, 8))))
    assert merged == (confed, AsPathSegment(SEQ, (1, 70000)), AsPathSegment(SET, (7, 8)))
    assert path_length(merged) == 3


def test_identical_attribute_bytes_are_interned() -> None:
    a1, *_ = decode_path_attributes(bytes(BASE), NEW)
    a2, *_ = decode_path_attributes(bytearray(BASE), NEW)
    assert a1 is a2
    a3, *_ = decode_path_attributes(BASE, WireContext(as4=False))
    assert a3 is not a1


def test_modified_set_is_encoded_canonically() -> None:
    data = attr(1, b"\x00") + attr(2, _as4(65001), flags=0x50) + NEXT_HOP  # AS_PATH with extended length
    attrs, *_ = decode_path_attributes(data, NEW)
    assert encode_path_attributes(attrs, NEW) == data
    changed = dataclasses.replace(attrs, med=7)
    assert changed.wire is attrs.wire  # the image travels along, but no longer matches
    wire = encode_path_attributes(changed, NEW)
    assert wire != data and decode_path_attributes(wire, NEW)[0] == changed
    assert encode_path_attributes(attrs, NEW, exact=False) == ORIGIN_IGP + attr(2, _as4(65001)) + NEXT_HOP


def test_unknown_transitive_gets_partial_on_readvertisement() -> None:
    data = BASE + attr(99, b"x", flags=0xC0) + attr(98, b"y", flags=0x80)
    attrs, *_ = decode_path_attributes(data, NEW)
    assert {r.code for r in attrs.unknown} == {98, 99}
    out = for_readvertisement(attrs)
    assert out.unknown == (RawAttribute(0xC0 | AttrFlag.PARTIAL, 99, b"x"),)
    wire = encode_path_attributes(out, NEW)
    assert attr(99, b"x", flags=0xE0) in wire and b"y" not in wire
    assert for_readvertisement(out) is out


def test_extended_length_unknown_attribute_round_trips() -> None:
    data = BASE + attr(200, b"z" * 300, flags=0xD0)
    attrs, *_ = decode_path_attributes(data, NEW)
    assert attrs.unknown[0].value == b"z" * 300
    assert encode_path_attributes(attrs, NEW) == data
    assert encode_path_attributes(attrs, NEW, exact=False).endswith(attr(200, b"z" * 300, flags=0xD0))


def test_community_names_and_display() -> None:
    assert format_community(0xFFFFFF01) == "NO_EXPORT"
    assert format_community((64698 << 16) | 64699) == "64698:64699"
    assert parse_community("64698:64699") == (64698 << 16) | 64699
    assert parse_community("no_export") == 0xFFFFFF01
    assert format_extended_community(0x0002_0048_0000_0001) == "target:72:1"
    assert format_extended_community(0x0102_C000_0201_0064) == "target:192.0.2.1:100"
    assert format_extended_community(0x0203_0001_0000_0005) == "origin:65536:5"
    assert format_extended_community(0x4004_FDE8_4B3E_BC20) == "link-bandwidth:65000:1.25e+07"
    assert format_extended_community(0x030B_0000_0000_0064) == "color:100"
    assert format_extended_community(0x4288_0000_0000_0001) == "0x42:0x88:0x000000000001"


def _mp_reach_v6(prefix_byte: int) -> bytes:
    nh = bytes(15) + b"\x01"
    return attr(
        14,
        b"\x00\x02\x01\x10"
        + nh
        + b"\x00"
        + bytes((0x40, 0x20, 0x01, 0x0D, 0xB8, 0x00, 0x00, 0x00, prefix_byte)),
        0x90,
    )


def test_sets_differing_only_in_mp_nlri_share_one_object() -> None:
    # The MP_REACH bytes carry prefixes; the set is interned on the other attributes' bytes.
    first = decode_path_attributes(ORIGIN_IGP + _mp_reach_v6(1) + attr(2, _as4(65001)), NEW)
    second = decode_path_attributes(ORIGIN_IGP + _mp_reach_v6(2) + attr(2, _as4(65001)), NEW)
    assert first[0] is second[0] and first[1] != second[1]
    assert first[1] is not None and str(first[1].nlri[0]) == "2001:db8:0:1::/64"
    # ...and the MP attribute goes back where it was received (before AS_PATH here).
    wire = encode_path_attributes(first[0], NEW, first[1])
    assert wire == ORIGIN_IGP + _mp_reach_v6(1) + attr(2, _as4(65001))


def test_received_bytes_not_reused_in_another_context() -> None:
    # Decoded from an eBGP peer (LOCAL_PREF discarded): sending it to an iBGP peer must not resurrect it.
    data = BASE + attr(5, struct.pack("!I", 300))
    attrs, *_ = decode_path_attributes(data, NEW)
    assert attrs.local_pref is None
    assert encode_path_attributes(attrs, NEW) == data
    ibgp = WireContext(ibgp=True)
    assert encode_path_attributes(attrs, ibgp) == BASE


def test_interned_set_stays_shared_while_used_and_leaves_its_table_after() -> None:
    """The intern tables hold sets weakly: identical bytes give the identical object while it is in use,
    and a set nobody holds any more takes its table entry with it (nothing left for the GC to walk)."""
    clear_intern_cache()
    data = BASE + attr(4, struct.pack("!I", 77), 0x80)
    table = intern.TABLES[2 * NEW.as4 + NEW.ibgp]
    first, *_ = decode_path_attributes(data, NEW)
    assert decode_path_attributes(data, NEW)[0] is first and data in table
    kept = first.wire
    del first, _
    assert data not in table
    again, *_ = decode_path_attributes(data, NEW)
    assert again.med == 77 and data in table and encode_path_attributes(again, NEW) == data
    # Read through the template the first decode left: canonical bytes, so the shared canonical image.
    assert kept is not None and again.wire is image.canonical_image(kept.shape)


def test_unchanged_copies_of_decoded_sets_still_reencode_exactly() -> None:
    """A decoded set keeps no semantic snapshot: whether a copy still matches its received bytes is
    worked out by decoding them again, so an unchanged copy (or the original after the intern table
    forgot it) is written back byte for byte, a changed one canonically."""
    odd_order = NEXT_HOP + attr(2, _as4(65001), flags=0x50) + ORIGIN_IGP + attr(99, b"x", flags=0xE0)
    mp = ORIGIN_IGP + _mp_reach_v6(1) + attr(2, _as4(65001)) + attr(8, bytes(3))  # malformed: discarded
    for data in (odd_order, mp):
        clear_intern_cache()
        attrs, reach, _, _ = decode_path_attributes(data, NEW)
        assert attrs.wire is not None and attrs.wire.semantic is None
        copy = dataclasses.replace(attrs)
        assert copy is not attrs and copy.wire is attrs.wire
        assert encode_path_attributes(copy, NEW, reach) == data
        clear_intern_cache()
        assert encode_path_attributes(attrs, NEW, reach) == data
        changed = dataclasses.replace(attrs, local_pref=5)
        assert encode_path_attributes(changed, NEW, reach) != data
    # An image given its semantic values explicitly is checked against them, as before.
    image = attributes.WireImage(semantic=attributes._semantic(attrs), parts=attrs.wire.parts, as4=True,
                                 ibgp=False)
    assert encode_path_attributes(dataclasses.replace(attrs, wire=image), NEW, reach) == mp


def test_one_run_image_is_the_received_bytes_and_reencodes_like_the_layout_tuple() -> None:
    """A set decoded from one run of non-MP attributes keeps those very bytes as `WireImage.parts`
    (the object keying its intern entry, no 1-tuple around it). Re-encoded with MP attributes added,
    it writes exactly what the general layout `(bytes,)` writes: the run, then MP_UNREACH, MP_REACH."""
    reach_only = ORIGIN_IGP + _mp_reach_v6(1) + attr(2, _as4(65001))
    mp_reach = decode_path_attributes(reach_only, NEW)[1]
    mp_unreach = decode_path_attributes(attr(15, bytes.fromhex("000201"), flags=0x90), NEW)[2]
    assert mp_reach is not None and mp_unreach is not None
    for data in (BASE, BASE + attr(4, struct.pack("!I", 7), 0x80), NEXT_HOP + ORIGIN_IGP + attr(2, _as4(1))):
        clear_intern_cache()
        attrs = decode_path_attributes(data, NEW, has_nlri=True)[0]
        assert attrs.wire is not None and attrs.wire.parts is intern.TABLES[2 * NEW.as4 + NEW.ibgp][data].key
        as_layout = dataclasses.replace(attrs, wire=attrs.wire._replace(parts=(data,)))
        for reach, unreach in ((None, None), (mp_reach, None), (None, mp_unreach), (mp_reach, mp_unreach)):
            out = encode_path_attributes(attrs, NEW, reach, unreach)
            assert out == encode_path_attributes(as_layout, NEW, reach, unreach)
            assert out.startswith(data) and decode_path_attributes(out, NEW)[0] == attrs


def test_intern_entries_carry_a_fault_only_when_there_is_one() -> None:
    """Fault-free sets (nearly all) get the one-slot `InternEntry`; a set decoded with a fault gets a
    `FaultyInternEntry`, and every hit reports that fault again; the codes seen come from the set."""
    clear_intern_cache()
    table = intern.TABLES[2 * NEW.as4 + NEW.ibgp]
    good = BASE
    bad = BASE + attr(6, b"\x01")  # ATOMIC_AGGREGATE with a value: a fault (attribute discarded)
    first = decode_path_attributes(good, NEW, has_nlri=True)
    assert type(table[good]) is intern.InternEntry and table[good].fault is None
    assert decode_path_attributes(good, NEW, has_nlri=True) == first and first[3] is None
    faulty = decode_path_attributes(bad, NEW, has_nlri=True)
    assert faulty[3] is not None and type(table[bad]) is intern.FaultyInternEntry
    again = decode_path_attributes(bad, NEW, has_nlri=True)
    assert again[0] is faulty[0] and again[3] == faulty[3]
    assert intern.seen_codes(first[0]) == first[0].wire.seen != 0  # type: ignore[union-attr]
    assert intern.seen_codes(attributes.EMPTY_ATTRIBUTES) == 0
