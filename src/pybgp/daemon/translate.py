"""Config -> the library's own objects: `PeerSettings` for the FSM, `Policy` objects for the RIB.

Owns: the one place where a `NeighborConfig` becomes `pybgp.fsm.config.PeerSettings` (timers, BIRD's
error-wait back-off, capabilities, transport options) and where policy names become compiled
`pybgp.rib.policy.Policy` objects (a neighbor without one gets RFC 8212's default from the RIB).
Never does: validation (config.py did it) or any I/O.
"""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from pybgp.daemon.schema import AddPathMode, DaemonConfig, IPAddress, NeighborConfig
from pybgp.fsm.config import PeerSettings
from pybgp.rib.policy import Policy


def peer_settings(cfg: DaemonConfig, n: NeighborConfig, address: IPAddress | None = None) -> PeerSettings:
    """The FSM/transport settings of one neighbor (`address` overrides it for a dynamic peer)."""
    remote = address if address is not None else n.address
    if remote is None:
        raise ValueError(f"neighbor {n.name!r} has no address")
    families = frozenset(n.families)
    send = families if n.add_path in (AddPathMode.SEND, AddPathMode.BOTH) else frozenset()
    receive = families if n.add_path in (AddPathMode.RECEIVE, AddPathMode.BOTH) else frozenset()
    gr = n.graceful_restart_time if n.graceful_restart_time is not None else cfg.global_.graceful_restart_time
    local_as = n.local_as if n.local_as is not None else cfg.global_.asn
    multihop = n.multihop
    if multihop is None and remote.is_loopback and local_as != n.remote_as:
        multihop = 2  # an eBGP speaker on the same host (rule 8) is never directly connected
    return PeerSettings(
        local_as=local_as,
        remote_as=n.remote_as,
        router_id=cfg.global_.router_id,
        remote_address=remote,
        local_address=n.local_address,
        port=n.port,
        name=n.name if address is None else f"{n.name}:{address}",
        description=n.description,
        passive=n.passive or address is not None,
        hold_time=n.hold_time,
        keepalive_time=float(n.keepalive_time) if n.keepalive_time is not None else None,
        connect_retry_time=float(n.connect_retry_time),
        connect_delay_time=0.0,
        error_wait_min=n.error_wait[0],
        error_wait_max=n.error_wait[1],
        families=n.families,
        graceful_restart_time=gr,
        add_path_send=send,
        add_path_receive=receive,
        max_prefix=n.max_prefix,
        max_prefix_restart=n.max_prefix_restart,
        md5_password=n.md5_password,
        ttl_security=1 if n.ttl_security else None,
        multihop_ttl=multihop,
        interface=n.interface,
    )


def compile_policy(cfg: DaemonConfig, name: str | None) -> Policy | None:
    """The named policy, compiled; None keeps the RIB's RFC 8212 default."""
    if name is None:
        return None
    return Policy.from_dict(cfg.policy_spec(name), name)


Connected = dict[str, set[ipaddress.IPv4Interface | ipaddress.IPv6Interface]]


def first_host_neighbor(n: NeighborConfig, connected: Connected) -> IPAddress | None:
    """The first host of `n.interface`'s IPv4 subnet (TARGET.md: each ToR is the first host of its /26);
    None when the interface has no such address, or when that first host is ourselves."""
    for addr in sorted(connected.get(n.interface or "", set()), key=str):
        if isinstance(addr, ipaddress.IPv4Interface) and addr.network.prefixlen <= 30:
            first = addr.network.network_address + 1
            if first != addr.ip:
                return first
    return None


def resolve_neighbors(cfg: DaemonConfig, connected: Connected) -> tuple[DaemonConfig, list[str]]:
    """Fill in the address of neighbors configured by interface only; those that cannot be resolved
    are left out (and named in the returned problems) rather than stopping the others."""
    neighbors: list[NeighborConfig] = []
    problems: list[str] = []
    for n in cfg.neighbors:
        if n.address is not None:
            neighbors.append(n)
            continue
        address = first_host_neighbor(n, connected)
        if address is None:
            problems.append(
                f"neighbor {n.name!r}: interface {n.interface!r} has no IPv4 subnet to find the "
                "neighbor in (set `address`)"
            )
            continue
        neighbors.append(replace(n, address=address))
    return replace(cfg, neighbors=tuple(neighbors)), problems
