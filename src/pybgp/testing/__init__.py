"""pybgp.testing: the leaf-spine fabric lab in network namespaces, daemon drivers and fixtures.

Owns: creating and tearing down namespaces, veth links and daemons (BIRD, FRR, GoBGP, pybgpd),
cutting links, watching kernel routes with timestamps, and pytest fixtures. Used by the tests, the
demo and the benchmarks, and by anyone who wants a virtual fabric in a test harness.
Never does: send traffic anywhere but its own namespaces.

Map: `lab` (Lab, Node, Link: namespaces, veths, run/popen, cut/restore, teardown), `topology`
(descriptions, `seed_topology`), `fabric` (bring a topology up with daemons), `birdconf` (BIRD
configs), `drivers` (DaemonDriver protocol; bird, frr, gobgp, pybgpd), `monitor` (RouteMonitor),
`failover` (timed cuts), `clock` (FakeClock for virtual-time tests), `plugin` (pytest fixtures),
`demo` (`make demo`), `__main__` (cleanup).

Quick start::

    from pybgp.testing import Lab, build_fabric, seed_topology
    with Lab("xyz") as lab:
        fabric = build_fabric(lab, seed_topology(), server_daemon="bird")
        fabric.wait_established(); fabric.wait_ecmp()
"""

from pybgp.testing.clock import FakeClock
from pybgp.testing.fabric import Fabric, build_fabric, build_topology
from pybgp.testing.lab import Lab, LabError, Link, Node
from pybgp.testing.monitor import RouteEvent, RouteMonitor
from pybgp.testing.topology import BfdTimers, BgpTimers, Topology, seed_topology

__all__ = [
    "BfdTimers",
    "BgpTimers",
    "Fabric",
    "FakeClock",
    "Lab",
    "LabError",
    "Link",
    "Node",
    "RouteEvent",
    "RouteMonitor",
    "Topology",
    "build_fabric",
    "build_topology",
    "seed_topology",
]
