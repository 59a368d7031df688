"""Figure: loop-thread CPU of the nexthop-group bookkeeping (`GroupTable.plan` + `commit_moves`) per route.

What `NetlinkFib` does on the event loop's thread for every route write, without netlink: a feed-(a)-sized
table (577,706 /24s by default) first written with one nexthop, then moved to a two-nexthop ECMP set, then
planned once more unchanged, in batches of `--batch` routes (the exporter's per-turn batches). Compare
versions with `PYTHONPATH` (issue 6, session 5: `route_gid` as a sharded `RouteMap`), pinned to one core:
`flock /tmp/s5/bench.lock taskset -c 1 .venv/bin/python benchmarks/fib_groups.py [--routes N]`.
"""

from __future__ import annotations

import argparse
import gc
import time
from ipaddress import IPv4Address

from pybgp.fib.model import NextHop
from pybgp.fib.netlink_groups import GroupTable, Hops
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

A = NextHop(IPv4Address("10.0.0.1"), "eth0")
B = NextHop(IPv4Address("10.0.1.1"), "eth1")


def write(table: GroupTable, prefixes: list[Prefix], hops: Hops, batch: int) -> None:
    """Plan and commit every route in batches, as if the kernel accepted every request."""
    for start in range(0, len(prefixes), batch):
        plan = table.plan({p: hops for p in prefixes[start : start + batch]})
        for nh in plan.new_nexthops:
            table.commit_nexthop(nh, table.allocate())
        for gid, members, _old in plan.group_writes:
            table.commit_group(gid, members)
        table.commit_moves(plan.moves)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", type=int, default=577_706)
    ap.add_argument("--batch", type=int, default=2_000)
    args = ap.parse_args()
    # spread over the address space as a real table is (not consecutive /24s)
    spread = (Prefix(Afi.IPV4, (i * 256 * 7919) & 0xFFFFFF00, 24) for i in range(args.routes))
    prefixes = list(dict.fromkeys(spread))
    table = GroupTable()
    gc.collect()
    t0 = time.process_time()
    write(table, prefixes, (A,), args.batch)
    t1 = time.process_time()
    write(table, prefixes, (A, B), args.batch)
    t2 = time.process_time()
    ecmp = (A, B)  # one tuple shared by every route, as the exporter's normalised sets are
    for start in range(0, len(prefixes), args.batch):
        table.plan({p: ecmp for p in prefixes[start : start + args.batch]})
    t3 = time.process_time()
    n = len(prefixes)
    print(
        f"{n:,} routes: first write {t1 - t0:.3f} s, ECMP move {t2 - t1:.3f} s, unchanged {t3 - t2:.3f} s; "
        f"{(t3 - t0) / (3 * n) * 1e6:.2f} us per route operation"
    )


if __name__ == "__main__":
    main()
