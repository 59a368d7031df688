"""The validated shape of a pybgpd configuration: frozen dataclasses, one per TOML table.

Owns: the types `pybgp.daemon.config` produces and the rest of the daemon consumes, with their defaults
(chosen so the leaf-spine server of TARGET.md needs ~30 lines). Never does: read files or validate (that
is `config.py`); every value here is already checked.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pybgp.wire.context import Family
from pybgp.wire.nlri import Prefix

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV4_UNICAST: Family = (1, 1)
IPV6_UNICAST: Family = (2, 1)
FAMILY_NAMES: dict[str, Family] = {"ipv4-unicast": IPV4_UNICAST, "ipv6-unicast": IPV6_UNICAST}

RTPROT_PYBGP = 186
"""Kernel route protocol number pybgpd stamps on its routes: RTPROT_BGP (186), shown by `ip route` as
"proto bgp". FRR's zebra uses it too; on a host where FRR writes the same table, pick another number,
since pybgpd removes stale routes of its protocol from its table at start (BIRD uses 12)."""


class AddPathMode(enum.Enum):
    OFF = "off"
    RECEIVE = "receive"
    SEND = "send"
    BOTH = "both"


class RouteSource(enum.Enum):
    """Where a route came from (the same values as `pybgp.rib.route.Source`)."""

    BGP = "bgp"
    INTERFACE = "interface"
    STATIC = "static"
    KERNEL = "kernel"


@dataclass(frozen=True, slots=True, kw_only=True)
class GlobalConfig:
    asn: int
    router_id: ipaddress.IPv4Address
    listen: tuple[IPAddress, ...] = ()
    port: int = 179
    graceful_restart_time: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class BfdConfig:
    """Single-hop (or multihop) asynchronous BFD for one neighbor; TARGET.md rule 9 defaults."""

    enabled: bool = False
    min_tx_ms: int = 400
    min_rx_ms: int = 400
    multiplier: int = 5
    strict: bool = False  # True: never establish BGP before BFD is Up
    multihop: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborConfig:
    name: str
    address: IPAddress | None  # None: a dynamic-range template, or "first host of `interface`'s subnet"
    remote_as: int
    interface: str | None = None
    local_as: int | None = None
    local_address: IPAddress | None = None
    description: str = ""
    enabled: bool = True
    passive: bool = False
    port: int = 179
    hold_time: int = 240
    keepalive_time: int | None = None
    connect_retry_time: int = 5
    error_wait: tuple[float, float] = (3.0, 300.0)
    families: tuple[Family, ...] = (IPV4_UNICAST,)
    next_hop_self: bool = False
    route_reflector_client: bool = False
    # Keep the Adj-RIB-In as received (pre-policy)? Off by default, as BIRD's `import table`: ~36 bytes
    # per path; a changed import policy then asks the peer to resend (ROUTE-REFRESH) or resets.
    import_table: bool = False
    add_path: AddPathMode = AddPathMode.OFF
    graceful_restart_time: int | None = None
    max_prefix: int | None = None
    max_prefix_restart: float | None = None
    md5_password: str | None = None
    ttl_security: bool = False
    multihop: int | None = None
    connected_subnet: Prefix | None = None
    import_policy: str | None = None  # None: RFC 8212 default (iBGP accept, eBGP reject)
    export_policy: str | None = None
    bfd: BfdConfig = field(default_factory=BfdConfig)

    def session_identity(self) -> tuple[object, ...]:
        """Everything whose change needs the session re-created (policies, BFD, enabled do not)."""
        return (
            self.address,
            self.remote_as,
            self.interface,
            self.local_as,
            self.local_address,
            self.passive,
            self.port,
            self.hold_time,
            self.keepalive_time,
            self.connect_retry_time,
            self.error_wait,
            self.families,
            self.add_path,
            self.graceful_restart_time,
            self.max_prefix,
            self.max_prefix_restart,
            self.md5_password,
            self.ttl_security,
            self.multihop,
            self.route_reflector_client,
            self.next_hop_self,
            self.connected_subnet,
            self.import_table,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DynamicNeighborConfig:
    """Accept sessions from any address inside `prefix`, configured like `template`."""

    name: str
    prefix: Prefix
    max_sessions: int
    template: NeighborConfig


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelImportConfig:
    """Learn routes of a kernel table (TARGET.md rule 7: table 119 protocol 30)."""

    table: int
    protocol: int | None = None
    communities: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class OriginationConfig:
    interfaces: tuple[str, ...] = ()
    static: tuple[Prefix, ...] = ()
    kernel: tuple[KernelImportConfig, ...] = ()
    resync_interval: float = 30.0
    communities: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class KernelExportConfig:
    """Best paths -> kernel FIB, with the rule 6 filter built in."""

    enabled: bool = True
    table: int = 254
    protocol: int = RTPROT_PYBGP
    metric: int = 32
    keep_on_exit: bool = False
    merge_paths: int = 16
    # net.ipv4.nexthop_compat_mode to set at start (None: leave it). False makes a nexthop-group
    # rewrite (BFD Down) cost O(1) instead of the kernel re-notifying every route using the group.
    nexthop_compat_mode: bool | None = None
    install_local: bool = False  # rule 6: never install our own originated routes
    exclude_communities: tuple[int, ...] = ()
    policy: str = "accept"  # kernel export policy name
    # seconds the first kernel export may wait at startup for every Established neighbor's End-of-RIB
    # (0: no hold); see `pybgp.daemon.update_delay`
    update_delay: float = 0.0
    # send route writes from a second thread, so the kernel's work overlaps receiving (issue 6); see
    # `pybgp.fib.netlink_writer`
    writer_thread: bool = True


BUILTIN_POLICIES: dict[str, dict[str, Any]] = {
    "accept": {"default": "accept", "rules": []},
    "reject": {"default": "reject", "rules": []},
}
"""Policy names usable without defining them. A neighbor with no policy gets RFC 8212's default."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LoggingConfig:
    level: str = "info"
    format: str = "text"  # or "json"
    file: Path | None = None  # None: stderr


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlConfig:
    socket: Path = Path("/run/pybgpd/pybgpd.sock")
    mode: int = 0o660


@dataclass(frozen=True, slots=True, kw_only=True)
class MetricsConfig:
    address: tuple[str, int] | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonConfig:
    source: Path
    global_: GlobalConfig
    neighbors: tuple[NeighborConfig, ...] = ()
    dynamic_neighbors: tuple[DynamicNeighborConfig, ...] = ()
    origination: OriginationConfig = field(default_factory=OriginationConfig)
    kernel: KernelExportConfig = field(default_factory=KernelExportConfig)
    prefix_lists: dict[str, tuple[str, ...]] = field(default_factory=dict)
    policies: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> pybgp.rib.policy dict shape
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)

    def neighbor(self, name: str) -> NeighborConfig | None:
        for n in self.neighbors:
            if n.name == name:
                return n
        return None

    def policy_spec(self, name: str) -> dict[str, Any]:
        """The dict shape `pybgp.rib.policy.Policy.from_dict` takes (prefix lists already expanded)."""
        return self.policies.get(name) or BUILTIN_POLICIES[name]


def format_community(value: int) -> str:
    return f"{value >> 16}:{value & 0xFFFF}"
