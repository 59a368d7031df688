"""pybgpd as RFC 4724 helper for a real BIRD that dies and comes back, without an import table.

Lab (`bird_pair`): node `p` runs pybgpd (default config: `import_table = false`, so the stale marking and
the End-of-RIB sweep work on the Loc-RIB alone), BIRD `b1` (`graceful restart on`) sends 10.1/16 and
10.3/16, `b2` sends 10.2/16. b1 is killed (SIGKILL: the TCP session ends with no NOTIFICATION): pybgpd
keeps b1's routes, stale, in its RIB and the kernel. b1 restarts sending only 10.1/16: after its
End-of-RIB, 10.3/16 is gone (kernel too) and 10.1/16 is fresh again.
"""

from __future__ import annotations

from typing import Any

import pytest

from pybgp.testing.drivers import wait_until
from pybgp.testing.drivers.pybgpd import PybgpdDriver
from pybgp.testing.lab import Lab

from .bird_pair import pybgpd_head, pybgpd_neighbors, rr_client_conf, two_tors

pytestmark = pytest.mark.lab

GR = "  graceful restart on;\n"


def pybgpd_conf(sock: str) -> str:
    return pybgpd_head(sock) + pybgpd_neighbors()


def routes(d: PybgpdDriver) -> dict[str, dict[str, Any]]:
    return {r["prefix"]: r for r in d.query("show", "routes")}


def test_bird_restart_keeps_stale_routes_then_sweeps_at_end_of_rib() -> None:
    with Lab("dgrnt") as lab:
        p, b1, b2 = two_tors(
            lab, rr_client_conf("10.0.1.2", "10.0.1.1", ["10.1.0.0/16", "10.3.0.0/16"], extra=GR),
            rr_client_conf("10.0.2.2", "10.0.2.1", ["10.2.0.0/16"]),
        )
        d = PybgpdDriver(p, "", neighbors={"10.0.1.2": "b1", "10.0.2.2": "b2"})
        d.config = pybgpd_conf(str(d.sock_path))
        b1.start()
        b2.start()
        d.start()
        try:
            assert wait_until(lambda: all(d.sessions().values()), 30), d.log_tail()
            assert wait_until(lambda: bool(p.route_nexthops("10.3.0.0/16")), 15), d.log_tail()
            assert not d.query("show", "neighbor", "b1")["import_table"]
            assert b1.proc is not None
            b1.proc.kill()  # no NOTIFICATION, no FIN from BGP: the restart case of RFC 4724
            b1.proc.wait(10)
            assert wait_until(lambda: not d.established("b1"), 15), d.log_tail()
            held = routes(d)
            assert held["10.1.0.0/16"]["stale"] and held["10.3.0.0/16"]["stale"], held
            assert p.route_nexthops("10.3.0.0/16") == {("10.0.1.2", "eth0")}  # still forwarding
            row = next(r for r in d.query("show", "neighbors") if r["name"] == "b1")
            assert row["prefixes_stale"] == 2
            b1.config = rr_client_conf("10.0.1.2", "10.0.1.1", ["10.1.0.0/16"], extra=GR)
            b1.start()
            swept = wait_until(lambda: d.established("b1") and "10.3.0.0/16" not in routes(d), 30)
            assert swept, d.log_tail()
            fresh = routes(d)["10.1.0.0/16"]
            assert not fresh["stale"] and fresh["from"] == "b1"
            assert wait_until(lambda: not p.route_nexthops("10.3.0.0/16"), 10)
            assert p.route_nexthops("10.1.0.0/16") == {("10.0.1.2", "eth0")}
            row = next(r for r in d.query("show", "neighbors") if r["name"] == "b1")
            assert row["prefixes_stale"] == 0 and row["prefixes_accepted"] == 1
        finally:
            d.stop()
            b1.stop()
            b2.stop()
