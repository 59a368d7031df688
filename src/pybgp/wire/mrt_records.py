"""MRT record types (RFC 6396, RFC 8050) and their flattening to per-prefix routes.

Owns: the MRT code points (`MrtType`, `TableDumpV2Subtype`, `Bgp4mpSubtype`, `BgpFsmState`), the frozen
record bodies `MrtReader` produces (`PeerIndexTable`, `RibRecord`, `TableDumpEntry`, `Bgp4mpMessage`,
...), and `MrtRoute` / `record_routes` / `iter_routes`, which turn records into the one-prefix-one-peer
rows bgpdump prints. Never does: read bytes (that is `pybgp.wire.mrt`) or decode BGP messages.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import NamedTuple

from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.context import WireContext
from pybgp.wire.errors import UpdateAction, UpdateFault
from pybgp.wire.messages import Message, Update
from pybgp.wire.nlri import Prefix


class MrtType(IntEnum):
    """RFC 6396 section 4 record types (the ones still written today, plus the legacy TABLE_DUMP)."""

    OSPFV2 = 11
    TABLE_DUMP = 12
    TABLE_DUMP_V2 = 13
    BGP4MP = 16
    BGP4MP_ET = 17
    ISIS = 32
    ISIS_ET = 33
    OSPFV3 = 48
    OSPFV3_ET = 49


class TableDumpV2Subtype(IntEnum):
    """RFC 6396 section 4.3 and RFC 8050 section 4."""

    PEER_INDEX_TABLE = 1
    RIB_IPV4_UNICAST = 2
    RIB_IPV4_MULTICAST = 3
    RIB_IPV6_UNICAST = 4
    RIB_IPV6_MULTICAST = 5
    RIB_GENERIC = 6
    GEO_PEER_TABLE = 7  # RFC 6397
    RIB_IPV4_UNICAST_ADDPATH = 8
    RIB_IPV4_MULTICAST_ADDPATH = 9
    RIB_IPV6_UNICAST_ADDPATH = 10
    RIB_IPV6_MULTICAST_ADDPATH = 11
    RIB_GENERIC_ADDPATH = 12


class Bgp4mpSubtype(IntEnum):
    """RFC 6396 section 4.4 and RFC 8050 section 3."""

    STATE_CHANGE = 0
    MESSAGE = 1
    ENTRY = 2  # deprecated (OpenBGPD); not decoded
    SNAPSHOT = 3  # deprecated; not decoded
    MESSAGE_AS4 = 4
    STATE_CHANGE_AS4 = 5
    MESSAGE_LOCAL = 6
    MESSAGE_AS4_LOCAL = 7
    MESSAGE_ADDPATH = 8
    MESSAGE_AS4_ADDPATH = 9
    MESSAGE_LOCAL_ADDPATH = 10
    MESSAGE_AS4_LOCAL_ADDPATH = 11


class BgpFsmState(IntEnum):
    """The state numbers BGP4MP_STATE_CHANGE records use (RFC 6396 section 4.4.1)."""

    IDLE = 1
    CONNECT = 2
    ACTIVE = 3
    OPENSENT = 4
    OPENCONFIRM = 5
    ESTABLISHED = 6


# -- records -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerEntry:
    """One peer of a PEER_INDEX_TABLE (RFC 6396 section 4.3.1)."""

    bgp_id: ipaddress.IPv4Address
    address: IPAddress
    asn: int


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerIndexTable:
    collector_id: ipaddress.IPv4Address
    view_name: str
    peers: tuple[PeerEntry, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class RibEntry:
    """One path of a RIB record. `attributes` is None when they could not be decoded (`error` says why).

    `next_hops` comes from the abbreviated MP_REACH_NLRI of RFC 6396 section 4.3.4 (IPv6 and other
    families); IPv4 unicast entries carry their next hop in `attributes.next_hop`.
    """

    peer_index: int
    peer: PeerEntry | None
    originated: int
    path_id: int = 0
    attributes: PathAttributes | None = None
    next_hops: tuple[IPAddress, ...] = ()
    fault: UpdateFault | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RibRecord:
    """TABLE_DUMP_V2 RIB_* record: one prefix and every peer's path to it. For RIB_GENERIC with a
    family we do not interpret, `prefix` is None and `raw_nlri` holds the NLRI bytes."""

    sequence: int
    afi: int
    safi: int
    prefix: Prefix | None
    entries: tuple[RibEntry, ...]
    raw_nlri: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class TableDumpEntry:
    """Legacy TABLE_DUMP record (RFC 6396 section 4.2): one prefix, one peer, 2-octet AS numbers."""

    view: int
    sequence: int
    prefix: Prefix
    status: int
    originated: int
    peer_address: IPAddress
    peer_as: int
    attributes: PathAttributes | None
    next_hops: tuple[IPAddress, ...] = ()
    fault: UpdateFault | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Bgp4mpStateChange:
    peer_as: int
    local_as: int
    interface_index: int
    peer_address: IPAddress
    local_address: IPAddress
    old_state: int
    new_state: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Bgp4mpMessage:
    """A BGP message as the collector saw it. `message` is None when it failed to decode (`error`)."""

    peer_as: int
    local_as: int
    interface_index: int
    peer_address: IPAddress
    local_address: IPAddress
    raw: bytes
    message: Message | None
    context: WireContext
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownRecord:
    """A record type/subtype this reader does not interpret (OSPF, IS-IS, BGP4MP_ENTRY...)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class DamagedRecord:
    reason: str


