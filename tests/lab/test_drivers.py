"""The optional GoBGP and FRR drivers against BIRD in a two-namespace lab: sessions and routes both ways."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

import pytest

from pybgp.testing.drivers import DaemonDriver, wait_until
from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.drivers.frr import FrrDriver, frr_available, frr_bfd_config, frr_bgp_config
from pybgp.testing.drivers.gobgp import GobgpDriver, gobgp_available, gobgp_config
from pybgp.testing.lab import Lab, Node
from pybgp.testing.topology import BfdTimers, Neighbor

pytestmark = pytest.mark.lab

BIRD_SIDE = """router id 10.0.0.1;
protocol device {}
protocol bfd { interface "*" { min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }; }
protocol static { ipv4; route 10.98.0.0/24 unreachable; }
protocol kernel { ipv4 { export all; }; }
protocol bgp peer {
  local 10.0.0.1 as 64513; neighbor 10.0.0.2 as 64512; BFD
  connect delay time 1; connect retry time 1; error wait time 1,2;
  ipv4 { import all; export all; };
}
"""


def pair(make_lab: Callable[[str], Lab], prefix: str, bfd: bool) -> tuple[Node, BirdDriver, Node]:
    lab = make_lab(prefix)
    a, b = lab.node("a", router=True), lab.node("b", router=True)
    lab.link(a, "eth0", b, "eth0", a_addrs=["10.0.0.1/30"], b_addrs=["10.0.0.2/30"])
    bird = BirdDriver(a, BIRD_SIDE.replace("BFD", "bfd on;" if bfd else ""), neighbors={"10.0.0.2": "peer"})
    bird.start()
    return a, bird, b


def exchange(a: Node, bird: BirdDriver, other: DaemonDriver) -> None:
    assert isinstance(other, DaemonDriver)
    assert wait_until(lambda: other.established("10.0.0.1") and bird.established("10.0.0.2"), 30)
    assert other.sessions() == {"10.0.0.1": True}
    want = ipaddress.ip_network("10.99.0.0/24")
    assert wait_until(lambda: any(r.prefix == want for r in bird.routes()), 15)
    assert wait_until(lambda: any(str(r.prefix) == "10.98.0.0/24" for r in other.routes()), 15)
    assert ("10.0.0.2", "eth0") in a.route_nexthops("10.99.0.0/24")


@pytest.mark.skipif(gobgp_available() is not None, reason=str(gobgp_available()))
def test_gobgp_driver_against_bird(make_lab: Callable[[str], Lab]) -> None:
    a, bird, b = pair(make_lab, "labgo", bfd=False)
    nb = Neighbor(name="a", address="10.0.0.1", local_address="10.0.0.2", remote_as=64513, interface="eth0")
    gobgp = GobgpDriver(
        b, gobgp_config(asn=64512, router_id="10.0.0.2", neighbors=[nb]),
        neighbors={"10.0.0.1": "a"}, announce=["10.99.0.0/24"],
    )
    gobgp.start()
    exchange(a, bird, gobgp)
    learned = [r for r in gobgp.routes() if str(r.prefix) == "10.98.0.0/24"]
    assert learned[0].nexthops == (ipaddress.ip_address("10.0.0.1"),)
    gobgp.stop()
    assert not gobgp.running()
    assert wait_until(lambda: not bird.established("10.0.0.2"), 15)


@pytest.mark.skipif(frr_available() is not None, reason=str(frr_available()))
def test_frr_driver_against_bird_with_bfd(make_lab: Callable[[str], Lab]) -> None:
    a, bird, b = pair(make_lab, "labfr", bfd=True)
    nb = Neighbor(name="a", address="10.0.0.1", local_address="10.0.0.2", remote_as=64513, interface="eth0")
    frr = FrrDriver(
        b, frr_bgp_config(asn=64512, router_id="10.0.0.2", neighbors=[nb], networks=["10.99.0.0/24"]),
        bfd_config=frr_bfd_config(BfdTimers()), neighbors={"10.0.0.1": "a"},
    )
    frr.start()
    exchange(a, bird, frr)
    assert wait_until(lambda: frr.bfd_peers().get("10.0.0.1") == "up", 20)
    assert ("10.0.0.1", "eth0") in b.route_nexthops("10.98.0.0/24")
    frr.stop()
    assert not frr.running()
