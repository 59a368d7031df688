"""Figure: what the server daemon costs on a seed-fabric server: pybgpd vs BIRD 2, same run.

For each server daemon (BIRD 2 as the anchor, then pybgpd), build the seed fabric of TARGET.md
(2 racks x 2 servers, BIRD ToRs and spine, BFD 100 ms x 3), and measure on the 4 servers:
- start -> every session Established and every ECMP route in the kernel (seconds);
- resident memory after settling (VmRSS of the daemon; for pybgpd also its BFD worker process);
- CPU seconds used while idle for `--idle` seconds (BFD packets, keepalives, housekeeping).
Prints one line per daemon with medians over the 4 servers.

Run: .venv/bin/python benchmarks/daemon_footprint.py [--idle 10]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from pybgp.testing.fabric import build_fabric
from pybgp.testing.lab import Lab
from pybgp.testing.topology import BfdTimers, seed_topology

TICK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _tree(pid: int) -> list[int]:
    """The process and its descendants (pybgpd's BFD worker; `ip netns exec` execs, so no wrapper)."""
    out = [pid]
    for child in _children(pid):
        out.extend(_tree(child))
    return out


def _rss_kb(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def measure(daemon: str, idle: float) -> tuple[float, float, float]:
    with Lab(f"dmnbf{daemon[:2]}") as lab:
        t0 = time.monotonic()
        fab = build_fabric(
            lab, seed_topology(bfd=BfdTimers(tx_ms=100, rx_ms=100, multiplier=3)), server_daemon=daemon
        )
        try:
            fab.wait_established(timeout=60)
            fab.wait_ecmp(timeout=60)
            converge = time.monotonic() - t0
            time.sleep(2.0)
            pids = {}
            for name in fab.server_names:
                proc = getattr(fab.drivers[name], "proc", None)
                if proc is not None:
                    pids[name] = _tree(proc.pid)
            before = {n: sum(_cpu_s(p) for p in ps) for n, ps in pids.items()}
            time.sleep(idle)
            cpu = [sum(_cpu_s(p) for p in ps) - before[n] for n, ps in pids.items()]
            rss = [sum(_rss_kb(p) for p in ps) / 1024 for ps in pids.values()]
        finally:
            fab.stop()
    return converge, statistics.median(rss), statistics.median(cpu)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--idle", type=float, default=10.0, help="seconds of idle CPU measurement")
    args = parser.parse_args()
    for daemon in ("bird", "pybgpd"):
        converge, rss, cpu = measure(daemon, args.idle)
        print(
            f"{daemon:7} fabric start -> all Established + ECMP {converge:5.1f} s"
            f" | RSS per server {rss:6.1f} MB"
            f" | idle CPU {cpu / args.idle * 100:5.2f} % of a core (BFD 100 ms x 3, 2 sessions)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
