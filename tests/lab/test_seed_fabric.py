"""The seed leaf-spine fabric with BIRD everywhere: sessions, ECMP, and failover measured in the kernel.

One fabric for the whole module (fixture `seed_fabric` from the `pybgp_lab` plugin, prefix "lab");
namespaces and daemons are removed at the end of the module, also on failure.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pybgp.testing.fabric import Fabric
from pybgp.testing.failover import measure_failover
from pybgp.testing.lab import RUN_ROOT, netns_list, process_alive
from pybgp.testing.monitor import RouteMonitor

pytestmark = pytest.mark.lab

# BFD 100 ms x 3 -> 300 ms detection; the margin covers BIRD's BGP teardown, the kernel export and a
# busy 2-core machine shared with other test runs (measured here: 230-290 ms end to end).
FAILOVER_MARGIN_MS = 700


@pytest.fixture(scope="module")
def lab_prefix() -> str:
    return "lab"


@pytest.fixture(scope="module")
def seed_options() -> dict[str, object]:
    return {"default_route": True, "server_daemon": "bird"}


def _our_processes(run_dir: Path) -> list[int]:
    """Live (non-zombie) processes whose command line mentions this lab's run directory."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
        except OSError:
            continue
        if f"{run_dir}/".encode() in cmdline and process_alive(int(proc.name)):
            pids.append(int(proc.name))
    return pids


@pytest.fixture(scope="module", autouse=True)
def nothing_left_behind(lab_prefix: str) -> Iterator[None]:
    """Set up before `seed_fabric`, so torn down after it: then no namespace or daemon of ours remains."""
    yield
    assert [ns for ns in netns_list() if ns.startswith(f"{lab_prefix}-")] == []
    assert _our_processes(RUN_ROOT / lab_prefix) == []


def test_all_sessions_established(seed_fabric: Fabric) -> None:
    assert seed_fabric.pending_sessions() == []
    # 4 servers x 2 uplinks, each seen from both ends, plus 4 ToR-spine sessions from both ends.
    total = sum(len(d.sessions()) for d in seed_fabric.drivers.values())
    assert total == 4 * 2 * 2 + 4 * 2


def test_every_server_has_ecmp_to_every_other_server(seed_fabric: Fabric) -> None:
    assert seed_fabric.missing_ecmp() == []
    hops = seed_fabric.nodes["r0srv1"].route_nexthops("10.69.1.2")
    assert hops == {("10.69.0.65", "eth0"), ("10.69.0.129", "eth1")}
    # Rule 4: a rack-mate is reached directly on both links, not through the ToRs.
    assert seed_fabric.nodes["r0srv1"].route_nexthops("10.69.0.3") == {
        ("10.69.0.67", "eth0"),
        ("10.69.0.131", "eth1"),
    }


def test_default_route_arrives_as_ecmp_via_both_tors(seed_fabric: Fabric) -> None:
    for server in seed_fabric.topology.servers:
        hops = seed_fabric.nodes[server.name].route_nexthops("0.0.0.0/0")
        assert hops == {(up.tor_address, up.ifname) for up in server.uplinks}, server.name


def test_pod_routes_propagate_but_are_not_reinstalled_locally(seed_fabric: Fabric) -> None:
    node = seed_fabric.nodes["r0srv1"]
    main = {r["dst"] for r in node.routes()}
    assert "10.224.0.0/30" not in main  # its own pod block stays only in table 119 (rule 6)
    assert "10.69.0.2" not in main  # its own /32 is never installed (rule 6)
    assert {"10.224.1.0/30", "10.224.2.0/30", "10.224.3.0/30"} <= main
    far = seed_fabric.nodes["r1srv2"].route_nexthops("10.224.0.0/30")
    assert far == {("10.69.1.65", "eth0"), ("10.69.1.129", "eth1")}


