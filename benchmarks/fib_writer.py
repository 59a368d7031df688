"""Figure: does the netlink writer thread overlap the kernel's route work with the caller's? (issue 6)

A throwaway namespace (`k3w-*` by default) with two veth links; `NetlinkFib` with and without
`writer_thread`, driven like a server being fed: batches of `--batch` prefixes, each batch preceded by
`--work-us` microseconds of pure-Python work per prefix (standing in for decoding and the RIB), each
prefix written first with one nexthop then, `--lag` batches later, with both (the second ToR's path).
Prints wall seconds, this process's CPU seconds (threads included) and route writes, per mode, for
`--rounds` interleaved rounds; then the worst wait of a `nexthop_down` issued while a big batch streams.
Run it under the shared lock, on both cores (no `taskset`): `flock /tmp/s3/bench.lock .venv/bin/python
benchmarks/fib_writer.py [--routes 200000] [--batch 400] [--work-us 8] [--rounds 2]`.
Never sends a packet: routes only, inside the namespace.
"""

from __future__ import annotations

import argparse
import ipaddress
import subprocess
import sys
import threading
import time
import uuid

from pybgp.fib import netlink_writer
from pybgp.fib.model import NextHop
from pybgp.fib.netlink import NetlinkFib, set_nexthop_compat_mode
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

A = NextHop(ipaddress.ip_address("10.0.1.2"), "eth0")
B = NextHop(ipaddress.ip_address("10.0.2.2"), "eth1")


def make_netns(prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    for n in (0, 1):
        for args in (
            ["link", "add", f"eth{n}", "type", "veth", "peer", "name", f"peer{n}"],
            ["link", "set", f"peer{n}", "up"],
            ["link", "set", f"eth{n}", "up"],
            ["addr", "add", f"10.0.{n + 1}.1/24", "dev", f"eth{n}"],
        ):
            subprocess.run(["ip", "-n", name, *args], check=True, timeout=30)
    return name


def busy(us: float) -> None:
    """Pure-Python work for about `us` microseconds (holds the GIL, like decoding does)."""
    end = time.perf_counter() + us / 1e6
    while time.perf_counter() < end:
        pass


def feed(fib: NetlinkFib, routes: int, batch: int, work_us: float, lag: int) -> tuple[float, float, float]:
    prefixes = [Prefix(Afi.IPV4, (10 << 24) + (i << 8), 24) for i in range(routes)]
    one, two = (A,), (A, B)
    wall, cpu = time.perf_counter(), time.process_time()
    batches = [prefixes[i : i + batch] for i in range(0, routes, batch)]
    in_apply = 0.0  # CPU of the calling thread inside `apply_nexthops`: what the event loop would pay
    for i in range(len(batches) + lag):
        wanted = {}
        if i < len(batches):
            busy(work_us * len(batches[i]))
            wanted.update(dict.fromkeys(batches[i], one))
        if i >= lag:
            busy(work_us * len(batches[i - lag]))
            wanted.update(dict.fromkeys(batches[i - lag], two))
        started = time.thread_time()
        fib.apply_nexthops(wanted)
        in_apply += time.thread_time() - started
    fib.settle(wait=True)
    return time.perf_counter() - wall, time.process_time() - cpu, in_apply


def nexthop_down_wait(netns: str, routes: int) -> float:
    """Seconds `nexthop_down` takes while another thread streams `routes` moves (the worst queue wait)."""
    fib = NetlinkFib(netns=netns, writer_thread=True)
    try:
        fib.apply_nexthops({Prefix(Afi.IPV4, (10 << 24) + (i << 8), 24): (A, B) for i in range(routes)})
        fib.settle(wait=True)
        worst = 0.0
        for _ in range(5):
            # every other route: moves (one message each), not one whole-group rewrite
            wanted = {Prefix(Afi.IPV4, (10 << 24) + (i << 8), 24): (A,) for i in range(0, routes, 2)}
            # `apply_nexthops` returns with the queue full (it blocks while it is); the daemon's Down
            # runs on the same loop thread, so this is its worst case: waiting for that queue to land
            fib.apply_nexthops(wanted)
            started = time.perf_counter()
            fib.nexthop_down(B)
            worst = max(worst, time.perf_counter() - started)
            fib.apply_nexthops({p: (A, B) for p in wanted})
            fib.settle(wait=True)
        return worst
    finally:
        fib.close(flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=400)
    ap.add_argument("--work-us", type=float, default=8.0)
    ap.add_argument("--lag", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--compat", type=int, choices=(0, 1), default=0)
    ap.add_argument("--prefix", default="k3w")
    ap.add_argument("--chunk", type=int, default=netlink_writer.CHUNK_ROUTES, help="routes per sendmsg")
    ap.add_argument("--depth", type=int, default=netlink_writer.QUEUE_DEPTH, help="chunks queued")
    ap.add_argument("--switch-ms", type=float, default=0.0, help="sys.setswitchinterval (0: Python's)")
    args = ap.parse_args()
    netlink_writer.CHUNK_ROUTES, netlink_writer.QUEUE_DEPTH = args.chunk, args.depth
    if args.switch_ms:
        sys.setswitchinterval(args.switch_ms / 1000)
    netns = make_netns(args.prefix)
    try:
        holder: list[bool] = []

        def compat() -> None:  # the sysctl is per namespace: write it from a thread inside it
            from pybgp.fib.netlink_socket import _setns

            _setns(f"/var/run/netns/{netns}")
            holder.append(set_nexthop_compat_mode(bool(args.compat)))

        t = threading.Thread(target=compat)
        t.start()
        t.join()
        for r in range(args.rounds):
            for threaded in (False, True) if r % 2 == 0 else (True, False):
                fib = NetlinkFib(netns=netns, writer_thread=threaded)
                try:
                    wall, cpu, in_apply = feed(fib, args.routes, args.batch, args.work_us, args.lag)
                    print(
                        f"round {r} writer_thread={threaded!s:5}: {wall:.2f} s wall, {cpu:.2f} s CPU "
                        f"({in_apply:.2f} s of it in the caller's apply_nexthops), "
                        f"{fib.stats.route_writes} route writes, {fib.sendmsg_calls} sendmsg"
                    )
                finally:
                    fib.close(flush=True)
        worst = nexthop_down_wait(netns, args.routes)
        print(f"nexthop_down right after queueing {args.routes} moves: worst {worst * 1000:.1f} ms (5 tries)")
    finally:
        subprocess.run(["ip", "netns", "del", netns], timeout=30, check=False)


if __name__ == "__main__":
    main()
