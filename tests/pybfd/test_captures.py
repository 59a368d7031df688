"""Real BFD captures (tcpdump's regression suite, Huawei/H3C lab captures) decode as tcpdump says."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from pybfd.constants import DropReason
from pybfd.packet import ControlPacket, PacketError, decode_packet

scapy_all = pytest.importorskip("scapy.all")
BFD_PORTS = (3784, 4784, 6784)


def _bfd_payloads(path: Path) -> list[bytes]:
    out = []
    for frame in scapy_all.rdpcap(str(path)):
        if scapy_all.UDP in frame and frame[scapy_all.UDP].dport in BFD_PORTS:
            out.append(bytes(frame[scapy_all.UDP].payload))
    return out


def _decode_all(path: Path) -> list[ControlPacket]:
    return [decode_packet(p) for p in _bfd_payloads(path)]


@pytest.mark.parametrize(
    ("name", "total", "states"),
    [
        ("community-huawei-h3c/bfd-session-flaps-down-init-up.pcap", 809, {"DOWN": 800, "INIT": 1, "UP": 8}),
        ("community-huawei-h3c/bfd-single-hop-multicast-dst.pcapng", 12, {"UP": 12}),
        ("community-huawei-h3c/h3c-ospf-bfd.pcap", 35, {"UP": 35}),
        ("tcpdump/bfd-lag.pcap", 5, {"DOWN": 5}),
        ("tcpdump/bfd-multihop.pcap", 40, {"UP": 40}),
        ("tcpdump/bfd-raw-auth-md5.pcap", 31, {"DOWN": 31}),
        ("tcpdump/bfd-raw-auth-simple.pcap", 15, {"DOWN": 15}),
        ("tcpdump/bfd_source_port_49152.pcap", 1, {"UP": 1}),
    ],
)
def test_capture_decodes(testdata: Path, name: str, total: int, states: dict[str, int]) -> None:
    packets = _decode_all(testdata / "pcap" / "bfd" / name)
    assert len(packets) == total
    assert Counter(p.state.name for p in packets) == states


def test_flap_capture_details(testdata: Path) -> None:
    packets = _decode_all(
        testdata / "pcap" / "bfd" / "community-huawei-h3c" / "bfd-session-flaps-down-init-up.pcap"
    )
    diags = Counter(p.diag for p in packets)
    assert diags == {0: 8, 1: 792, 9: 9}
    assert sum(p.poll for p in packets) == 2 and sum(p.final for p in packets) == 2
    assert all(p.control_plane_independent for p in packets)


_TCPDUMP_FIELDS = re.compile(r"My Discriminator: 0x([0-9a-f]+), Your Discriminator: 0x([0-9a-f]+)")
_TCPDUMP_STATE = re.compile(r"State (\w+), Flags: \[([^\]]*)\]")


@pytest.mark.parametrize("name", ["bfd-raw-auth-md5", "bfd-raw-auth-simple", "bfd-multihop"])
def test_matches_tcpdump_verbose_output(testdata: Path, name: str) -> None:
    """Field by field against tcpdump's own -v decoding of the same capture."""
    base = testdata / "pcap" / "bfd" / "tcpdump"
    packets = _decode_all(base / f"{name}.pcap")
    text = (base / f"{name}-v.out").read_text()
    discrs = [(int(a, 16), int(b, 16)) for a, b in _TCPDUMP_FIELDS.findall(text)]
    states = _TCPDUMP_STATE.findall(text)
    assert len(discrs) == len(packets) == len(states)
    for packet, (mine, yours), (state, flags) in zip(packets, discrs, states, strict=True):
        assert (packet.my_discr, packet.your_discr) == (mine, yours)
        assert packet.state.name.replace("_", "").lower() == state.lower()
        assert packet.auth_present == ("Authentication Present" in flags)


def test_fuzzed_capture_never_crashes(testdata: Path) -> None:
    path = testdata / "fuzz" / "tcpdump-malformed-pcaps" / "hoobr_bfd_print.pcap"
    frames = scapy_all.rdpcap(str(path))
    seen = 0
    for frame in frames:
        raw = bytes(frame)
        for offset in range(len(raw)):  # every suffix, as if a parser had mis-framed it
            seen += 1
            try:
                decode_packet(raw[offset:])
            except PacketError as exc:
                assert isinstance(exc.reason, DropReason)
    assert seen > 0
