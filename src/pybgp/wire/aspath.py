"""AS_PATH and AS4_PATH: segments, their 2- and 4-octet codecs, and the RFC 6793 merge.

Owns: `AsPathSegment`, `decode_as_path` (`decode_as_path_at` reads in place) / `encode_as_path`,
the AS_TRANS substitution a NEW speaker does towards an OLD one, and `merge_as4_path` (RFC 6793 section
4.2.3). Never does: loop detection, prepending or any other policy; path length for the decision
process is `path_length()` here, used there.

AS_PATH value (RFC 4271 section 4.3, RFC 6793 section 3 for 4-octet ASNs):

    +--------------------------+-------------------------+----------------------------+
    | Segment Type (1 octet)   | Segment Length (1 oct)  | ASNs: Length x 2 or 4 oct  |  repeated
    +--------------------------+-------------------------+----------------------------+
"""

from __future__ import annotations

import struct
from typing import NamedTuple

from pybgp.wire.constants import AS_TRANS, AsPathSegmentType, UpdateSubcode
from pybgp.wire.errors import LocalUsageError, MalformedAttribute

_SEGMENT_TYPES = {int(t): t for t in AsPathSegmentType}
_CONFED = (AsPathSegmentType.AS_CONFED_SEQUENCE, AsPathSegmentType.AS_CONFED_SET)


class AsPathSegment(NamedTuple):
    type: AsPathSegmentType
    asns: tuple[int, ...]


_SEQ = int(AsPathSegmentType.AS_SEQUENCE)
_SEQUENCE = AsPathSegmentType.AS_SEQUENCE
_ASN2 = tuple(struct.Struct(f"!{count}H") for count in range(256))
_ASN4 = tuple(struct.Struct(f"!{count}I") for count in range(256))
"""Unpackers for a segment of 0..255 ASNs (index = Segment Length), built once at import."""
_new_segment = tuple.__new__  # AsPathSegment(...) without the generated Python-level __new__


def decode_as_path(data: bytes, *, four_octet: bool) -> tuple[AsPathSegment, ...]:
    """Decode AS_PATH (or AS4_PATH with `four_octet=True`).

    RFC 7606 section 7.2: an unrecognised segment type, a zero Segment Length, an overrun, or a lone
    trailing octet make the whole attribute malformed (`MalformedAttribute`, subcode Malformed AS_PATH).
    """
    return decode_as_path_at(data, 0, len(data), four_octet)


def decode_as_path_at(data: bytes, start: int, end: int, four_octet: bool) -> tuple[AsPathSegment, ...]:
    """`decode_as_path(data[start:end])`, read in place (the attribute fast path's entry point)."""
    n = end - start
    width = 4 if four_octet else 2
    if n > 2 and data[start] == _SEQ and n == 2 + data[start + 1] * width:
        # The usual shape, one AS_SEQUENCE filling the attribute: one precompiled unpack, no loop.
        asns = (_ASN4 if four_octet else _ASN2)[data[start + 1]].unpack_from(data, start + 2)
        return (_new_segment(AsPathSegment, (_SEQUENCE, asns)),)
    bad = UpdateSubcode.MALFORMED_AS_PATH
    code = "I" if four_octet else "H"
    out: list[AsPathSegment] = []
    i = start
    while i < end:
        if i + 2 > end:
            raise MalformedAttribute("AS_PATH ends with a lone octet", bad)
        stype = _SEGMENT_TYPES.get(data[i])
        count = data[i + 1]
        if stype is None:
            raise MalformedAttribute(f"AS_PATH segment type {data[i]} unknown", bad)
        if count == 0:
            raise MalformedAttribute("AS_PATH segment of length zero", bad)
        seg_end = i + 2 + count * width
        if seg_end > end:
            raise MalformedAttribute("AS_PATH segment overruns the attribute", bad)
        out.append(AsPathSegment(stype, struct.unpack_from(f"!{count}{code}", data, i + 2)))
        i = seg_end
    return tuple(out)


def encode_as_path(segments: tuple[AsPathSegment, ...], *, four_octet: bool) -> bytes:
    """Encode segments, splitting any longer than 255 ASNs; 2-octet form writes AS_TRANS for big ASNs."""
    parts: list[bytes] = []
    code = "I" if four_octet else "H"
    for seg in segments:
        asns = seg.asns
        if not four_octet:
            asns = tuple(a if a <= 0xFFFF else AS_TRANS for a in asns)
        if any(not 0 <= a <= 0xFFFFFFFF for a in asns):
            raise LocalUsageError(f"ASN out of range in {seg!r}")
        if not asns:
            raise LocalUsageError("an AS_PATH segment needs at least one ASN")
        for start in range(0, len(asns), 255):
            chunk = asns[start : start + 255]
            parts.append(bytes((int(seg.type), len(chunk))) + struct.pack(f"!{len(chunk)}{code}", *chunk))
    return b"".join(parts)


def needs_as4_path(segments: tuple[AsPathSegment, ...]) -> bool:
    """True when a 2-octet encoding loses information (RFC 6793 section 4.2.2: send AS4_PATH then)."""
    return any(a > 0xFFFF for seg in segments for a in seg.asns)


def as4_path_segments(segments: tuple[AsPathSegment, ...]) -> tuple[AsPathSegment, ...]:
    """The AS4_PATH a NEW speaker sends: the path without confederation segments (RFC 6793 section 3)."""
    return tuple(seg for seg in segments if seg.type not in _CONFED)


def path_length(segments: tuple[AsPathSegment, ...]) -> int:
    """RFC 4271 section 9.1.2.2 a: an AS_SET counts 1, confederation segments 0 (RFC 5065 section 5.3)."""
    total = 0
    for seg in segments:
        if seg.type == AsPathSegmentType.AS_SEQUENCE:
            total += len(seg.asns)
        elif seg.type == AsPathSegmentType.AS_SET:
            total += 1
    return total


def has_confed_segments(segments: tuple[AsPathSegment, ...]) -> bool:
    return any(seg.type in _CONFED for seg in segments)


def merge_as4_path(
    as_path: tuple[AsPathSegment, ...], as4_path: tuple[AsPathSegment, ...]
) -> tuple[AsPathSegment, ...]:
    """Rebuild the real path from an OLD speaker's AS_PATH and AS4_PATH (RFC 6793 section 4.2.3).

    When AS_PATH holds fewer ASes than AS4_PATH, AS4_PATH is ignored. Otherwise take as many leading
    ASes (and whole segments) of AS_PATH as AS_PATH has more than AS4_PATH, and prepend them to it.
    """
    surplus = path_length(as_path) - path_length(as4_path)
    if surplus < 0:
        return as_path
    lead: list[AsPathSegment] = []
    for seg in as_path:
        if seg.type in _CONFED:
            lead.append(seg)
            continue
        if surplus <= 0:
            break
        if seg.type == AsPathSegmentType.AS_SET:
            lead.append(seg)
            surplus -= 1
        else:
            take = seg.asns[:surplus]
            lead.append(AsPathSegment(seg.type, take))
            surplus -= len(take)
    if lead and as4_path:
        last, first = lead[-1], as4_path[0]
        if (
            last.type == first.type == AsPathSegmentType.AS_SEQUENCE
            and len(last.asns) + len(first.asns) <= 255
        ):
            # The surplus ASes were prepended to the same AS_SEQUENCE that AS4_PATH starts with.
            return (*lead[:-1], AsPathSegment(last.type, last.asns + first.asns), *as4_path[1:])
    return (*lead, *as4_path)
