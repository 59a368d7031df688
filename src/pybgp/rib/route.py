"""Routes as the RIB stores them: where a path came from, and the path itself.

Owns: `Source` (bgp, interface, static, kernel), `PeerInfo` (the facts about a path's origin the
decision process and policies read: addresses, ASNs, router ID, iBGP/eBGP, the link's subnet),
`Path` (one candidate route: interned attributes + its origin) with its cheap constructor
`make_path`, `BestChange` (what the kernel layer and the library's users receive) with its cheap
constructor `best_change`, `next_hop_twins` (one set for both ToRs' copies of a route, the next
hops apart: `LocRib._twin`) and `same_route` / `same_path` (comparing paths a twin may stand in
for), `AttributeInterner` (one shared `PathAttributes` per distinct set, also for sets that
policies rewrote), and `rewrite_attributes` (the copy-with-changes those rewrites use).
Never does: selection (that is `decision.py`), policy, or any I/O.

Memory: a `Path` is a slotted object of five references. The attributes are shared (the codec interns
them; policy outputs go through `AttributeInterner`), the `PeerInfo` is shared by every path of one
session, and the prefix is not a field. The Loc-RIB keeps no `Path` per prefix at all (its entries
hold the attributes and the rest of the path apart, `loc_rib.Holder`) and builds them when asked.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from enum import Enum
from operator import attrgetter

from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.constants import AsPathSegmentType
from pybgp.wire.nlri import Prefix

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
NO_ROUTER_ID = ipaddress.IPv4Address(0)


class Source(Enum):
    """Where a route entered the speaker (policy matches on it: `source = "kernel"`)."""

    BGP = "bgp"
    INTERFACE = "interface"  # an address on a local interface, like BIRD `protocol direct`
    STATIC = "static"
    KERNEL = "kernel"  # learned from a kernel routing table (pod routes in table 119)


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerInfo:
    """Who a path came from. One object per BGP session (rebuilt when the session re-establishes,
    because the router ID is learnt from the OPEN), or per local origin ("direct:node0").

    `subnet` is the directly connected network the session runs over (10.69.0.64/26 for ToR1); the
    next-hop action "peer-unless-same-subnet" (TARGET rule 4) reads it. `local_address` is our end of
    the session, used for next-hop-self.
    """

    name: str
    source: Source = Source.BGP
    address: IPAddress | None = None
    asn: int = 0
    local_as: int = 0
    router_id: ipaddress.IPv4Address = NO_ROUTER_ID
    local_address: IPAddress | None = None
    subnet: IPNetwork | None = None
    rr_client: bool = False
    table: int | None = None  # kernel table for Source.KERNEL
    interface: str | None = None  # interface the session runs over, or the origin interface
    # Derived from the fields above once, in `__post_init__` (not part of equality, hash or repr): the
    # RIB reads them per received UPDATE and per decision (issue 6, feed (c): 200k of each), where a
    # property was a Python call each time.
    ibgp: bool = field(init=False, repr=False, compare=False)
    """A BGP session within our AS."""
    ebgp: bool = field(init=False, repr=False, compare=False)
    """A BGP session to another AS."""
    address_int: int = field(init=False, repr=False, compare=False)
    """The peer address as an int for the last tie-breaker; local origins sort first (0)."""

    def __post_init__(self) -> None:
        bgp = self.source is Source.BGP
        object.__setattr__(self, "ibgp", bgp and self.asn == self.local_as)
        object.__setattr__(self, "ebgp", bgp and self.asn != self.local_as)
        object.__setattr__(self, "address_int", int(self.address) if self.address is not None else 0)

    @property
    def local(self) -> bool:
        """True for routes this speaker originates (not learned from a BGP peer)."""
        return self.source is not Source.BGP


@dataclass(frozen=True, slots=True, kw_only=True)
class Path:
    """One candidate route for a prefix: the attributes (interned, shared) and its origin.

    `next_hops`, when not empty, is the path's next hop and overrides `attributes.next_hop`: the
    MP_REACH next hops (IPv6 global, link-local), or the IPv4 next hop an import policy set (TARGET
    rule 4), kept here so the attribute set stays the received, shared one; or the path's own
    NEXT_HOP when the Loc-RIB gave it the other ToR's equal set (`LocRib._twin`). Read the next hop
    through `next_hop`, never `attributes.next_hop`. Export (`export_path`) moves an IPv4 one back
    into the NEXT_HOP attribute. `stale` marks a path kept by a graceful-restart helper (RFC 4724 4.2)
    after its session went down, until End-of-RIB or the restart timer sweeps it. `path_id` is the
    RFC 7911 path identifier the peer gave it (0 without ADD-PATH): one peer may offer several
    paths for a prefix, told apart by it.
    """

    attributes: PathAttributes
    peer: PeerInfo
    next_hops: tuple[IPAddress, ...] = ()
    stale: bool = False
    path_id: int = 0

    @property
    def next_hop(self) -> IPAddress | None:
        """The first next hop: `next_hops[0]` (MP_REACH's, or a policy's), else NEXT_HOP."""
        if self.next_hops:
            return self.next_hops[0]
        return self.attributes.next_hop

    @property
    def source(self) -> Source:
        return self.peer.source


@dataclass(frozen=True, slots=True, kw_only=True)
class BestChange:
    """The Loc-RIB's selection for `prefix` changed.

    `best` is None when the prefix is gone. `multipath` holds the merged equal paths, best first
    (it includes `best`; one element without ECMP). The daemon maps it to a `FibRoute`.
    """

    prefix: Prefix
    best: Path | None
    multipath: tuple[Path, ...] = ()


_BC_PREFIX, _BC_BEST, _BC_MULTIPATH = (vars(BestChange)[n].__set__ for n in ("prefix", "best", "multipath"))


def best_change(prefix: Prefix, best: Path | None, multipath: tuple[Path, ...]) -> BestChange:
    """`BestChange(prefix=..., best=..., multipath=...)` for the Loc-RIB's loops, which make one per
    changed prefix (2M over a 1M x 2 feed, 1M in one BFD-down flush): filling the three slots
    directly costs a third of the frozen keyword `__init__`. Same object, same equality."""
    change = object.__new__(BestChange)
    _BC_PREFIX(change, prefix)
    _BC_BEST(change, best)
    _BC_MULTIPATH(change, multipath)
    return change


_PATH_SLOTS = tuple(vars(Path)[n].__set__ for n in ("attributes", "peer", "next_hops", "stale", "path_id"))


def make_path(attributes: PathAttributes, peer: PeerInfo, next_hops: tuple[IPAddress, ...] = (),
              stale: bool = False, path_id: int = 0) -> Path:
    """`Path(attributes=..., peer=..., next_hops=..., stale=..., path_id=...)` for the receive loop
    and policies, which make one or two per UPDATE (200k for a 100k x 2 feed of one prefix per
    UPDATE): filling the five slots directly costs about a third of the frozen keyword `__init__`.
    Same object, same equality (`tests/rib/test_fast_paths.py` checks it against the dataclass)."""
    path = object.__new__(Path)
    set_attributes, set_peer, set_next_hops, set_stale, set_path_id = _PATH_SLOTS
    set_attributes(path, attributes)
    set_peer(path, peer)
    set_next_hops(path, next_hops)
    set_stale(path, stale)
    set_path_id(path, path_id)
    return path


_TWIN_FIELDS = tuple(f.name for f in fields(PathAttributes) if f.name not in {"next_hop", "wire"})
_BESIDES_NEXT_HOP = attrgetter(*_TWIN_FIELDS)
"""Every semantic field of a set but NEXT_HOP, as one tuple (`next_hop_twins`)."""


def next_hop_twins(a: PathAttributes, b: PathAttributes) -> bool:
    """Whether `a` and `b` are the same set but (perhaps) for NEXT_HOP: what the two route-reflector
    ToRs of a server send for every prefix, each with its own address. A path with `b` and an IPv4
    NEXT_HOP can then hold `a` and carry its next hop in `next_hops` (`LocRib._twin`), so the one
    set serves both ToRs' paths. Compared field by field, the shared value objects of a sibling
    decode (`wire.attrfast._sibling`) by identity."""
    return _BESIDES_NEXT_HOP(a) == _BESIDES_NEXT_HOP(b)


def same_route(a: Path, b: Path) -> bool:
    """Whether `a` and `b` say the same thing (attributes and next hops), a twin's borrowed set
    (`LocRib._twin`) counting as equal to the set it stands in for. Next hops are compared as paths
    read them (`next_hops`, else NEXT_HOP)."""
    return _hops_of(a) == _hops_of(b) and (a.attributes is b.attributes
                                           or next_hop_twins(a.attributes, b.attributes))


def same_path(a: Path, b: Path) -> bool:
    """Whether `a` and `b` are the same candidate: the same route (`same_route`) from the same origin,
    path identifier and staleness. What to compare a stored path with instead of `is`: the Loc-RIB
    may hold a twin (`LocRib._twin`) of the path it was given, and hands out `Path`s it builds."""
    return a is b or (a.peer is b.peer and a.path_id == b.path_id and a.stale == b.stale
                      and same_route(a, b))


def _hops_of(path: Path) -> tuple[IPAddress | None, ...]:
    return path.next_hops or (path.attributes.next_hop,)


@dataclass(slots=True)
class AttributeInterner:
    """Returns one shared instance per distinct `PathAttributes`, so rewritten sets (next hop, added
    community) are stored once however many prefixes carry them.

    Bounded: when `limit` distinct sets are held the table is cleared (old paths keep their objects;
    new ones start sharing again), so a peer sending unique attributes cannot grow it forever.
    """

    limit: int = 200_000
    _table: dict[PathAttributes, PathAttributes] = field(default_factory=dict)

    def intern(self, attrs: PathAttributes) -> PathAttributes:
        found = self._table.get(attrs)
        if found is not None:
            return found
        if len(self._table) >= self.limit:
            self._table.clear()
        self._table[attrs] = attrs
        return attrs

    def __len__(self) -> int:
        return len(self._table)


_ATTRIBUTE_FIELDS = tuple(f.name for f in fields(PathAttributes))
_ATTRIBUTE_SLOTS = tuple((name, vars(PathAttributes)[name]) for name in _ATTRIBUTE_FIELDS if name != "wire")
_WIRE_SLOT = vars(PathAttributes)["wire"]


def rewrite_attributes(attrs: PathAttributes, changes: Mapping[str, object]) -> PathAttributes:
    """`dataclasses.replace(attrs, **changes, wire=None)`, for the per-path rewrites of policies and
    export (one per unique attribute set on a feed): it fills the new set's slots directly instead
    of re-reading the field list and going through the frozen keyword `__init__` (~35% less time).
    `wire` is dropped because the received encoding no longer describes the set."""
    unknown = changes.keys() - _ATTRIBUTE_FIELDS
    if unknown:
        raise TypeError(f"PathAttributes has no fields {sorted(unknown)}")
    new = object.__new__(PathAttributes)
    for name, slot in _ATTRIBUTE_SLOTS:
        slot.__set__(new, changes[name] if name in changes else slot.__get__(attrs))
    _WIRE_SLOT.__set__(new, None)
    return new


def as_path_length(attrs: PathAttributes) -> int:
    """RFC 4271 9.1.2.2 a: an AS_SET counts 1 however many ASNs it holds; RFC 5065 5.3: confederation
    segments count 0."""
    total = 0
    for seg in attrs.as_path:
        if seg.type == AsPathSegmentType.AS_SEQUENCE:
            total += len(seg.asns)
        elif seg.type == AsPathSegmentType.AS_SET:
            total += 1
    return total


def neighbor_as(attrs: PathAttributes) -> int | None:
    """The AS a path was received from (RFC 4271 9.1.2.2 c): the first ASN of the first AS_SEQUENCE;
    None for a path with an empty AS path (originated inside our AS)."""
    for seg in attrs.as_path:
        if seg.type == AsPathSegmentType.AS_SEQUENCE and seg.asns:
            return seg.asns[0]
        if seg.type in (AsPathSegmentType.AS_CONFED_SEQUENCE, AsPathSegmentType.AS_CONFED_SET):
            continue
        return None
    return None


def as_path_string(attrs: PathAttributes) -> str:
    """The AS path as engineers write it: "64600 64599 {65001 65002}" (sets in braces, confed
    segments in parentheses); regex policies match against this text."""
    parts: list[str] = []
    for seg in attrs.as_path:
        text = " ".join(str(a) for a in seg.asns)
        if seg.type == AsPathSegmentType.AS_SEQUENCE:
            parts.append(text)
        elif seg.type == AsPathSegmentType.AS_SET:
            parts.append("{" + text + "}")
        else:
            parts.append("(" + text + ")")
    return " ".join(p for p in parts if p)
