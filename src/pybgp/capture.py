"""BGP messages out of packet captures: pcap/pcapng reading, TCP reassembly, BGP re-framing.

Owns: reading capture files through scapy's `RawPcapReader` (pcap, nanosecond pcap, pcapng, gzip;
never a hand-written file parser), peeling the link layers our test data uses (Ethernet with VLAN,
QinQ and MPLS, Linux cooked v1/v2, BSD null/loopback, raw IP, PPP, Cisco HDLC, Juniper Ethernet)
down to IPv4/IPv6 and TCP, reassembling each direction of each TCP connection by sequence number
(retransmissions and overlaps trimmed, out-of-order segments held back, holes skipped), and cutting the
byte stream into whole BGP messages, re-synchronising on the 16-octet marker after a gap or garbage.
Never does: decode BGP messages (callers use `pybgp.wire.messages.decode_message`), send or capture
packets, or trust a length field from the file: every read is bounds-checked and every loop is
bounded by the input size, so a malformed capture yields fewer messages, never an exception.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pybgp.wire.constants import BGP_PORT, HEADER_LEN, MARKER

_MAX_BGP_LEN = 65535  # RFC 8654 extended messages; the capture does not tell us what was negotiated
_MAX_PENDING_BYTES = 1 << 20  # out-of-order data held per direction before we declare a hole
_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


@dataclass(frozen=True, slots=True)
class CapturedMessage:
    """One whole BGP message (header included) as one endpoint sent it.

    `timestamp` is the capture time of the segment that completed the message; `frame` its
    1-based packet number in the file (what Wireshark and tcpdump show)."""

    timestamp: float
    src: tuple[str, int]
    dst: tuple[str, int]
    data: bytes
    frame: int


@dataclass(slots=True)
class CaptureStats:
    """What reassembly had to do, for the decode tool's summary and for tests."""

    packets: int = 0
    tcp_segments: int = 0
    retransmissions: int = 0
    out_of_order: int = 0
    gaps: int = 0
    resyncs: int = 0
    unsupported_link: int = 0
    not_ip: int = 0
    messages: int = 0
    link_types: set[int] = field(default_factory=set)


@dataclass(slots=True)
class _Direction:
    """One direction of one TCP connection: next expected sequence number and unframed bytes."""

    next_seq: int | None = None
    buf: bytearray = field(default_factory=bytearray)
    pending: dict[int, bytes] = field(default_factory=dict)
    pending_bytes: int = 0
    synced: bool = True
    is_bgp: bool | None = None
    last_ts: float = 0.0
    last_frame: int = 0


def _plausible_header(buf: bytearray | bytes, pos: int) -> bool:
    if buf[pos : pos + 16] != MARKER:
        return False
    length = _U16.unpack_from(buf, pos + 16)[0]
    return HEADER_LEN <= length <= _MAX_BGP_LEN and 1 <= buf[pos + 18] <= 5


# -- link and network layers ----------------------------------------------------------------------

_ETH_IPV4, _ETH_IPV6, _ETH_MPLS, _ETH_MPLS_MC = 0x0800, 0x86DD, 0x8847, 0x8848
_ETH_VLAN = frozenset({0x8100, 0x88A8, 0x9100})
_ETH_PPPOE = 0x8864
_PPP_TO_ETH = {0x0021: _ETH_IPV4, 0x0057: _ETH_IPV6, 0x0281: _ETH_MPLS, 0x0283: _ETH_MPLS_MC}


def _by_ethertype(ethertype: int, frame: bytes, pos: int) -> int | None:
    """Offset of the IP header after an ethertype-typed payload at `pos`, or None."""
    for _ in range(8):  # bounded: at most a few stacked VLAN / PPPoE layers
        if ethertype in (_ETH_IPV4, _ETH_IPV6):
            return pos
        if ethertype in _ETH_VLAN:
            if pos + 4 > len(frame):
                return None
            ethertype = _U16.unpack_from(frame, pos + 2)[0]
            pos += 4
        elif ethertype in (_ETH_MPLS, _ETH_MPLS_MC):
            for _label in range(16):
                if pos + 4 > len(frame):
                    return None
                bottom = frame[pos + 2] & 1
                pos += 4
                if bottom:
                    break
            if pos >= len(frame):
                return None
            version = frame[pos] >> 4
            return pos if version in (4, 6) else None
        elif ethertype == _ETH_PPPOE:
            if pos + 8 > len(frame):
                return None
            proto = _U16.unpack_from(frame, pos + 6)[0]
            if proto not in _PPP_TO_ETH:
                return None
            ethertype = _PPP_TO_ETH[proto]
            pos += 8
        else:
            return None
    return None


