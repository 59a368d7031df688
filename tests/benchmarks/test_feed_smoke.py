"""Smoke test: benchmarks/feed_server.py runs end to end on tiny feeds, so the script cannot rot.

A real lab (namespaces `perfsmk-*`, two BIRD ToR feeders), feeds (a) and (b) at 0.1% of their full
size (577 real-table prefixes, 1,000 synthetic ones), every receiver (stock pybgpd, pybgpd receiving
only, pybgpd with the startup kernel hold `update_delay`, BIRD, ExaBGP),
and the failover on (b). It checks that every figure was measured and is sane -- every path reached the RIB,
the kernel routes were all ECMP, the cut removed eth0 and the restore brought ECMP back -- not the
figures themselves (those are a benchmark, recorded in docs/performance.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "feed_server.py"


@pytest.mark.lab
def test_feed_server_smoke(tmp_path: Path, testdata: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH),
            "--feeds",
            "a,b",
            "--receivers",
            "pybgpd,pybgpd-rx,pybgpd-ud,bird,exabgp",
            "--scale",
            "0.001",
            "--timeout",
            "60",
            "--cut-hold",
            "1.0",
            "--settle",
            "0.3",
            "--prefix",
            "perfsmk",
            "--json",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    results = {(r["feed"], r["receiver"]): r for r in json.loads(out.read_text())}
    receivers = ("pybgpd", "pybgpd-rx", "pybgpd-ud", "bird", "exabgp")
    assert set(results) == {(f, r) for f in "ab" for r in receivers}
    for (_feed, receiver), r in results.items():
        assert r["error"] is None, r
        assert r["paths"] == 2 * r["prefixes"] and r["prefixes"] >= 500
        assert r["up_to_rib_s"] is not None and 0 <= r["up_to_rib_s"] < 60, r
        assert r["second_up_s"] is not None and 0 <= r["second_up_s"] <= r["up_to_rib_s"], r  # both fed
        assert r["peak_rss_mib"] > 1 and r["cpu_s"] >= 0
        if receiver in ("exabgp", "pybgpd-rx"):
            assert r["up_to_kernel_s"] is None  # receive only
        else:
            assert r["up_to_kernel_s"] is not None and r["up_to_kernel_s"] >= 0, r
    for receiver in ("pybgpd", "pybgpd-ud", "bird"):
        fo = results[("b", receiver)]["failover"]
        # BFD at 100 ms x 3: eth0 leaves every route within a few detection times of the cut
        assert fo["cut_to_gone_ms"] is not None and 100 <= fo["cut_to_gone_ms"] < 5000, fo
        assert fo["bfd_down_after_cut_ms"] is not None, fo
        assert fo["restore_to_all_ecmp_ms"] is not None, fo
    assert "pybgpd/BIRD to kernel" in done.stdout and "failover" in done.stdout
