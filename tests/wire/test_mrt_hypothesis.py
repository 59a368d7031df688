"""Totality of the MRT reader (pybgp.wire.mrt), with Hypothesis: real sample files with bytes flipped,
cut, or junk inserted are read to the end (or to a clean truncation) without an exception, and every
record read lies inside the data."""

from __future__ import annotations

import gzip
import io
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.wire import mrt

ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "mrt"
SAMPLES = [
    "mrtparse-samples/bird-mrtdump_rib",
    "mrtparse-samples/quagga_bgp",
    "mrtparse-samples/openbgpd_rib_table",
    "mrtparse-samples/bird6_bgp",
    "bgpdump/test_data/bview.ipv6_unicast_add_path.gz",
]


def _load(name: str) -> bytes:
    data = (ROOT / name).read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _read_all(data: bytes) -> mrt.MrtReader:
    reader = mrt.MrtReader(io.BytesIO(data))  # type: ignore[arg-type]
    for rec in reader:
        assert 0 <= rec.offset < len(data)
        list(mrt.record_routes(rec))
    assert reader.records <= len(data) // 12 + 1
    return reader


@pytest.mark.skipif(not ROOT.is_dir(), reason="shared test data not found")
@settings(max_examples=150, deadline=None)
@given(
    which=st.sampled_from(SAMPLES),
    flips=st.lists(st.tuples(st.integers(0, 1 << 20), st.integers(0, 255)), max_size=6),
    cut=st.one_of(st.none(), st.integers(0, 1 << 20)),
    junk=st.binary(max_size=40),
    junk_at=st.integers(0, 1 << 20),
)
def test_mutated_files_never_raise(which: str, flips: list[tuple[int, int]], cut: int | None, junk: bytes,
                                   junk_at: int) -> None:
    data = bytearray(_load(which))
    for pos, value in flips:
        data[pos % len(data)] = value
    at = junk_at % (len(data) + 1)
    data[at:at] = junk
    if cut is not None:
        del data[cut % (len(data) + 1) :]
    _read_all(bytes(data))


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_never_raise(data: bytes) -> None:
    reader = _read_all(data)
    if data and reader.records == 0:
        assert reader.truncated or reader.damaged or len(data) < 12
