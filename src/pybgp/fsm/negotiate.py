"""OPEN construction, OPEN validation, and capability negotiation (RFC 4271 6.2, RFC 5492).

Owns: `build_open(settings)`, `validate_open(open, settings)` (raises `NotificationError` with the
exact OPEN Message Error subcode), and `negotiate(local, remote, settings)` which turns the two OPENs
into `Negotiated`, including the `WireContext` the codec uses for the rest of the session.
Never does: send or receive anything, or keep state.
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

from pybgp.fsm.config import IPV4_UNICAST, PeerSettings
from pybgp.wire.capabilities import (
    AddPath,
    AddPathFamily,
    Capability,
    EnhancedRouteRefreshCap,
    ExtendedMessage,
    ExtendedNextHop,
    ExtendedNextHopFamily,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    GracefulRestartFamily,
    Multiprotocol,
    Role,
    RouteRefreshCap,
)
from pybgp.wire.constants import BgpRole, CapabilityCode, NotificationCode, OpenSubcode
from pybgp.wire.context import Family, WireContext
from pybgp.wire.errors import NotificationError
from pybgp.wire.messages import Open

AS_TRANS = 23456
"""RFC 6793 section 9: the 2-octet stand-in for a 4-octet ASN."""

ADDPATH_RECEIVE = 1
ADDPATH_SEND = 2

_ROLE_PAIRS = {
    BgpRole.PROVIDER: BgpRole.CUSTOMER,
    BgpRole.CUSTOMER: BgpRole.PROVIDER,
    BgpRole.RS: BgpRole.RS_CLIENT,
    BgpRole.RS_CLIENT: BgpRole.RS,
    BgpRole.PEER: BgpRole.PEER,
}
"""RFC 9234 section 4.2: the role a peer must announce for each of ours."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Negotiated:
    """What both OPENs agree on. `context` is what every later decode/encode call gets."""

    context: WireContext
    local_open: Open
    remote_open: Open
    remote_as: int
    remote_id: ipaddress.IPv4Address
    hold_time: int
    keepalive_time: float
    families: frozenset[Family]
    route_refresh: bool
    enhanced_route_refresh: bool
    graceful_restart: GracefulRestart | None
    graceful_notification: bool
    """RFC 8538 2: both OPENs carry the GR capability with the N bit, so a NOTIFICATION other than
    Hard Reset (Cease 9) still lets the receiver keep the routes as stale."""
    extended_message: bool
    as4: bool
    ibgp: bool
    role: int | None

    @property
    def peer_capabilities(self) -> tuple[Capability, ...]:
        return self.remote_open.capabilities


def open_asn(message: Open) -> int:
    """The sender's real ASN: the RFC 6793 capability when present, else the 2-octet field."""
    for cap in message.capabilities:
        if isinstance(cap, FourOctetAs):
            return cap.asn
    return message.my_as


def _caps_of(message: Open, kind: type) -> list[Capability]:
    return [cap for cap in message.capabilities if isinstance(cap, kind)]


def build_open(settings: PeerSettings) -> Open:
    """Our OPEN for this neighbor: one capability object per feature the settings offer."""
    caps: list[Capability] = [Multiprotocol(afi=afi, safi=safi) for afi, safi in settings.families]
    if settings.route_refresh:
        caps.append(RouteRefreshCap())
    if settings.enhanced_route_refresh:
        caps.append(EnhancedRouteRefreshCap())
    if settings.extended_message:
        caps.append(ExtendedMessage())
    if settings.extended_nexthop:
        caps.append(
            ExtendedNextHop(
                families=tuple(
                    ExtendedNextHopFamily(afi=a, safi=s, nexthop_afi=n)
                    for a, s, n in sorted(settings.extended_nexthop)
                )
            )
        )
    if settings.graceful_restart_time is not None:
        caps.append(
            GracefulRestart(
                notification=settings.graceful_restart_notification,
                restart_time=settings.graceful_restart_time,
                families=tuple(GracefulRestartFamily(afi=a, safi=s) for a, s in settings.families),
            )
        )
    if settings.four_octet_as:
        caps.append(FourOctetAs(asn=settings.local_as))
    addpath = []
    for family in settings.families:
        mode = (ADDPATH_RECEIVE if family in settings.add_path_receive else 0) | (
            ADDPATH_SEND if family in settings.add_path_send else 0
        )
        if mode:
            addpath.append(AddPathFamily(afi=family[0], safi=family[1], send_receive=mode))
    if addpath:
        caps.append(AddPath(families=tuple(addpath)))
    if settings.role is not None:
        caps.append(Role(role=settings.role))
    if settings.hostname:
        caps.append(Fqdn(hostname=settings.hostname))
    return Open(
        my_as=settings.local_as if settings.local_as <= 0xFFFF else AS_TRANS,
        hold_time=settings.hold_time,
        bgp_id=settings.router_id,
        capabilities=tuple(caps),
    )


