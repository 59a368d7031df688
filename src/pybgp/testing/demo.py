"""`make demo` (``python -m pybgp.testing.demo``): the leaf-spine fabric, ECMP, and a measured failover.

Owns: a narrated run for a newcomer: build the seed fabric in namespaces (prefix "demo"), show one
server's ECMP route to another server's /32, cut one server-ToR link silently, print how long the
kernel kept the dead nexthop, restore the link, show ECMP back, tear everything down. Servers run
pybgpd when its lab driver works (``--servers auto``, the default), else BIRD; every wait is bounded.
Never does: leave a namespace or daemon behind (the `Lab` context manager and its exit hooks).
"""

from __future__ import annotations

import argparse
import importlib
import os
import subprocess
import sys
import time

from pybgp.testing.fabric import Fabric, build_fabric
from pybgp.testing.lab import Lab, LabError, netns_list
from pybgp.testing.monitor import RouteMonitor
from pybgp.testing.topology import BfdTimers, Topology, seed_topology

SRC, DST = "r0srv1", "r1srv1"
DAEMON_NAMES = {"bird": "BIRD", "pybgpd": "pybgpd"}


def say(text: str = "") -> None:
    print(text, flush=True)


def brief(exc: BaseException, lines: int = 3) -> str:
    """The first line of an error and its last few (a daemon's log tail can be long)."""
    text = str(exc).strip().splitlines() or [exc.__class__.__name__]
    if len(text) <= lines + 1:
        return "\n    ".join(text)
    return "\n    ".join([text[0], "...", *text[-lines:]])


