"""Figure: CPU of one side of N BFD sessions, pybfd vs BIRD 2 on the other side, same run.

Two namespaces on one veth: `a` runs the `pybfd` command (one process, engine on its own loop), `b`
runs BIRD 2's `bfd` protocol; N sessions between N address pairs on the link (10.92.0.0/16, with
permanent neighbour entries: the kernel's shared ARP table would overflow past ~500 peers, see
LAB-NOTES). Both at normal scheduling priority. After every session is Up on both sides and settled,
each process's CPU (/proc/PID/stat utime+stime, all threads) is measured over the window, and every
Up -> Down on either side during the window is counted as a false Down.

Run: .venv/bin/python benchmarks/bfd_scale_bird.py [--sessions 1000] [--tx 100] [--mult 3] [--window 30]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from pybfd.labtools import PybfdProcess, bird_bfd_config, bird_bfd_states, bird_state_changes
from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.lab import Lab, Node


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _mac(node: Node, ifname: str) -> str:
    out = json.loads(node.ip("-j", "link", "show", "dev", ifname).stdout)
    return str(out[0]["address"])


def _batch(node: Node, lines: list[str], path: Path) -> None:
    path.write_text("\n".join(lines) + "\n")
    node.run(["ip", "-batch", str(path)], timeout=120)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=1000)
    p.add_argument("--tx", type=float, default=100)
    p.add_argument("--mult", type=int, default=3)
    p.add_argument("--window", type=float, default=30)
    args = p.parse_args()
    n = args.sessions
    ours = [f"10.92.{i // 250}.{i % 250 + 1}" for i in range(n)]
    theirs = [f"10.92.{128 + i // 250}.{i % 250 + 1}" for i in range(n)]
    with Lab("bfdscb") as lab:
        a, b = lab.node("a"), lab.node("b")
        lab.link(a, "eth0", b, "eth0")
        mac_a, mac_b = _mac(a, "eth0"), _mac(b, "eth0")
        _batch(a, [f"addr add {x}/16 dev eth0" for x in ours], a.run_dir / "addr.batch")
        _batch(b, [f"addr add {x}/16 dev eth0" for x in theirs], b.run_dir / "addr.batch")
        _batch(
            a,
            [f"neigh replace {x} lladdr {mac_b} dev eth0 nud permanent" for x in theirs],
            a.run_dir / "n.batch",
        )
        _batch(
            b,
            [f"neigh replace {x} lladdr {mac_a} dev eth0 nud permanent" for x in ours],
            b.run_dir / "n.batch",
        )
        log = b.run_dir / "bird.log"
        bird = BirdDriver(
            b,
            bird_bfd_config(
                router_id=theirs[0],
                log_path=log,
                neighbors=[f'{x} dev "eth0" local {y}' for x, y in zip(ours, theirs, strict=True)],
                tx_ms=args.tx,
                rx_ms=args.tx,
                mult=args.mult,
                interface="eth0",
            ),
        )
        bird.start(timeout=60)
        conf = a.run_dir / "pybfd.toml"
        body = f"[defaults]\ndesired_min_tx_ms = {args.tx}\nrequired_min_rx_ms = {args.tx}\n"
        body += f"detect_mult = {args.mult}\n"
        body += "".join(
            f'[[session]]\npeer = "{y}"\nlocal = "{x}"\ninterface = "eth0"\n'
            for x, y in zip(ours, theirs, strict=True)
        )
        conf.write_text(body)
        pybfd = PybfdProcess(a, ["--config", str(conf)])
        try:
            deadline = time.monotonic() + 120
            bird_up = 0
            while time.monotonic() < deadline:
                ours_up = sum(1 for y in theirs if pybfd.state_of(y) == "UP")
                bird_up = sum(
                    1 for s in bird_bfd_states(bird.birdc("show bfd sessions").stdout).values() if s == "Up"
                )
                if ours_up == n and bird_up == n:
                    break
                time.sleep(1.0)
            up_after = round(120 - (deadline - time.monotonic()), 1)
            time.sleep(3.0)
            assert bird.proc is not None
            mark = len(pybfd.events)
            t0 = time.monotonic()
            wall0 = time.time()
            c_ours, c_bird = _cpu(pybfd.proc.pid), _cpu(bird.proc.pid)
            time.sleep(args.window)
            c_ours, c_bird = _cpu(pybfd.proc.pid) - c_ours, _cpu(bird.proc.pid) - c_bird
            elapsed = time.monotonic() - t0
            ours_false = sum(1 for e in pybfd.events[mark:] if e.get("event") == "state" and e["old"] == "UP")
            bird_false = sum(1 for t, _p, old, _new in bird_state_changes(log) if old == "Up" and t >= wall0)
        finally:
            pybfd.stop()
            bird.stop()
    result = {
        "sessions": n,
        "tx_ms": args.tx,
        "mult": args.mult,
        "all_up": ours_up == n and bird_up == n,
        "up_after_s": up_after,
        "window_s": round(elapsed, 1),
        "pybfd_cpu": round(c_ours / elapsed, 3),
        "bird_cpu": round(c_bird / elapsed, 3),
        "pybfd_false_downs": ours_false,
        "bird_false_downs": bird_false,
    }
    print(
        f"{n} sessions at {args.tx:g} ms x {args.mult} (Up on both sides: {result['all_up']}): "
        f"pybfd {result['pybfd_cpu'] * 100:.0f}% of a core, {ours_false} false Downs; "
        f"BIRD {result['bird_cpu'] * 100:.0f}%, {bird_false} false Downs (window {result['window_s']} s)"
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
