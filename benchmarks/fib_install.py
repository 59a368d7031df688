"""Install N IPv4 /24 routes with 2 nexthops into a throwaway namespace: NetlinkFib vs `ip -batch`.

Figures (same run, same namespace layout): NetlinkFib with shared nexthop groups and in RTA_MULTIPATH
mode; `ip -batch` with nexthop lines and with `nhid` (the anchors from LAB-NOTES); pyroute2's per-call
API on a sample; then failover with every route installed: `NetlinkFib.nexthop_down` (groups) vs
rewriting each route (NetlinkFib multipath mode, and `ip -batch` route replace).

    sudo .venv/bin/python benchmarks/fib_install.py            # 100k routes
    sudo .venv/bin/python benchmarks/fib_install.py --million  # 1M routes

Only touches namespaces named fib-bench-*, which it removes at the end (also on failure).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from ipaddress import ip_address

from pybgp.fib.model import FibRoute, NextHop
from pybgp.fib.netlink import NetlinkFib
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

A = NextHop(ip_address("10.0.1.2"), "eth0")
B = NextHop(ip_address("10.0.2.2"), "eth1")


def ip(netns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", netns, *args], check=True, capture_output=True, timeout=600)


@contextmanager
def namespace() -> Iterator[str]:
    name = f"fib-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=60)
    try:
        ip(name, "link", "set", "lo", "up")
        for n in (0, 1):
            ip(name, "link", "add", "name", f"eth{n}", "type", "veth", "peer", "name", f"peer{n}")
            ip(name, "link", "set", f"peer{n}", "up")
            ip(name, "link", "set", f"eth{n}", "up")
            ip(name, "addr", "add", f"10.0.{n + 1}.1/24", "dev", f"eth{n}")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], timeout=600, check=False)


def prefixes(n: int) -> list[Prefix]:
    base = 11 << 24  # 11.0.0.0/24 upwards: n /24s (1M fits in 11.0.0.0 - 26.x)
    return [Prefix(Afi.IPV4, base + (i << 8), 24) for i in range(n)]


def timed(fn: Callable[[], object]) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process incl. kernel time spent in our syscalls)."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - wall, time.process_time() - cpu


def count_routes(netns: str) -> int:
    cmd = ["ip", "-n", netns, "-4", "route", "show", "proto", "186"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600).stdout
    return sum(1 for line in out.splitlines() if line and not line[0].isspace())


def run_ip_batch(netns: str, lines: Iterator[str]) -> float:
    with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as fh:
        fh.writelines(lines)
        path = fh.name
    try:
        start = time.perf_counter()
        subprocess.run(["ip", "-n", netns, "-batch", path], check=True, capture_output=True, timeout=1200)
        return time.perf_counter() - start
    finally:
        os.unlink(path)


def bench_netlink(n: int, objects: bool) -> dict[str, float]:
    ps = prefixes(n)
    routes = [FibRoute(p, (A, B)) for p in ps]
    with namespace() as ns:
        fib = NetlinkFib(netns=ns, nexthop_objects=objects)
        wall, cpu = timed(lambda: fib.apply(replace=routes))
        assert not fib.failures(), list(fib.failures().values())[:3]
        assert count_routes(ns) == n
        calls = fib.sendmsg_calls
        snap_wall, _ = timed(fib.routes)
        down_wall, _ = timed(lambda: fib.nexthop_down(A))
        assert all(r.nexthops == (B,) for r in list(fib.routes().values())[:1000])
        fib.close()
    return {"install": wall, "cpu": cpu, "sendmsg": calls, "down": down_wall, "routes": snap_wall}


def bench_ip_batch(n: int, nhid: bool) -> dict[str, float]:
    ps = prefixes(n)
    with namespace() as ns:
        if nhid:
            ip(ns, "nexthop", "add", "id", "1", "via", "10.0.1.2", "dev", "eth0")
            ip(ns, "nexthop", "add", "id", "2", "via", "10.0.2.2", "dev", "eth1")
            ip(ns, "nexthop", "add", "id", "3", "group", "1/2")
            wall = run_ip_batch(ns, (f"route replace {p} proto 186 metric 32 nhid 3\n" for p in ps))
            start = time.perf_counter()
            ip(ns, "nexthop", "replace", "id", "3", "group", "2")
            down = time.perf_counter() - start
        else:
            hops = "nexthop via 10.0.1.2 dev eth0 nexthop via 10.0.2.2 dev eth1"
            wall = run_ip_batch(ns, (f"route replace {p} proto 186 metric 32 {hops}\n" for p in ps))
            one = "via 10.0.2.2 dev eth1"
            down = run_ip_batch(ns, (f"route replace {p} proto 186 metric 32 {one}\n" for p in ps))
        assert count_routes(ns) == n
    return {"install": wall, "down": down}


def bench_pyroute2_per_call(sample: int) -> float:
    from pyroute2 import IPRoute  # benchmark-only: the product never calls pyroute2 outside pybgp.fib

    ps = prefixes(sample)
    with namespace() as ns:
        ipr = IPRoute(netns=ns)
        try:
            oif0, oif1 = ipr.link_lookup(ifname="eth0")[0], ipr.link_lookup(ifname="eth1")[0]
            start = time.perf_counter()
            for p in ps:
                ipr.route(
                    "replace", dst=str(p), proto=186, priority=32,
                    multipath=[{"gateway": "10.0.1.2", "oif": oif0}, {"gateway": "10.0.2.2", "oif": oif1}],
                )
            return time.perf_counter() - start
        finally:
            ipr.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--routes", type=int, default=100_000)
    parser.add_argument("--million", action="store_true", help="1,000,000 routes")
    parser.add_argument("--pyroute2-sample", type=int, default=2000)
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    n = 1_000_000 if args.million else args.routes
    print(f"{n:,} IPv4 /24 routes, 2 nexthops each, one namespace per method")
    print(f"{'method':58} {'install':>9} {'routes/s':>10} {'failover':>10}")

    def row(name: str, install: float, down: float | None, extra: str = "") -> None:
        fail = f"{down * 1000:8.1f}ms" if down is not None else " " * 10
        print(f"{name:58} {install:8.2f}s {n / install:10,.0f} {fail} {extra}")

    nh = bench_netlink(n, objects=True)
    row("NetlinkFib, shared nexthop group (nexthop_down)", nh["install"], nh["down"],
        f"cpu {nh['cpu']:.2f}s, {nh['sendmsg']:.0f} sendmsg, routes() {nh['routes'] * 1000:.0f}ms")
    mp = bench_netlink(n, objects=False)
    row("NetlinkFib, RTA_MULTIPATH fallback (rewrite each route)", mp["install"], mp["down"],
        f"cpu {mp['cpu']:.2f}s, {mp['sendmsg']:.0f} sendmsg")
    ipn = bench_ip_batch(n, nhid=True)
    row("ip -batch, nhid (failover: ip nexthop replace group)", ipn["install"], ipn["down"])
    ipm = bench_ip_batch(n, nhid=False)
    row("ip -batch, RTA_MULTIPATH (failover: replace each route)", ipm["install"], ipm["down"])
    sample = bench_pyroute2_per_call(args.pyroute2_sample)
    rate = args.pyroute2_sample / sample
    print(f"{'pyroute2 IPRoute.route() per call (sample ' + str(args.pyroute2_sample) + ')':58} "
          f"{n / rate:8.2f}s {rate:10,.0f}   (extrapolated)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
