"""Properties of TCP reassembly (pybgp.capture), with Hypothesis.

1. Any split of a BGP stream into segments, delivered in any order with any duplicates, yields exactly
   the original messages in order (the SYN is seen first, as in a full capture).
2. Arbitrary bytes in the segments never raise, and every yielded message is a well-formed BGP frame.
"""

from __future__ import annotations

import itertools
import struct
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.wire.test_capture import SYN, bgp, ipv4_tcp, write_pcap

from pybgp.capture import read_capture

A, B = "198.51.100.1", "198.51.100.2"

messages = st.lists(
    st.one_of(
        st.just(bgp(4)),
        st.binary(min_size=0, max_size=60).map(lambda body: bgp(2, body)),
        st.binary(min_size=2, max_size=20).map(lambda body: bgp(3, body)),
    ),
    min_size=1,
    max_size=12,
)


def _segments(stream: bytes, cuts: list[int]) -> list[tuple[int, bytes]]:
    points = sorted({0, len(stream), *(c % (len(stream) + 1) for c in cuts)})
    return [(a, stream[a:b]) for a, b in itertools.pairwise(points) if b > a]


def _run(frames: list[bytes]) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        path = write_pcap(Path(tmp) / "h.pcap", frames)
        return [m.data for m in read_capture(path)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(msgs=messages, cuts=st.lists(st.integers(0, 10_000), max_size=10),
       order=st.randoms(use_true_random=False), dups=st.lists(st.integers(0, 50), max_size=4),
       isn=st.integers(0, 0xFFFFFFFF))
def test_any_split_order_and_duplicates_reassemble_exactly(
    msgs: list[bytes], cuts: list[int], order: object, dups: list[int], isn: int
) -> None:
    stream = b"".join(msgs)
    segs = _segments(stream, cuts)
    segs += [segs[d % len(segs)] for d in dups]  # retransmissions
    order.shuffle(segs)  # type: ignore[attr-defined]
    base = (isn + 1) & 0xFFFFFFFF  # sequence numbers wrap around 2**32 for some examples
    frames = [ipv4_tcp(A, B, 40000, 179, isn, b"", flags=SYN)]
    frames += [ipv4_tcp(A, B, 40000, 179, (base + off) & 0xFFFFFFFF, data) for off, data in segs]
    assert _run(frames) == msgs


@settings(max_examples=60, deadline=None)
@given(payloads=st.lists(st.tuples(st.integers(0, 0xFFFFFFFF), st.binary(max_size=80)), max_size=8),
       flags=st.sampled_from([0x18, 0x02, 0x12, 0x11]))
def test_garbage_segments_never_raise(payloads: list[tuple[int, bytes]], flags: int) -> None:
    frames = [ipv4_tcp(A, B, 179, 40000, seq, b"\xff" * 16 + data, flags=flags) for seq, data in payloads]
    for data in _run(frames):
        assert data[:16] == b"\xff" * 16
        assert struct.unpack("!H", data[16:18])[0] == len(data) and 1 <= data[18] <= 5
