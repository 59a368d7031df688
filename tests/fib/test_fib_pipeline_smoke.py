"""Smoke test: benchmarks/fib_pipeline.py runs (tiny size, its own `s4rt-*` namespace), so the figure of
CPU per one-prefix UPDATE after the codec cannot rot; it also checks the count it prints: every prefix
written twice (first ToR alone, then ECMP)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "fib_pipeline.py"


@pytest.mark.lab
def test_fib_pipeline_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--prefixes", "600", "--lag", "200", "--turn", "50", "--rounds", "1",
         "--prefix", "s4rt"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "for 1,200 UPDATEs" in done.stdout and "; 1,200 route writes;" in done.stdout, done.stdout
