"""Feeding a server (issue 6): full tables from two BIRD ToRs into pybgpd, BIRD and ExaBGP, then failover.

Lab (namespaces `bench<pid>-srv`, `-tor1`, `-tor2`, see `feed_lab`): the server sits in both ToRs'
/26s over eth0/eth1 with iBGP (AS 64600) and BFD 100 ms x 3, as in TARGET.md; each ToR is a BIRD
2.0.12 feeder originating the same routes as static routes (`feed_data`), so the server ends up with
two equal paths per prefix and installs 2-nexthop ECMP routes.

Feeds: (a) the real table of updates.et-header.2015.gz (577,706 prefixes; BIRD static routes whose
attribute blocks carry the original AS path, origin, MED, LOCAL_PREF and communities), (b) 1M
synthetic /24s over 8 shared attribute sets, (c) 100k /24s with unique attributes each.

For each feed and receiver, in one run: the ToRs' sessions are enabled with the receiver idle, then
  up -> RIB: first session Established (polled every 50 ms) until both ToRs' paths are all accepted
           (pybgpd control socket `show neighbors`; `birdc show protocols all`; ExaBGP: prefixes
           counted by its API process);
  up -> kernel: until the server's main table holds every prefix as a 2-nexthop route (fast
           /proc/net/fib_triestat polling, then a full netlink route dump that must show them all ECMP);
  CPU seconds (/proc/PID/stat of the receiver and its children, from enable to done), peak RSS
  (VmHWM, summed over the process tree) and bytes per path ((peak - idle RSS) / paths); for pybgpd
  also `second_session_ms` from its log: the later ToR's reconnect -> TCP connect done -> Established
  while the first ToR floods (ms resolution; "2nd session up" is the 0.1 s control-socket poll).
Failover (with feed (b) installed, pybgpd and BIRD): silent cut of eth0 (nftables netdev drop
chains), time from BFD Down (the receiver's own log) and from the cut until no route uses eth0
(netlink dumps; for nexthop groups the group table is polled every 5 ms first), then restore ->
first ECMP route back and every route ECMP again.

Usage: `.venv/bin/python benchmarks/feed_server.py [--feeds a,b,c] [--receivers pybgpd,bird,exabgp]
[--scale 1.0] [--no-failover] [--nexthop-compat-mode 0|1] [--json FILE]`. PYBGP_FEED_PROFILE=FILE
runs pybgpd under cProfile (FILE.<receiver>); PYBGP_FEED_KEEP_LOG=DIR keeps pybgpd's JSON log there.
Every wait is bounded (`--timeout` per phase); namespaces and processes are removed on exit, also on
failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from feed_data import FULL_A, FULL_B, FULL_C, Feed, feed_a, feed_b, feed_c
from feed_kernel import NamespaceKernel, tree_cpu_seconds, tree_memory_kib
from feed_lab import RECEIVERS, FeedLab

from pybgp.testing import Lab

TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


@dataclass(slots=True, kw_only=True)
class FeedResult:
    feed: str
    receiver: str
    prefixes: int
    paths: int
    up_to_rib_s: float | None = None
    up_to_kernel_s: float | None = None
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    bytes_per_path: float = 0.0
    steady_bytes_per_path: float = 0.0
    kernel_check_s: float = 0.0  # duration of the last netlink dump: the resolution of up_to_kernel_s
    rib_poll_s: float = 0.0  # interval between RIB queries at the end: the resolution of up_to_rib_s
    rib_query_max_s: float = 0.0  # slowest RIB query (a busy daemon answers its control socket late)
    # first -> second ToR session Established: inside every "up ->" figure, which starts at the first
    # (each receiver's own reconnect timing after the ToRs start accepting, not its processing speed)
    second_up_s: float | None = None
    # pybgpd only, from its log (ms): the later ToR's reconnect -> TCP connect done -> Established
    second_session_ms: dict[str, float] = field(default_factory=dict)
    failover: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def _wait(pred: Callable[[], bool], timeout: float, interval: float) -> float | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return time.monotonic()
        time.sleep(interval)
    return None


def _flush_server(fl: FeedLab, kern: NamespaceKernel, base: int) -> None:
    """Make sure the next receiver starts from an empty FIB (the stopped daemon should have flushed)."""
    if _wait(lambda: kern.main_prefixes() <= base, 60, 0.5) is None:
        for proto in ("bird", "186"):
            fl.server.ip("route", "flush", "table", "main", "proto", proto, check=False)
    fl.server.ip("nexthop", "flush", check=False)


def measure(
    fl: FeedLab,
    kern: NamespaceKernel,
    feed: Feed,
    rx_name: str,
    base: int,
    *,
    timeout: float,
    failover: bool,
    cut_hold: float = 3.0,
    settle: float = 1.0,
) -> FeedResult:
    rx = RECEIVERS[rx_name](fl.server, fl)
    res = FeedResult(feed=feed.name, receiver=rx_name, prefixes=feed.prefixes, paths=2 * feed.prefixes)
    fl.set_feeding(False)
    rx.start()
    try:
        time.sleep(settle)
        idle_kib = tree_memory_kib(rx.pid, "VmRSS")
        cpu0 = tree_cpu_seconds(rx.pid)
        fl.set_feeding(True)
        t_up = _wait(lambda: rx.established() >= 1, 60, 0.05)
        if t_up is None:
            res.error = "no session within 60 s"
            return res
        deadline = t_up + timeout
        t_rib = t_kernel = t_up2 = None
        next_rib = 0.0
        while time.monotonic() < deadline and (t_rib is None or (rx.kernel and t_kernel is None)):
            if t_up2 is None and rx.established() >= 2:
                t_up2 = time.monotonic()
            if t_rib is None and time.monotonic() >= next_rib:
                # a query costs the receiver CPU (pybgpd's `show neighbors` walks its tables): poll at
                # most every 10x the query's own duration (capped at 2 s), so polling stays under ~10%
                q0 = time.monotonic()
                if rx.rib_paths() >= res.paths:
                    t_rib = time.monotonic()
                took = time.monotonic() - q0
                res.rib_query_max_s = round(max(res.rib_query_max_s, took), 2)
                res.rib_poll_s = round(min(2.0, max(0.1, 10 * took)), 2)
                next_rib = q0 + res.rib_poll_s
            if rx.kernel and t_kernel is None and kern.main_prefixes() - base >= feed.prefixes:
                census = kern.census()
                res.kernel_check_s = census.seconds
                if census.ecmp >= feed.prefixes:
                    t_kernel = time.monotonic()
            time.sleep(0.1)
        res.cpu_s = round(tree_cpu_seconds(rx.pid) - cpu0, 2)
        peak_kib = tree_memory_kib(rx.pid, "VmHWM")
        res.peak_rss_mib = round(peak_kib / 1024, 1)
        res.bytes_per_path = round((peak_kib - idle_kib) * 1024 / res.paths, 1)
        # RSS once loaded, against the peak: what the transients of the load (read buffers, queued
        # kernel batches, a dict's resize) add on top of the tables themselves
        res.steady_bytes_per_path = round((tree_memory_kib(rx.pid, "VmRSS") - idle_kib) * 1024 / res.paths, 1)
        res.up_to_rib_s = round(t_rib - t_up, 2) if t_rib else None
        res.up_to_kernel_s = round(t_kernel - t_up, 2) if t_kernel else None
        res.second_up_s = round(t_up2 - t_up, 2) if t_up2 else None
        gaps = getattr(rx, "session_gaps_ms", None)
        res.second_session_ms = gaps() if gaps is not None else {}
        if t_rib is None or (rx.kernel and t_kernel is None):
            res.error = f"incomplete after {timeout:.0f} s: rib paths {rx.rib_paths()}/{res.paths}"
        elif failover and rx.kernel:
            res.failover = measure_failover(fl, kern, rx, feed, base, timeout=timeout, cut_hold=cut_hold)
        return res
    finally:
        rx.stop()
        fl.set_feeding(False)
        _flush_server(fl, kern, base)


def measure_failover(
    fl: FeedLab, kern: NamespaceKernel, rx: Any, feed: Feed, base: int, *, timeout: float, cut_hold: float
) -> dict[str, Any]:
    """Silent cut of server eth0, then restore; times in ms from the cut / from BFD Down / from restore."""
    out: dict[str, Any] = {}
    eth0 = kern.ifindex["eth0"]
    eth1 = kern.ifindex["eth1"]
    link = fl.links[0]
    downs_before = len(rx.bfd_down_times())
    wall0 = time.time()
    t0 = time.monotonic()
    link.cut()
    t_cut = (t0 + time.monotonic()) / 2  # the nft command takes a few ms: its midpoint
    wall_cut = wall0 + (t_cut - t0)
    t_gone = None
    deadline = t_cut + timeout
    groups = kern.nexthop_objects()
    if groups:  # nexthop groups: one group rewrite removes eth0 from every route; poll the groups
        t_cand = _wait(
            lambda: not any(eth0 in o and len(o) > 1 for o in kern.nexthop_objects().values()), timeout, 0.005
        )
        if t_cand is not None and kern.census(watch_ifname="eth0").via_watched == 0:
            t_gone = t_cand
    while t_gone is None and time.monotonic() < deadline:
        census = kern.census(watch_ifname="eth0")
        if census.via_watched == 0:
            t_gone = time.monotonic()
            out["resolution_ms"] = round(census.seconds * 1000)
    _wait(
        lambda: len(rx.bfd_down_times()) > downs_before, max(0.1, t_cut + cut_hold - time.monotonic()), 0.05
    )
    downs = rx.bfd_down_times()[downs_before:]
    t_bfd = t_cut + (downs[0] - wall_cut) if downs else None
    out["cut_to_gone_ms"] = round((t_gone - t_cut) * 1000) if t_gone else None
    out["bfd_down_after_cut_ms"] = round((t_bfd - t_cut) * 1000) if t_bfd else None
    out["bfd_down_to_gone_ms"] = round((t_gone - t_bfd) * 1000) if (t_gone and t_bfd) else None
    # restore at the same moment after the cut for every receiver (back-off timers run meanwhile)
    time.sleep(max(0.0, t_cut + cut_hold - time.monotonic()))
    # restore: the first ECMP (both links) route, and every route ECMP again
    t_r = time.monotonic()
    link.restore()
    t_first = t_all = None
    deadline = t_r + timeout
    if groups:  # poll the (few) nexthop objects every 5 ms: a full dump takes ~1.4 s at 1M routes
        t_first = _wait(
            lambda: any(eth0 in o and eth1 in o for o in kern.nexthop_objects().values()), timeout, 0.005
        )
    while time.monotonic() < deadline and t_all is None:
        if t_first is None:
            objs = kern.nexthop_objects()
            if any(eth0 in o and eth1 in o for o in objs.values()):
                t_first = time.monotonic()
        if kern.main_prefixes() - base >= feed.prefixes:
            census = kern.census(watch_ifname="eth0")
            if t_first is None and census.via_watched > 0 and census.ecmp > 0:
                t_first = time.monotonic()
            if census.ecmp >= feed.prefixes:
                t_all = time.monotonic()
                break
        time.sleep(0.02)
    out["restore_to_first_ecmp_ms"] = round((t_first - t_r) * 1000) if t_first else None
    out["restore_to_all_ecmp_ms"] = round((t_all - t_r) * 1000) if t_all else None
    return out


def _after_second(r: FeedResult) -> float | None:
    """Seconds from the receiver's second ToR session up to all in the kernel: the processing alone,
    without the random gap between its two reconnects (both ToRs start accepting at once)."""
    if r.up_to_kernel_s is None or r.second_up_s is None:
        return None
    return r.up_to_kernel_s - r.second_up_s


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}x" if a and b else "-"


def report(results: list[FeedResult]) -> str:
    lines = ["", "feed | receiver | paths | 2nd session up +s | up->RIB s | up->kernel s | CPU s | "
             "peak RSS MiB | bytes/path (peak) | bytes/path (loaded)"]
    lines.append("---|---|---|---|---|---|---|---|---|---")
    for r in results:
        rib = r.up_to_rib_s if r.up_to_rib_s is not None else "-"
        kernel = r.up_to_kernel_s if r.up_to_kernel_s is not None else "-"
        second = r.second_up_s if r.second_up_s is not None else "-"
        lines.append(
            f"{r.feed} | {r.receiver} | {r.paths:,} | {second} | {rib} | {kernel} | {r.cpu_s} | "
            f"{r.peak_rss_mib} | {r.bytes_per_path:.0f} | {r.steady_bytes_per_path:.0f}"
            + (f"  ERROR: {r.error}" if r.error else "")
        )
    lines += [
        "",
        "ratios (targets: pybgpd/BIRD to kernel <= 1.5x; ExaBGP/pybgpd to RIB >= 5x; < 250 bytes/path)",
    ]
    by = {(r.feed, r.receiver): r for r in results}
    for feed in sorted({r.feed for r in results}):
        b, e = by.get((feed, "bird")), by.get((feed, "exabgp"))
        for variant in ("pybgpd", "pybgpd-rx", "pybgpd-ud", "pybgpd-sync"):
            p = by.get((feed, variant))
            if p is None:
                continue
            parts = [f"feed {feed}, {variant}:"]
            if b:
                parts.append(
                    f"{variant}/BIRD to kernel {_ratio(p.up_to_kernel_s, b.up_to_kernel_s)} "
                    f"({_ratio(_after_second(p), _after_second(b))} from each one's second session up), "
                    f"to RIB {_ratio(p.up_to_rib_s, b.up_to_rib_s)}, CPU {_ratio(p.cpu_s, b.cpu_s)}, "
                    f"RSS {_ratio(p.peak_rss_mib, b.peak_rss_mib)};"
                )
            if e:
                parts.append(f"ExaBGP/{variant} to RIB {_ratio(e.up_to_rib_s, p.up_to_rib_s)};")
            verdict = "met" if p.bytes_per_path < 250 else "NOT met"
            parts.append(f"bytes/path {p.bytes_per_path:.0f} ({verdict})")
            lines.append(" ".join(parts))
    fo = [r for r in results if r.failover]
    if fo:
        lines += [
            "",
            "failover (feed b installed) | cut->BFD Down ms | BFD Down->nexthop gone ms | cut->gone ms | "
            "restore->first ECMP ms | restore->all ECMP ms",
        ]
        for r in fo:
            f = r.failover
            lines.append(
                f"{r.receiver} ({r.prefixes:,} routes) | {f.get('bfd_down_after_cut_ms')} | "
                f"{f.get('bfd_down_to_gone_ms')} | {f.get('cut_to_gone_ms')} | "
                f"{f.get('restore_to_first_ecmp_ms')} | {f.get('restore_to_all_ecmp_ms')}"
                + (f" (dump resolution {f['resolution_ms']} ms)" if "resolution_ms" in f else "")
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--feeds", default="a,b,c")
    ap.add_argument("--receivers", default="pybgpd,bird,exabgp")
    ap.add_argument("--scale", type=float, default=1.0, help="fraction of every feed's full size")
    ap.add_argument("--timeout", type=float, default=300.0, help="bound of every wait, seconds")
    ap.add_argument("--no-failover", action="store_true")
    ap.add_argument("--settle", type=float, default=1.0, help="seconds a receiver idles before the feed")
    ap.add_argument("--cut-hold", type=float, default=3.0, help="seconds the link stays cut (from the cut)")
    ap.add_argument("--json", type=Path, help="also write the results here")
    ap.add_argument(
        "--nexthop-compat-mode",
        type=int,
        choices=(0, 1),
        help="set the server namespace's net.ipv4.nexthop_compat_mode (kernel default 1: a nexthop group "
        "rewrite re-notifies every route using it; 0 skips that)",
    )
    ap.add_argument("--prefix", default=f"bench{os.getpid() % 100000}", help="namespace prefix")
    args = ap.parse_args(argv)
    if os.geteuid() != 0:
        print("needs root (network namespaces)", file=sys.stderr)
        return 2
    receivers = [r for r in args.receivers.split(",") if r]
    for r in receivers:
        if r not in RECEIVERS:
            ap.error(f"unknown receiver {r!r}")
    feeds: list[Feed] = []
    for name in [f for f in args.feeds.split(",") if f]:
        if name == "a":
            feeds.append(feed_a(TESTDATA, None if args.scale >= 1 else max(1, int(FULL_A * args.scale))))
        elif name == "b":
            feeds.append(feed_b(max(1, int(FULL_B * args.scale))))
        elif name == "c":
            feeds.append(feed_c(max(1, int(FULL_C * args.scale))))
        else:
            ap.error(f"unknown feed {name!r}")
    results: list[FeedResult] = []
    with Lab(args.prefix) as lab:
        fl = FeedLab(lab)
        kern = NamespaceKernel(fl.server.netns)
        base = kern.main_prefixes()
        if args.nexthop_compat_mode is not None:
            fl.server.run(["sysctl", "-qw", f"net.ipv4.nexthop_compat_mode={args.nexthop_compat_mode}"])
        try:
            for feed in feeds:
                loaded = fl.start_feeders(feed, timeout=args.timeout)
                print(f"feed {feed.name}: {feed.description}; ToRs loaded in {loaded:.1f} s", flush=True)
                for rx in receivers:
                    try:
                        res = measure(
                            fl,
                            kern,
                            feed,
                            rx,
                            base,
                            timeout=args.timeout,
                            failover=feed.name == "b" and not args.no_failover,
                            cut_hold=args.cut_hold,
                            settle=args.settle,
                        )
                    except Exception as exc:
                        res = FeedResult(
                            feed=feed.name,
                            receiver=rx,
                            prefixes=feed.prefixes,
                            paths=2 * feed.prefixes,
                            error=f"{type(exc).__name__}: {exc}",
                        )
                    results.append(res)
                    print(f"  {rx}: {json.dumps(asdict(res))}", flush=True)
                fl.stop_feeders()
        finally:
            fl.stop_feeders()
            kern.close()
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    load = os.getloadavg()
    print(f"\nload average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    return 0 if all(r.error is None for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
