"""Lab primitives in real namespaces: links, address devices, silent cut, carrier loss, teardown, cleanup."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable

import pytest

from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.fabric import build_topology
from pybgp.testing.lab import Lab, LabError, cleanup_prefix, netns_list, process_alive
from pybgp.testing.topology import Topology

pytestmark = pytest.mark.lab

TCP_PROBE = textwrap.dedent(
    """
    import socket, sys
    s = socket.socket(); s.settimeout(float(sys.argv[2]))
    try:
        s.connect((sys.argv[1], 9))
    except ConnectionRefusedError:
        print("reachable")   # a RST came back: packets flow
    except OSError as exc:
        print("unreachable", type(exc).__name__)
    """
)


def probe(node: object, address: str, timeout: float = 0.5) -> str:
    from pybgp.testing.lab import Node

    assert isinstance(node, Node)
    return node.run([sys.executable, "-c", TCP_PROBE, address, str(timeout)]).stdout.strip()


def test_link_cut_down_and_teardown(make_lab: Callable[[str], Lab]) -> None:
    lab = make_lab("labp")
    a, b = lab.node("a", router=True), lab.node("b")
    link = lab.link(a, "eth0", b, "eth0", a_addrs=["10.0.0.1/30", "fd00::1/64"], b_addrs=["10.0.0.2/30"])
    assert lab.link(a, "eth0", b, "eth0") is link  # idempotent
    assert lab.node("a") is a
    lab.address_device(b, "node0", ["10.9.9.9/32"])
    assert any(r.get("dst") == "10.0.0.0/30" for r in a.routes())
    assert "10.9.9.9/32" in b.ip("-4", "addr", "show", "dev", "node0").stdout
    assert "state UP" in b.ip("link", "show", "dev", "node0").stdout
    assert a.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1"
    assert probe(a, "10.0.0.2") == "reachable"
    assert link.pin_neighbors() == 2  # 10.0.0.1 <-> 10.0.0.2, one entry each way (b has no IPv6)
    assert "PERMANENT" in a.ip("neigh", "show", "10.0.0.2", "dev", "eth0").stdout

    link.cut()
    assert "pybgplab_cut_eth0" in a.run(["nft", "list", "tables"]).stdout
    assert "state UP" in b.ip("link", "show", "dev", "eth0").stdout  # silent: carrier stays
    assert probe(a, "10.0.0.2").startswith("unreachable")
    assert probe(b, "10.0.0.1").startswith("unreachable")  # both directions
    link.restore()
    assert probe(a, "10.0.0.2") == "reachable"

    link.down()
    assert "NO-CARRIER" in b.ip("link", "show", "dev", "eth0").stdout
    link.up()
    sleeper = a.popen(["sleep", "30"])
    lab.close()
    assert sleeper.poll() is not None and not process_alive(sleeper.pid)
    assert not [ns for ns in netns_list() if ns.startswith("labp-")]


def test_description_bring_up_is_idempotent(make_lab: Callable[[str], Lab]) -> None:
    topo = Topology.from_dict(
        {
            "nodes": {"r": {"router": True}, "h1": {}, "h2": {}},
            "bridges": [{"node": "r", "name": "br0", "addrs": ["10.1.0.1/24", "fd01::1/64"]}],
            "links": [
                {"a": "h1", "a_if": "eth0", "a_addrs": ["10.1.0.11/24"],
                 "b": "r", "b_if": "p1", "b_bridge": "br0"},
                {"a": "h2", "a_if": "eth0", "a_addrs": ["10.1.0.12/24", "fd01::12/64"],
                 "b": "r", "b_if": "p2", "b_bridge": "br0"},
            ],
            "address_devices": [{"node": "h1", "name": "node0", "addrs": ["10.9.0.1/32"]}],
        }
    )
    lab = make_lab("labi")
    first = build_topology(lab, topo)
    second = build_topology(lab, topo)  # a second bring-up changes nothing and does not fail
    assert first == second and len(lab.links) == 2
    assert probe(first["h1"], "10.1.0.12") == "reachable"  # h1 -> bridge -> h2 on one L2 segment
    assert "fd01::12/64" in first["h2"].ip("-6", "addr", "show", "dev", "eth0").stdout


def test_bird_driver_lifecycle_and_reaping(make_lab: Callable[[str], Lab]) -> None:
    lab = make_lab("labb")
    node = lab.node("r", router=True)
    bad = BirdDriver(node, "router id 1.2.3.4;\nprotocol nonsense {}\n")
    with pytest.raises(LabError, match="invalid BIRD config"):
        bad.start()
    node.drivers.remove(bad)
    driver = BirdDriver(node, "router id 1.2.3.4;\nprotocol device {}\n")
    driver.start()
    assert driver.running() and "device1" in driver.protocols()
    pid = driver.proc.pid if driver.proc else 0
    lab.close()
    assert not driver.running() and not process_alive(pid)


def test_prefix_in_use_is_refused(make_lab: Callable[[str], Lab]) -> None:
    make_lab("labu")
    other = subprocess.run(
        [sys.executable, "-c", "from pybgp.testing.lab import Lab; Lab('labu')"],
        capture_output=True, text=True, timeout=60,
    )
    assert other.returncode != 0 and "in use by live pid" in other.stderr
    with pytest.raises(LabError, match="already open in this process"):
        Lab("labu")
    with pytest.raises(ValueError):
        Lab("Bad-Prefix")


def test_cleanup_command_after_a_killed_run(lab_required: None) -> None:
    """A lab whose process was SIGKILLed (no teardown ran) is removed by `python -m pybgp.testing cleanup`."""
    script = textwrap.dedent(
        """
        import sys, time
        from pybgp.testing.lab import Lab
        lab = Lab("labk")
        n = lab.node("x")
        n.popen(["sleep", "60"])
        print("up", flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "up"
        assert "labk-x" in netns_list()
        skipped = subprocess.run(
            [sys.executable, "-m", "pybgp.testing", "cleanup", "--prefix", "labk"],
            capture_output=True, text=True, timeout=60,
        )
        assert "skipped" in skipped.stdout and "labk-x" in netns_list()  # owner alive: left alone
    finally:
        child.kill()
        child.wait(timeout=10)
    time.sleep(0.1)
    out = subprocess.run(
        [sys.executable, "-m", "pybgp.testing", "cleanup", "--prefix", "labk"],
        capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0 and "labk-x" in out.stdout, out.stdout + out.stderr
    assert "labk-x" not in netns_list()
    refused = subprocess.run(
        [sys.executable, "-m", "pybgp.testing", "cleanup", "--prefix", "nosuchlab"],
        capture_output=True, text=True, timeout=60,
    )
    assert refused.returncode == 1 and "not touching" in refused.stdout
    assert cleanup_prefix("labk") == []


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_lab_is_torn_down_on_ctrl_c_and_sigterm(lab_required: None, signum: int) -> None:
    """A process holding a lab (not even in a `with` block) removes it when interrupted or terminated."""
    # Ctrl-C as from a terminal: a run started in the background (`cmd &`, nohup) inherits SIGINT
    # ignored, and Python then never raises KeyboardInterrupt, so the child restores the default first.
    script = textwrap.dedent(
        """
        import signal, time
        signal.signal(signal.SIGINT, signal.default_int_handler)
        from pybgp.testing.lab import Lab
        lab = Lab("labsig")
        daemon = lab.node("x").popen(["sleep", "60"])
        print(daemon.pid, flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        daemon_pid = int(child.stdout.readline())
        assert "labsig-x" in netns_list() and process_alive(daemon_pid)
        child.send_signal(signum)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=10)
        leftovers = cleanup_prefix("labsig")  # never leak, even when the assertions below fail
    assert leftovers == []
    assert not process_alive(daemon_pid)