def _open_error(subcode: OpenSubcode, data: bytes, reason: str) -> NotificationError:
    return NotificationError(NotificationCode.OPEN_MESSAGE_ERROR, subcode, data, reason)


def validate_open(message: Open, settings: PeerSettings) -> None:
    """Check a received OPEN (RFC 4271 6.2, RFC 6286, RFC 5492, RFC 9234); raise the NOTIFICATION to send."""
    if message.version != 4:
        # RFC 4271 6.2: the data is the largest locally supported version, 2 octets.
        raise _open_error(
            OpenSubcode.UNSUPPORTED_VERSION_NUMBER, struct.pack("!H", 4), f"version {message.version}"
        )
    asn = open_asn(message)
    if settings.remote_as is not None and asn != settings.remote_as:
        raise _open_error(OpenSubcode.BAD_PEER_AS, b"", f"peer AS {asn}, expected {settings.remote_as}")
    if asn > 0xFFFF and message.my_as not in (AS_TRANS, asn):
        raise _open_error(OpenSubcode.BAD_PEER_AS, b"", f"my_as {message.my_as} disagrees with AS4 {asn}")
    if message.hold_time in (1, 2) or (0 < message.hold_time < settings.min_hold_time):
        # RFC 4271 6.2: hold time 1 or 2 MUST be rejected; a local minimum MAY be enforced.
        raise _open_error(OpenSubcode.UNACCEPTABLE_HOLD_TIME, b"", f"hold time {message.hold_time}")
    if int(message.bgp_id) == 0:
        raise _open_error(OpenSubcode.BAD_BGP_IDENTIFIER, b"", "BGP identifier 0.0.0.0")
    if asn == settings.local_as and message.bgp_id == settings.router_id:
        # RFC 6286 2.2: identifiers must differ within an AS.
        raise _open_error(
            OpenSubcode.BAD_BGP_IDENTIFIER, b"", f"iBGP peer uses our identifier {message.bgp_id}"
        )
    present = {int(cap.code) for cap in message.capabilities}
    missing = sorted(code for code in settings.require_capabilities if code not in present)
    if missing:
        # RFC 5492 section 5: list the capabilities we require that are missing (code, length 0).
        data = b"".join(struct.pack("!BB", code, 0) for code in missing)
        raise _open_error(OpenSubcode.UNSUPPORTED_CAPABILITY, data, f"missing capabilities {missing}")
    if settings.role is not None:
        roles = [cap.role for cap in message.capabilities if isinstance(cap, Role)]
        if len(set(roles)) > 1:
            raise _open_error(OpenSubcode.ROLE_MISMATCH, b"", "several different roles")
        if roles:
            try:
                wanted = _ROLE_PAIRS[BgpRole(settings.role)]
            except ValueError:
                wanted = None
            if wanted is None or roles[0] != wanted:
                raise _open_error(
                    OpenSubcode.ROLE_MISMATCH, b"", f"peer role {roles[0]} vs ours {settings.role}"
                )
        elif settings.strict_role:
            raise _open_error(OpenSubcode.ROLE_MISMATCH, b"", "peer announces no role (strict mode)")


