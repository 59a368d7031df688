"""Carrier loss -> nexthop gone from every kernel route: KernelWatcher + NetlinkFib, in a namespace.

N IPv4 /24 routes (default 100k) with 2 nexthops (eth0, eth1) are installed as one shared nexthop
group. Each trial takes eth0's carrier away (its veth peer set admin-down through netlink, t0 = just
before that request), waits for the watcher's LinkEvent, calls `nexthop_down` for each nexthop via
eth0 (found with `nexthops()`, no table walk), and stops the clock when the kernel has acked the
group rewrite. Then the carrier returns and the routes are re-applied with both nexthops (one
group rewrite). Prints median/max over the trials. BIRD's figure for the same event on these machines
(LAB-NOTES: carrier loss -> nexthop gone 3-4 ms, `check link`) is a reference, not measured here.

    sudo .venv/bin/python benchmarks/fib_carrier.py [--routes N] [--trials K]

Only touches a namespace named fib-carrier-*, removed at the end (also on failure).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import struct
import sys
import time
from ipaddress import ip_address

from pybgp.fib.model import FibRoute, NextHop
from pybgp.fib.netlink import NetlinkFib
from pybgp.fib.netlink_socket import NetlinkChannel
from pybgp.fib.watch import KernelEvent, KernelWatcher, LinkEvent

sys.path.insert(0, os.path.dirname(__file__))
from fib_install import namespace, prefixes

A = NextHop(ip_address("10.0.1.2"), "eth0")
B = NextHop(ip_address("10.0.2.2"), "eth1")
RTM_NEWLINK, IFF_UP = 16, 0x1


def set_link(chan: NetlinkChannel, ifindex: int, up: bool) -> None:
    """RTM_NEWLINK changing only IFF_UP of `ifindex` (what `ip link set X up/down` sends)."""
    body = struct.pack("=BxHiII", 0, 0, ifindex, IFF_UP if up else 0, IFF_UP)
    request = struct.pack("=IHHII", 16 + len(body), RTM_NEWLINK, 0x1, chan.next_seq(), 0) + body
    failures = chan.batch([request])
    assert not failures, failures


async def trial(
    fib: NetlinkFib, events: asyncio.Queue[KernelEvent], chan: NetlinkChannel, peer0: int,
    routes: list[FibRoute],
) -> tuple[float, float, float]:
    """(event latency, carrier-loss-to-kernel-updated, restore) in seconds."""
    t0 = time.monotonic()
    set_link(chan, peer0, up=False)
    while True:
        event = await asyncio.wait_for(events.get(), 5.0)
        if isinstance(event, LinkEvent) and event.ifname == "eth0" and not event.carrier:
            break
    t_event = event.at
    for nh in sorted(nh for nh in fib.nexthops() if nh.ifname == "eth0"):
        fib.nexthop_down(nh)
    t_done = time.monotonic()
    assert fib.routes()[routes[0].prefix].nexthops == (B,)
    set_link(chan, peer0, up=True)
    while True:
        event = await asyncio.wait_for(events.get(), 5.0)
        if isinstance(event, LinkEvent) and event.ifname == "eth0" and event.carrier:
            break
    start = time.monotonic()
    fib.apply(replace=routes)
    restore = time.monotonic() - start
    assert fib.routes()[routes[0].prefix].nexthops == (A, B)
    return t_event - t0, t_done - t0, restore


async def run(n: int, trials: int) -> None:
    routes = [FibRoute(p, (A, B)) for p in prefixes(n)]
    with namespace() as ns:
        fib = NetlinkFib(netns=ns)
        chan = NetlinkChannel(ns)
        try:
            fib.apply(replace=routes)
            events: asyncio.Queue[KernelEvent] = asyncio.Queue()
            async with KernelWatcher(netns=ns, routes=False, addresses=False) as watcher:
                peer0 = watcher.dump().links["peer0"].ifindex
                watcher.subscribe(events.put_nowait)
                results = [await trial(fib, events, chan, peer0, routes) for _ in range(trials)]
        finally:
            chan.close()
            fib.close(flush=True)
    ev, done, restore = (sorted(col) for col in zip(*results, strict=True))
    print(f"{n:,} routes in one nexthop group, {trials} trials (median / max)")
    print(f"carrier loss -> LinkEvent on the loop          {statistics.median(ev) * 1e3:7.2f} / "
          f"{ev[-1] * 1e3:7.2f} ms")
    print(f"carrier loss -> every route without eth0 (ack) {statistics.median(done) * 1e3:7.2f} / "
          f"{done[-1] * 1e3:7.2f} ms")
    print(f"carrier back -> re-apply {n:,} routes (group)  {statistics.median(restore) * 1e3:7.2f} / "
          f"{restore[-1] * 1e3:7.2f} ms")
    print("reference (LAB-NOTES, not this run): BIRD carrier loss -> nexthop gone 3-4 ms")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=100_000)
    parser.add_argument("--trials", type=int, default=7)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    asyncio.run(run(args.routes, args.trials))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
