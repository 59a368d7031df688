"""Capture reading and TCP reassembly (pybgp.capture): synthetic streams and third-party captures.

The synthetic captures are written with scapy's RawPcapWriter from hand-built frames, so each test
controls sequence numbers exactly: in order, out of order, retransmitted, overlapping, with a hole.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from pathlib import Path

import pytest

from pybgp.capture import CapturedMessage, read_capture

MARKER = b"\xff" * 16
KEEPALIVE = MARKER + b"\x00\x13\x04"
SYN, ACK, PSH = 0x02, 0x10, 0x08


def bgp(mtype: int, body: bytes = b"") -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), mtype) + body


def ipv4_tcp(src: str, dst: str, sport: int, dport: int, seq: int, payload: bytes, flags: int = ACK | PSH,
             pad_to: int = 0) -> bytes:
    tcp = struct.pack("!HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    total = 20 + len(tcp)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, total, 1, 0, 64, 6, 0,
                     bytes(map(int, src.split("."))), bytes(map(int, dst.split("."))))
    frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + tcp
    return frame + b"\x00" * max(0, pad_to - len(frame))  # Ethernet padding after the IP packet


def write_pcap(path: Path, frames: list[bytes], linktype: int = 1) -> Path:
    from scapy.utils import RawPcapWriter

    writer = RawPcapWriter(str(path), linktype=linktype, sync=True)
    writer.write_header(None)
    for i, frame in enumerate(frames):
        writer.write_packet(frame, sec=1700000000 + i, usec=0)
    writer.close()
    return path


def messages(path: Path) -> list[CapturedMessage]:
    return list(read_capture(path))


A, B = "192.0.2.1", "192.0.2.2"


def test_in_order_stream_with_messages_split_across_segments(tmp_path: Path) -> None:
    update = bgp(2, b"\x00\x00\x00\x00")
    stream = KEEPALIVE + update + KEEPALIVE
    frames = [
        ipv4_tcp(A, B, 40000, 179, 999, b"", flags=SYN),
        ipv4_tcp(A, B, 40000, 179, 1000, stream[:10]),
        ipv4_tcp(A, B, 40000, 179, 1010, stream[10:30]),
        ipv4_tcp(A, B, 40000, 179, 1030, stream[30:]),
    ]
    got = messages(write_pcap(tmp_path / "a.pcap", frames))
    assert [m.data for m in got] == [KEEPALIVE, update, KEEPALIVE]
    assert got[0].src == (A, 40000) and got[0].dst == (B, 179)
    assert got[0].frame == 3 and got[0].timestamp == 1700000002.0  # completed by the third packet


def test_out_of_order_and_retransmitted_segments(tmp_path: Path) -> None:
    stream = KEEPALIVE * 4
    frames = [
        ipv4_tcp(A, B, 179, 50000, 19, stream[19:57]),  # capture starts mid-connection (no SYN seen)
        ipv4_tcp(A, B, 179, 50000, 57, stream[57:]),
        ipv4_tcp(A, B, 179, 50000, 19, stream[19:57]),  # retransmission of the first one
    ]
    path = write_pcap(tmp_path / "b.pcap", frames)
    reader = read_capture(path)
    got = [m.data for m in reader]
    # No SYN: the stream starts at the first byte seen and everything after it is framed.
    assert got == [KEEPALIVE] * 3
    assert reader.stats.retransmissions == 1


def test_reordering_resolved_before_framing(tmp_path: Path) -> None:
    stream = bgp(2, b"\x00\x00\x00\x00") + KEEPALIVE
    frames = [
        ipv4_tcp(A, B, 40000, 179, 99, b"", flags=SYN),
        ipv4_tcp(A, B, 40000, 179, 110, stream[10:]),
        ipv4_tcp(A, B, 40000, 179, 100, stream[:10]),
    ]
    reader = read_capture(write_pcap(tmp_path / "c.pcap", frames))
    assert b"".join(m.data for m in reader) == stream
    assert reader.stats.out_of_order == 1


def test_overlapping_retransmission_is_trimmed(tmp_path: Path) -> None:
    stream = KEEPALIVE * 3
    frames = [
        ipv4_tcp(A, B, 40000, 179, 99, b"", flags=SYN),
        ipv4_tcp(A, B, 40000, 179, 100, stream[:25]),
        ipv4_tcp(A, B, 40000, 179, 110, stream[10:57]),  # overlaps bytes 10..25
    ]
    assert [m.data for m in messages(write_pcap(tmp_path / "d.pcap", frames))] == [KEEPALIVE] * 3


def test_hole_in_stream_resyncs_on_marker(tmp_path: Path) -> None:
    update = bgp(2, b"\x00\x00\x00\x04" + b"\x40\x01\x01\x00")
    stream = KEEPALIVE + update + KEEPALIVE + KEEPALIVE
    lost = (19, 19 + 20)  # part of the UPDATE was never captured
    frames = [
        ipv4_tcp(A, B, 40000, 179, 99, b"", flags=SYN),
        ipv4_tcp(A, B, 40000, 179, 100, stream[: lost[0]]),
        ipv4_tcp(A, B, 40000, 179, 100 + lost[1], stream[lost[1] :]),
    ]
    reader = read_capture(write_pcap(tmp_path / "e.pcap", frames))
    got = [m.data for m in reader]
    assert got == [KEEPALIVE, KEEPALIVE, KEEPALIVE]  # the cut UPDATE is lost, the rest recovered
    assert reader.stats.gaps == 1 and reader.stats.resyncs >= 1


def test_ethernet_padding_is_not_stream_data(tmp_path: Path) -> None:
    frames = [ipv4_tcp(A, B, 40000, 179, 1, KEEPALIVE, pad_to=128), ipv4_tcp(A, B, 40000, 179, 20, KEEPALIVE)]
    assert [m.data for m in messages(write_pcap(tmp_path / "f.pcap", frames))] == [KEEPALIVE, KEEPALIVE]


def test_data_on_syn_and_sniffed_port(tmp_path: Path) -> None:
    frames = [ipv4_tcp(A, B, 40000, 1179, 7, KEEPALIVE, flags=SYN)]
    assert [m.data for m in messages(write_pcap(tmp_path / "g.pcap", frames))] == [KEEPALIVE]
    other = [ipv4_tcp(A, B, 40000, 8080, 7, b"GET / HTTP/1.0\r\n\r\n" + KEEPALIVE)]
    assert messages(write_pcap(tmp_path / "h.pcap", other)) == []


def test_vlan_and_raw_ip_link_types(tmp_path: Path) -> None:
    frame = ipv4_tcp(A, B, 40000, 179, 1, KEEPALIVE)
    vlan = frame[:12] + b"\x81\x00\x00\x64" + frame[12:]
    assert [m.data for m in messages(write_pcap(tmp_path / "v.pcap", [vlan]))] == [KEEPALIVE]
    raw_ip = frame[14:]
    assert [m.data for m in messages(write_pcap(tmp_path / "r.pcap", [raw_ip], linktype=101))] == [KEEPALIVE]


def test_garbage_files_do_not_raise(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 10)
    reader = read_capture(junk)
    assert list(reader) == []
    assert reader.error is not None
    half = tmp_path / "half.pcap"
    good = write_pcap(tmp_path / "good.pcap", [ipv4_tcp(A, B, 40000, 179, 1, KEEPALIVE * 3)])
    half.write_bytes(good.read_bytes()[:-20])  # the last packet record is cut
    list(read_capture(half))  # must not raise


# -- third-party captures ---------------------------------------------------------------------------

TCPDUMP_LINE = re.compile(r"^\t(Open|Update|Notification|Keepalive|Route Refresh) Message \((\d)\)", re.M)
TCPDUMP_NAMES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}
TCPDUMP_ADJUST: dict[str, Counter[int]] = {
    # tcpdump prints per packet; we reassemble TCP, so a retransmitted segment is one message for us.
    "bgp-shutdown-communication.out": Counter({3: 1}),
}


def tcpdump_pairs(testdata: Path) -> list[tuple[Path, Path]]:
    """(.out, capture) pairs, matched as testdata/README.md documents them."""
    readme = (testdata / "README.md").read_text()
    pairs = []
    for out_name, cap_name in re.findall(r"\| `(bgp/tcpdump/[^`]+\.out)` \|[^\n]*?for `([^`]+)`", readme):
        pairs.append((testdata / "pcap" / out_name, testdata / "pcap" / "bgp" / "tcpdump" / cap_name))
    return pairs


def test_tcpdump_outputs_agree_on_message_types_and_counts(testdata: Path) -> None:
    pairs = tcpdump_pairs(testdata)
    assert len(pairs) >= 20
    for out, cap in pairs:
        expected = Counter(int(code) for _, code in TCPDUMP_LINE.findall(out.read_text()))
        expected.subtract(TCPDUMP_ADJUST.get(out.name, Counter()))
        got = Counter(m.data[18] for m in read_capture(cap))
        assert +expected == got, f"{out.name}: tcpdump {dict(expected)} vs ours {dict(got)}"


def test_every_capture_yields_bgp_messages(testdata: Path) -> None:
    caps = [p for p in (testdata / "pcap" / "bgp").rglob("*") if p.is_file() and p.suffix != ".out"]
    assert len(caps) >= 50
    for cap in caps:
        reader = read_capture(cap)
        got = list(reader)
        assert got, f"{cap.name}: no BGP message found ({reader.stats})"
        assert reader.error is None, cap.name
        for m in got:
            assert m.data[:16] == MARKER and len(m.data) == int.from_bytes(m.data[16:18], "big")


@pytest.mark.parametrize("name,expected", [
    ("bgp-aigp-oobr.pcap", 449),
    ("bgp-as-path-oobr.pcap", 334),
    ("bgp-ub.pcap", 22),
    ("bgp_vpn_rt-oobr.pcap", 3),
    ("hoobr_bfd_print.pcap", 0),
])
def test_malformed_tcpdump_captures_frame_without_crashing(testdata: Path, name: str, expected: int) -> None:
    reader = read_capture(testdata / "fuzz" / "tcpdump-malformed-pcaps" / name)
    assert len(list(reader)) == expected
