"""Proof that BFD keeps its timers while the same program is busy with CPU-bound Python.

`python -m pybfd.loadtest` blocks its own event loop for 4 s of allocation-heavy pure Python (the
stand-in for decoding a table; `benchmarks/bfd_isolation.py` runs the real MRT decode) with two
sessions at 50 ms x 3 to an unloaded pybfd peer in another namespace. With the worker process the
peer sees no failure; with BFD on the loaded loop it does (so the test can fail).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.lab

lab_mod = pytest.importorskip("pybgp.testing.lab")
from pybfd.labtools import PybfdProcess, scratch_lab  # noqa: E402

OURS = ["10.96.0.10", "10.96.0.11"]
THEIRS = ["10.96.0.100", "10.96.0.101"]


@pytest.fixture(scope="module")
def setup() -> Iterator[tuple[Any, PybfdProcess]]:
    with scratch_lab("bfdi") as lab:
        a, b = lab.node("a"), lab.node("b")
        lab.link(a, "eth0", b, "eth0", a_addrs=[f"{x}/24" for x in OURS], b_addrs=[f"{x}/24" for x in THEIRS])
        conf = b.run_dir / "peer.toml"
        body = "[defaults]\ndesired_min_tx_ms = 50\nrequired_min_rx_ms = 50\ndetect_mult = 3\n"
        for mine, peer in zip(THEIRS, OURS, strict=True):
            body += f'[[session]]\npeer = "{peer}"\nlocal = "{mine}"\ninterface = "eth0"\npassive = true\n'
        conf.write_text(body)
        peer = PybfdProcess(b, ["--config", str(conf)])
        try:
            yield lab, peer
        finally:
            peer.stop()


def _run(setup: tuple[Any, PybfdProcess], isolation: str) -> tuple[dict[str, Any], int]:
    lab, peer = setup
    argv = [sys.executable, "-m", "pybfd.loadtest", "--isolation", isolation, "--interface", "eth0"]
    argv += ["--tx", "50", "--mult", "3", "--work", "spin:4", "--settle", "1.0", "--realtime"]
    for mine, other in zip(OURS, THEIRS, strict=True):
        argv += ["--peer", other, "--local", mine]
    mark = len(peer.events)
    out = lab.nodes["a"].run(argv, timeout=120)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["all_up"], result
    end = result["work_finished"] + 0.3
    failures = [
        e
        for e in peer.events[mark:]
        if e.get("event") == "state" and e["failure"] and result["work_started"] <= e["monotonic"] <= end
    ]
    return result, len(failures)


def test_worker_process_keeps_timers_under_load(setup: tuple[Any, PybfdProcess]) -> None:
    result, peer_failures = _run(setup, "process")
    assert result["work_seconds"] >= 3.5
    assert peer_failures == 0, result
    assert result["downs"] == 0, result["changes"]


def test_bfd_on_the_loaded_loop_fails(setup: tuple[Any, PybfdProcess]) -> None:
    """The control: the same load with BFD on the blocked loop makes the peer detect a failure."""
    result, peer_failures = _run(setup, "inline")
    assert peer_failures >= 1, result
