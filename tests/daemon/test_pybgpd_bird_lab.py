"""pybgpd as a process against BIRD in network namespaces: what an operator sees.

Lab: node `p` runs pybgpd with two iBGP neighbors, BIRD nodes `b1` (over p:eth0) and `b2` (over p:eth1).
Checks: `pybgpd --check` on a broken file (every error with line and key, non-zero exit); sessions and
routes both ways; `pybgpctl` in table and JSON form; metrics scraped over HTTP; reload that changes one
neighbor's policy and re-creates the other: BIRD b1 sees no new session, b2 does (b1 without an import
table, the default: pybgpd sends BIRD ROUTE-REFRESH and the resent routes meet the new policy; with
`import_table = true` the policy is re-run over the kept routes, nothing sent); a bad reload changes
nothing; SIGTERM: BIRD sees Cease/Administrative Shutdown with our RFC 9003 message, pybgpd exits 0 and
its kernel routes are gone.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pybgp.testing.drivers import wait_until
from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.drivers.pybgpd import PybgpdDriver
from pybgp.testing.lab import Lab, Node
from pybgp.testing.monitor import RouteMonitor

from .bird_pair import pybgpd_head, pybgpd_neighbors, rr_client_conf, two_tors

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


def pybgpd_conf(sock: Path, *, b1_policy: str = "", b2_hold: int = 240, extra: str = "",
                b1_table: bool = False) -> str:
    imp = f'import = "{b1_policy}"\n' if b1_policy else ""
    imp += "import_table = true\n" if b1_table else ""
    neighbors = pybgpd_neighbors(b1_extra=imp, b2_extra=f"hold_time = {b2_hold}\n")
    return pybgpd_head(sock) + f"""
[metrics]
address = "127.0.0.1:9179"

[origination]
static = ["10.99.0.0/24"]
{neighbors}
[policy.lp300]
[[policy.lp300.rules]]
set.local_pref = 300
{extra}
"""


@dataclass
class Rig:
    lab: Lab
    p: Node
    d: PybgpdDriver
    b1: BirdDriver
    b2: BirdDriver


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    with Lab("dmnbd") as lab:
        p, b1, b2 = two_tors(
            lab, rr_client_conf("10.0.1.2", "10.0.1.1", ["10.1.0.0/16"]),
            rr_client_conf("10.0.2.2", "10.0.2.1", ["10.2.0.0/16"]),
        )
        d = PybgpdDriver(p, "", neighbors={"10.0.1.2": "b1", "10.0.2.2": "b2"})
        d.config = pybgpd_conf(d.sock_path)
        b1.start()
        b2.start()
        d.start()
        try:
            assert wait_until(lambda: all(d.sessions().values()), 30), d.log_tail()
            yield Rig(lab, p, d, b1, b2)
        finally:
            d.stop()
            b1.stop()
            b2.stop()


def since(bird: BirdDriver, proto: str = "p") -> str:
    """BIRD's `Since` column for a protocol: changes whenever the session goes down and up again."""
    for line in bird.birdc("show protocols").stdout.splitlines():
        parts = line.split()
        if parts and parts[0] == proto:
            return " ".join(parts[4:6])
    return ""