MrtBody = (
    PeerIndexTable
    | RibRecord
    | TableDumpEntry
    | Bgp4mpStateChange
    | Bgp4mpMessage
    | UnknownRecord
    | DamagedRecord
)


@dataclass(frozen=True, slots=True, kw_only=True)
class MrtRecord:
    """One MRT record: common header fields (RFC 6396 section 2) and the decoded body.

    `timestamp` includes the BGP4MP_ET microseconds (section 3). `offset` is the byte offset of the
    header in the decompressed stream, for error messages."""

    timestamp: float
    type: int
    subtype: int
    offset: int
    body: MrtBody
    raw: bytes = b""


# -- routes ----------------------------------------------------------------------------------------


class MrtRoute(NamedTuple):
    """One prefix from one peer, the unit bgpdump prints per line.

    kind: "B" (RIB dump entry), "A" (announced in an UPDATE) or "W" (withdrawn). `next_hop` is the
    IPv4 NEXT_HOP or the first MP_REACH next hop. An UPDATE that RFC 7606 said to treat as withdraw
    yields "W" for its announced prefixes. A NamedTuple because a full table makes a million of them:
    immutable and several times cheaper to build than a frozen dataclass."""

    kind: str
    timestamp: float
    peer_address: IPAddress | None
    peer_as: int | None
    prefix: Prefix
    attributes: PathAttributes | None = None
    next_hop: IPAddress | None = None
    path_id: int = 0


def _update_routes(ts: float, body: Bgp4mpMessage, update: Update) -> Iterator[MrtRoute]:
    peer, asn = body.peer_address, body.peer_as
    withdrawn = list(update.withdrawn)
    if update.mp_unreach is not None:
        withdrawn.extend(p for p in update.mp_unreach.nlri if isinstance(p, Prefix))
    for p in withdrawn:
        yield MrtRoute(kind="W", timestamp=ts, peer_address=peer, peer_as=asn, prefix=p, path_id=p.path_id)
    attrs = update.attributes
    kind = "A"
    if update.fault is not None and update.fault.action in (
        UpdateAction.TREAT_AS_WITHDRAW,
        UpdateAction.AFISAFI_DISABLE,
        UpdateAction.SESSION_RESET,
    ):
        kind = "W"
    for p in update.nlri:
        nh = attrs.next_hop if attrs is not None else None
        yield MrtRoute(
            kind=kind,
            timestamp=ts,
            peer_address=peer,
            peer_as=asn,
            prefix=p,
            attributes=attrs,
            next_hop=nh,
            path_id=p.path_id,
        )
    if update.mp_reach is not None:
        nh6 = update.mp_reach.next_hops[0] if update.mp_reach.next_hops else None
        for item in update.mp_reach.nlri:
            if isinstance(item, Prefix):
                yield MrtRoute(
                    kind=kind,
                    timestamp=ts,
                    peer_address=peer,
                    peer_as=asn,
                    prefix=item,
                    attributes=attrs,
                    next_hop=nh6,
                    path_id=item.path_id,
                )


def record_routes(record: MrtRecord) -> Iterator[MrtRoute]:
    """The routes one record holds (none for state changes, OPENs, KEEPALIVEs, damaged records)."""
    body = record.body
    ts = record.timestamp
    if isinstance(body, RibRecord) and body.prefix is not None:
        for e in body.entries:
            nh = e.next_hops[0] if e.next_hops else (e.attributes.next_hop if e.attributes else None)
            yield MrtRoute(
                kind="B",
                timestamp=ts,
                peer_address=e.peer.address if e.peer else None,
                peer_as=e.peer.asn if e.peer else None,
                prefix=body.prefix,
                attributes=e.attributes,
                next_hop=nh,
                path_id=e.path_id,
            )
    elif isinstance(body, TableDumpEntry):
        nh = body.next_hops[0] if body.next_hops else (body.attributes.next_hop if body.attributes else None)
        yield MrtRoute(
            kind="B",
            timestamp=ts,
            peer_address=body.peer_address,
            peer_as=body.peer_as,
            prefix=body.prefix,
            attributes=body.attributes,
            next_hop=nh,
        )
    elif isinstance(body, Bgp4mpMessage) and isinstance(body.message, Update):
        yield from _update_routes(ts, body, body.message)


def iter_routes(records: Iterable[MrtRecord]) -> Iterator[MrtRoute]:
    """Flatten records to routes, in file order."""
    for record in records:
        yield from record_routes(record)
