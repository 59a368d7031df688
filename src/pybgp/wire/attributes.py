"""Path attributes (RFC 4271 section 4.3 and 5, and extensions), decoded into one frozen set.

Owns: `PathAttributes`, the interned attribute set every route points to, its parts
(`AsPathSegment`, `Aggregator`, `RawAttribute`), and the `MpReach` / `MpUnreach` carriers.
Never does: hold NLRI inside `PathAttributes` (MP_REACH/MP_UNREACH carry prefixes, so they live on
the `Update`, not in the shared set), or any policy.

TYPE CONTRACT (fixed: FSM, RIB and daemon code against these fields). The codec may add fields
needed for byte-exact re-encoding (attribute order, extended-length bits) as long as the semantic
fields below keep their names and types.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import NamedTuple

from pybgp.wire.constants import AsPathSegmentType, Origin

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class AsPathSegment(NamedTuple):
    type: AsPathSegmentType
    asns: tuple[int, ...]


class Aggregator(NamedTuple):
    asn: int
    address: ipaddress.IPv4Address


class LargeCommunity(NamedTuple):
    global_admin: int
    local_data1: int
    local_data2: int


class RawAttribute(NamedTuple):
    """An attribute we do not interpret, kept byte-exact (flags as received, value bytes)."""

    flags: int
    code: int
    value: bytes


@dataclass(frozen=True, slots=True, kw_only=True)
class PathAttributes:
    """The attributes of a path except MP_REACH/MP_UNREACH. Hashable, meant to be interned.

    `as_path` is the effective path: with a 2-octet peer the codec merges AS_PATH and AS4_PATH per
    RFC 6793 section 4.2.3. Communities are 32-bit ints, extended communities 64-bit ints.
    """

    origin: Origin | None = None
    as_path: tuple[AsPathSegment, ...] = ()
    next_hop: ipaddress.IPv4Address | None = None
    med: int | None = None
    local_pref: int | None = None
    atomic_aggregate: bool = False
    aggregator: Aggregator | None = None
    communities: tuple[int, ...] = ()
    extended_communities: tuple[int, ...] = ()
    large_communities: tuple[LargeCommunity, ...] = ()
    originator_id: ipaddress.IPv4Address | None = None
    cluster_list: tuple[ipaddress.IPv4Address, ...] = ()
    otc: int | None = None
    unknown: tuple[RawAttribute, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MpReach:
    """MP_REACH_NLRI (RFC 4760 section 3).

    For IPv4/IPv6 unicast, `next_hops` holds one address, or for IPv6 a global and a link-local one
    (RFC 2545 section 3), and `nlri` the prefixes. For families we do not interpret, `nlri` is empty
    and `raw_next_hop` / `raw_nlri` keep the bytes exactly.
    """

    afi: int
    safi: int
    next_hops: tuple[IPAddress, ...] = ()
    nlri: tuple[object, ...] = ()  # tuple[Prefix, ...] for IPv4/IPv6 unicast
    raw_next_hop: bytes = b""
    raw_nlri: bytes = b""
    reserved: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class MpUnreach:
    """MP_UNREACH_NLRI (RFC 4760 section 4). Empty `nlri` and `raw_nlri` is an End-of-RIB marker."""

    afi: int
    safi: int
    nlri: tuple[object, ...] = ()  # tuple[Prefix, ...] for IPv4/IPv6 unicast
    raw_nlri: bytes = b""
