"""Isolation check: BFD sessions must stay Up while the same program does CPU-bound Python work.

Owns: a small program (`python -m pybfd.loadtest`) that starts a `BfdService` with the chosen
isolation, waits until its sessions are Up, then blocks its own event loop with CPU-bound work
(decoding an MRT file with `pybgp.wire.mrt`, keeping every record alive as a RIB would, or a pure
Python stand-in that allocates for N seconds), and prints one JSON line: how long the work took and
every state change seen meanwhile. Used by `benchmarks/bfd_isolation.py` and the isolation test.
Never does: judge the result (the caller compares with the peer's own view).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from typing import Any

from pybfd.aio import BfdService
from pybfd.constants import State
from pybfd.engine import BfdPeerConfig, BfdStateChange


def decode_mrt(path: str) -> int:
    """The real workload: decode every record of an MRT file, keeping them all alive."""
    from pybgp.wire.mrt import read_mrt

    kept = list(read_mrt(path))
    return len(kept)


def spin(seconds: float) -> int:
    """A CPU-bound stand-in: allocate small objects in pure Python for `seconds`, keeping them alive."""
    kept: list[tuple[int, dict[str, int]]] = []
    end = time.perf_counter() + seconds
    i = 0
    while time.perf_counter() < end:
        for _ in range(1000):
            kept.append((i, {"a": i, "b": i * 2}))
            i += 1
    return len(kept)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    service = BfdService(isolation=args.isolation, realtime=args.realtime)
    await service.start()
    changes: list[BfdStateChange] = []
    service.subscribe(changes.append)
    keys = []
    for peer, local in zip(args.peer, args.local, strict=True):
        keys.append(
            service.add_session(
                BfdPeerConfig(
                    peer=peer,
                    local=local,
                    interface=args.interface,
                    desired_min_tx_ms=args.tx,
                    required_min_rx_ms=args.tx,
                    detect_mult=args.mult,
                )
            )
        )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not all(s.state is State.UP for s in service.sessions()):
        await asyncio.sleep(0.05)
    up = all(s.state is State.UP for s in service.sessions())
    await asyncio.sleep(args.settle)  # Poll Sequence to the fast rate done
    mark = len(changes)
    started = time.monotonic()
    if args.work.startswith("mrt:"):
        items = decode_mrt(args.work[4:])  # blocks this loop: the point of the exercise
    else:
        items = spin(float(args.work.split(":", 1)[1]))
    finished = time.monotonic()
    await asyncio.sleep(args.settle)  # let queued events arrive
    during = [c for c in changes[mark:] if c.at <= finished + args.tx * args.mult / 1000]
    await service.stop()
    return {
        "isolation": args.isolation,
        "sessions": len(keys),
        "all_up": up,
        "work": args.work,
        "items": items,
        "work_started": started,
        "work_finished": finished,
        "work_seconds": round(finished - started, 3),
        "downs": sum(1 for c in during if c.new_state is not State.UP),
        "changes": [
            {
                "peer": str(c.peer),
                "old": c.old_state.name,
                "new": c.new_state.name,
                "diag": c.diag.name,
                "at": c.at,
            }
            for c in during
        ],
    }


def main(argv: list[str] | None = None) -> int:
    """`python -m pybfd.loadtest --isolation process --peer P --local L ... --work mrt:FILE|spin:SECONDS`."""
    p = argparse.ArgumentParser(prog="pybfd.loadtest")
    p.add_argument("--isolation", choices=("process", "thread", "inline"), default="process")
    p.add_argument("--peer", action="append", required=True)
    p.add_argument("--local", action="append", required=True)
    p.add_argument("--interface")
    p.add_argument("--tx", type=float, default=50)
    p.add_argument("--mult", type=int, default=3)
    p.add_argument("--work", default="spin:5")
    p.add_argument("--settle", type=float, default=1.5)
    p.add_argument("--realtime", action="store_true")
    args = p.parse_args(argv)
    result = asyncio.run(run(args))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
