"""OPEN capabilities (RFC 5492) as frozen objects.

Owns: one class per capability we understand and `UnknownCapability` for the rest (kept opaque and
re-encodable). Never does: negotiation (that is `pybgp.fsm.negotiate`).

Each capability is a TLV inside the Capabilities optional parameter (RFC 5492 section 4):

    +------------------------------+
    | Capability Code (1 octet)    |
    +------------------------------+
    | Capability Length (1 octet)  |
    +------------------------------+
    | Capability Value (variable)  |
    +------------------------------+

A capability whose value does not parse as its RFC says is kept as `UnknownCapability` (opaque, re-encoded
byte for byte) rather than failing the OPEN: RFC 5492 section 5 lets a speaker ignore what it cannot use.

TYPE CONTRACT (fixed; the codec adds encode/decode functions and registry dict here).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pybgp.wire.buffer import U16, U16U8
from pybgp.wire.constants import CapabilityCode, NotificationCode
from pybgp.wire.errors import LocalUsageError, NotificationError


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


class _BadValue(Exception):
    """A capability value that does not parse; the capability is then kept opaque."""


def _dec_multiprotocol(v: bytes) -> Capability:
    # RFC 4760 section 8: AFI (2), Reserved (1), SAFI (1).
    if len(v) != 4 or v[2] != 0:
        raise _BadValue
    return Multiprotocol(afi=U16.unpack_from(v)[0], safi=v[3])


def _enc_multiprotocol(c: Multiprotocol) -> bytes:
    return U16.pack(c.afi) + bytes((0, c.safi))


def _dec_empty(cls: type[RouteRefreshCap | EnhancedRouteRefreshCap | ExtendedMessage]) -> _Decoder:
    def decode(v: bytes) -> Capability:
        if v:
            raise _BadValue
        return cls()

    return decode


def _dec_four_octet_as(v: bytes) -> Capability:
    if len(v) != 4:
        raise _BadValue
    return FourOctetAs(asn=int.from_bytes(v, "big"))


def _dec_graceful_restart(v: bytes) -> Capability:
    # RFC 4724 section 3: R(1) N(1, RFC 8538) reserved(2) Restart Time(12), then (AFI, SAFI, flags)*.
    if len(v) < 2 or (len(v) - 2) % 4 or v[0] & 0x30:
        raise _BadValue
    head = U16.unpack_from(v)[0]
    fams = tuple(
        GracefulRestartFamily(
            afi=U16.unpack_from(v, i)[0], safi=v[i + 2], forwarding_preserved=bool(v[i + 3] & 0x80)
        )
        for i in range(2, len(v), 4)
        if not v[i + 3] & 0x7F
    )
    if len(fams) != (len(v) - 2) // 4:
        raise _BadValue
    return GracefulRestart(
        restart_state=bool(head & 0x8000),
        notification=bool(head & 0x4000),
        restart_time=head & 0x0FFF,
        families=fams,
    )


def _enc_graceful_restart(c: GracefulRestart) -> bytes:
    if not 0 <= c.restart_time <= 0x0FFF:
        raise LocalUsageError("graceful restart time exceeds 4095 s")
    head = (0x8000 if c.restart_state else 0) | (0x4000 if c.notification else 0) | c.restart_time
    return U16.pack(head) + b"".join(
        U16U8.pack(f.afi, f.safi) + (b"\x80" if f.forwarding_preserved else b"\x00") for f in c.families
    )


def _dec_llgr(v: bytes) -> Capability:
    # draft-ietf-idr-long-lived-gr section 3: (AFI 2, SAFI 1, Flags 1, Long-lived Stale Time 3)*.
    if len(v) % 7:
        raise _BadValue
    fams = []
    for i in range(0, len(v), 7):
        if v[i + 3] & 0x7F:
            raise _BadValue
        fams.append(
            LongLivedGracefulRestartFamily(
                afi=U16.unpack_from(v, i)[0],
                safi=v[i + 2],
                forwarding_preserved=bool(v[i + 3] & 0x80),
                stale_time=int.from_bytes(v[i + 4 : i + 7], "big"),
            )
        )
    return LongLivedGracefulRestart(families=tuple(fams))


def _enc_llgr(c: LongLivedGracefulRestart) -> bytes:
    return b"".join(
        U16U8.pack(f.afi, f.safi)
        + (b"\x80" if f.forwarding_preserved else b"\x00")
        + f.stale_time.to_bytes(3, "big")
        for f in c.families
    )


def _dec_add_path(v: bytes) -> Capability:
    # RFC 7911 section 4: (AFI 2, SAFI 1, Send/Receive 1)*.
    if len(v) % 4 or not v:
        raise _BadValue
    return AddPath(
        families=tuple(
            AddPathFamily(afi=U16.unpack_from(v, i)[0], safi=v[i + 2], send_receive=v[i + 3])
            for i in range(0, len(v), 4)
        )
    )


def _enc_add_path(c: AddPath) -> bytes:
    return b"".join(U16U8.pack(f.afi, f.safi) + bytes((f.send_receive,)) for f in c.families)


def _dec_extended_next_hop(v: bytes) -> Capability:
    # RFC 8950 section 3: (NLRI AFI 2, NLRI SAFI 2, Nexthop AFI 2)*.
    if len(v) % 6 or not v:
        raise _BadValue
    return ExtendedNextHop(
        families=tuple(
            ExtendedNextHopFamily(
                afi=U16.unpack_from(v, i)[0],
                safi=U16.unpack_from(v, i + 2)[0],
                nexthop_afi=U16.unpack_from(v, i + 4)[0],
            )
            for i in range(0, len(v), 6)
        )
    )


def _enc_extended_next_hop(c: ExtendedNextHop) -> bytes:
    return b"".join(U16.pack(f.afi) + U16.pack(f.safi) + U16.pack(f.nexthop_afi) for f in c.families)


def _dec_fqdn(v: bytes) -> Capability:
    # draft-walton-bgp-hostname-capability section 3: Hostname Length, Hostname, Domain Length, Domain.
    if not v:
        raise _BadValue
    hlen = v[0]
    if 1 + hlen + 1 > len(v):
        raise _BadValue
    dlen = v[1 + hlen]
    if 2 + hlen + dlen != len(v):
        raise _BadValue
    try:
        return Fqdn(hostname=v[1 : 1 + hlen].decode(), domain=v[2 + hlen :].decode())
    except UnicodeDecodeError as exc:
        raise _BadValue from exc


def _enc_fqdn(c: Fqdn) -> bytes:
    host, domain = c.hostname.encode(), c.domain.encode()
    if len(host) > 255 or len(domain) > 255:
        raise LocalUsageError("FQDN capability parts are limited to 255 octets")
    return bytes((len(host),)) + host + bytes((len(domain),)) + domain


def _dec_role(v: bytes) -> Capability:
    # RFC 9234 section 4.1: one octet.
    if len(v) != 1:
        raise _BadValue
    return Role(role=v[0])


_Decoder = Callable[[bytes], Capability]

CAPABILITY_DECODERS: dict[int, _Decoder] = {
    CapabilityCode.MULTIPROTOCOL: _dec_multiprotocol,
    CapabilityCode.ROUTE_REFRESH: _dec_empty(RouteRefreshCap),
    CapabilityCode.EXTENDED_NEXT_HOP: _dec_extended_next_hop,
    CapabilityCode.EXTENDED_MESSAGE: _dec_empty(ExtendedMessage),
    CapabilityCode.ROLE: _dec_role,
    CapabilityCode.GRACEFUL_RESTART: _dec_graceful_restart,
    CapabilityCode.FOUR_OCTET_AS: _dec_four_octet_as,
    CapabilityCode.ADD_PATH: _dec_add_path,
    CapabilityCode.ENHANCED_ROUTE_REFRESH: _dec_empty(EnhancedRouteRefreshCap),
    CapabilityCode.LONG_LIVED_GRACEFUL_RESTART: _dec_llgr,
    CapabilityCode.FQDN: _dec_fqdn,
}
"""Capability code -> value decoder (STYLE rule 7: one literal registry)."""


def encode_capability_value(cap: Capability) -> bytes:
    """The Capability Value octets of `cap` (without code and length)."""
    match cap:
        case Multiprotocol():
            return _enc_multiprotocol(cap)
        case RouteRefreshCap() | EnhancedRouteRefreshCap() | ExtendedMessage():
            return b""
        case FourOctetAs():
            if not 0 <= cap.asn <= 0xFFFFFFFF:
                raise LocalUsageError(f"ASN {cap.asn} out of range")
            return cap.asn.to_bytes(4, "big")
        case GracefulRestart():
            return _enc_graceful_restart(cap)
        case LongLivedGracefulRestart():
            return _enc_llgr(cap)
        case AddPath():
            return _enc_add_path(cap)
        case ExtendedNextHop():
            return _enc_extended_next_hop(cap)
        case Fqdn():
            return _enc_fqdn(cap)
        case Role():
            return bytes((cap.role,))
        case UnknownCapability():
            return cap.value
    raise LocalUsageError(f"not a capability: {cap!r}")


def decode_capability(code: int, value: bytes) -> Capability:
    """One capability from its code and value; unparseable values stay opaque."""
    decoder = CAPABILITY_DECODERS.get(code)
    if decoder is None:
        return UnknownCapability(code=code, value=value)
    try:
        return decoder(value)
    except (_BadValue, ValueError, IndexError):
        return UnknownCapability(code=code, value=value)


def decode_capabilities(data: bytes | memoryview) -> tuple[Capability, ...]:
    """All capabilities in one Capabilities optional parameter value (RFC 5492 section 4).

    A TLV that overruns the parameter is a malformed optional parameter: OPEN Message Error with
    subcode 0, Unspecific (RFC 4271 section 6.2).
    """
    buf = bytes(data)
    out: list[Capability] = []
    i, n = 0, len(buf)
    while i < n:
        if i + 2 > n or i + 2 + buf[i + 1] > n:
            raise NotificationError(
                NotificationCode.OPEN_MESSAGE_ERROR, 0, reason="capability overruns its parameter"
            )
        code, length = buf[i], buf[i + 1]
        out.append(decode_capability(code, buf[i + 2 : i + 2 + length]))
        i += 2 + length
    return tuple(out)


def encode_capability(cap: Capability) -> bytes:
    """Code, length and value of one capability."""
    value = encode_capability_value(cap)
    if len(value) > 255:
        raise LocalUsageError(f"capability {cap!r} is longer than 255 octets")
    return bytes((int(cap.code), len(value))) + value
