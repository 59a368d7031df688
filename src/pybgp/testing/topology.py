"""Topology descriptions: nodes, links and BGP roles as data, and the seed leaf-spine fabric.

Owns: the frozen spec dataclasses a topology is made of (`NodeSpec`, `LinkSpec`, `ServerSpec`,
`TorSpec`, `SpineSpec`, ...), `Topology.from_dict` / `to_dict` / `load_toml` for the dict/TOML form,
and `seed_topology(...)`, the fabric of /work/shared/docs/TARGET.md: 2 racks (AS 64600, 64601), each
with 2 ToRs (passive iBGP route reflectors, BFD) and 2 servers on eth0/eth1, and 1-2 spines in AS
64599 (eBGP with BFD). Pure data: nothing here touches the kernel (see `pybgp.testing.fabric`).
Never does: create namespaces, write configs or start daemons.

Addressing (rack r, server n = 1, 2, ...; host offset h = n + 1 because the ToR is the first host):
  node0 /32      10.69.r.h/32             ToR1 subnet 10.69.r.64/26   ToR1 = 10.69.r.65, server eth0 = .64+h
  pods           10.224.<k>.0/30 (table 119, proto 30)  ToR2 subnet 10.69.r.128/26 ToR2 = .129, eth1 = .128+h
  ToR <-> spine  10.68.<spine>.<2k>/31 (spine) and .<2k+1>/31 (ToR), k = 2r + (tor - 1)

The TOML/dict form of a plain topology::

    [nodes.a]
    role = "host"
    router = true
    [nodes.b]
    [[links]]
    a = "a"
    a_if = "eth0"
    a_addrs = ["10.0.0.1/30"]
    b = "b"
    b_if = "eth0"
    b_addrs = ["10.0.0.2/30"]
    [[address_devices]]
    node = "b"
    name = "node0"
    addrs = ["10.9.9.9/32"]
"""

from __future__ import annotations

import ipaddress
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

LB_COMMUNITY = (64698, 64699)
SPINE_AS = 64599
RACK_AS_BASE = 64600
POD_TABLE = 119
POD_PROTOCOL = 30


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdTimers:
    """BFD asynchronous-mode timers; the lab default is 100 ms x 3 (production: 400 ms x 5)."""

    tx_ms: int = 100
    rx_ms: int = 100
    multiplier: int = 3

    @property
    def detection_ms(self) -> int:
        """Detection time when both ends use these timers (RFC 5880 6.8.4)."""
        return max(self.tx_ms, self.rx_ms) * self.multiplier