def _ip_offset(linktype: int, frame: bytes) -> int | None:
    """Where the IP header starts in a frame of this DLT/LINKTYPE, or None if not IP / unsupported."""
    if linktype == 1:  # Ethernet
        if len(frame) < 14:
            return None
        return _by_ethertype(_U16.unpack_from(frame, 12)[0], frame, 14)
    if linktype in (0, 108):  # BSD null / OpenBSD loop: 4-octet address family, any byte order
        return 4 if len(frame) > 4 and frame[4] >> 4 in (4, 6) else None
    if linktype in (101, 12, 14, 228, 229):  # raw IP
        return 0
    if linktype == 113:  # Linux cooked capture v1
        return _by_ethertype(_U16.unpack_from(frame, 14)[0], frame, 16) if len(frame) >= 16 else None
    if linktype == 276:  # Linux cooked capture v2
        return _by_ethertype(_U16.unpack_from(frame, 0)[0], frame, 20) if len(frame) >= 20 else None
    if linktype in (9, 50):  # PPP, PPP in HDLC framing
        pos = 2 if frame[:2] == b"\xff\x03" else 0
        if pos + 2 > len(frame):
            return None
        proto = _U16.unpack_from(frame, pos)[0]
        return _by_ethertype(_PPP_TO_ETH[proto], frame, pos + 2) if proto in _PPP_TO_ETH else None
    if linktype == 104:  # Cisco HDLC: address, control, ethertype
        return _by_ethertype(_U16.unpack_from(frame, 2)[0], frame, 4) if len(frame) >= 4 else None
    if linktype == 178:  # Juniper Ethernet: "MGC", flags, optional extension TLVs, then Ethernet
        if len(frame) < 4 or frame[:3] != b"MGC":
            return None
        pos = 4
        if frame[3] & 0x80:
            if len(frame) < 6:
                return None
            pos = 6 + _U16.unpack_from(frame, 4)[0]
        if pos + 14 > len(frame):
            return None
        inner = _by_ethertype(_U16.unpack_from(frame, pos + 12)[0], frame, pos + 14)
        return inner
    return -1  # unsupported link type


def _tcp_of(frame: bytes, pos: int) -> tuple[str, str, bytes] | None:
    """(source, destination, TCP segment) of the IP packet at `pos`, or None if not TCP."""
    if pos + 20 > len(frame):
        return None
    version = frame[pos] >> 4
    if version == 4:
        ihl = (frame[pos] & 0x0F) * 4
        total = _U16.unpack_from(frame, pos + 2)[0]
        frag = _U16.unpack_from(frame, pos + 6)[0]
        if ihl < 20 or frame[pos + 9] != 6 or frag & 0x1FFF:  # not TCP, or a non-first fragment
            return None
        end = min(len(frame), pos + total) if total >= ihl else len(frame)  # trims Ethernet padding
        src = str(ipaddress.IPv4Address(frame[pos + 12 : pos + 16]))
        dst = str(ipaddress.IPv4Address(frame[pos + 16 : pos + 20]))
        return src, dst, frame[pos + ihl : end]
    if version == 6 and pos + 40 <= len(frame):
        payload_len = _U16.unpack_from(frame, pos + 4)[0]
        nxt = frame[pos + 6]
        src = str(ipaddress.IPv6Address(frame[pos + 8 : pos + 24]))
        dst = str(ipaddress.IPv6Address(frame[pos + 24 : pos + 40]))
        end = min(len(frame), pos + 40 + payload_len) if payload_len else len(frame)
        p = pos + 40
        for _ in range(8):  # hop-by-hop, routing, destination options: skip a bounded number
            if nxt not in (0, 43, 60) or p + 8 > end:
                break
            nxt, p = frame[p], p + (frame[p + 1] + 1) * 8
        return (src, dst, frame[p:end]) if nxt == 6 else None
    return None


