"""COMMUNITIES, EXTENDED COMMUNITIES and LARGE COMMUNITIES: values, codecs and display.

Owns: `LargeCommunity`, the three list codecs (RFC 1997, RFC 4360, RFC 8092), the well-known community
names, `format_community` / `parse_community` ("65000:1" or "NO_EXPORT"), `format_extended_community`
(route target, route origin and a few other common types, for display) and `format_large_community`.
Never does: match or rewrite communities (that is policy in `pybgp.rib`).

    COMMUNITIES (RFC 1997):          4 octets each  (ASN 2 | value 2)
    EXTENDED COMMUNITIES (RFC 4360): 8 octets each  (type 1 | sub-type 1 | value 6)
    LARGE COMMUNITIES (RFC 8092):   12 octets each  (global admin 4 | local 1 4 | local 2 4)
"""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

from pybgp.wire.constants import WELL_KNOWN_COMMUNITIES
from pybgp.wire.errors import LocalUsageError, MalformedAttribute


class LargeCommunity(NamedTuple):
    global_admin: int
    local_data1: int
    local_data2: int


COMMUNITY_NAMES: dict[str, int] = {name: value for value, name in WELL_KNOWN_COMMUNITIES.items()}


def decode_communities(data: bytes, ctx: object = None) -> tuple[int, ...]:
    """RFC 7606 section 7.8: a length that is not a non-zero multiple of 4 is malformed."""
    if not data or len(data) % 4:
        raise MalformedAttribute(f"COMMUNITIES length {len(data)} is not a non-zero multiple of 4")
    return struct.unpack(f"!{len(data) // 4}I", data)


def encode_communities(values: tuple[int, ...]) -> bytes:
    try:
        return struct.pack(f"!{len(values)}I", *values)
    except struct.error as exc:
        raise LocalUsageError(f"community out of range in {values!r}") from exc


def decode_extended_communities(data: bytes, ctx: object = None) -> tuple[int, ...]:
    """RFC 7606 section 7.14: a length that is not a non-zero multiple of 8 is malformed."""
    if not data or len(data) % 8:
        raise MalformedAttribute(f"EXTENDED_COMMUNITIES length {len(data)} is not a non-zero multiple of 8")
    return struct.unpack(f"!{len(data) // 8}Q", data)


def encode_extended_communities(values: tuple[int, ...]) -> bytes:
    try:
        return struct.pack(f"!{len(values)}Q", *values)
    except struct.error as exc:
        raise LocalUsageError(f"extended community out of range in {values!r}") from exc


def decode_large_communities(data: bytes, ctx: object = None) -> tuple[LargeCommunity, ...]:
    """RFC 8092 section 6: a length that is not a non-zero multiple of 12 is malformed."""
    if not data or len(data) % 12:
        raise MalformedAttribute(f"LARGE_COMMUNITIES length {len(data)} is not a non-zero multiple of 12")
    flat = struct.unpack(f"!{len(data) // 4}I", data)
    return tuple(LargeCommunity(flat[i], flat[i + 1], flat[i + 2]) for i in range(0, len(flat), 3))


def encode_large_communities(values: tuple[LargeCommunity, ...]) -> bytes:
    try:
        return b"".join(struct.pack("!III", *lc) for lc in values)
    except struct.error as exc:
        raise LocalUsageError(f"large community out of range in {values!r}") from exc


def format_community(value: int) -> str:
    """ "NO_EXPORT" for well-known values, else "asn:value"."""
    name = WELL_KNOWN_COMMUNITIES.get(value)
    return name if name is not None else f"{value >> 16}:{value & 0xFFFF}"


def parse_community(text: str) -> int:
    """Inverse of `format_community`; raises ValueError on anything else."""
    name = COMMUNITY_NAMES.get(text.strip().upper())
    if name is not None:
        return name
    high, sep, low = text.strip().partition(":")
    if not sep:
        raise ValueError(f"not a community: {text!r}")
    hi, lo = int(high), int(low)
    if not (0 <= hi <= 0xFFFF and 0 <= lo <= 0xFFFF):
        raise ValueError(f"community out of range: {text!r}")
    return (hi << 16) | lo


def format_large_community(lc: LargeCommunity) -> str:
    return f"{lc.global_admin}:{lc.local_data1}:{lc.local_data2}"


_EXT_SUBTYPES = {0x02: "target", 0x03: "origin"}


def format_extended_community(value: int) -> str:
    """A readable form of common extended communities (RFC 4360 section 4, RFC 5668, RFC 7153).

    Two-octet-AS, IPv4-address and four-octet-AS specific route target/origin print as
    "target:65000:1"; anything else as "type:subtype:hexvalue" so nothing is hidden.
    """
    etype = (value >> 56) & 0xFF
    sub = (value >> 48) & 0xFF
    low48 = value & 0xFFFFFFFFFFFF
    kind = _EXT_SUBTYPES.get(sub)
    base = etype & 0x3F  # ignore the IANA-authority and transitive bits for the layout
    if kind is not None and base == 0x00:
        return f"{kind}:{low48 >> 32}:{low48 & 0xFFFFFFFF}"
    if kind is not None and base == 0x01:
        return f"{kind}:{ipaddress.IPv4Address(low48 >> 16)}:{low48 & 0xFFFF}"
    if kind is not None and base == 0x02:
        return f"{kind}:{low48 >> 16}:{low48 & 0xFFFF}"
    if etype == 0x80 and sub == 0x06:
        rate = struct.unpack("!f", (low48 & 0xFFFFFFFF).to_bytes(4, "big"))[0]
        return f"traffic-rate:{low48 >> 32}:{rate:g}"
    if etype == 0x03 and sub == 0x0C:
        return f"encapsulation:{low48 & 0xFFFF}"
    if etype == 0x03 and sub == 0x0B:
        return f"color:{low48 & 0xFFFFFFFF}"  # RFC 9012 section 4.3
    if etype in (0x40, 0x00) and sub == 0x04:
        # draft-ietf-idr-link-bandwidth: 2-octet AS, IEEE float bytes per second.
        bw = struct.unpack("!f", (low48 & 0xFFFFFFFF).to_bytes(4, "big"))[0]
        return f"link-bandwidth:{low48 >> 32}:{bw:g}"
    return f"0x{etype:02x}:0x{sub:02x}:0x{low48:012x}"
