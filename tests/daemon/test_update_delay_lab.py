"""`[kernel] update_delay` against real BIRD ToRs: the startup kernel hold, seen in the kernel.

Lab: node `p` runs pybgpd with two iBGP neighbors, BIRD `b1` (over p:eth0) and `b2` (over p:eth1), both
sending the same PREFIXES. Checks: with both ToRs, every prefix reaches the kernel after both End-of-RIBs
(well before `update_delay`), as a 2-nexthop ECMP route at its first write (the `RouteMonitor` never sees a
one-nexthop route for any of them), and a later session reset is not deferred; with one ToR never
connecting and the other sending no End-of-RIB, the routes arrive `update_delay` after its session came up.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from pybgp.testing.drivers import wait_until
from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.drivers.pybgpd import PybgpdDriver
from pybgp.testing.lab import Lab, Node
from pybgp.testing.monitor import RouteMonitor

from .bird_pair import pybgpd_neighbors, rr_client_conf, two_tors

pytestmark = pytest.mark.lab

PREFIXES = [f"10.60.{i // 256}.{i % 256}/32" for i in range(300)]
HOP1, HOP2 = ("10.0.1.2", "eth0"), ("10.0.2.2", "eth1")


def pybgpd_conf(node: Node, update_delay: float) -> str:
    return f"""
[global]
asn = 64600
router_id = "10.0.1.1"

[control]
socket = "{node.run_dir / "pybgpd.sock"}"

[logging]
format = "json"

[kernel]
update_delay = {update_delay}
{pybgpd_neighbors()}"""


@contextmanager
def lab(prefix: str, *, b1_graceful_restart: bool = True) -> Iterator[tuple[Node, BirdDriver, BirdDriver]]:
    with Lab(prefix) as lb:
        gr = "" if b1_graceful_restart else "  graceful restart off;\n"
        p, b1, b2 = two_tors(
            lb, rr_client_conf("10.0.1.2", "10.0.1.1", PREFIXES, extra=gr),
            rr_client_conf("10.0.2.2", "10.0.2.1", PREFIXES),
        )
        try:
            yield p, b1, b2
        finally:
            b1.stop()
            b2.stop()


def hold_ended(d: PybgpdDriver) -> dict[str, object]:
    """The daemon's `kernel-hold-ended` log record (JSON logging), or {} before it."""
    for line in d.log_path.read_text(errors="replace").splitlines():
        if '"kernel-hold-ended"' in line:
            record: dict[str, object] = json.loads(line)
            return record
    return {}


def one_hop_writes(mon: RouteMonitor) -> list[str]:
    """Prefixes of PREFIXES the kernel ever held with a single nexthop."""
    wanted = set(PREFIXES)
    return sorted({e.dst for e in mon.events if e.dst in wanted and e.kind == "add" and len(e.nexthops) == 1})


def test_both_tors_first_write_is_ecmp_after_both_end_of_rib() -> None:
    with lab("dspud") as (p, b1, b2):
        b1.start()
        b2.start()
        d = PybgpdDriver(p, "", neighbors={"10.0.1.2": "b1", "10.0.2.2": "b2"})
        d.config = pybgpd_conf(p, update_delay=30)
        with RouteMonitor(p) as mon:
            started = time.monotonic()
            d.start()
            try:
                assert wait_until(lambda: all(d.sessions().values()), 20), d.log_tail()
                for prefix in PREFIXES:  # all well before update_delay (30 s)
                    left = max(1.0, started + 25 - time.monotonic())
                    mon.wait_for(prefix, lambda hops: hops == {HOP1, HOP2}, timeout=left)
                record = hold_ended(d)
                assert record.get("reason") == "end-of-rib", d.log_tail()  # BIRD sent End-of-RIB: no timeout
                assert one_hop_writes(mon) == []
                # after the hold, a session reset is written at once (never deferred): b2 goes, comes back
                b2.birdc("disable p")
                mon.wait_for(PREFIXES[0], lambda hops: hops == {HOP1}, timeout=10)
                b2.birdc("enable p")
                mon.wait_for(PREFIXES[0], lambda hops: hops == {HOP1, HOP2}, timeout=10)
            finally:
                d.stop()


def test_one_tor_never_connecting_routes_arrive_after_update_delay() -> None:
    # b2's BIRD never runs; b1 sends no End-of-RIB (`graceful restart off`): only the timer ends the hold
    with lab("dspue", b1_graceful_restart=False) as (p, b1, _b2):
        b1.start()
        d = PybgpdDriver(p, "", neighbors={"10.0.1.2": "b1", "10.0.2.2": "b2"})
        d.config = pybgpd_conf(p, update_delay=4)
        with RouteMonitor(p) as mon:
            d.start()
            try:
                assert wait_until(lambda: d.established("b1"), 20), d.log_tail()
                up = time.monotonic()
                event = mon.wait_for(PREFIXES[0], lambda hops: hops == {HOP1}, timeout=15)
                record = hold_ended(d)
                assert record.get("reason") == "update-delay", d.log_tail()
                assert event.at - up > 2.5  # `update_delay` (4 s) after b1 came up, give or take the polling
                for prefix in PREFIXES:
                    mon.wait_for(prefix, lambda hops: hops == {HOP1}, timeout=5)
            finally:
                d.stop()
