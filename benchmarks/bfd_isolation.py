"""Figure: false BFD Downs at 50 ms x 3 while the same program decodes a full MRT update file.

Two namespaces on one veth link: `b` runs an unloaded `pybfd` peer with N sessions; `a` runs
`python -m pybfd.loadtest`, which brings the same N sessions Up through `BfdService` and then blocks
its own event loop decoding /work/shared/testdata/mrt/bgpdump/test_data/updates.et-header.2015.gz
with `pybgp.wire.mrt` (keeping every record alive). For each isolation mode (inline: BFD on the
loaded loop; thread: BFD loop in a thread, sharing the GIL; process: the worker process) it counts
the peer's failure Downs (the unloaded side's view is the one that matters: it is what a ToR sees)
and our own. Target: zero for `process`. `inline` is the control that shows the load is real.

Run: .venv/bin/python benchmarks/bfd_isolation.py [--sessions 4] [--tx 50] [--mult 3]
     [--modes inline,thread,process] [--work mrt:FILE | --work spin:SECONDS]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from pybfd.labtools import PybfdProcess
from pybgp.testing.lab import Lab

MRT = (
    Path(__file__).resolve().parent.parent.parent
    / "shared/testdata/mrt/bgpdump/test_data/updates.et-header.2015.gz"
)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=4)
    p.add_argument("--tx", type=float, default=50)
    p.add_argument("--mult", type=int, default=3)
    p.add_argument("--modes", default="inline,thread,process")
    p.add_argument("--work", default=f"mrt:{MRT}")
    p.add_argument("--prefix", default="bfdiso")
    args = p.parse_args()
    n = args.sessions
    ours = [f"10.97.0.{10 + i}" for i in range(n)]
    theirs = [f"10.97.0.{100 + i}" for i in range(n)]
    results = []
    with Lab(args.prefix) as lab:
        a, b = lab.node("a"), lab.node("b")
        lab.link(a, "eth0", b, "eth0", a_addrs=[f"{x}/24" for x in ours], b_addrs=[f"{x}/24" for x in theirs])
        conf = b.run_dir / "peer.toml"
        body = f"[defaults]\ndesired_min_tx_ms = {args.tx}\nrequired_min_rx_ms = {args.tx}\n"
        body += f"detect_mult = {args.mult}\n"
        for mine, peer in zip(theirs, ours, strict=True):
            body += f'[[session]]\npeer = "{peer}"\nlocal = "{mine}"\ninterface = "eth0"\npassive = true\n'
        conf.write_text(body)
        peer_proc = PybfdProcess(b, ["--config", str(conf)])
        try:
            for mode in args.modes.split(","):
                argv = [sys.executable, "-m", "pybfd.loadtest", "--isolation", mode, "--interface", "eth0"]
                argv += ["--tx", str(args.tx), "--mult", str(args.mult), "--work", args.work, "--realtime"]
                for mine, peer in zip(ours, theirs, strict=True):
                    argv += ["--peer", peer, "--local", mine]
                mark = len(peer_proc.events)
                out = a.run(argv, timeout=600)
                result = json.loads(out.stdout.strip().splitlines()[-1])
                window_end = result["work_finished"] + 3 * args.mult * args.tx / 1000
                peer_fail = [
                    e
                    for e in peer_proc.events[mark:]
                    if e.get("event") == "state"
                    and e["failure"]
                    and result["work_started"] <= e["monotonic"] <= window_end
                ]
                result["peer_failures"] = len(peer_fail)
                results.append(result)
                line = f"{mode:8s} sessions={result['sessions']} up={result['all_up']} "
                line += f"work={result['work_seconds']:.1f}s ({result['items']} items)  "
                line += f"false Downs: peer saw {len(peer_fail)}, we saw {result['downs']}"
                print(line, flush=True)
                time.sleep(1.0)
        finally:
            peer_proc.stop()
    print(json.dumps({"tx_ms": args.tx, "mult": args.mult, "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
