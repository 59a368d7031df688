"""What one BGP neighbor is configured to be: the input of the session FSM and the transport.

Owns: `PeerSettings`, a frozen description of one neighbor (ASNs, addresses, timers, capabilities to
offer, transport options such as TCP MD5, GTSM and the bound interface).
Never does: validation against a peer's OPEN (that is `negotiate.py`), or any I/O.

Defaults follow RFC 4271 section 10 for timers and BIRD 2 where the deployment depends on BIRD's
behaviour (`error wait time 3,300`, `error forget time 300`, hold 240 s).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from pybgp.wire.constants import BGP_PORT, Afi, Safi
from pybgp.wire.context import Family

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

IPV4_UNICAST: Family = (Afi.IPV4, Safi.UNICAST)
IPV6_UNICAST: Family = (Afi.IPV6, Safi.UNICAST)


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerSettings:
    """One neighbor.

    Timers are seconds. `remote_as=None` accepts any AS (used for dynamic neighbors created from a
    prefix range). `keepalive_time=None` means a third of the negotiated hold time (RFC 4271 10).
    `open_hold_time` is the "large value" the hold timer gets in OpenSent (RFC 4271 8.2.2: 4 min).
    `connect_delay_time` is BIRD's "connect delay time": the first connect attempt waits that long in
    Active (listening) so two speakers started together do not collide.
    `error_wait_min`/`error_wait_max` are BIRD's "error wait time": the idle-hold delay after an
    error starts at min and doubles up to max while errors follow each other within
    `error_forget_time`; an error after a longer quiet period starts again at min.
    `add_path_send` / `add_path_receive` list the families for which we offer to send / receive
    RFC 7911 path identifiers. `extended_nexthop` lists (afi, safi, nexthop_afi) offered (RFC 8950).
    `graceful_restart_time=None` does not advertise RFC 4724; with it, the RFC 8538 N bit is set
    unless `graceful_restart_notification` is False. `max_prefix` caps the prefixes accepted
    (RFC 4486 Cease subcode 1); `max_prefix_restart=None` then leaves the peer down until restarted.
    `ttl_security` enables GTSM (RFC 5082) for a peer that many hops away (1 = directly connected);
    `multihop_ttl` is the TTL for eBGP multihop; without either, eBGP sends TTL 1.
    `require_capabilities` lists capability codes whose absence in the peer's OPEN is an OPEN error
    (subcode 7, RFC 5492). `role`/`strict_role` are RFC 9234.
    """

    local_as: int
    remote_as: int | None
    router_id: ipaddress.IPv4Address
    remote_address: IPAddress
    local_address: IPAddress | None = None
    port: int = BGP_PORT
    name: str = ""
    description: str = ""
    passive: bool = False
    hold_time: int = 240
    min_hold_time: int = 3
    keepalive_time: float | None = None
    open_hold_time: int = 240
    connect_retry_time: float = 120.0
    connect_delay_time: float = 0.0
    error_wait_min: float = 3.0
    error_wait_max: float = 300.0
    error_forget_time: float = 300.0
    families: tuple[Family, ...] = (IPV4_UNICAST,)
    route_refresh: bool = True
    enhanced_route_refresh: bool = False
    graceful_restart_time: int | None = None
    graceful_restart_notification: bool = True
    add_path_send: frozenset[Family] = field(default_factory=frozenset)
    add_path_receive: frozenset[Family] = field(default_factory=frozenset)
    extended_nexthop: frozenset[tuple[int, int, int]] = field(default_factory=frozenset)
    extended_message: bool = False
    four_octet_as: bool = True
    max_prefix: int | None = None
    max_prefix_restart: float | None = None
    md5_password: str | None = None
    ttl_security: int | None = None
    multihop_ttl: int | None = None
    interface: str | None = None
    require_capabilities: frozenset[int] = field(default_factory=frozenset)
    role: int | None = None
    strict_role: bool = False
    hostname: str | None = None

    @property
    def ibgp(self) -> bool:
        """True when the peer is in our AS (unknown remote AS counts as eBGP)."""
        return self.remote_as is not None and self.remote_as == self.local_as

    @property
    def display_name(self) -> str:
        return self.name or str(self.remote_address)

    def outgoing_ttl(self) -> int | None:
        """TTL for our packets: 255 with GTSM, the multihop TTL, 1 for single-hop eBGP, else the default.

        None means leave the kernel default (iBGP, which is usually multihop by nature).
        """
        if self.ttl_security is not None:
            return 255
        if self.multihop_ttl is not None:
            return self.multihop_ttl
        if not self.ibgp:
            return 1
        return None

    def minimum_ttl(self) -> int | None:
        """IP_MINTTL / IPV6_MINHOPCOUNT under GTSM: 255 - (hops - 1) (RFC 5082 section 3)."""
        if self.ttl_security is None:
            return None
        return 255 - (max(1, self.ttl_security) - 1)
