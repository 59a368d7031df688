"""`make demo` end to end with BIRD servers (prefix "labdemo"): it succeeds and says what it measured."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from pybgp.testing.lab import netns_list

pytestmark = pytest.mark.lab


def test_demo_runs_and_cleans_up() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pybgp.testing.demo", "--servers", "bird", "--prefix", "labdemo"],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "nexthop via 10.69.0.65   dev eth0" in out and "nexthop via 10.69.0.129  dev eth1" in out
    gone = re.search(r"left r0srv1's kernel (\d+) ms after the cut", out)
    assert gone is not None and 150 <= int(gone.group(1)) <= 1500, out
    assert "ECMP back" in out and "no demo namespaces left" in out
    assert not [ns for ns in netns_list() if ns.startswith("labdemo-")]


def test_seed_command_holds_then_tears_down() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pybgp.testing", "seed", "--prefix", "labseed", "--hold", "0"],
        capture_output=True, text=True, timeout=180,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ip netns exec labseed-r0srv1" in proc.stdout and "torn down." in proc.stdout
    assert not [ns for ns in netns_list() if ns.startswith("labseed-")]
