"""Smoke test: benchmarks/feed_exporter.py runs (tiny size), so the exporter figure's script cannot rot."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "feed_exporter.py"


def test_feed_exporter_smoke() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--prefixes", "500"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unique attribute sets: 1,000 changes -> 500 routes" in done.stdout
    assert "shared attribute sets: 1,000 changes -> 500 routes" in done.stdout