def test_check_reports_every_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        '[global]\nasn = 70000000000\nrouter_id = "1.2.3"\n'  # 2, 3
        "[kernel]\ntabel = 254\n"  # 5
        '[[neighbor]]\naddress = "10.0.0.300"\nremote_as = "ibgp"\n'  # 7, 8
        'hold_time = 1\nbfd = { multiplier = 0 }\nimport = "nope"\n'  # 9, 10, 11
        '[origination]\nstatic = ["10.0.0.1/8"]\ninterfaces = "node0"\n'  # 13, 14
        '[logging]\nlevel = "loud"\n'  # 16
        '[metrics]\naddress = "9179"\n'  # 18
    )
    proc = subprocess.run(
        [sys.executable, "-m", "pybgp.daemon.main", "--check", "-c", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    found = {
        int(m.group(1)): m.group(2)
        for m in re.finditer(rf"^{re.escape(str(bad))}:(\d+): (\S+):", proc.stderr, re.M)
    }
    expected = {
        2: "global.asn",
        3: "global.router_id",
        5: "kernel.tabel",
        7: "neighbor[0].address",
        8: "neighbor[0].remote_as",
        9: "neighbor[0].hold_time",
        10: "neighbor[0].bfd.multiplier",
        11: "neighbor[0].import",
        13: "origination.static",
        14: "origination.interfaces",
        16: "logging.level",
        18: "metrics.address",
    }
    assert found == expected, proc.stderr
    assert "did you mean 'table'" in proc.stderr


def test_routes_both_ways_and_pybgpctl(rig: Rig) -> None:
    assert wait_until(lambda: rig.p.route_nexthops("10.1.0.0/16") == {("10.0.1.2", "eth0")}, 15)
    assert wait_until(lambda: rig.p.route_nexthops("10.2.0.0/16") == {("10.0.2.2", "eth1")}, 15)
    assert wait_until(lambda: any(str(r.prefix) == "10.99.0.0/24" for r in rig.b1.routes()), 15)
    rows = rig.d.query("show", "neighbors")
    assert {r["name"]: r["state"] for r in rows} == {"b1": "established", "b2": "established"}
    table = rig.d.ctl("show", "neighbors").stdout
    assert "BGP neighbors" in table and "b1" in table and "established" in table
    kernel = rig.d.query("show", "kernel")
    assert {"prefix": "10.1.0.0/16", "nexthops": [{"gateway": "10.0.1.2", "ifname": "eth0"}]} in kernel
    assert "10.1.0.0/16" in rig.d.ctl("show", "routes").stdout
    wait = rig.d.ctl("wait", "route", "10.1.0.0/16", "--timeout", "5", check=False)
    assert wait.returncode == 0


def test_metrics_scraped(rig: Rig) -> None:
    script = "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9179/metrics',timeout=5).read().decode())"
    expected = [
        'pybgp_session_established{neighbor="b1"} 1.0',
        "pybgp_kernel_routes 2.0",
        'pybgp_prefixes_accepted{neighbor="b2"} 1.0',
        'pybgp_prefixes_installed{neighbor="b2"} 1.0',
        "pybgp_kernel_hold 0.0",
    ]
    bodies: list[str] = []

    def scraped() -> bool:  # gauges follow the daemon's own batches: scrape until they have caught up
        bodies.append(rig.p.run([sys.executable, "-c", script]).stdout)
        return all(line in bodies[-1] for line in expected)

    assert wait_until(scraped, 10), [line for line in expected if line not in bodies[-1]]


def local_pref(rig: Rig, prefix: str) -> int | None:
    routes = {r["prefix"]: r for r in rig.d.query("show", "routes")}
    return routes[prefix]["local_pref"] if prefix in routes else None


def refreshes_sent(rig: Rig, name: str) -> int:
    return int(rig.d.query("show", "neighbor", name)["messages_out"].get("RouteRefresh", 0))


def test_reload_touches_only_what_changed(rig: Rig) -> None:
    b1_since, b2_since = since(rig.b1), since(rig.b2)
    assert b1_since and b2_since
    refreshes = refreshes_sent(rig, "b1")
    rig.d.conf_path.write_text(pybgpd_conf(rig.d.sock_path, b1_policy="lp300", b2_hold=90))
    out = rig.d.ctl("reload", json_out=True)
    result = json.loads(out.stdout)
    assert result["import_policy"] == ["b1"] and result["recreated"] == ["b2"]
    assert wait_until(lambda: all(rig.d.sessions().values()) and since(rig.b2) != b2_since, 30)
    # No import table (the default): BIRD was asked for its routes again (RFC 2918) and resent them.
    assert wait_until(lambda: local_pref(rig, "10.1.0.0/16") == 300, 10), rig.d.log_tail()
    assert refreshes_sent(rig, "b1") == refreshes + 1
    assert '"event": "import-policy-refresh"' in rig.d.log_path.read_text()
    assert since(rig.b1) == b1_since  # b1's session was never reset: BIRD saw no new session
    # A broken file is refused (pybgpctl and SIGHUP alike); the running config stays.
    rig.d.conf_path.write_text(pybgpd_conf(rig.d.sock_path, b1_policy="nope"))
    bad = rig.d.ctl("reload", check=False)
    assert bad.returncode == 1 and "policy 'nope' is not defined" in bad.stderr
    assert rig.d.proc is not None
    os.kill(rig.d.proc.pid, signal.SIGHUP)
    assert wait_until(lambda: rig.d.log_path.read_text().count('"event": "reload-failed"') == 2, 10)
    assert rig.d.running() and since(rig.b1) == b1_since
    assert rig.d.query("show", "neighbor", "b1")["import_policy"] == "lp300"
    assert '"event": "reloaded"' in rig.d.log_path.read_text()


def test_reload_with_import_table_reruns_the_policy(rig: Rig) -> None:
    """b1 with `import_table = true` (a session setting: the reload re-creates it): a new import policy
    is re-run over the routes as received, at once, with no ROUTE-REFRESH and no reset."""
    rig.d.conf_path.write_text(pybgpd_conf(rig.d.sock_path, b1_table=True))
    assert "b1" in json.loads(rig.d.ctl("reload", json_out=True).stdout)["recreated"]
    assert wait_until(lambda: all(rig.d.sessions().values()) and local_pref(rig, "10.1.0.0/16") == 100, 30)
    b1_since, refreshes = since(rig.b1), refreshes_sent(rig, "b1")
    rig.d.conf_path.write_text(pybgpd_conf(rig.d.sock_path, b1_table=True, b1_policy="lp300"))
    assert json.loads(rig.d.ctl("reload", json_out=True).stdout)["import_policy"] == ["b1"]
    assert local_pref(rig, "10.1.0.0/16") == 300  # re-run by the reload itself
    assert refreshes_sent(rig, "b1") == refreshes and since(rig.b1) == b1_since
    assert [r["prefix"] for r in rig.d.query("show", "rib-in", "b1")] == ["10.1.0.0/16"]
    rig.d.conf_path.write_text(pybgpd_conf(rig.d.sock_path))
    assert rig.d.ctl("reload", check=False).returncode == 0
    assert wait_until(lambda: all(rig.d.sessions().values()), 30), rig.d.log_tail()
    # without the table `show rib-in` still lists what b1 contributes (post-policy, from the Loc-RIB)
    def listed() -> list[str]:
        return [r["prefix"] for r in rig.d.query("show", "rib-in", "b1")]

    assert wait_until(lambda: listed() == ["10.1.0.0/16"], 15), listed()


def test_restart_with_keep_on_exit_never_drops_the_route(rig: Rig) -> None:
    keep = "[kernel]\nkeep_on_exit = true\n"
    rig.d.conf_path.write_text(pybgpd_conf(rig.d.sock_path, extra=keep))
    assert rig.d.ctl("reload", check=False).returncode == 0
    rig.d.config = rig.d.conf_path.read_text()
    assert wait_until(lambda: rig.p.route_nexthops("10.1.0.0/16") == {("10.0.1.2", "eth0")}, 15)
    with RouteMonitor(rig.p) as mon:
        assert rig.d.terminate() == 0, rig.d.log_tail()
        assert rig.p.route_nexthops("10.1.0.0/16") == {("10.0.1.2", "eth0")}  # kept while we are away
        rig.p.ip("route", "replace", "10.55.0.0/16", "via", "10.0.1.2", "proto", "186", "metric", "32")
        rig.d.start()
        assert wait_until(lambda: all(rig.d.sessions().values()), 30), rig.d.log_tail()
        # The leftover nobody re-announces is removed once the sessions have settled.
        assert wait_until(lambda: not rig.p.route_nexthops("10.55.0.0/16"), 15), rig.d.log_tail()
        drops = [e for e in mon.events if e.dst == "10.1.0.0/16" and (e.kind == "del" or not e.nexthops)]
    assert not drops, drops
    assert rig.p.route_nexthops("10.1.0.0/16") == {("10.0.1.2", "eth0")}
    rig.d.conf_path.write_text(pybgpd_conf(rig.d.sock_path))
    assert rig.d.ctl("reload", check=False).returncode == 0


def test_sigterm_is_cease_admin_shutdown_on_bird(rig: Rig) -> None:
    assert wait_until(lambda: bool(rig.p.route_nexthops("10.1.0.0/16")), 10)
    code = rig.d.terminate()
    assert code == 0, rig.d.log_tail()
    detail = rig.b1.birdc("show protocols all p").stdout
    assert "Administrative shutdown" in detail, detail
    assert "pybgpd shutting down" in detail, detail
    assert rig.p.route_nexthops("10.1.0.0/16") == set()  # kernel routes flushed (keep_on_exit = false)
    log = rig.d.log_path.read_text()
    assert '"event": "stopped"' in log
