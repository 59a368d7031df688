"""MRT routing-information export files (RFC 6396, RFC 8050) read into typed records.

Owns: framing MRT records from plain, gzip or bzip2 files (`open_mrt`, `MrtReader`); decoding the
TABLE_DUMP, TABLE_DUMP_V2 (PEER_INDEX_TABLE, RIB_IPV4/IPV6_UNICAST/MULTICAST, RIB_GENERIC and the
RFC 8050 ADDPATH variants) and BGP4MP / BGP4MP_ET (STATE_CHANGE, MESSAGE, MESSAGE_AS4, _LOCAL and
_ADDPATH variants) bodies. The record types and the flattening to per-prefix routes live in
`pybgp.wire.mrt_records` and are re-exported here, so `from pybgp.wire.mrt import ...` is the one import.
Never does: BGP message or attribute decoding itself (it calls `decode_message` and
`decode_path_attributes` with the context each record type implies), route selection, or writing MRT.

Damage policy: a record whose body cannot be parsed becomes a `DamagedRecord` and reading goes on with
the next record; a header that cannot be a header (unknown type, absurd length or time) starts a resync
scan for the next plausible header; a file that ends inside a record (or a compressed stream that ends
early) stops reading with `reader.truncated = True` and `reader.error` saying where. Nothing raises
past the iterator except `OSError` from opening the file.
"""

from __future__ import annotations

import bz2
import gzip
import ipaddress
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from pybgp.wire.attributes import IPAddress, PathAttributes, decode_path_attributes
from pybgp.wire.constants import Afi
from pybgp.wire.context import WireContext
from pybgp.wire.errors import UpdateFault, WireError
from pybgp.wire.messages import Message, decode_message
from pybgp.wire.mrt_records import (
    Bgp4mpMessage,
    Bgp4mpStateChange,
    Bgp4mpSubtype,
    BgpFsmState,
    DamagedRecord,
    MrtBody,
    MrtRecord,
    MrtRoute,
    MrtType,
    PeerEntry,
    PeerIndexTable,
    RibEntry,
    RibRecord,
    TableDumpEntry,
    TableDumpV2Subtype,
    UnknownRecord,
    iter_routes,
    record_routes,
)
from pybgp.wire.nlri import Prefix

__all__ = [
    "Bgp4mpMessage",
    "Bgp4mpStateChange",
    "Bgp4mpSubtype",
    "BgpFsmState",
    "DamagedRecord",
    "MrtBody",
    "MrtReader",
    "MrtRecord",
    "MrtRoute",
    "MrtType",
    "PeerEntry",
    "PeerIndexTable",
    "RibEntry",
    "RibRecord",
    "TableDumpEntry",
    "TableDumpV2Subtype",
    "UnknownRecord",
    "iter_routes",
    "open_mrt",
    "read_mrt",
    "record_routes",
]


# -- framing ---------------------------------------------------------------------------------------

_HEADER = struct.Struct("!IHHI")
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")
_MAX_RECORD = 16 * 1024 * 1024
_MAX_RESYNC_RECORD = 1 << 20  # a header found by scanning must also look like a normal-sized record
_CHUNK = 1 << 20
_KNOWN_SUBTYPES: dict[int, range] = {
    MrtType.TABLE_DUMP: range(1, 3),
    MrtType.TABLE_DUMP_V2: range(1, 13),
    MrtType.BGP4MP: range(0, 12),
    MrtType.BGP4MP_ET: range(0, 12),
}
_OTHER_TYPES = frozenset({*range(0, 11), 11, 32, 33, 48, 49})  # 0-10: deprecated types (RFC 6396 section 5)


def open_mrt(path: str | Path) -> BinaryIO:
    """Open an MRT file, decompressing gzip or bzip2 transparently (detected by magic, not name)."""
    raw = open(path, "rb")  # noqa: SIM115 - returned to the caller, who closes it
    head = raw.peek(3)[:3]
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head == b"BZh":
        return bz2.BZ2File(raw, mode="rb")  # type: ignore[return-value]
    return raw


