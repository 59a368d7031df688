"""Figure: BFD sessions one worker process holds Up with zero false Downs, and its CPU per 1,000.

Inside a fresh namespace, one `BfdService` (isolation "process", the daemon's configuration) runs
both ends of N sessions over loopback: 127.0.0.1 <-> 127.1.x.y, single-hop on `lo`. Every session
therefore costs the worker two endpoints (it sends and receives both directions), so the CPU figure
per 1,000 *endpoints* is what one side of 1,000 real sessions costs. After all sessions are Up and
settled, the worker's CPU time (/proc/PID/stat utime+stime) is measured over a window during which
any failure Down is counted. Default window 30 s (`--window 300` for the 5-minute run).
The worker runs at SCHED_RR 50 as the daemon does in production (`--no-realtime` to compare: on a
machine shared with other CPU-heavy jobs, normal priority loses timers to them).
Anchor (LAB-NOTES, not re-measured here): BIRD holds 3,000 sessions at 100 ms x 3 on one core (96%).

Run: .venv/bin/python benchmarks/bfd_scale.py [--sessions 500] [--tx 100] [--mult 3] [--window 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time

from pybfd.aio import BfdPeerConfig, BfdService, BfdStateChange, State


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def inner(n: int, tx: float, mult: int, window: float, realtime: bool) -> dict[str, object]:
    service = BfdService(isolation="process", realtime=realtime)
    await service.start()
    changes: list[BfdStateChange] = []
    service.subscribe(changes.append)
    t0 = time.monotonic()
    for i in range(n):
        far = f"127.1.{i // 250}.{i % 250 + 1}"
        for peer, local in (("127.0.0.1", far), (far, "127.0.0.1")):
            service.add_session(
                BfdPeerConfig(
                    peer=peer,
                    local=local,
                    interface="lo",
                    desired_min_tx_ms=tx,
                    required_min_rx_ms=tx,
                    detect_mult=mult,
                )
            )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not all(s.state is State.UP for s in service.sessions()):
        await asyncio.sleep(0.2)
    up_after = time.monotonic() - t0
    up = sum(s.state is State.UP for s in service.sessions())
    await asyncio.sleep(3)  # Poll Sequences done, steady state
    assert service.worker_pid is not None
    mark = len(changes)
    cpu0, wall0 = _cpu_seconds(service.worker_pid), time.monotonic()
    await asyncio.sleep(window)
    cpu1, wall1 = _cpu_seconds(service.worker_pid), time.monotonic()
    failures = sum(c.is_failure for c in changes[mark:])
    infos, drops = await service.query()
    await service.stop()
    endpoints = 2 * n
    load = (cpu1 - cpu0) / (wall1 - wall0)
    return {
        "sessions": n,
        "endpoints": endpoints,
        "tx_ms": tx,
        "realtime": realtime,
        "mult": mult,
        "window_s": round(wall1 - wall0, 1),
        "all_up": up == endpoints,
        "up_after_s": round(up_after, 1),
        "false_downs": failures,
        "cpu_fraction": round(load, 3),
        "cpu_per_1000_endpoints": round(load * 1000 / endpoints, 3),
        "packets_sent": sum(i.packets_sent for i in infos),
        "drops": drops,
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=500)
    p.add_argument("--tx", type=float, default=100)
    p.add_argument("--mult", type=int, default=3)
    p.add_argument("--window", type=float, default=30)
    p.add_argument(
        "--no-realtime", action="store_true", help="worker at normal priority (default SCHED_RR 50)"
    )
    p.add_argument("--inner", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.inner:
        print(
            json.dumps(
                asyncio.run(inner(args.sessions, args.tx, args.mult, args.window, not args.no_realtime))
            )
        )
        return 0
    from pybgp.testing.lab import Lab

    with Lab("bfdscale") as lab:
        node = lab.node("s")
        argv = [sys.executable, __file__, "--inner", "--sessions", str(args.sessions), "--tx", str(args.tx)]
        argv += ["--mult", str(args.mult), "--window", str(args.window)]
        argv += ["--no-realtime"] if args.no_realtime else []
        try:
            out = node.run(argv, timeout=args.window + 180)
        except subprocess.CalledProcessError as exc:
            print(exc.stderr, file=sys.stderr)
            raise
        result = json.loads(out.stdout.strip().splitlines()[-1])
    print(
        f"{result['sessions']} sessions ({result['endpoints']} endpoints) at {args.tx:g} ms x {args.mult}: "
        f"all Up={result['all_up']} (after {result['up_after_s']} s), false Downs={result['false_downs']} "
        f"in {result['window_s']} s, worker CPU {result['cpu_fraction'] * 100:.0f}% of a core = "
        f"{result['cpu_per_1000_endpoints'] * 100:.0f}% per 1,000 endpoints"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
