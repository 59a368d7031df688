"""Watch a node's kernel routing table with timestamps, to measure failover (cut -> nexthop gone).

Owns: `RouteMonitor`, which runs a small helper *inside* the node's namespace
(``python -m pybgp.testing.monitor --table N``: a pyroute2 netlink listener printing one JSON line per
route event with its `time.monotonic()` receipt time), keeps the current state of every route, and
answers bounded waits such as "when did 10.69.1.2/32 lose nexthop 10.69.0.65?". CLOCK_MONOTONIC is
shared by all namespaces, so the helper's timestamps compare directly with the caller's.
Never does: change routes, or watch anything but the tables it was asked for.

Usage::

    with RouteMonitor(node, table=254) as mon:
        t_cut = time.monotonic(); link.cut()
        event = mon.wait_for("10.69.1.2/32", lambda hops: ("10.69.0.65", "eth0") not in hops, timeout=5)
        print(f"nexthop gone after {(event.at - t_cut) * 1000:.0f} ms")
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from pybgp.testing.lab import LabError, Node, stop_process

Hops = frozenset[tuple[str, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteEvent:
    """One kernel route change: `at` is time.monotonic() when the netlink message was read."""

    at: float
    kind: str  # "add" (RTM_NEWROUTE, also replacements), "del" (RTM_DELROUTE), "dump" (initial state)
    table: int
    dst: str  # "10.69.1.2/32", "0.0.0.0/0"
    protocol: int
    nexthops: Hops  # (gateway, dev) pairs; gateway "" for device routes


class RouteMonitor:
    """Timestamped view of one node's kernel routes in `table` (254 = main), fed by a helper process."""

    def __init__(self, node: Node, *, table: int = 254, start_timeout: float = 10.0) -> None:
        self.node = node
        self.table = table
        self.events: list[RouteEvent] = []
        self.current: dict[str, RouteEvent] = {}
        self._cond = threading.Condition()
        self._ready = False
        self._proc: subprocess.Popen[Any] = node.popen(
            [sys.executable, "-u", "-m", "pybgp.testing.monitor", "--table", str(table)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self._thread = threading.Thread(target=self._reader, name=f"routemon-{node.netns}", daemon=True)
        self._thread.start()
        with self._cond:
            if not self._cond.wait_for(lambda: self._ready or self._proc.poll() is not None, start_timeout):
                self.close()
                raise LabError(f"{node.netns}: route monitor did not start within {start_timeout}s")
        if not self._ready:
            raise LabError(f"{node.netns}: route monitor exited rc={self._proc.returncode}")

    def _reader(self) -> None:
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            try:
                data = json.loads(line)
            except ValueError:
                continue
            with self._cond:
                if data.get("ready"):
                    self._ready = True
                else:
                    event = RouteEvent(
                        at=float(data["t"]),
                        kind=str(data["kind"]),
                        table=int(data["table"]),
                        dst=str(data["dst"]),
                        protocol=int(data["proto"]),
                        nexthops=frozenset((str(g), str(d)) for g, d in data["hops"]),
                    )
                    self.events.append(event)
                    if event.kind == "del":
                        self.current.pop(event.dst, None)
                    else:
                        self.current[event.dst] = event
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def nexthops(self, dst: str) -> Hops:
        """The current (gateway, dev) set of `dst` (empty when there is no route)."""
        with self._cond:
            event = self.current.get(dst)
            return event.nexthops if event is not None else frozenset()

    def wait_for(self, dst: str, predicate: Callable[[Hops], bool], timeout: float) -> RouteEvent:
        """Wait until `dst`'s nexthops satisfy `predicate`; return the event that made it true.

        If it already holds, the event that established the current state is returned (a synthetic
        "absent" event with `at` = now when the route does not exist). LabError on timeout.
        """
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                event = self.current.get(dst)
                hops = event.nexthops if event is not None else frozenset()
                if predicate(hops):
                    if event is not None:
                        return event
                    last = [e for e in self.events if e.dst == dst]
                    at = last[-1].at if last else time.monotonic()
                    return RouteEvent(at=at, kind="del", table=self.table, dst=dst, protocol=0, nexthops=hops)
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._proc.poll() is not None:
                    raise LabError(f"{self.node.netns}: {dst} still {sorted(hops)} after {timeout}s")
                self._cond.wait(remaining)

    def wait_nexthop_gone(self, dst: str, gateway: str, timeout: float) -> RouteEvent:
        """Wait until no nexthop of `dst` uses `gateway`; returns the event (its `at` is when)."""
        return self.wait_for(dst, lambda hops: all(g != gateway for g, _ in hops), timeout)

    def wait_nexthop_count(self, dst: str, count: int, timeout: float) -> RouteEvent:
        """Wait until `dst` has exactly `count` nexthops (e.g. 2 when ECMP is back)."""
        return self.wait_for(dst, lambda hops: len(hops) == count, timeout)

    def close(self) -> None:
        stop_process(self._proc, timeout=2.0)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._thread.join(timeout=2.0)

    def __enter__(self) -> RouteMonitor:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


# -- the helper that runs inside the namespace --------------------------------------------------------


def _route_json(msg: Any, kind: str, names: dict[int, str], table: int) -> dict[str, Any] | None:
    rt_table = msg.get_attr("RTA_TABLE") or msg["table"]
    if rt_table != table:
        return None
    family = msg["family"]
    dst = msg.get_attr("RTA_DST") or ("0.0.0.0" if family == 2 else "::")
    hops: list[tuple[str, str]] = []
    multipath = msg.get_attr("RTA_MULTIPATH")
    if multipath:
        for nh in multipath:
            gw = nh.get_attr("RTA_GATEWAY") or ""
            hops.append((gw, names.get(nh["oif"], str(nh["oif"]))))
    else:
        oif = msg.get_attr("RTA_OIF")
        gw = msg.get_attr("RTA_GATEWAY") or ""
        if oif is not None or gw:
            hops.append((gw, names.get(oif or 0, str(oif))))
    return {
        "t": time.monotonic(),
        "kind": kind,
        "table": rt_table,
        "dst": f"{dst}/{msg['dst_len']}",
        "proto": msg["proto"],
        "hops": hops,
    }


def helper_main(argv: list[str] | None = None) -> int:
    """Print the routes of one table, then every change, as JSON lines with monotonic timestamps."""
    from pyroute2 import IPRoute
    from pyroute2.netlink.rtnl import RTMGRP_IPV4_ROUTE, RTMGRP_IPV6_ROUTE, RTMGRP_LINK

    parser = argparse.ArgumentParser(prog="python -m pybgp.testing.monitor")
    parser.add_argument("--table", type=int, default=254)
    args = parser.parse_args(argv)
    out = sys.stdout
    with IPRoute() as ipr:
        ipr.bind(groups=RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE | RTMGRP_LINK)
        names = {link["index"]: link.get_attr("IFLA_IFNAME") for link in ipr.get_links()}
        for family in (2, 10):
            for msg in ipr.get_routes(family=family, table=args.table):
                line = _route_json(msg, "dump", names, args.table)
                if line is not None:
                    out.write(json.dumps(line) + "\n")
        out.write(json.dumps({"ready": True}) + "\n")
        out.flush()
        while True:
            for msg in ipr.get():
                event = msg.get("event")
                if event == "RTM_NEWLINK":
                    names[msg["index"]] = msg.get_attr("IFLA_IFNAME")
                    continue
                if event not in ("RTM_NEWROUTE", "RTM_DELROUTE"):
                    continue
                line = _route_json(msg, "add" if event == "RTM_NEWROUTE" else "del", names, args.table)
                if line is not None:
                    out.write(json.dumps(line) + "\n")
            out.flush()


if __name__ == "__main__":
    try:
        sys.exit(helper_main())
    except (KeyboardInterrupt, BrokenPipeError):
        sys.exit(0)
