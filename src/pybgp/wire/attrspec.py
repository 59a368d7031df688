"""The attribute table: one row per path attribute code, and the value codecs the rows point to.

Owns: `ATTRIBUTE_SPECS` (like BIRD's `bgp_attr_table[]`: field name, the Optional/Transitive bits the RFC
fixes, the value decoder, the RFC 7606 action when malformed, iBGP-only), `Aggregator`, and the small
value decoders of RFC 4271 section 5 / RFC 7606 section 7. Never does: walk an attribute list, intern,
or decide about a whole UPDATE (that is `attributes.py`).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from pybgp.wire.aspath import decode_as_path
from pybgp.wire.communities import (
    decode_communities,
    decode_extended_communities,
    decode_large_communities,
)
from pybgp.wire.constants import AS_TRANS, AttrCode, AttrFlag, Origin, UpdateSubcode
from pybgp.wire.context import WireContext
from pybgp.wire.errors import MalformedAttribute, UpdateAction

_OPT = int(AttrFlag.OPTIONAL)
_TRANS = int(AttrFlag.TRANSITIVE)
_U32 = struct.Struct("!I")


class Aggregator(NamedTuple):
    asn: int
    address: ipaddress.IPv4Address


def _u32(value: bytes, ctx: WireContext | None = None) -> int:
    if len(value) != 4:
        raise MalformedAttribute(f"length {len(value)} is not 4", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    return int(_U32.unpack(value)[0])


_ADDRESSES: dict[bytes, ipaddress.IPv4Address] = {}
"""Shared address objects: a table has few distinct NEXT_HOPs / cluster ids, and building one costs more
than a lookup."""


def _ipv4(value: bytes, ctx: WireContext | None = None) -> ipaddress.IPv4Address:
    address = _ADDRESSES.get(value)
    if address is None:
        if len(value) != 4:
            raise MalformedAttribute(f"length {len(value)} is not 4", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
        if len(_ADDRESSES) >= 4096:
            _ADDRESSES.clear()
        address = _ADDRESSES[value] = ipaddress.IPv4Address(value)
    return address


_ORIGINS = tuple(Origin)


def _dec_origin(value: bytes, ctx: WireContext) -> object:
    # RFC 7606 section 7.1: length other than 1 or an undefined value -> treat-as-withdraw.
    if len(value) != 1:
        raise MalformedAttribute("ORIGIN length is not 1", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    if value[0] > 2:
        raise MalformedAttribute(f"ORIGIN value {value[0]} undefined", UpdateSubcode.INVALID_ORIGIN_ATTRIBUTE)
    return _ORIGINS[value[0]]


def _dec_as_path(value: bytes, ctx: WireContext) -> object:
    return decode_as_path(value, four_octet=ctx.as4)


def _dec_as4_path(value: bytes, ctx: WireContext) -> object:
    return decode_as_path(value, four_octet=True)


def _dec_atomic(value: bytes, ctx: WireContext) -> object:
    # RFC 7606 section 7.6: a non-zero length -> attribute-discard.
    if value:
        raise MalformedAttribute("ATOMIC_AGGREGATE length is not 0", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR)
    return True


def _aggregator(value: bytes, four_octet: bool) -> Aggregator:
    # RFC 7606 section 7.7: length other than 6 (or 8 with 4-octet ASNs) -> attribute-discard.
    width = 4 if four_octet else 2
    if len(value) != width + 4:
        raise MalformedAttribute(
            f"AGGREGATOR length {len(value)} invalid", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR
        )
    return Aggregator(int.from_bytes(value[:width], "big"), ipaddress.IPv4Address(value[width:]))


def _dec_aggregator(value: bytes, ctx: WireContext) -> object:
    return _aggregator(value, ctx.as4)


def _dec_as4_aggregator(value: bytes, ctx: WireContext) -> object:
    return _aggregator(value, True)


def _dec_cluster_list(value: bytes, ctx: WireContext) -> object:
    # RFC 7606 section 7.10: a length that is not a multiple of 4 -> treat-as-withdraw.
    if len(value) % 4:
        raise MalformedAttribute(
            "CLUSTER_LIST length is not a multiple of 4", UpdateSubcode.ATTRIBUTE_LENGTH_ERROR
        )
    return tuple([_ipv4(value[i : i + 4]) for i in range(0, len(value), 4)])


def encode_aggregator(agg: Aggregator, four_octet: bool) -> bytes:
    asn = agg.asn if four_octet or agg.asn <= 0xFFFF else AS_TRANS
    return asn.to_bytes(4 if four_octet else 2, "big") + agg.address.packed


_Decoder = Callable[[bytes, WireContext], object]


@dataclass(frozen=True, slots=True)
class AttrSpec:
    """One row of the attribute table: where the value goes, the Optional/Transitive bits the RFC
    fixes, what RFC 7606 does when it is malformed, and whether an external peer may send it."""

    name: str
    flags: int
    decode: _Decoder
    on_error: UpdateAction
    ibgp_only: bool = False


_TAW = UpdateAction.TREAT_AS_WITHDRAW
_DISCARD = UpdateAction.ATTRIBUTE_DISCARD

ATTRIBUTE_SPECS: dict[int, AttrSpec] = {
    AttrCode.ORIGIN: AttrSpec("origin", _TRANS, _dec_origin, _TAW),  # RFC 7606 7.1
    AttrCode.AS_PATH: AttrSpec("as_path", _TRANS, _dec_as_path, _TAW),  # RFC 7606 7.2
    AttrCode.NEXT_HOP: AttrSpec("next_hop", _TRANS, _ipv4, _TAW),  # 7.3
    AttrCode.MULTI_EXIT_DISC: AttrSpec("med", _OPT, _u32, _TAW),  # 7.4
    AttrCode.LOCAL_PREF: AttrSpec("local_pref", _TRANS, _u32, _TAW, True),  # 7.5
    AttrCode.ATOMIC_AGGREGATE: AttrSpec("atomic_aggregate", _TRANS, _dec_atomic, _DISCARD),  # 7.6
    AttrCode.AGGREGATOR: AttrSpec("aggregator", _OPT | _TRANS, _dec_aggregator, _DISCARD),  # 7.7
    AttrCode.COMMUNITIES: AttrSpec("communities", _OPT | _TRANS, decode_communities, _TAW),  # 7.8
    AttrCode.ORIGINATOR_ID: AttrSpec("originator_id", _OPT, _ipv4, _TAW, True),  # RFC 7606 7.9
    AttrCode.CLUSTER_LIST: AttrSpec("cluster_list", _OPT, _dec_cluster_list, _TAW, True),  # 7.10
    AttrCode.EXTENDED_COMMUNITIES: AttrSpec(
        "extended_communities", _OPT | _TRANS, decode_extended_communities, _TAW
    ),  # RFC 7606 7.14
    AttrCode.AS4_PATH: AttrSpec("as4_path", _OPT | _TRANS, _dec_as4_path, _DISCARD),  # RFC 6793 section 6
    AttrCode.AS4_AGGREGATOR: AttrSpec(
        "as4_aggregator", _OPT | _TRANS, _dec_as4_aggregator, _DISCARD
    ),  # 6793 s6
    AttrCode.LARGE_COMMUNITIES: AttrSpec(
        "large_communities", _OPT | _TRANS, decode_large_communities, _TAW
    ),  # RFC 8092 section 6
    AttrCode.OTC: AttrSpec("otc", _OPT | _TRANS, _u32, _TAW),  # RFC 9234 section 5
}
"""Attribute type code -> how to read it (STYLE rule 7; MP_REACH/MP_UNREACH are handled apart)."""
