"""Bring a `Topology` to life in a `Lab`: namespaces, links, addresses, pod routes and daemons.

Owns: `build_topology` (plain nodes/links from a description) and `Fabric` / `build_fabric` (the seed
leaf-spine fabric with BIRD on ToRs and spines and a pluggable server daemon: ``"bird"`` now,
``"pybgpd"`` through `pybgp.testing.drivers.pybgpd.for_server`), plus the bounded waits tests need:
all sessions Established, every server holding an ECMP route to every other server's /32.
Never does: generate daemon configs itself (`birdconf`, drivers) or measure failover (`monitor`).

Usage::

    with Lab("xyz") as lab:
        fabric = build_fabric(lab, seed_topology(), server_daemon="bird")
        fabric.wait_established(timeout=30)      # LabError naming what is still down
        fabric.wait_ecmp(timeout=30)
        link = fabric.uplink("r0srv1", "eth0")   # Link oriented from the server
        link.cut(); ...; link.restore()
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from pybgp.testing.birdconf import spine_config, tor_config
from pybgp.testing.drivers import DaemonDriver, load_server_driver, wait_until
from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.lab import Lab, LabError, Link, Node
from pybgp.testing.topology import Topology


def build_topology(lab: Lab, topo: Topology) -> dict[str, Node]:
    """Create every node, bridge, address device and link of `topo` (idempotent); returns the nodes."""
    topo.validate()
    nodes = {spec.name: lab.node(spec.name, role=spec.role, router=spec.router) for spec in topo.nodes}
    for br in topo.bridges:
        lab.bridge(nodes[br.node], br.name, br.addrs)
    for dev in topo.address_devices:
        lab.address_device(nodes[dev.node], dev.name, dev.addrs)
    for ls in topo.links:
        lab.link(
            nodes[ls.a], ls.a_if, nodes[ls.b], ls.b_if,
            a_addrs=ls.a_addrs, b_addrs=ls.b_addrs, b_bridge=ls.b_bridge,
        )
    return nodes


@dataclass(slots=True, kw_only=True)
class Fabric:
    """A running seed fabric: its lab, description, nodes and one daemon driver per node."""

    lab: Lab
    topology: Topology
    server_daemon: str
    nodes: dict[str, Node]
    drivers: dict[str, DaemonDriver] = field(default_factory=dict)

    @property
    def server_names(self) -> list[str]:
        return [s.name for s in self.topology.servers]

    def uplink(self, server: str, ifname: str) -> Link:
        """The link from `server`'s `ifname` (eth0/eth1) to its ToR, oriented from the server."""
        return self.lab.find_link(server, ifname)

    def start(self) -> None:
        """Start spines, then ToRs, then servers (so passive ToRs already listen when servers dial)."""
        order = [s.name for s in self.topology.spines] + [t.name for t in self.topology.tors]
        order += self.server_names
        for name in order:
            self.drivers[name].start()

    def pending_sessions(self) -> list[str]:
        """"node->peer" for every configured BGP session that is not Established (empty when all are)."""
        pending = []
        for name, driver in self.drivers.items():
            for peer, up in driver.sessions().items():
                if not up:
                    pending.append(f"{name}->{peer}")
        return pending

    def wait_established(self, timeout: float = 30.0) -> float:
        """Wait until every session is Established; returns seconds waited, LabError on timeout."""
        start = time.monotonic()
        if not wait_until(lambda: not self.pending_sessions(), timeout, interval=0.25):
            raise LabError(f"sessions not Established after {timeout}s: {self.pending_sessions()}")
        return time.monotonic() - start

    def expected_nexthops(self, server: str, other: str) -> set[tuple[str, str]]:
        """The (gateway, dev) pairs `server`'s kernel route to `other`'s /32 should have.

        A rack-mate is reached directly on both links (its eth0/eth1 addresses); a server of another
        rack via ToR1 on eth0 and ToR2 on eth1 (TARGET.md rules 4 and 5).
        """
        me, them = self.topology.server(server), self.topology.server(other)
        if me.rack == them.rack:
            return {(t.local_ip, m.ifname) for m, t in zip(me.uplinks, them.uplinks, strict=True)}
        return {(m.tor_address, m.ifname) for m in me.uplinks}

    def missing_ecmp(self) -> list[str]:
        """"server->other" for every server pair whose kernel route is not the expected 2-nexthop ECMP."""
        missing = []
        for server in self.server_names:
            node = self.nodes[server]
            for other in self.server_names:
                if other == server:
                    continue
                got = node.route_nexthops(self.topology.server(other).node_ip)
                if got != self.expected_nexthops(server, other):
                    missing.append(f"{server}->{other}: {sorted(got)}")
        return missing

    def wait_ecmp(self, timeout: float = 30.0) -> float:
        """Wait until every server has its ECMP route to every other server; LabError on timeout."""
        start = time.monotonic()
        if not wait_until(lambda: not self.missing_ecmp(), timeout, interval=0.25):
            raise LabError(f"ECMP routes incomplete after {timeout}s: {self.missing_ecmp()}")
        return time.monotonic() - start

    def stop(self) -> None:
        for driver in self.drivers.values():
            driver.stop()


def build_fabric(lab: Lab, topo: Topology, *, server_daemon: str = "bird", start: bool = True) -> Fabric:
    """Create the seed fabric's namespaces and links, write pod routes, configure and start daemons.

    `server_daemon` names a module in `pybgp.testing.drivers` providing ``for_server(node, spec)``.
    """
    factory = load_server_driver(server_daemon)
    nodes = build_topology(lab, topo)
    fabric = Fabric(lab=lab, topology=topo, server_daemon=server_daemon, nodes=nodes)
    for spec in topo.servers:
        node = nodes[spec.name]
        for pod in spec.pod_routes:
            node.ip("route", "replace", pod, "dev", "lo", "proto", str(spec.pod_protocol),
                    "table", str(spec.pod_table))
        fabric.drivers[spec.name] = factory(node, spec)
    for tor in topo.tors:
        fabric.drivers[tor.name] = BirdDriver(
            nodes[tor.name], tor_config(tor),
            neighbors={nb.address: nb.name for nb in (*tor.servers, *tor.spines)},
        )
    for spine in topo.spines:
        fabric.drivers[spine.name] = BirdDriver(
            nodes[spine.name], spine_config(spine), neighbors={nb.address: nb.name for nb in spine.tors}
        )
    if start:
        fabric.start()
    return fabric