class MrtReader:
    """Iterate the records of an MRT stream; keeps the PEER_INDEX_TABLE to resolve RIB entries.

    After iteration: `records` (records yielded), `damaged` (records skipped as damaged),
    `truncated` (the data ended inside a record or the compressed stream ended early) and `error`
    (the first reason reading stopped or skipped, human-readable).
    """

    def __init__(self, stream: BinaryIO, *, decode_messages: bool = True) -> None:
        self._stream = stream
        self.decode_messages = decode_messages
        self.peer_table: PeerIndexTable | None = None
        self.records = 0
        self.damaged = 0
        self.truncated = False
        self.error: str | None = None
        self._eof = False
        self._last_time = 0
        self._last_type = -1
        self._attr_cache: dict[
            tuple[bytes, bool],
            tuple[PathAttributes | None, tuple[IPAddress, ...], UpdateFault | None, str | None],
        ] = {}

    def _read_more(self, buf: bytes, pos: int) -> tuple[bytes, int]:
        if self._eof:
            return buf, pos
        try:
            chunk = self._stream.read(_CHUNK)
        except (EOFError, OSError, ValueError) as exc:  # gzip/bz2 stream ended early or is corrupt
            self._eof = True
            self.truncated = True
            self.error = self.error or f"compressed stream ends early or is corrupt: {exc}"
            return buf, pos
        if not chunk:
            self._eof = True
            return buf, pos
        return buf[pos:] + chunk, 0

    def _plausible(self, ts: int, rtype: int, subtype: int, length: int, resyncing: bool) -> bool:
        if length > (_MAX_RESYNC_RECORD if resyncing else _MAX_RECORD):
            return False
        subtypes = _KNOWN_SUBTYPES.get(rtype)
        if subtypes is not None:
            if subtype not in subtypes:
                return False
        elif rtype not in _OTHER_TYPES or (resyncing and rtype != self._last_type):
            # While scanning, a legacy/foreign type only counts if the file was already made of it.
            return False
        # A header from a misaligned read has a random timestamp; real files move forward slowly.
        window = 86400 if resyncing else 86400 * 366
        return not (self._last_time and abs(ts - self._last_time) > window)

    def __iter__(self) -> Iterator[MrtRecord]:
        buf = b""
        pos = 0
        base = 0  # stream offset of buf[0]
        resyncing = False
        while True:
            if len(buf) - pos < _HEADER.size:
                consumed = pos
                buf, pos = self._read_more(buf, pos)
                if pos == 0:
                    base += consumed
                if len(buf) - pos < _HEADER.size:
                    if len(buf) > pos:
                        self.truncated = True
                        self.error = self.error or f"file ends inside an MRT header at offset {base + pos}"
                    return
            ts, rtype, subtype, length = _HEADER.unpack_from(buf, pos)
            if not self._plausible(ts, rtype, subtype, length, resyncing):
                if not resyncing:
                    self.damaged += 1
                    self.error = self.error or f"implausible MRT header at offset {base + pos}; resyncing"
                    resyncing = True
                pos += 1
                continue
            end = pos + _HEADER.size + length
            while end > len(buf) and not self._eof:
                consumed = pos
                buf, pos = self._read_more(buf, pos)
                if pos == 0 and consumed:
                    base += consumed
                    end -= consumed
            if end > len(buf):
                self.truncated = True
                self.error = self.error or (
                    f"file ends inside an MRT record at offset {base + pos} "
                    f"(needs {length} bytes, {len(buf) - pos - _HEADER.size} left)"
                )
                return
            resyncing = False
            self._last_time, self._last_type = ts, rtype
            body = memoryview(buf)[pos + _HEADER.size : end]
            offset = base + pos
            pos = end
            record = self._decode(ts, rtype, subtype, body, offset)
            if isinstance(record.body, DamagedRecord):
                self.damaged += 1
                self.error = self.error or f"damaged record at offset {offset}: {record.body.reason}"
            self.records += 1
            yield record

    # -- bodies --------------------------------------------------------------------------------

    def _decode(self, ts: int, rtype: int, subtype: int, body: memoryview, offset: int) -> MrtRecord:
        timestamp = float(ts)
        try:
            if rtype == MrtType.BGP4MP_ET:
                if len(body) < 4:
                    raise _Damage("BGP4MP_ET record shorter than its microsecond field")
                timestamp += _U32.unpack_from(body)[0] / 1e6
                body = body[4:]
            if rtype in (MrtType.BGP4MP, MrtType.BGP4MP_ET):
                parsed: MrtBody = self._bgp4mp(subtype, body)
            elif rtype == MrtType.TABLE_DUMP_V2:
                parsed = self._table_dump_v2(subtype, body)
            elif rtype == MrtType.TABLE_DUMP:
                parsed = self._table_dump(subtype, body)
            else:
                parsed = UnknownRecord()
        except (_Damage, struct.error, IndexError, ValueError) as exc:
            parsed = DamagedRecord(reason=str(exc) or type(exc).__name__)
        raw = bytes(body) if isinstance(parsed, UnknownRecord | DamagedRecord) else b""
        return MrtRecord(
            timestamp=timestamp, type=rtype, subtype=subtype, offset=offset, body=parsed, raw=raw
        )

    def _bgp4mp(self, subtype: int, body: memoryview) -> MrtBody:
        if subtype in (Bgp4mpSubtype.ENTRY, Bgp4mpSubtype.SNAPSHOT):
            return UnknownRecord()
        as4 = subtype in (4, 5, 7, 9, 11)
        if as4:
            peer_as, local_as, ifindex, afi = struct.unpack_from("!IIHH", body)
            pos = 12
        else:
            peer_as, local_as, ifindex, afi = struct.unpack_from("!HHHH", body)
            pos = 8
        alen = _addr_len(afi)
        peer = _address(body[pos : pos + alen], afi)
        local = _address(body[pos + alen : pos + 2 * alen], afi)
        pos += 2 * alen
        if subtype in (Bgp4mpSubtype.STATE_CHANGE, Bgp4mpSubtype.STATE_CHANGE_AS4):
            old, new = struct.unpack_from("!HH", body, pos)
            return Bgp4mpStateChange(
                peer_as=peer_as,
                local_as=local_as,
                interface_index=ifindex,
                peer_address=peer,
                local_address=local,
                old_state=old,
                new_state=new,
            )
        raw = bytes(body[pos:])
        ctx = _BGP4MP_CONTEXTS[(as4, subtype >= Bgp4mpSubtype.MESSAGE_ADDPATH)]
        message: Message | None = None
        error: str | None = None
        if self.decode_messages:
            try:
                message = decode_message(raw, ctx)
            except WireError as exc:
                error = f"{type(exc).__name__}: {exc}"
                if not ctx.addpath_rx:
                    # BIRD before RFC 8050 support wrote ADD-PATH sessions' UPDATEs under the plain
                    # subtypes; if the bytes only parse with path identifiers, they had them.
                    retry = _BGP4MP_CONTEXTS[(as4, True)]
                    try:
                        message, ctx, error = decode_message(raw, retry), retry, None
                    except WireError:
                        pass
        return Bgp4mpMessage(
            peer_as=peer_as,
            local_as=local_as,
            interface_index=ifindex,
            peer_address=peer,
            local_address=local,
            raw=raw,
            message=message,
            context=ctx,
            error=error,
        )

    def _peer_index_table(self, body: memoryview) -> PeerIndexTable:
        collector = ipaddress.IPv4Address(bytes(body[0:4]))
        name_len = _U16.unpack_from(body, 4)[0]
        view_name = bytes(body[6 : 6 + name_len]).decode("utf-8", "replace")
        pos = 6 + name_len
        count = _U16.unpack_from(body, pos)[0]
        pos += 2
        peers: list[PeerEntry] = []
        for _ in range(count):
            ptype = body[pos]
            bgp_id = ipaddress.IPv4Address(bytes(body[pos + 1 : pos + 5]))
            pos += 5
            afi = Afi.IPV6 if ptype & 1 else Afi.IPV4
            alen = _addr_len(afi)
            address = _address(body[pos : pos + alen], afi)
            pos += alen
            if ptype & 2:
                asn = _U32.unpack_from(body, pos)[0]
                pos += 4
            else:
                asn = _U16.unpack_from(body, pos)[0]
                pos += 2
            peers.append(PeerEntry(bgp_id=bgp_id, address=address, asn=asn))
        table = PeerIndexTable(collector_id=collector, view_name=view_name, peers=tuple(peers))
        self.peer_table = table
        return table

    def _table_dump_v2(self, subtype: int, body: memoryview) -> MrtBody:
        if subtype == TableDumpV2Subtype.PEER_INDEX_TABLE:
            return self._peer_index_table(body)
        if subtype == TableDumpV2Subtype.GEO_PEER_TABLE:
            return UnknownRecord()
        addpath = subtype >= TableDumpV2Subtype.RIB_IPV4_UNICAST_ADDPATH
        base = subtype - 6 if addpath else subtype
        sequence = _U32.unpack_from(body)[0]
        raw_nlri = b""
        prefix: Prefix | None
        if base == TableDumpV2Subtype.RIB_GENERIC:
            afi, safi = struct.unpack_from("!HB", body, 4)
            pos = 7
            bits = body[pos]
            nlri_end = pos + 1 + (bits + 7) // 8
            if nlri_end > len(body):
                raise _Damage("RIB_GENERIC NLRI runs past the record")
            if afi in (Afi.IPV4, Afi.IPV6) and safi in (1, 2):
                prefix = _prefix(Afi(afi), bits, body[pos + 1 : nlri_end])
            else:
                prefix = None
                raw_nlri = bytes(body[pos:nlri_end])
            pos = nlri_end
        else:
            afi = Afi.IPV4 if base in (2, 3) else Afi.IPV6
            safi = 1 if base in (2, 4) else 2
            bits = body[4]
            pos = 5 + (bits + 7) // 8
            if pos > len(body):
                raise _Damage("RIB prefix runs past the record")
            prefix = _prefix(Afi(afi), bits, body[5:pos])
        count = _U16.unpack_from(body, pos)[0]
        pos += 2
        peers = self.peer_table.peers if self.peer_table is not None else ()
        entries: list[RibEntry] = []
        for _ in range(count):
            peer_index, originated = struct.unpack_from("!HI", body, pos)
            pos += 6
            path_id = 0
            if addpath:
                path_id = _U32.unpack_from(body, pos)[0]
                pos += 4
            attr_len = _U16.unpack_from(body, pos)[0]
            pos += 2
            if pos + attr_len > len(body):
                raise _Damage(f"RIB entry attributes run past the record (entry {len(entries)})")
            attrs, next_hops, fault, error = self._attributes(bytes(body[pos : pos + attr_len]), True)
            pos += attr_len
            entries.append(
                RibEntry(
                    peer_index=peer_index,
                    peer=peers[peer_index] if peer_index < len(peers) else None,
                    originated=originated,
                    path_id=path_id,
                    attributes=attrs,
                    next_hops=next_hops,
                    fault=fault,
                    error=error,
                )
            )
        return RibRecord(
            sequence=sequence, afi=afi, safi=safi, prefix=prefix, entries=tuple(entries), raw_nlri=raw_nlri
        )

    def _table_dump(self, subtype: int, body: memoryview) -> MrtBody:
        afi = Afi.IPV4 if subtype == 1 else Afi.IPV6
        alen = _addr_len(afi)
        view, sequence = struct.unpack_from("!HH", body)
        pos = 4
        network = int.from_bytes(body[pos : pos + alen], "big")
        pos += alen
        length, status = body[pos], body[pos + 1]
        originated = _U32.unpack_from(body, pos + 2)[0]
        pos += 6
        peer = _address(body[pos : pos + alen], afi)
        pos += alen
        peer_as, attr_len = struct.unpack_from("!HH", body, pos)
        pos += 4
        if pos + attr_len > len(body) or length > alen * 8:
            raise _Damage("TABLE_DUMP attributes run past the record or bad prefix length")
        attrs, next_hops, fault, error = self._attributes(bytes(body[pos : pos + attr_len]), False)
        host_mask = (1 << (alen * 8 - length)) - 1
        prefix = Prefix(afi, network & ~host_mask, length)
        return TableDumpEntry(
            view=view,
            sequence=sequence,
            prefix=prefix,
            status=status,
            originated=originated,
            peer_address=peer,
            peer_as=peer_as,
            attributes=attrs,
            next_hops=next_hops,
            fault=fault,
            error=error,
        )

    def _attributes(
        self, data: bytes, as4: bool
    ) -> tuple[PathAttributes | None, tuple[IPAddress, ...], UpdateFault | None, str | None]:
        """Decode a RIB entry's attributes; MP_REACH_NLRI is taken out first because RFC 6396 section
        4.3.4 abbreviates it to next-hop length + next hop, which an UPDATE decoder must reject."""
        key = (data, as4)
        cached = self._attr_cache.get(key)
        if cached is not None:
            return cached
        rest, next_hops = _split_mp_reach(data)
        error: str | None = None
        attrs: PathAttributes | None = None
        fault: UpdateFault | None = None
        try:
            attrs, _reach, _unreach, fault = decode_path_attributes(rest, _RIB_CONTEXTS[as4])
        except WireError as exc:
            error = f"{type(exc).__name__}: {exc}"
        result = (attrs, next_hops, fault, error)
        if len(self._attr_cache) >= 65536:
            self._attr_cache.clear()
        self._attr_cache[key] = result
        return result


