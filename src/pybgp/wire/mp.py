"""MP_REACH_NLRI and MP_UNREACH_NLRI (RFC 4760): the multiprotocol carriers and their codec.

Owns: `MpReach`, `MpUnreach`, and turning their attribute values into prefixes and next hops for IPv4 and
IPv6 unicast (with ADD-PATH, RFC 7911; IPv4 NLRI over an IPv6 next hop, RFC 8950; global plus link-local
IPv6 next hops, RFC 2545 section 3). Every other family stays opaque (`raw_next_hop`, `raw_nlri`) so
VPN, EVPN, FlowSpec or BGP-LS captures still decode and re-encode byte for byte.
Never does: decide what a next hop means for routing, or check it against the session's negotiation.

MP_REACH_NLRI value (RFC 4760 section 3):

    +---------------------------------------------------------+
    | Address Family Identifier (2 octets)                    |
    | Subsequent Address Family Identifier (1 octet)          |
    | Length of Next Hop Network Address (1 octet)            |
    | Network Address of Next Hop (variable)                  |
    | Reserved (1 octet)                                      |
    | Network Layer Reachability Information (variable)       |
    +---------------------------------------------------------+

MP_UNREACH_NLRI value (RFC 4760 section 4): AFI (2), SAFI (1), Withdrawn Routes (variable).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pybgp.wire.constants import Afi, AttrFlag, NotificationCode, Safi, UpdateSubcode
from pybgp.wire.context import WireContext
from pybgp.wire.errors import LocalUsageError, MalformedAttribute, NotificationError
from pybgp.wire.nlri import NlriImage, Prefix, decode_prefixes_exact, encode_nlri_field

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

UNICAST_FAMILIES = {(1, 1): Afi.IPV4, (2, 1): Afi.IPV6}
"""The families whose NLRI the codec interprets; everything else is carried opaque."""

_MP_FLAGS = AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH


@dataclass(frozen=True, slots=True, kw_only=True)
class MpReach:
    """MP_REACH_NLRI (RFC 4760 section 3).

    For IPv4/IPv6 unicast, `next_hops` holds one address, or for IPv6 a global and a link-local one
    (RFC 2545 section 3), and `nlri` the prefixes. For families we do not interpret, `nlri` is empty
    and `raw_next_hop` / `raw_nlri` keep the bytes exactly. `flags` are the attribute flags as received
    (only used to re-encode a capture exactly; not part of equality).
    """

    afi: int
    safi: int
    next_hops: tuple[IPAddress, ...] = ()
    nlri: tuple[Prefix, ...] = ()
    raw_next_hop: bytes = b""
    raw_nlri: bytes = b""
    reserved: int = 0
    flags: int = field(default=int(_MP_FLAGS), compare=False, repr=False)
    nlri_image: NlriImage | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class MpUnreach:
    """MP_UNREACH_NLRI (RFC 4760 section 4). Empty `nlri` and `raw_nlri` is an End-of-RIB marker."""

    afi: int
    safi: int
    nlri: tuple[Prefix, ...] = ()
    raw_nlri: bytes = b""
    flags: int = field(default=int(_MP_FLAGS), compare=False, repr=False)
    nlri_image: NlriImage | None = field(default=None, compare=False, repr=False)


def _reset(reason: str) -> NotificationError:
    # RFC 7606 section 3 j / 5.3: an MP attribute whose NLRI cannot be located means we cannot tell
    # which prefixes it concerned, so only a session reset (or AFI/SAFI disable) is safe.
    return NotificationError(
        NotificationCode.UPDATE_MESSAGE_ERROR, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, reason=reason
    )


def _next_hops(afi: Afi, raw: bytes) -> tuple[IPAddress, ...] | None:
    """Parse a unicast next hop field; None when its length is not one RFC 4760/2545/8950 allows."""
    n = len(raw)
    if n == 4 and afi == Afi.IPV4:
        return (ipaddress.IPv4Address(raw),)
    if n == 16:
        return (ipaddress.IPv6Address(raw),)
    if n == 32:
        return (ipaddress.IPv6Address(raw[:16]), ipaddress.IPv6Address(raw[16:]))
    return None


def decode_mp_reach(value: bytes, ctx: WireContext, flags: int) -> tuple[MpReach, MalformedAttribute | None]:
    """Decode MP_REACH_NLRI. A bad next hop length is returned as a malformation to treat as withdraw
    (RFC 7606 section 7.11: the NLRI can still be located); an unparseable NLRI raises for a reset."""
    if len(value) < 5:
        raise _reset("MP_REACH_NLRI shorter than its fixed fields")
    afi = (value[0] << 8) | value[1]
    safi = value[2]
    nhlen = value[3]
    if 4 + nhlen + 1 > len(value):
        raise _reset("MP_REACH_NLRI next hop overruns the attribute")
    raw_nh = value[4 : 4 + nhlen]
    reserved = value[4 + nhlen]
    nlri_bytes = value[5 + nhlen :]
    family_afi = UNICAST_FAMILIES.get((afi, safi))
    if family_afi is None:
        return MpReach(
            afi=afi, safi=safi, raw_next_hop=raw_nh, raw_nlri=nlri_bytes, reserved=reserved, flags=flags
        ), None
    nlri, image = decode_prefixes_exact(nlri_bytes, family_afi, addpath=(afi, safi) in ctx.addpath_rx)
    hops = _next_hops(family_afi, raw_nh)
    fault = None
    if hops is None:
        fault = MalformedAttribute(f"MP_REACH_NLRI next hop length {nhlen} invalid for AFI {afi}")
    reach = MpReach(
        afi=afi,
        safi=safi,
        next_hops=hops or (),
        nlri=nlri,
        raw_next_hop=raw_nh if hops is None else b"",
        reserved=reserved,
        flags=flags,
        nlri_image=image,
    )
    return reach, fault


def decode_mp_unreach(value: bytes, ctx: WireContext, flags: int) -> MpUnreach:
    """Decode MP_UNREACH_NLRI; an unparseable withdrawn field raises for a session reset."""
    if len(value) < 3:
        raise _reset("MP_UNREACH_NLRI shorter than its fixed fields")
    afi = (value[0] << 8) | value[1]
    safi = value[2]
    family_afi = UNICAST_FAMILIES.get((afi, safi))
    if family_afi is None:
        return MpUnreach(afi=afi, safi=safi, raw_nlri=value[3:], flags=flags)
    nlri, image = decode_prefixes_exact(value[3:], family_afi, addpath=(afi, safi) in ctx.addpath_rx)
    return MpUnreach(afi=afi, safi=safi, nlri=nlri, flags=flags, nlri_image=image)


def _family_prefix(afi: int, safi: int) -> bytes:
    if not (0 <= afi <= 0xFFFF and 0 <= safi <= 0xFF):
        raise LocalUsageError(f"AFI/SAFI out of range: {afi}/{safi}")
    return afi.to_bytes(2, "big") + bytes((safi,))


def encode_mp_reach(mp: MpReach, ctx: WireContext) -> bytes:
    """The MP_REACH_NLRI value (without the attribute header)."""
    if mp.next_hops:
        raw_nh = b"".join(a.packed for a in mp.next_hops)
    else:
        raw_nh = mp.raw_next_hop
    if len(raw_nh) > 255:
        raise LocalUsageError("MP_REACH_NLRI next hop longer than 255 octets")
    if mp.nlri:
        nlri = encode_nlri_field(mp.nlri, mp.nlri_image, addpath=(mp.afi, mp.safi) in ctx.addpath_tx)
    else:
        nlri = mp.raw_nlri
    return (
        _family_prefix(mp.afi, mp.safi) + bytes((len(raw_nh),)) + raw_nh + bytes((mp.reserved & 0xFF,)) + nlri
    )


def encode_mp_unreach(mp: MpUnreach, ctx: WireContext) -> bytes:
    """The MP_UNREACH_NLRI value (without the attribute header)."""
    if mp.nlri:
        nlri = encode_nlri_field(mp.nlri, mp.nlri_image, addpath=(mp.afi, mp.safi) in ctx.addpath_tx)
    else:
        nlri = mp.raw_nlri
    return _family_prefix(mp.afi, mp.safi) + nlri


def is_unicast(afi: int, safi: int) -> bool:
    return (afi, safi) in UNICAST_FAMILIES and safi == Safi.UNICAST