@dataclass(frozen=True, slots=True, kw_only=True)
class BgpTimers:
    """Short lab timers (BIRD's defaults would make a lab slow); hold stays at the BIRD default."""

    connect_delay: int = 1
    connect_retry: int = 2
    error_wait_min: int = 1
    error_wait_max: int = 5
    hold: int = 240
    keepalive: int = 80


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeSpec:
    name: str
    role: str = "host"  # "server", "tor", "spine", "host"
    router: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class LinkSpec:
    a: str
    a_if: str
    b: str
    b_if: str
    a_addrs: tuple[str, ...] = ()
    b_addrs: tuple[str, ...] = ()
    b_bridge: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BridgeSpec:
    node: str
    name: str
    addrs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class AddressDeviceSpec:
    node: str
    name: str
    addrs: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Neighbor:
    """One BGP neighbor as a router config needs it."""

    name: str  # protocol / session name, e.g. "tor1", "r0srv1"
    address: str
    local_address: str
    remote_as: int
    interface: str
    passive: bool = False
    rr_client: bool = False
    bfd: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class Uplink:
    """A server's link to one ToR: its interface, address, and the ToR's address and subnet."""

    tor_name: str  # "tor1" / "tor2": BGP session name on the server
    ifname: str  # "eth0" / "eth1"
    address: str  # "10.69.0.66/26"
    tor_address: str  # "10.69.0.65"
    subnet: str  # "10.69.0.64/26"

    @property
    def local_ip(self) -> str:
        return self.address.split("/")[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerSpec:
    """Everything a server daemon (BIRD or pybgpd) needs to play TARGET.md's server role."""

    name: str
    rack: int
    asn: int
    router_id: str
    node_address: str  # "10.69.0.2/32" on `node_device`
    node_device: str = "node0"
    uplinks: tuple[Uplink, ...]
    pod_routes: tuple[str, ...] = ()
    pod_table: int = POD_TABLE
    pod_protocol: int = POD_PROTOCOL
    lb_community: tuple[int, int] = LB_COMMUNITY
    bfd: BfdTimers = field(default_factory=BfdTimers)
    timers: BgpTimers = field(default_factory=BgpTimers)

    @property
    def node_ip(self) -> str:
        return self.node_address.split("/")[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class TorSpec:
    name: str
    rack: int
    asn: int
    router_id: str
    bridge: str
    subnet: str
    address: str  # "10.69.0.65/26" on the bridge
    servers: tuple[Neighbor, ...]
    spines: tuple[Neighbor, ...]
    bfd: BfdTimers = field(default_factory=BfdTimers)
    timers: BgpTimers = field(default_factory=BgpTimers)


@dataclass(frozen=True, slots=True, kw_only=True)
class SpineSpec:
    name: str
    asn: int
    router_id: str
    tors: tuple[Neighbor, ...]
    originate_default: bool = False  # announce 0.0.0.0/0 (TARGET: "the default route arrives this way")
    bfd: BfdTimers = field(default_factory=BfdTimers)
    timers: BgpTimers = field(default_factory=BgpTimers)


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    """A whole lab: plain nodes/links/bridges/address devices, plus BGP roles when it is a fabric."""

    nodes: tuple[NodeSpec, ...]
    links: tuple[LinkSpec, ...] = ()
    bridges: tuple[BridgeSpec, ...] = ()
    address_devices: tuple[AddressDeviceSpec, ...] = ()
    servers: tuple[ServerSpec, ...] = ()
    tors: tuple[TorSpec, ...] = ()
    spines: tuple[SpineSpec, ...] = ()

    def node(self, name: str) -> NodeSpec:
        for spec in self.nodes:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def server(self, name: str) -> ServerSpec:
        for spec in self.servers:
            if spec.name == name:
                return spec
        raise KeyError(name)

    def validate(self) -> None:
        """Raise ValueError for dangling node references or duplicate interface names in a node."""
        names = {n.name for n in self.nodes}
        if len(names) != len(self.nodes):
            raise ValueError("duplicate node names")
        seen: set[tuple[str, str]] = set()

        def claim(node: str, ifname: str) -> None:
            if node not in names:
                raise ValueError(f"unknown node {node!r}")
            if (node, ifname) in seen:
                raise ValueError(f"interface {node}:{ifname} declared twice")
            seen.add((node, ifname))

        for link in self.links:
            claim(link.a, link.a_if)
            claim(link.b, link.b_if)
            for cidr in (*link.a_addrs, *link.b_addrs):
                ipaddress.ip_interface(cidr)
        for br in self.bridges:
            claim(br.node, br.name)
        for dev in self.address_devices:
            claim(dev.node, dev.name)
        for role_specs in (self.servers, self.tors, self.spines):
            for spec in role_specs:
                if spec.name not in names:
                    raise ValueError(f"role for unknown node {spec.name!r}")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (JSON/TOML-friendly) of the node/link part; roles are kept as nested dicts."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Topology:
        """Build from the dict/TOML form: `nodes` is a table name -> {role, router} or a list of dicts."""
        raw_nodes = data.get("nodes", {})
        if isinstance(raw_nodes, dict):
            node_items = [{"name": k, **(v or {})} for k, v in raw_nodes.items()]
        else:
            node_items = list(raw_nodes)
        nodes = tuple(NodeSpec(**item) for item in node_items)

        def tup(item: dict[str, Any], *keys: str) -> dict[str, Any]:
            return {k: (tuple(v) if k in keys else v) for k, v in item.items()}

        topo = cls(
            nodes=nodes,
            links=tuple(LinkSpec(**tup(i, "a_addrs", "b_addrs")) for i in data.get("links", [])),
            bridges=tuple(BridgeSpec(**tup(i, "addrs")) for i in data.get("bridges", [])),
            address_devices=tuple(
                AddressDeviceSpec(**tup(i, "addrs")) for i in data.get("address_devices", [])
            ),
        )
        topo.validate()
        return topo

    @classmethod
    def load_toml(cls, path: Path) -> Topology:
        with path.open("rb") as fh:
            return cls.from_dict(tomllib.load(fh))


def seed_topology(
    *,
    racks: int = 2,
    servers_per_rack: int = 2,
    spines: int = 1,
    bfd: BfdTimers | None = None,
    timers: BgpTimers | None = None,
    default_route: bool = False,
) -> Topology:
    """The seed fabric of TARGET.md (see the module docstring for names and addresses).

    With `default_route`, the spines originate 0.0.0.0/0, so every server gets a default route
    with two nexthops (ToR1 on eth0, ToR2 on eth1), as in production.

    Node names: ``spine1``..; ``r<r>tor1``/``r<r>tor2``; ``r<r>srv<n>``. Server interfaces are
    ``eth0`` (to ToR1) and ``eth1`` (to ToR2); ToR ports are ``p<n>`` on bridge ``br0``, spine
    uplinks ``up<s>``; spine ports ``r<r>t<t>``.
    """
    if not 1 <= racks <= 8 or not 1 <= servers_per_rack <= 60 or not 1 <= spines <= 2:
        raise ValueError("racks 1..8, servers_per_rack 1..60, spines 1..2")
    bfd = bfd or BfdTimers()
    timers = timers or BgpTimers()
    nodes: list[NodeSpec] = []
    links: list[LinkSpec] = []
    bridges: list[BridgeSpec] = []
    devices: list[AddressDeviceSpec] = []
    servers: list[ServerSpec] = []
    tors: list[TorSpec] = []
    spine_neighbors: dict[int, list[Neighbor]] = {s: [] for s in range(1, spines + 1)}
    pod_index = 0

    for rack in range(racks):
        asn = RACK_AS_BASE + rack
        tor_subnets = {1: f"10.69.{rack}.64/26", 2: f"10.69.{rack}.128/26"}
        tor_ips = {1: f"10.69.{rack}.65", 2: f"10.69.{rack}.129"}
        rack_servers: dict[int, list[Neighbor]] = {1: [], 2: []}
        for n in range(1, servers_per_rack + 1):
            host = n + 1
            name = f"r{rack}srv{n}"
            nodes.append(NodeSpec(name=name, role="server"))
            uplinks = []
            for tor in (1, 2):
                base = 64 if tor == 1 else 128
                addr = f"10.69.{rack}.{base + host}"
                uplinks.append(
                    Uplink(
                        tor_name=f"tor{tor}",
                        ifname=f"eth{tor - 1}",
                        address=f"{addr}/26",
                        tor_address=tor_ips[tor],
                        subnet=tor_subnets[tor],
                    )
                )
                links.append(
                    LinkSpec(
                        a=name, a_if=f"eth{tor - 1}", a_addrs=(f"{addr}/26",),
                        b=f"r{rack}tor{tor}", b_if=f"p{n}", b_bridge="br0",
                    )
                )
                rack_servers[tor].append(
                    Neighbor(
                        name=name, address=addr, local_address=tor_ips[tor], remote_as=asn,
                        interface="br0", passive=True, rr_client=True,
                    )
                )
            devices.append(AddressDeviceSpec(node=name, name="node0", addrs=(f"10.69.{rack}.{host}/32",)))
            servers.append(
                ServerSpec(
                    name=name, rack=rack, asn=asn, router_id=f"10.69.{rack}.{host}",
                    node_address=f"10.69.{rack}.{host}/32", uplinks=tuple(uplinks),
                    pod_routes=(f"10.224.{pod_index}.0/30",), bfd=bfd, timers=timers,
                )
            )
            pod_index += 1
        for tor in (1, 2):
            tname = f"r{rack}tor{tor}"
            nodes.append(NodeSpec(name=tname, role="tor", router=True))
            bridges.append(BridgeSpec(node=tname, name="br0", addrs=(f"{tor_ips[tor]}/26",)))
            uplink_neighbors = []
            for s in range(1, spines + 1):
                k = 2 * rack + (tor - 1)
                spine_ip, tor_ip = f"10.68.{s}.{2 * k}", f"10.68.{s}.{2 * k + 1}"
                links.append(
                    LinkSpec(
                        a=tname, a_if=f"up{s}", a_addrs=(f"{tor_ip}/31",),
                        b=f"spine{s}", b_if=f"r{rack}t{tor}", b_addrs=(f"{spine_ip}/31",),
                    )
                )
                uplink_neighbors.append(
                    Neighbor(name=f"spine{s}", address=spine_ip, local_address=tor_ip,
                             remote_as=SPINE_AS, interface=f"up{s}")
                )
                spine_neighbors[s].append(
                    Neighbor(name=tname, address=tor_ip, local_address=spine_ip,
                             remote_as=asn, interface=f"r{rack}t{tor}")
                )
            tors.append(
                TorSpec(
                    name=tname, rack=rack, asn=asn, router_id=tor_ips[tor], bridge="br0",
                    subnet=tor_subnets[tor], address=f"{tor_ips[tor]}/26",
                    servers=tuple(rack_servers[tor]), spines=tuple(uplink_neighbors), bfd=bfd, timers=timers,
                )
            )
    spine_specs = []
    for s in range(1, spines + 1):
        nodes.append(NodeSpec(name=f"spine{s}", role="spine", router=True))
        spine_specs.append(
            SpineSpec(name=f"spine{s}", asn=SPINE_AS, router_id=f"10.68.255.{s}",
                      tors=tuple(spine_neighbors[s]), originate_default=default_route,
                      bfd=bfd, timers=timers)
        )
    topo = Topology(
        nodes=tuple(nodes), links=tuple(links), bridges=tuple(bridges), address_devices=tuple(devices),
        servers=tuple(servers), tors=tuple(tors), spines=tuple(spine_specs),
    )
    topo.validate()
    return topo