def _families(message: Open) -> set[Family]:
    mp = [(cap.afi, cap.safi) for cap in message.capabilities if isinstance(cap, Multiprotocol)]
    # RFC 4760 section 8: a speaker without the capability does IPv4 unicast only.
    return set(mp) if mp else {IPV4_UNICAST}


def _addpath_modes(message: Open) -> dict[Family, int]:
    modes: dict[Family, int] = {}
    for cap in message.capabilities:
        if isinstance(cap, AddPath):
            for fam in cap.families:
                modes[(fam.afi, fam.safi)] = fam.send_receive
    return modes


def negotiate(local: Open, remote: Open, settings: PeerSettings) -> Negotiated:
    """Both OPENs -> the session's facts. Call after `validate_open(remote, settings)`."""
    remote_kinds = {type(cap) for cap in remote.capabilities}
    local_kinds = {type(cap) for cap in local.capabilities}

    def both(kind: type) -> bool:
        return kind in remote_kinds and kind in local_kinds

    families = frozenset(_families(local) & _families(remote))
    as4 = both(FourOctetAs)
    # RFC 7911 section 4: we receive path ids for a family when we said "receive" and they said "send".
    ours, theirs = _addpath_modes(local), _addpath_modes(remote)
    addpath_rx = frozenset(
        f for f in families if ours.get(f, 0) & ADDPATH_RECEIVE and theirs.get(f, 0) & ADDPATH_SEND
    )
    addpath_tx = frozenset(
        f for f in families if ours.get(f, 0) & ADDPATH_SEND and theirs.get(f, 0) & ADDPATH_RECEIVE
    )
    local_enh = {
        (f.afi, f.safi, f.nexthop_afi)
        for cap in local.capabilities
        if isinstance(cap, ExtendedNextHop)
        for f in cap.families
    }
    remote_enh = {
        (f.afi, f.safi, f.nexthop_afi)
        for cap in remote.capabilities
        if isinstance(cap, ExtendedNextHop)
        for f in cap.families
    }
    extended_nexthop = frozenset((a, s) for a, s, _ in local_enh & remote_enh)
    extended_message = both(ExtendedMessage)
    remote_as = open_asn(remote)
    ibgp = remote_as == settings.local_as
    hold = min(local.hold_time, remote.hold_time)
    if hold == 0:
        keepalive = 0.0
    elif settings.keepalive_time is not None:
        keepalive = min(float(settings.keepalive_time), hold / 3)
    else:
        keepalive = hold / 3
    remote_gr = next((c for c in remote.capabilities if isinstance(c, GracefulRestart)), None)
    local_gr = next((c for c in local.capabilities if isinstance(c, GracefulRestart)), None)
    roles = _caps_of(remote, Role)
    context = WireContext(
        as4=as4,
        extended_message=extended_message,
        ibgp=ibgp,
        addpath_rx=addpath_rx,
        addpath_tx=addpath_tx,
        extended_nexthop=extended_nexthop,
    )
    return Negotiated(
        context=context,
        local_open=local,
        remote_open=remote,
        remote_as=remote_as,
        remote_id=remote.bgp_id,
        hold_time=hold,
        keepalive_time=keepalive,
        families=families,
        route_refresh=both(RouteRefreshCap) or both(EnhancedRouteRefreshCap),
        enhanced_route_refresh=both(EnhancedRouteRefreshCap),
        graceful_restart=remote_gr,
        graceful_notification=bool(
            remote_gr is not None
            and remote_gr.notification
            and local_gr is not None
            and local_gr.notification
        ),
        extended_message=extended_message,
        as4=as4,
        ibgp=ibgp,
        role=roles[0].role if roles and isinstance(roles[0], Role) else None,
    )


def capability_codes(message: Open) -> frozenset[int]:
    """The capability codes an OPEN carries (for `require_capabilities` and logs)."""
    return frozenset(int(cap.code) for cap in message.capabilities)


__all__ = [
    "AS_TRANS",
    "CapabilityCode",
    "Negotiated",
    "build_open",
    "capability_codes",
    "negotiate",
    "open_asn",
    "validate_open",
]
