"""NLRI: IP prefixes as compact keys, and their wire encoding (RFC 4271 4.3, RFC 4760, RFC 7911).

Owns: `Prefix`, the one prefix type the whole project uses (RIB key, FIB key, policy match), and the
tight codec loops for IPv4/IPv6 unicast NLRI with and without ADD-PATH path identifiers.
Never does: interpret families other than IPv4/IPv6 unicast (those stay opaque bytes in `MpReach`).

NLRI encoding (RFC 4271 section 4.3, RFC 7911 section 3 with ADD-PATH):

    +---------------------------+
    |   Path Identifier (4 oct) |   only when ADD-PATH is negotiated for the family
    +---------------------------+
    |   Length (1 octet)        |   in bits
    +---------------------------+
    |   Prefix (variable)       |   ceil(Length / 8) octets, trailing bits irrelevant
    +---------------------------+

Trailing bits beyond Length are "irrelevant" (RFC 4271 section 4.3): the decoder masks them off, so every
`Prefix` has host bits zero; the received bytes are kept aside (`NlriImage`) only when they differed, so
that an unmodified message still re-encodes byte for byte.
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from pybgp.wire.constants import Afi, NotificationCode, UpdateSubcode
from pybgp.wire.errors import LocalUsageError, NotificationError


class Prefix(NamedTuple):
    """An IPv4 or IPv6 prefix: the address as an int (host bits zero) and a length.

    A NamedTuple, not a dataclass, because a full table holds a million of them: it is a cheap,
    hashable key. `path_id` is the RFC 7911 path identifier (0 without ADD-PATH); it takes part
    in equality because with ADD-PATH two paths for one prefix are two keys.
    """

    afi: Afi
    network: int
    length: int
    path_id: int = 0

    def __str__(self) -> str:
        if self.afi == Afi.IPV4:
            return f"{ipaddress.IPv4Address(self.network)}/{self.length}"
        return f"{ipaddress.IPv6Address(self.network)}/{self.length}"

    @property
    def max_length(self) -> int:
        return 32 if self.afi == Afi.IPV4 else 128

    def to_network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(str(self))

    def contains(self, other: Prefix) -> bool:
        """True when `other` lies inside this prefix (same family, longer or equal length)."""
        if other.afi != self.afi or other.length < self.length:
            return False
        shift = self.max_length - self.length
        return (other.network >> shift) == (self.network >> shift)

    def without_path_id(self) -> Prefix:
        return self if self.path_id == 0 else Prefix(self.afi, self.network, self.length)

    @classmethod
    def parse(cls, text: str, path_id: int = 0) -> Prefix:
        """Parse "10.0.0.0/8" or "2001:db8::/32"; host bits must be zero (ValueError otherwise)."""
        net = ipaddress.ip_network(text, strict=True)
        afi = Afi.IPV4 if net.version == 4 else Afi.IPV6
        return cls(afi, int(net.network_address), net.prefixlen, path_id)


_BITS = {Afi.IPV4: 32, Afi.IPV6: 128}
_MASKS = {
    afi: tuple(((1 << bits) - 1) ^ ((1 << (bits - n)) - 1) for n in range(bits + 1))
    for afi, bits in _BITS.items()
}
_LEN_SHIFTS = {afi: tuple(bits - 8 * ((n + 7) >> 3) for n in range(bits + 1)) for afi, bits in _BITS.items()}
"""Per prefix length: how far the ceil(length / 8) octets read must be shifted left to fill the address."""
_STEPS = {
    afi: tuple(
        (((n + 7) >> 3) + 1, (1 << (8 * ((n + 7) >> 3) - n)) - 1, _LEN_SHIFTS[afi][n], _MASKS[afi][n])
        for n in range(bits + 1)
    )
    for afi, bits in _BITS.items()
}
"""Per prefix length, everything the decoding loop needs in one lookup: the octets the prefix takes with
its length octet, the host bits of the last octet read (set: not canonical), the shift that fills the
address, and the network mask (which also drops the length octet read along with the address)."""
_new_prefix = tuple.__new__


def _invalid(reason: str) -> NotificationError:
    # RFC 4271 section 6.3: a syntactically incorrect NLRI field is Invalid Network Field; RFC 7606
    # section 5.3 keeps session reset for it because the prefixes cannot be trusted any more.
    return NotificationError(
        NotificationCode.UPDATE_MESSAGE_ERROR, UpdateSubcode.INVALID_NETWORK_FIELD, reason=reason
    )


class NlriImage(NamedTuple):
    """A prefix run and the bytes it was decoded from, kept only when those bytes were not canonical
    (host bits set), so a capture re-encodes exactly. Used only while `prefixes` is the very tuple."""

    prefixes: tuple[Prefix, ...]
    raw: bytes


def decode_prefixes_exact(
    data: bytes | memoryview, afi: Afi, *, addpath: bool = False
) -> tuple[tuple[Prefix, ...], NlriImage | None]:
    """Decode a run of IPv4 or IPv6 unicast NLRI; raise `NotificationError` (3/10) if malformed.

    Also returns an `NlriImage` when some prefix had host bits set (None otherwise, the usual case).
    """
    buf = bytes(data)
    return decode_prefix_run(buf, 0, len(buf), afi, addpath=addpath)


def decode_prefix_run(
    buf: bytes, start: int, end: int, afi: Afi, *, addpath: bool = False
) -> tuple[tuple[Prefix, ...], NlriImage | None]:
    """`decode_prefixes_exact` of `buf[start:end]`, read in place (the UPDATE decoder's entry point).

    The hot loop of a full-table load: integer indexing, one slice and one `int.from_bytes` per prefix,
    one per-length table entry (`_STEPS`) for the size, host bits, shift and mask, one tuple per prefix.
    """
    if start >= end:
        return (), None
    if end > len(buf):
        raise _invalid("prefix overruns the NLRI field")
    maxbits = _BITS[afi]
    steps = _STEPS[afi]
    if not addpath:
        plen = buf[start]
        if plen <= maxbits and start + steps[plen][0] == end:
            # One prefix fills the field (one-prefix UPDATEs, as BIRD sends routes with sets of
            # their own): the loop below without its set-up and list, for the same result.
            _, host, shift, mask = steps[plen]
            value = int.from_bytes(buf[start:end], "big")
            one = (_new_prefix(Prefix, (afi, (value << shift) & mask, plen, 0)),)
            return one, None if not value & host else NlriImage(one, buf[start:end])
    from_bytes = int.from_bytes
    new = _new_prefix
    out: list[Prefix] = []
    append = out.append
    i = start
    canonical = True
    if addpath:
        while i < end:
            if i + 5 > end:
                raise _invalid("truncated ADD-PATH path identifier")
            path_id = from_bytes(buf[i : i + 4], "big")
            plen = buf[i + 4]
            if plen > maxbits:
                raise _invalid(f"prefix length {plen} exceeds {maxbits}")
            step, host, shift, mask = steps[plen]
            j = i + 4 + step
            if j > end:
                raise _invalid("prefix overruns the NLRI field")
            value = from_bytes(buf[i + 4 : j], "big")  # the length octet, then the address octets
            if value & host:
                canonical = False
            append(new(Prefix, (afi, (value << shift) & mask, plen, path_id)))
            i = j
    else:
        while i < end:
            plen = buf[i]
            if plen > maxbits:
                raise _invalid(f"prefix length {plen} exceeds {maxbits}")
            step, host, shift, mask = steps[plen]
            j = i + step
            value = from_bytes(buf[i:j], "big")  # the length octet, then the address octets
            if value & host:
                canonical = False
            append(new(Prefix, (afi, (value << shift) & mask, plen, 0)))
            i = j
        if i > end:  # only the last prefix can overrun: checked once, after the loop
            raise _invalid("prefix overruns the NLRI field")
    prefixes = tuple(out)
    return prefixes, None if canonical else NlriImage(prefixes, buf[start:end])


def decode_prefixes(data: bytes | memoryview, afi: Afi, *, addpath: bool = False) -> tuple[Prefix, ...]:
    """Decode a run of IPv4 or IPv6 unicast NLRI; raise `NotificationError` (3/10) if malformed."""
    return decode_prefixes_exact(data, afi, addpath=addpath)[0]


def encode_prefix(prefix: Prefix, *, addpath: bool = False) -> bytes:
    """Encode one prefix (with its path id when `addpath`); host bits are dropped, never sent."""
    maxbits = _BITS.get(prefix.afi)
    if maxbits is None or not 0 <= prefix.length <= maxbits:
        raise LocalUsageError(f"cannot encode prefix {prefix!r}")
    nbytes = (prefix.length + 7) >> 3
    value = (prefix.network & _MASKS[prefix.afi][prefix.length]) >> (maxbits - 8 * nbytes)
    body = bytes((prefix.length,)) + value.to_bytes(nbytes, "big")
    if addpath:
        if not 0 <= prefix.path_id <= 0xFFFFFFFF:
            raise LocalUsageError(f"path id out of range in {prefix!r}")
        return prefix.path_id.to_bytes(4, "big") + body
    return body


def encode_prefixes(prefixes: tuple[Prefix, ...] | list[Prefix], *, addpath: bool = False) -> bytes:
    """Encode a run of prefixes back to back (the inverse of `decode_prefixes`)."""
    return b"".join([encode_prefix(p, addpath=addpath) for p in prefixes])


def encode_nlri_field(prefixes: tuple[Prefix, ...], image: NlriImage | None, *, addpath: bool) -> bytes:
    """The received bytes when `prefixes` is still the decoded tuple, else the canonical encoding."""
    if image is not None and image.prefixes is prefixes:
        return image.raw
    return encode_prefixes(prefixes, addpath=addpath)
