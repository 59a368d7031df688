"""`python -m pybgp.testing`: list or clean up lab leftovers; or hold a seed fabric up to explore it.

Owns: the command line over `pybgp.testing.lab`'s state files in /run/pybgp-lab/. ``cleanup`` removes,
for every recorded lab prefix whose creating process is gone (or all with ``--force``), the daemons
it recorded, anything still running in its namespaces, and the namespaces themselves.
``seed`` builds the seed fabric and keeps it for a bounded time (``--hold``, at most an hour).
Never does: touch a namespace or process that no `Lab` recorded.
"""

from __future__ import annotations

import argparse
import sys
import time

from pybgp.testing.lab import cleanup_prefix, netns_list, prefix_owner_alive, recorded_prefixes


def hold_seed(server_daemon: str, prefix: str, hold: float) -> int:
    """Build the seed fabric, print how to poke at it, keep it `hold` seconds (or until Ctrl-C)."""
    from pybgp.testing.fabric import build_fabric
    from pybgp.testing.lab import Lab
    from pybgp.testing.topology import seed_topology

    with Lab(prefix) as lab:
        fabric = build_fabric(lab, seed_topology(default_route=True), server_daemon=server_daemon)
        fabric.wait_established(timeout=60)
        fabric.wait_ecmp(timeout=60)
        print(f"seed fabric up ({server_daemon} servers); namespaces {prefix}-<node>:")
        for name, node in fabric.nodes.items():
            print(f"  {name:8} ip netns exec {node.netns} ...   run dir {node.run_dir}")
        bird = fabric.drivers["r0tor1"]
        sock = getattr(bird, "sock_path", "")
        print(f"e.g.  ip netns exec {prefix}-r0srv1 ip route;  birdc -s {sock} show protocols")
        print(f"kept for {hold:.0f} s; Ctrl-C tears it down now.")
        try:
            time.sleep(hold)
        except KeyboardInterrupt:
            pass
    print("torn down.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pybgp.testing", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    clean = sub.add_parser("cleanup", help="remove leftover lab namespaces and daemons")
    clean.add_argument("--prefix", action="append", help="only this lab prefix (repeatable)")
    clean.add_argument("--force", action="store_true", help="also labs whose creating process still runs")
    sub.add_parser("list", help="show recorded lab prefixes and their namespaces")
    seed = sub.add_parser("seed", help="bring the seed fabric up and keep it for a while to explore")
    seed.add_argument("--servers", choices=("bird", "pybgpd"), default="bird")
    seed.add_argument("--prefix", default="seed")
    seed.add_argument("--hold", type=float, default=600.0, help="seconds to keep it up (max 3600)")
    args = parser.parse_args(argv)
    if args.command == "seed":
        return hold_seed(args.servers, args.prefix, min(max(args.hold, 0.0), 3600.0))

    prefixes = recorded_prefixes()
    if args.command == "list":
        all_ns = netns_list()
        for prefix in prefixes:
            live = "live" if prefix_owner_alive(prefix) else "leftover"
            names = [ns for ns in all_ns if ns.startswith(f"{prefix}-")]
            print(f"{prefix}\t{live}\t{' '.join(names)}")
        return 0

    wanted = args.prefix or prefixes
    status = 0
    for prefix in wanted:
        if prefix not in prefixes and not args.force:
            print(f"{prefix}: no lab with this prefix was recorded; not touching it (use --force)")
            status = 1
            continue
        if prefix_owner_alive(prefix) and not args.force:
            print(f"{prefix}: skipped, its creating process is still running (use --force)")
            continue
        removed = cleanup_prefix(prefix)
        print(f"{prefix}: removed {len(removed)} namespace(s) {' '.join(removed)}".rstrip())
    return status


if __name__ == "__main__":
    sys.exit(main())