class _Damage(Exception):
    """Internal: this record's body is inconsistent with its own lengths."""


_RIB_CONTEXTS = {True: WireContext(as4=True, ibgp=True), False: WireContext(as4=False, ibgp=True)}
_ALL_UNICAST = frozenset({(1, 1), (2, 1), (1, 2), (2, 2)})
_BGP4MP_CONTEXTS = {
    (as4, addpath): WireContext(
        as4=as4,
        ibgp=True,
        extended_message=True,
        addpath_rx=_ALL_UNICAST if addpath else frozenset(),
        addpath_tx=_ALL_UNICAST if addpath else frozenset(),
    )
    for as4 in (False, True)
    for addpath in (False, True)
}
"""RFC 6396 4.4.3: the _AS4 subtypes carry 4-octet AS_PATHs; RFC 8050: the _ADDPATH ones path ids.
ibgp=True keeps LOCAL_PREF as the collector recorded it; extended_message because collectors record
whatever the session carried."""


def _addr_len(afi: int) -> int:
    if afi == Afi.IPV4:
        return 4
    if afi == Afi.IPV6:
        return 16
    raise _Damage(f"unknown address family {afi}")


_ADDRESSES: dict[bytes, IPAddress] = {}


def _address(data: memoryview | bytes, afi: int) -> IPAddress:
    """Peer and local addresses repeat on every record: build each address object once (bounded)."""
    raw = bytes(data)
    found = _ADDRESSES.get(raw)
    if found is not None and (afi == Afi.IPV4) == (found.version == 4):
        return found
    if afi == Afi.IPV4 and len(raw) == 4:
        address: IPAddress = ipaddress.IPv4Address(raw)
    elif len(raw) == 16:
        address = ipaddress.IPv6Address(raw)
    else:
        raise _Damage("address runs past the record")
    if len(_ADDRESSES) >= 4096:
        _ADDRESSES.clear()
    _ADDRESSES[raw] = address
    return address