# -- reassembly -----------------------------------------------------------------------------------


class CaptureReader:
    """Iterate the BGP messages of a capture file in capture order.

    `ports`: TCP ports that mark a connection as BGP (either side). With `sniff`, a connection on
    other ports is also taken as BGP when its first data segment starts with the BGP marker (test
    rigs run BGP on 1179 and the like). After iteration, `stats` says what reassembly did and
    `error` why reading stopped early (a damaged file), if it did.
    """

    def __init__(self, path: str | Path, *, ports: frozenset[int] = frozenset({BGP_PORT}),
                 sniff: bool = True) -> None:
        self.path = str(path)
        self.ports = ports
        self.sniff = sniff
        self.stats = CaptureStats()
        self.error: str | None = None
        self._dirs: dict[tuple[str, int, str, int], _Direction] = {}

    def __iter__(self) -> Iterator[CapturedMessage]:
        from scapy.error import Scapy_Exception
        from scapy.utils import RawPcapReader

        try:
            reader = RawPcapReader(self.path)
        except (Scapy_Exception, OSError, EOFError, ValueError, struct.error) as exc:
            self.error = f"not a readable pcap/pcapng file: {exc}"
            return
        frame_no = 0
        try:
            it = iter(reader)
            while True:
                try:
                    data, meta = next(it)
                except StopIteration:
                    break
                except Exception as exc:  # scapy raises many types on damaged files; stop cleanly
                    self.error = f"capture damaged after packet {frame_no}: {type(exc).__name__}: {exc}"
                    break
                frame_no += 1
                yield from self._packet(reader, bytes(data), meta, frame_no)
        finally:
            reader.close()
        yield from self._flush()

    def _packet(self, reader: object, frame: bytes, meta: object, frame_no: int) -> Iterator[CapturedMessage]:
        self.stats.packets += 1
        linktype: int | None = getattr(meta, "linktype", None)
        if linktype is None:
            linktype = int(getattr(reader, "linktype", -1))
            sec, usec = getattr(meta, "sec", 0), getattr(meta, "usec", 0)
            ts = sec + usec / (1e9 if getattr(reader, "nano", False) else 1e6)
        else:
            resol = getattr(meta, "tsresol", 1000000) or 1000000
            ts = ((getattr(meta, "tshigh", 0) << 32) | getattr(meta, "tslow", 0)) / resol
        self.stats.link_types.add(int(linktype))
        try:
            pos = _ip_offset(int(linktype), frame)
        except (struct.error, IndexError):
            pos = None
        if pos == -1:
            self.stats.unsupported_link += 1
            return
        if pos is None:
            self.stats.not_ip += 1
            return
        ip = _tcp_of(frame, pos)
        if ip is None or len(ip[2]) < 20:
            self.stats.not_ip += 1
            return
        src, dst, tcp = ip
        sport, dport, seq = struct.unpack_from("!HHI", tcp)
        offset = (tcp[12] >> 4) * 4
        flags = tcp[13]
        payload = tcp[offset:] if offset >= 20 else b""
        self.stats.tcp_segments += 1
        key = (src, sport, dst, dport)
        direction = self._dirs.get(key)
        if direction is None:
            direction = self._dirs[key] = _Direction()
        if flags & 0x02:  # SYN: a new connection on this 4-tuple; the SYN takes one sequence number
            seq = (seq + 1) & 0xFFFFFFFF  # data on a SYN (RFC 9293 3.4, TFO) starts after it
            direction.next_seq = seq
            direction.buf.clear()
            direction.pending.clear()
            direction.pending_bytes = 0
            direction.synced = True
        if not payload:
            return
        if direction.is_bgp is None:
            direction.is_bgp = bool(
                sport in self.ports or dport in self.ports or (self.sniff and payload[:16] == MARKER)
            )
        if not direction.is_bgp:
            return
        if direction.next_seq is None:  # capture started mid-connection: resync on the marker
            direction.next_seq = seq
            direction.synced = payload[:16] == MARKER
        direction.last_ts, direction.last_frame = ts, frame_no
        self._segment(direction, seq, payload)
        for data in self._frame(direction):
            self.stats.messages += 1
            yield CapturedMessage(timestamp=ts, src=(src, sport), dst=(dst, dport), data=data, frame=frame_no)

    def _segment(self, d: _Direction, seq: int, payload: bytes) -> None:
        assert d.next_seq is not None
        ahead = (seq - d.next_seq) & 0xFFFFFFFF
        if ahead >= 0x80000000:  # starts before what we have: retransmission or overlap
            overlap = (d.next_seq - seq) & 0xFFFFFFFF
            if overlap >= len(payload):
                self.stats.retransmissions += 1
                return
            payload = payload[overlap:]
            ahead = 0
        if ahead:
            self.stats.out_of_order += 1
            if len(payload) > len(d.pending.get(seq, b"")):
                d.pending_bytes += len(payload) - len(d.pending.get(seq, b""))
                d.pending[seq] = payload
            if d.pending_bytes > _MAX_PENDING_BYTES:
                self._skip_hole(d)
            return
        d.buf += payload
        d.next_seq = (d.next_seq + len(payload)) & 0xFFFFFFFF
        self._drain_pending(d)

    def _drain_pending(self, d: _Direction) -> None:
        progressed = True
        while progressed and d.pending:
            progressed = False
            for seq in list(d.pending):
                assert d.next_seq is not None
                ahead = (seq - d.next_seq) & 0xFFFFFFFF
                if ahead == 0 or ahead >= 0x80000000:
                    data = d.pending.pop(seq)
                    d.pending_bytes -= len(data)
                    overlap = (d.next_seq - seq) & 0xFFFFFFFF
                    if overlap < len(data):
                        d.buf += data[overlap:]
                        d.next_seq = (d.next_seq + len(data) - overlap) & 0xFFFFFFFF
                    progressed = True

    def _skip_hole(self, d: _Direction) -> None:
        """Bytes are missing (not captured): jump to the earliest held segment and resync."""
        assert d.next_seq is not None
        here = d.next_seq
        nearest = min(d.pending, key=lambda s: (s - here) & 0xFFFFFFFF)
        self.stats.gaps += 1
        d.buf.clear()  # the message cut by the hole is lost
        d.synced = False
        d.next_seq = nearest
        self._drain_pending(d)

    def _frame(self, d: _Direction) -> Iterator[bytes]:
        buf = d.buf
        while True:
            if not d.synced:
                found = -1
                start = 0
                while True:  # bounded by len(buf): each find moves forward
                    i = buf.find(MARKER, start)
                    if i < 0 or i + HEADER_LEN > len(buf):
                        break
                    if _plausible_header(buf, i):
                        found = i
                        break
                    start = i + 1
                if found < 0:
                    keep = max(0, len(buf) - (HEADER_LEN - 1))
                    del buf[:keep]
                    return
                del buf[:found]
                d.synced = True
                self.stats.resyncs += 1
            if len(buf) < HEADER_LEN:
                return
            if not _plausible_header(buf, 0):
                d.synced = False
                del buf[:1]
                continue
            length = _U16.unpack_from(buf, 16)[0]
            if len(buf) < length:
                return
            yield bytes(buf[:length])
            del buf[:length]

    def _flush(self) -> Iterator[CapturedMessage]:
        """End of file: out-of-order data after holes is still worth framing."""
        for (src, sport, dst, dport), d in self._dirs.items():
            rounds = 0
            while d.pending and rounds < 10000:
                rounds += 1
                self._skip_hole(d)
                for data in self._frame(d):
                    self.stats.messages += 1
                    yield CapturedMessage(timestamp=d.last_ts, src=(src, sport), dst=(dst, dport), data=data,
                                          frame=d.last_frame)


def read_capture(path: str | Path, *, ports: frozenset[int] = frozenset({BGP_PORT}),
                 sniff: bool = True) -> CaptureReader:
    """`CaptureReader` over a pcap, pcapng or gzip-compressed capture file."""
    return CaptureReader(path, ports=ports, sniff=sniff)
