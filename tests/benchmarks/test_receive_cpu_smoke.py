"""Smoke test: benchmarks/receive_cpu.py runs (tiny size), so the per-UPDATE CPU script cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "receive_cpu.py"


def test_receive_cpu_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--streams", "unique", "--count", "300", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unique: 300 UPDATEs; decode" in done.stdout and "session (framing + decode + FSM)" in done.stdout