def test_silent_cut_removes_nexthop_within_bfd_detection(seed_fabric: Fabric) -> None:
    server = seed_fabric.nodes["r0srv1"]
    bfd = seed_fabric.topology.server("r0srv1").bfd
    bound_ms = bfd.detection_ms + FAILOVER_MARGIN_MS
    link = seed_fabric.uplink("r0srv1", "eth0")
    with RouteMonitor(server) as mon:
        assert len(mon.nexthops("10.69.1.2/32")) == 2
        t_cut = time.monotonic()
        link.cut()
        try:
            far = mon.wait_nexthop_gone("10.69.1.2/32", "10.69.0.65", timeout=10)
            mate = mon.wait_nexthop_gone("10.69.0.3/32", "10.69.0.67", timeout=10)
        finally:
            link.restore()
        t_restore = time.monotonic()
        far_ms, mate_ms = (far.at - t_cut) * 1000, (mate.at - t_cut) * 1000
        print(f"\nsilent cut r0srv1:eth0 -> nexthop gone: other rack {far_ms:.0f} ms, "
              f"rack-mate {mate_ms:.0f} ms (BFD {bfd.tx_ms} ms x {bfd.multiplier}, bound {bound_ms} ms)")
        assert far.nexthops == {("10.69.0.129", "eth1")}  # the other path stays
        assert mate.nexthops == {("10.69.0.131", "eth1")}
        # Not before BFD could have detected anything (minus one tx interval of jitter), not much later.
        assert bfd.detection_ms - bfd.tx_ms <= far_ms <= bound_ms
        assert bfd.detection_ms - bfd.tx_ms <= mate_ms <= bound_ms
        back = mon.wait_nexthop_count("10.69.1.2/32", 2, timeout=20)
        print(f"link restored -> ECMP back after {(back.at - t_restore) * 1000:.0f} ms")
    seed_fabric.wait_established(timeout=20)
    seed_fabric.wait_ecmp(timeout=20)


def test_carrier_loss_removes_nexthop_fast(seed_fabric: Fabric) -> None:
    server = seed_fabric.nodes["r1srv1"]
    link = seed_fabric.uplink("r1srv1", "eth1")
    with RouteMonitor(server) as mon:
        t_down = time.monotonic()
        link.down()
        try:
            gone = mon.wait_nexthop_gone("10.69.0.2/32", "10.69.1.129", timeout=10)
        finally:
            link.up()
        ms = (gone.at - t_down) * 1000
        print(f"\ncarrier loss r1srv1:eth1 -> nexthop gone after {ms:.1f} ms")
        assert gone.nexthops == {("10.69.1.65", "eth0")}
        assert ms < 1000  # BIRD's `check link` reacts in a few ms; BFD would take 300 ms
        mon.wait_nexthop_count("10.69.0.2/32", 2, timeout=20)
    seed_fabric.wait_established(timeout=20)


def test_measure_failover_helper(seed_fabric: Fabric) -> None:
    result = measure_failover(seed_fabric, server="r1srv2", ifname="eth1", target="r0srv2", repeats=1)
    print(f"\n{result.summary()}")
    detection = result.bfd.detection_ms
    assert len(result.silent_cut_ms) == len(result.carrier_loss_ms) == len(result.restore_ms) == 1
    assert detection - result.bfd.tx_ms <= result.silent_cut_ms[0] <= detection + FAILOVER_MARGIN_MS
    assert result.carrier_loss_ms[0] < 1000
    assert seed_fabric.missing_ecmp() == []
    with pytest.raises(ValueError):
        measure_failover(seed_fabric, server="r1srv2", target="r1srv1")


def test_daemon_routes_view(seed_fabric: Fabric) -> None:
    routes = seed_fabric.drivers["r0srv2"].routes()
    far = [r for r in routes if str(r.prefix) == "10.69.1.3/32"]
    assert {r.source for r in far} == {"tor1", "tor2"}
    assert sum(r.best for r in far) == 1
    assert {str(nh) for r in far for nh in r.nexthops} == {"10.69.0.65", "10.69.0.129"}