def _prefix(afi: Afi, bits: int, data: memoryview | bytes) -> Prefix:
    width = 32 if afi == Afi.IPV4 else 128
    if bits > width:
        raise _Damage(f"prefix length {bits} too long for {afi.name}")
    raw = bytes(data)
    network = int.from_bytes(raw, "big") << (width - 8 * len(raw))
    network &= ~((1 << (width - bits)) - 1)
    return Prefix(afi, network, bits)


def _split_mp_reach(data: bytes) -> tuple[bytes, tuple[IPAddress, ...]]:
    """Remove MP_REACH_NLRI (code 14) from an attribute block and return its next hops.

    Accepts the RFC 6396 abbreviated form (length octet + address) and, as written by some
    older dumpers, the full RFC 4760 form (AFI, SAFI, length, address...)."""
    pos = 0
    out: list[bytes] = []
    next_hops: tuple[IPAddress, ...] = ()
    found = False
    while pos + 3 <= len(data):
        flags, code = data[pos], data[pos + 1]
        if flags & 0x10:
            if pos + 4 > len(data):
                break
            length = _U16.unpack_from(data, pos + 2)[0]
            head = 4
        else:
            length = data[pos + 2]
            head = 3
        end = pos + head + length
        if end > len(data):
            break
        if code == 14:
            found = True
            next_hops = _rib_next_hops(data[pos + head : end])
        else:
            out.append(data[pos:end])
        pos = end
    if not found:
        return data, ()
    return b"".join(out) + data[pos:], next_hops


def _rib_next_hops(value: bytes) -> tuple[IPAddress, ...]:
    if value and value[0] + 1 == len(value):
        nh = value[1:]
    elif len(value) >= 5 and value[3] + 4 <= len(value):
        nh = value[4 : 4 + value[3]]
    else:
        return ()
    if len(nh) == 4:
        return (ipaddress.IPv4Address(nh),)
    if len(nh) in (16, 32):
        return tuple(ipaddress.IPv6Address(nh[i : i + 16]) for i in range(0, len(nh), 16))
    if len(nh) in (12, 24):  # VPN next hops: 8-octet RD of zeros before the address (RFC 4364 4.3.2)
        return (_address(nh[8:12], Afi.IPV4),) if len(nh) == 12 else (ipaddress.IPv6Address(nh[8:24]),)
    return ()


def read_mrt(path: str | Path, *, decode_messages: bool = True) -> MrtReader:
    """`MrtReader` over a file; compressed files are detected by magic."""
    return MrtReader(open_mrt(path), decode_messages=decode_messages)
