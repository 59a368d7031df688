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
from typing import Any, NamedTuple

from pybgp.wire.constants import Afi, NotificationCode, UpdateSubcode
from pybgp.wire.errors import NotificationError

# The layout of a `Prefix` int, low bits first: the fields in reverse order of significance, so that
# prefixes sort as (family, network, length, path id). An IPv4 prefix is a 72-bit int (three 30-bit
# digits: the same 64-byte block as two would take).
_PATH_ID_MASK = 0xFFFFFFFF  # bits 0-31: the RFC 7911 path identifier (0 without ADD-PATH)
_LENGTH_SHIFT = 32  # bits 32-39: the length
_NETWORK_SHIFT = 40  # bits 40-167: the network (host bits zero)
_NETWORK_MASK = (1 << 128) - 1
_IPV6_SHIFT = 168  # bit 168: set for IPv6
_IPV6_FLAG = 1 << _IPV6_SHIFT
_IPV4, _IPV6 = Afi.IPV4, Afi.IPV6
_FAMILIES: dict[int, tuple[int, int]] = {Afi.IPV4: (32, 0), Afi.IPV6: (128, _IPV6_FLAG)}
"""Per family: its address bits and its flag in the packed int."""
_INT_FORMATS = frozenset("bcdoxXneEfFgG%")


class Prefix(int):
    """An IPv4 or IPv6 prefix (address as an int, host bits zero, and a length), packed into one int.

    A full table holds a million of these as RIB and FIB keys, so the key is one int-subclass object:
    a 64-byte block for an IPv4 prefix (56 bytes requested: the 72-bit int, the spare digit CPython
    allocates for an int subclass and the GC header; an int subclass is GC-tracked, as the tuple was),
    where the NamedTuple it replaced took 112 (an 80-byte tuple and a 32-byte address int); IPv6: 80
    against 128. It hashes as fast as an int. `path_id` is the RFC 7911 path identifier (0 without
    ADD-PATH); it takes part in equality because with ADD-PATH two paths for one prefix are two keys.
    The API is the NamedTuple's: `Prefix(afi, network, length, path_id=0)`, `.afi` (an `Afi`),
    `.network`, `.length`, `.path_id`, all read through properties; the layout is private to this
    module. It is no longer a tuple: no indexing, unpacking or `_replace`.

    Equality, hash and order are the int's. Two prefixes are equal exactly when all four fields are,
    and the order is the NamedTuple's: by family (IPv4 first), network, length, then path id, as a
    routing table is listed. A `Prefix` also equals the plain int of its packing, so a dict must not
    mix prefix keys with int keys (none in pybgp does).
    """

    __slots__ = ()
    __match_args__ = ("afi", "network", "length", "path_id")

    def __new__(cls, afi: Afi, network: int, length: int, path_id: int = 0) -> Prefix:
        """Check and pack the fields; `ValueError` for anything the packing could not hold exactly."""
        family = _FAMILIES.get(afi)
        if family is None:
            raise ValueError(f"Prefix: address family {afi!r} is neither IPv4 nor IPv6")
        bits, flag = family
        # `x >> n` is non-zero for x < 0 as well as for x >= 2**n: one test per range.
        if network >> bits or path_id >> 32 or not 0 <= length <= bits:
            raise ValueError(f"Prefix: network {network}, length {length} or path id {path_id} out of range")
        return int.__new__(cls, flag | (network << _NETWORK_SHIFT) | (length << _LENGTH_SHIFT) | path_id)

    @property
    def afi(self) -> Afi:
        return _IPV6 if self >> _IPV6_SHIFT else _IPV4

    @property
    def network(self) -> int:
        return (self >> _NETWORK_SHIFT) & _NETWORK_MASK

    @property
    def length(self) -> int:
        return (self >> _LENGTH_SHIFT) & 0xFF

    @property
    def path_id(self) -> int:
        return self & _PATH_ID_MASK

    @property
    def max_length(self) -> int:
        return 128 if self >> _IPV6_SHIFT else 32

    def __str__(self) -> str:
        network = (self >> _NETWORK_SHIFT) & _NETWORK_MASK
        if self >> _IPV6_SHIFT:
            return f"{ipaddress.IPv6Address(network)}/{self.length}"
        return f"{ipaddress.IPv4Address(network)}/{self.length}"

    def __repr__(self) -> str:
        path_id = self.path_id
        return f"Prefix.parse({str(self)!r}{f', path_id={path_id}' if path_id else ''})"

    def __format__(self, spec: str) -> str:
        """Formats as its text ("10.0.0.0/8", "{:<18}" pads it), as the tuple did; only an explicit
        integer presentation type ("d", "x", ...) shows the packed int, as for any int."""
        if spec and spec[-1] in _INT_FORMATS:
            return int.__format__(self, spec)
        return format(str(self), spec)

    def __bool__(self) -> bool:
        """Always true, as the tuple was (0.0.0.0/0 packs to the int 0)."""
        return True

    def __reduce__(self) -> tuple[Any, ...]:
        # By fields, not by the packed int: a pickle does not depend on the layout.
        return (Prefix, (int(self.afi), self.network, self.length, self.path_id))

    def __copy__(self) -> Prefix:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Prefix:
        return self

    def to_network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(str(self))

    def contains(self, other: Prefix) -> bool:
        """True when `other` lies inside this prefix (same family, longer or equal length)."""
        if other.afi != self.afi or other.length < self.length:
            return False
        shift = self.max_length - self.length
        return (other.network >> shift) == (self.network >> shift)

    def without_path_id(self) -> Prefix:
        path_id = self & _PATH_ID_MASK
        return _new_prefix(Prefix, self ^ path_id) if path_id else self

    @classmethod
    def parse(cls, text: str, path_id: int = 0) -> Prefix:
        """Parse "10.0.0.0/8" or "2001:db8::/32"; host bits must be zero (ValueError otherwise)."""
        net = ipaddress.ip_network(text, strict=True)
        afi = Afi.IPV4 if net.version == 4 else Afi.IPV6
        return cls(afi, int(net.network_address), net.prefixlen, path_id)


