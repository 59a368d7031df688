"""Failover on the seed fabric: silent cut / carrier loss -> nexthop gone, restore -> ECMP back.

Owns: `measure_failover` (a bounded number of cuts of one server uplink, each timed from the cut to
the kernel event that removed the nexthop, as seen by a `RouteMonitor` in the server's namespace)
and the command line ``python -m pybgp.testing.failover`` that builds one fabric per server daemon
(e.g. ``--servers bird,pybgpd``) and BFD setting and prints medians side by side, so pybgpd and its
anchor BIRD are measured in the same run on the same machine.
Never does: keep a fabric up after it returns, or loop without a bound.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass

from pybgp.testing.fabric import Fabric, build_fabric
from pybgp.testing.lab import Lab, LabError
from pybgp.testing.monitor import RouteMonitor
from pybgp.testing.topology import BfdTimers, seed_topology


@dataclass(frozen=True, slots=True, kw_only=True)
class FailoverResult:
    """Times of one series, in milliseconds (one entry per repetition)."""

    server_daemon: str
    bfd: BfdTimers
    silent_cut_ms: tuple[float, ...]
    restore_ms: tuple[float, ...]
    carrier_loss_ms: tuple[float, ...]

    @staticmethod
    def median(values: tuple[float, ...]) -> float:
        return statistics.median(values) if values else float("nan")

    def summary(self) -> str:
        bfd = f"BFD {self.bfd.tx_ms} ms x {self.bfd.multiplier}"
        return (
            f"{self.server_daemon:7} {bfd:15} silent cut -> nexthop gone "
            f"{self.median(self.silent_cut_ms):7.0f} ms | carrier loss -> gone "
            f"{self.median(self.carrier_loss_ms):6.1f} ms | restore -> ECMP back "
            f"{self.median(self.restore_ms):6.0f} ms  (medians of {len(self.silent_cut_ms)})"
        )


def measure_failover(
    fabric: Fabric,
    *,
    server: str = "r0srv1",
    ifname: str = "eth0",
    target: str = "r1srv1",
    repeats: int = 3,
    timeout: float = 15.0,
) -> FailoverResult:
    """Cut `server`'s `ifname` `repeats` times (silently, then by carrier loss) and time the kernel.

    The measured route is `server`'s route to `target`'s /32; the nexthop expected to vanish is the
    ToR behind `ifname`. Between repetitions the fabric is back to full ECMP. Bounded by `timeout`
    per wait; raises `LabError` when a nexthop never leaves or ECMP never comes back.
    """
    if not 1 <= repeats <= 50:
        raise ValueError("repeats must be within 1..50")
    spec = fabric.topology.server(server)
    uplink = next(u for u in spec.uplinks if u.ifname == ifname)
    dst = f"{fabric.topology.server(target).node_ip}/32"
    gateway = uplink.tor_address if fabric.topology.server(target).rack != spec.rack else None
    if gateway is None:
        raise ValueError("pick a target in another rack (its nexthop is the ToR's address)")
    link = fabric.uplink(server, ifname)
    silent: list[float] = []
    restore: list[float] = []
    carrier: list[float] = []
    with RouteMonitor(fabric.nodes[server]) as mon:
        mon.wait_nexthop_count(dst, 2, timeout)
        for _ in range(repeats):
            t0 = time.monotonic()
            link.cut()
            try:
                gone = mon.wait_nexthop_gone(dst, gateway, timeout)
            finally:
                t1 = time.monotonic()
                link.restore()
            silent.append((gone.at - t0) * 1000)
            back = mon.wait_nexthop_count(dst, 2, timeout * 2)
            restore.append((back.at - t1) * 1000)
            fabric.wait_established(timeout)
        for _ in range(repeats):
            t0 = time.monotonic()
            link.down()
            try:
                gone = mon.wait_nexthop_gone(dst, gateway, timeout)
            finally:
                link.up()
            carrier.append((gone.at - t0) * 1000)
            mon.wait_nexthop_count(dst, 2, timeout * 2)
            fabric.wait_established(timeout)
    return FailoverResult(
        server_daemon=fabric.server_daemon,
        bfd=spec.bfd,
        silent_cut_ms=tuple(silent),
        restore_ms=tuple(restore),
        carrier_loss_ms=tuple(carrier),
    )


def run_series(server_daemon: str, bfd: BfdTimers, repeats: int, prefix: str) -> FailoverResult:
    """Build a fresh seed fabric, measure, tear it down."""
    with Lab(prefix) as lab:
        fabric = build_fabric(lab, seed_topology(bfd=bfd), server_daemon=server_daemon)
        fabric.wait_established(timeout=60)
        fabric.wait_ecmp(timeout=60)
        return measure_failover(fabric, repeats=repeats)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pybgp.testing.failover", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--servers", default="bird", help="comma-separated server daemons (bird,pybgpd)")
    parser.add_argument("--bfd-ms", default="100", help="comma-separated BFD intervals, ms (100,50,20)")
    parser.add_argument("--multiplier", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3, help="cuts per series (1..50)")
    parser.add_argument("--prefix", default="labfo", help="namespace prefix")
    args = parser.parse_args(argv)
    status = 0
    for daemon in args.servers.split(","):
        for ms in args.bfd_ms.split(","):
            bfd = BfdTimers(tx_ms=int(ms), rx_ms=int(ms), multiplier=args.multiplier)
            try:
                print(run_series(daemon.strip(), bfd, args.repeats, args.prefix).summary(), flush=True)
            except (LabError, ImportError) as exc:
                why = (str(exc).splitlines() or [type(exc).__name__])[0]
                print(f"{daemon:7} BFD {ms} ms x {args.multiplier}: failed: {why}", flush=True)
                status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
