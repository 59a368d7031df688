"""Smoke test: benchmarks/decode_table.py runs end to end on a small slice, so it cannot rot.

It checks that every figure line is printed with sane numbers, not the figures themselves (the full
run is a benchmark, recorded in docs/performance.md, not a test).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "decode_table.py"


def test_decode_table_benchmark_smoke(testdata: Path) -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--limit", "400"], capture_output=True, text=True,
                          timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    full = re.search(r"full table .*?: ([\d,]+) prefixes .*? ([\d.]+) CPU s .*?peak RSS (\d+) MiB, "
                     r"decode errors 0", out)
    assert full, out
    assert int(full.group(1).replace(",", "")) > 1000 and float(full.group(2)) > 0
    assert re.search(r"rib excerpt .*?: ([\d,]+) RIB entries in 400 records", out), out
    ours = re.search(r"like-for-like pybgp .*?: ([\d,]+) UPDATEs, ([\d,]+) prefixes", out)
    theirs = re.search(r"like-for-like ExaBGP .*?: ([\d,]+) prefixes", out)
    assert ours and theirs, out
    # Both decoders saw the same UPDATE bytes and found the same prefixes.
    assert ours.group(2) == theirs.group(1)
    assert re.search(r"ratio: pybgp is [\d.]+x ExaBGP", out), out
    assert re.search(r"every UPDATE kept alive in both .*?pybgp is [\d.]+x ExaBGP", out), out