_new_prefix = int.__new__
"""A `Prefix` from its packed int without the checking `__new__`: for the decoder, whose fields are in
range by construction, and for `without_path_id`."""


_BITS = {Afi.IPV4: 32, Afi.IPV6: 128}
_MASKS = {
    afi: tuple(((1 << bits) - 1) ^ ((1 << (bits - n)) - 1) for n in range(bits + 1))
    for afi, bits in _BITS.items()
}
_STEPS = {
    afi: tuple(
        (
            ((n + 7) >> 3) + 1,
            (1 << (8 * ((n + 7) >> 3) - n)) - 1,
            bits - 8 * ((n + 7) >> 3) + _NETWORK_SHIFT,
            (n << (bits + _NETWORK_SHIFT)) ^ _FAMILIES[afi][1] ^ (n << _LENGTH_SHIFT),
        )
        for n in range(bits + 1)
    )
    for afi, bits in _BITS.items()
}
"""Per prefix length, everything the decoding loop needs in one lookup: the octets the prefix takes with
its length octet, the host bits of the last octet read (set: not canonical), the shift that moves the
octets read (the length octet, then the address) to the network's place in the packed `Prefix`, and
what to XOR into the shifted value to turn it into the packed `Prefix`: it clears the length octet read
along with the address (which the shift put just above the network) and sets the length and family."""


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
    one per-length table entry (`_STEPS`) for the size, host bits, shift and tag, then a shift and an
    XOR make the packed `Prefix` (host bits, rarely set, are cleared first).
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
            _, host, shift, tag = steps[plen]
            value = int.from_bytes(buf[start:end], "big")
            if not value & host:
                return (_new_prefix(Prefix, (value << shift) ^ tag),), None
            one = (_new_prefix(Prefix, ((value ^ (value & host)) << shift) ^ tag),)
            return one, NlriImage(one, buf[start:end])
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
            step, host, shift, tag = steps[plen]
            j = i + 4 + step
            if j > end:
                raise _invalid("prefix overruns the NLRI field")
            value = from_bytes(buf[i + 4 : j], "big")  # the length octet, then the address octets
            if value & host:
                canonical = False
                value ^= value & host
            append(new(Prefix, ((value << shift) ^ tag) | path_id))
            i = j
    else:
        while i < end:
            plen = buf[i]
            if plen > maxbits:
                raise _invalid(f"prefix length {plen} exceeds {maxbits}")
            step, host, shift, tag = steps[plen]
            j = i + step
            value = from_bytes(buf[i:j], "big")  # the length octet, then the address octets
            if value & host:
                canonical = False
                value ^= value & host
            append(new(Prefix, (value << shift) ^ tag))
            i = j
        if i > end:  # only the last prefix can overrun: checked once, after the loop
            raise _invalid("prefix overruns the NLRI field")
    prefixes = tuple(out)
    return prefixes, None if canonical else NlriImage(prefixes, buf[start:end])


def decode_prefixes(data: bytes | memoryview, afi: Afi, *, addpath: bool = False) -> tuple[Prefix, ...]:
    """Decode a run of IPv4 or IPv6 unicast NLRI; raise `NotificationError` (3/10) if malformed."""
    return decode_prefixes_exact(data, afi, addpath=addpath)[0]


def encode_prefix(prefix: Prefix, *, addpath: bool = False) -> bytes:
    """Encode one prefix (with its path id when `addpath`); host bits are dropped, never sent.

    Every `Prefix` is in range by construction (its `__new__` checks), so this cannot fail."""
    length = prefix.length
    maxbits = prefix.max_length
    nbytes = (length + 7) >> 3
    value = (prefix.network & _MASKS[prefix.afi][length]) >> (maxbits - 8 * nbytes)
    body = (value | (length << (8 * nbytes))).to_bytes(nbytes + 1, "big")
    if addpath:
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