def pybgpd_usable() -> str | None:
    """None when the pybgpd lab driver and daemon are importable and start, else why not."""
    try:
        importlib.import_module("pybgp.testing.drivers.pybgpd")
    except Exception as exc:  # any import failure means "not ready yet"
        return f"no pybgpd lab driver ({exc.__class__.__name__}: {exc})"
    try:
        check = subprocess.run(
            [sys.executable, "-m", "pybgp.daemon.main", "--help"], capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        return "pybgpd --help timed out"
    if check.returncode != 0:
        lines = (check.stderr.strip() or "no output").splitlines()
        return f"pybgpd does not start yet: {lines[-1]}"
    return None


def describe(topo: Topology) -> None:
    say("The fabric (TARGET.md's data center, in network namespaces named demo-<node>):")
    for spine in topo.spines:
        say(f"  {spine.name:8} AS {spine.asn}  eBGP + BFD to every ToR, next-hop-self")
    for tor in topo.tors:
        say(f"  {tor.name:8} AS {tor.asn}  {tor.address:17} passive iBGP route reflector for its rack")
    for srv in topo.servers:
        ups = ", ".join(f"{u.ifname} {u.address}" for u in srv.uplinks)
        say(f"  {srv.name:8} AS {srv.asn}  node0 {srv.node_address:15} {ups}")


def show_route(fabric: Fabric, server: str, dst_ip: str, ifnames: dict[str, str]) -> None:
    hops = sorted(fabric.nodes[server].route_nexthops(dst_ip), key=lambda hop: hop[1])
    if not hops:
        say(f"    (no route to {dst_ip})")
    for gw, dev in hops:
        say(f"    {dst_ip}/32  nexthop via {gw:12} dev {dev}  ({ifnames.get(dev, '?')})")


def run(server_daemon: str, bfd: BfdTimers, prefix: str) -> int:
    topo = seed_topology(bfd=bfd)
    describe(topo)
    src, dst = topo.server(SRC), topo.server(DST)
    ifnames = {u.ifname: f"to ToR {u.tor_address}" for u in src.uplinks}
    with Lab(prefix) as lab:
        say()
        say(f"[1/6] Building {len(topo.nodes)} namespaces and {len(topo.links)} veth links, starting BIRD "
            f"on ToRs and spine and {DAEMON_NAMES[server_daemon]} on the servers ...")
        t0 = time.monotonic()
        fabric = build_fabric(lab, topo, server_daemon=server_daemon)
        est = fabric.wait_established(timeout=60)
        sessions = sum(len(d.sessions()) for d in fabric.drivers.values())
        say(f"      {sessions} BGP session ends Established {est:.1f} s after the daemons started "
            f"({time.monotonic() - t0:.1f} s in all).")
        fabric.wait_ecmp(timeout=60)
        say(f"[2/6] {SRC}'s kernel route to {DST}'s node address: one route, two nexthops (ECMP).")
        say(f"      `ip route show {dst.node_ip}` in {lab.prefix}-{SRC} prints:")
        for line in fabric.nodes[SRC].ip("route", "show", dst.node_ip).stdout.rstrip().splitlines():
            say(f"        {line.strip()}")
        show_route(fabric, SRC, dst.node_ip, ifnames)
        link = fabric.uplink(SRC, "eth0")
        gone_gw = src.uplinks[0].tor_address
        with RouteMonitor(fabric.nodes[SRC]) as mon:
            say(f"[3/6] Cutting {SRC} eth0 <-> {link.b.name} silently: nftables drops every packet "
                "both ways,")
            say(f"      the link stays up, so only BFD ({bfd.tx_ms} ms x {bfd.multiplier} = "
                f"{bfd.detection_ms} ms detection) can notice ...")
            t_cut = time.monotonic()
            link.cut()
            try:
                event = mon.wait_nexthop_gone(f"{dst.node_ip}/32", gone_gw, timeout=15)
            except LabError:
                link.restore()
                raise
            gone_ms = (event.at - t_cut) * 1000
            say(f"      nexthop via {gone_gw} left {SRC}'s kernel {gone_ms:.0f} ms after the cut.")
            show_route(fabric, SRC, dst.node_ip, ifnames)
            say("[4/6] Restoring the link ...")
            t_restore = time.monotonic()
            link.restore()
            back = mon.wait_nexthop_count(f"{dst.node_ip}/32", 2, timeout=30)
            back_s = back.at - t_restore
            say(f"      ECMP back {back_s:.1f} s after the restore (BFD up, BGP re-established):")
            show_route(fabric, SRC, dst.node_ip, ifnames)
        say("[5/6] Tearing down: stopping daemons, deleting namespaces ...")
    left = [ns for ns in netns_list() if ns.startswith(f"{prefix}-")]
    say(f"[6/6] Done; {len(left) or 'no'} demo namespaces left{': ' + ' '.join(left) if left else ''}.")
    return 0 if not left else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pybgp.testing.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--servers", choices=("auto", "bird", "pybgpd"), default="auto",
                        help="daemon on the servers (auto: pybgpd when it works, else BIRD)")
    parser.add_argument("--bfd-ms", type=int, default=100, help="BFD tx/rx interval in ms (default 100)")
    parser.add_argument("--multiplier", type=int, default=3, help="BFD detect multiplier (default 3)")
    parser.add_argument("--prefix", default="demo", help="namespace prefix (default demo)")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        say("The demo needs root (it creates network namespaces).")
        return 2
    bfd = BfdTimers(tx_ms=args.bfd_ms, rx_ms=args.bfd_ms, multiplier=args.multiplier)
    server_daemon = args.servers
    if server_daemon == "auto":
        reason = pybgpd_usable()
        server_daemon = "pybgpd" if reason is None else "bird"
        if reason is not None:
            say(f"Servers run BIRD ({reason}).")
    try:
        return run(server_daemon, bfd, args.prefix)
    except LabError as exc:
        say(f"demo failed: {brief(exc)}")
        if args.servers == "auto" and server_daemon == "pybgpd":
            say("Retrying with BIRD on the servers.")
            try:
                return run("bird", bfd, args.prefix)
            except LabError as exc2:
                say(f"demo failed again: {brief(exc2)}")
        return 1
    except KeyboardInterrupt:
        say("interrupted; everything was torn down.")
        return 130


if __name__ == "__main__":
    sys.exit(main())
