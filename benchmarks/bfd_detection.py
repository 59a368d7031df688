"""Figure: silent-cut-to-Down latency of pybfd vs BIRD 2, same session, same cuts, same run.

Two namespaces on one veth: `a` runs `pybfd` (one IPv4 single-hop session), `b` runs BIRD 2 with
the matching `bfd` neighbor, both at T ms x 3. For each T, N times: wait until both are Up and
settled, wait a random 0-T ms, cut the link silently (nftables netdev drop chains at a's end, link
stays up), and time the Down on each side: ours from pybfd's event (monotonic clock), BIRD's from
its trace log (microsecond wall clock, shifted onto the monotonic axis). The cut instant is the
midpoint of the `nft` command that installs the drop (its duration is printed: the uncertainty).
Configured detection time is 3 x T; a packet already in flight, jitter and the phase of the last
received packet make results spread between about 2 x T and 3 x T after the cut.
Baseline (LAB-NOTES): BIRD silent cut -> route change 252 / 146 / 65 ms at 100 / 50 / 20 ms x 3.

Run: .venv/bin/python benchmarks/bfd_detection.py [--cuts 10] [--intervals 100,50,20]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from typing import Any

from pybfd.labtools import (
    PybfdProcess,
    bird_bfd_config,
    bird_bfd_states,
    bird_state_changes,
    wall_minus_monotonic,
)
from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.lab import Lab

A, B = "10.95.0.1", "10.95.0.2"


def _wait(pred: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return bool(pred())


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(lab: Lab, interval: int, cuts: int, rng: random.Random) -> dict[str, Any]:
    a, b = lab.nodes["a"], lab.nodes["b"]
    log = b.run_dir / f"bird-{interval}.log"
    bird = BirdDriver(
        b,
        bird_bfd_config(
            router_id=B, log_path=log, neighbors=[f'{A} dev "eth0" local {B}'], tx_ms=interval, rx_ms=interval
        ),
    )
    bird.start()
    ours = PybfdProcess(
        a,
        [
            "--peer",
            B,
            "--local",
            A,
            "--interface",
            "eth0",
            "--tx",
            str(interval),
            "--rx",
            str(interval),
            "--mult",
            "3",
        ],
    )
    link = lab.find_link("a", "eth0")
    mine: list[float] = []
    theirs: list[float] = []
    cut_cost: list[float] = []
    try:
        for _ in range(cuts):
            ok = _wait(
                lambda: (
                    ours.state_of(B) == "UP"
                    and bird_bfd_states(bird.birdc("show bfd sessions").stdout).get(A) == "Up"
                ),
                15,
            )
            if not ok:
                raise RuntimeError("session did not come back Up")
            time.sleep(1.0 + rng.uniform(0, interval / 1000))
            mark = len(ours.events)
            offset = wall_minus_monotonic()
            before = time.monotonic()
            link.cut()
            after = time.monotonic()
            cut_at = (before + after) / 2
            cut_cost.append(after - before)
            try:
                down = ours.wait_for(
                    lambda e: e.get("event") == "state" and e["new"] == "DOWN", 5, start=mark
                )
                _wait(
                    lambda offset=offset, before=before: any(
                        t - offset > before and p == A and n == "Down"
                        for t, p, _o, n in bird_state_changes(log)
                    ),
                    5,
                )
            finally:
                link.restore()
            if down is not None:
                mine.append((down["monotonic"] - cut_at) * 1000)
            bird_downs = [
                t - offset
                for t, p, _o, n in bird_state_changes(log)
                if p == A and n == "Down" and t - offset > before
            ]
            if bird_downs:
                theirs.append((bird_downs[0] - cut_at) * 1000)
    finally:
        ours.stop()
        bird.stop()

    def summary(values: list[float]) -> dict[str, float]:
        if not values:
            return {}
        return {
            "n": len(values),
            "median_ms": round(statistics.median(values), 1),
            "p99_ms": round(_pct(values, 0.99), 1),
            "min_ms": round(min(values), 1),
            "max_ms": round(max(values), 1),
        }

    return {
        "interval_ms": interval,
        "configured_detection_ms": 3 * interval,
        "pybfd": summary(mine),
        "bird": summary(theirs),
        "cut_command_ms": round(statistics.median(cut_cost) * 1000, 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cuts", type=int, default=10)
    p.add_argument("--intervals", default="100,50,20")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    rng = random.Random(args.seed)
    results = []
    with Lab("bfdlat") as lab:
        a, b = lab.node("a"), lab.node("b")
        lab.link(a, "eth0", b, "eth0", a_addrs=[f"{A}/24"], b_addrs=[f"{B}/24"])
        for interval in (int(x) for x in args.intervals.split(",")):
            r = measure(lab, interval, args.cuts, rng)
            results.append(r)
            po, bi = r["pybfd"], r["bird"]
            print(
                f"{interval:4d} ms x 3 (detect {3 * interval} ms): pybfd median {po.get('median_ms')} ms, "
                f"p99 {po.get('p99_ms')} ms (n={po.get('n')}); BIRD median {bi.get('median_ms')} ms, "
                f"p99 {bi.get('p99_ms')} ms (n={bi.get('n')}); cut command {r['cut_command_ms']} ms",
                flush=True,
            )
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
