"""OPEN capabilities (RFC 5492) as frozen objects.

Owns: one class per capability we understand and `UnknownCapability` for the rest (kept opaque and
re-encodable). Never does: negotiation (that is `pybgp.fsm.negotiate`).

TYPE CONTRACT (fixed; the codec adds encode/decode functions and registry dict here).
"""

from __future__ import annotations

from dataclasses import dataclass

from pybgp.wire.constants import CapabilityCode


@dataclass(frozen=True, slots=True, kw_only=True)
class Multiprotocol:
    """RFC 4760 section 8."""

    afi: int
    safi: int
    code = CapabilityCode.MULTIPROTOCOL


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteRefreshCap:
    """RFC 2918."""

    code = CapabilityCode.ROUTE_REFRESH


@dataclass(frozen=True, slots=True, kw_only=True)
class EnhancedRouteRefreshCap:
    """RFC 7313."""

    code = CapabilityCode.ENHANCED_ROUTE_REFRESH


@dataclass(frozen=True, slots=True, kw_only=True)
class FourOctetAs:
    """RFC 6793."""

    asn: int
    code = CapabilityCode.FOUR_OCTET_AS


@dataclass(frozen=True, slots=True, kw_only=True)
class GracefulRestartFamily:
    afi: int
    safi: int
    forwarding_preserved: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class GracefulRestart:
    """RFC 4724 section 3 (and the N bit of RFC 8538)."""

    restart_state: bool = False
    notification: bool = False
    restart_time: int = 0
    families: tuple[GracefulRestartFamily, ...] = ()
    code = CapabilityCode.GRACEFUL_RESTART


@dataclass(frozen=True, slots=True, kw_only=True)
class LongLivedGracefulRestartFamily:
    afi: int
    safi: int
    forwarding_preserved: bool = False
    stale_time: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class LongLivedGracefulRestart:
    families: tuple[LongLivedGracefulRestartFamily, ...] = ()
    code = CapabilityCode.LONG_LIVED_GRACEFUL_RESTART


@dataclass(frozen=True, slots=True, kw_only=True)
class AddPathFamily:
    """RFC 7911 section 4: send_receive is 1 (receive), 2 (send) or 3 (both)."""

    afi: int
    safi: int
    send_receive: int


@dataclass(frozen=True, slots=True, kw_only=True)
class AddPath:
    families: tuple[AddPathFamily, ...] = ()
    code = CapabilityCode.ADD_PATH


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtendedNextHopFamily:
    """RFC 8950: NLRI of (afi, safi) may carry a next hop of nexthop_afi."""

    afi: int
    safi: int
    nexthop_afi: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtendedNextHop:
    families: tuple[ExtendedNextHopFamily, ...] = ()
    code = CapabilityCode.EXTENDED_NEXT_HOP


@dataclass(frozen=True, slots=True, kw_only=True)
class ExtendedMessage:
    """RFC 8654."""

    code = CapabilityCode.EXTENDED_MESSAGE


@dataclass(frozen=True, slots=True, kw_only=True)
class Fqdn:
    """draft-walton-bgp-hostname-capability."""

    hostname: str
    domain: str = ""
    code = CapabilityCode.FQDN


@dataclass(frozen=True, slots=True, kw_only=True)
class Role:
    """RFC 9234."""

    role: int
    code = CapabilityCode.ROLE


@dataclass(frozen=True, slots=True, kw_only=True)
class UnknownCapability:
    """A capability we do not interpret, kept byte-exact."""

    code: int
    value: bytes = b""


Capability = (
    Multiprotocol
    | RouteRefreshCap
    | EnhancedRouteRefreshCap
    | FourOctetAs
    | GracefulRestart
    | LongLivedGracefulRestart
    | AddPath
    | ExtendedNextHop
    | ExtendedMessage
    | Fqdn
    | Role
    | UnknownCapability
)
