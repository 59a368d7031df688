"""`python -m pybgp.testing`: list or clean up lab leftovers (namespaces and daemons of dead runs).

Owns: the command line over `pybgp.testing.lab`'s state files in /run/pybgp-lab/. ``cleanup`` removes,
for every recorded lab prefix whose creating process is gone (or all with ``--force``), the daemons
it recorded, anything still running in its namespaces, and the namespaces themselves.
Never does: touch a namespace or process that no `Lab` recorded.
"""

from __future__ import annotations

import argparse
import sys

from pybgp.testing.lab import cleanup_prefix, netns_list, prefix_owner_alive, recorded_prefixes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pybgp.testing", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    clean = sub.add_parser("cleanup", help="remove leftover lab namespaces and daemons")
    clean.add_argument("--prefix", action="append", help="only this lab prefix (repeatable)")
    clean.add_argument("--force", action="store_true", help="also labs whose creating process still runs")
    sub.add_parser("list", help="show recorded lab prefixes and their namespaces")
    args = parser.parse_args(argv)

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
