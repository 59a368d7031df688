"""BFD Control packet codec (RFC 5880 section 4): bytes <-> frozen `ControlPacket`.

Owns: the wire layout of the mandatory section and of the authentication section, and every
reception check of RFC 5880 section 6.8.6 that can be made from the packet alone (version, length,
detect multiplier, multipoint, discriminators, Poll+Final). Never does: I/O, clocks, session lookup,
or digest verification (that needs keys and sequence state: see `pybfd.auth`).

Mandatory section (RFC 5880 section 4.1)::

     0                   1                   2                   3
     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                       My Discriminator                        |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                      Your Discriminator                       |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                    Desired Min TX Interval                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                   Required Min RX Interval                    |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
    |                 Required Min Echo RX Interval                 |
    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+

Optional authentication section (A bit set)::

    |   Auth Type   |   Auth Len    |    Auth Key ID  | ...
    Simple Password (4.2):  ... Password (1-16 bytes)
    Keyed/Meticulous MD5 (4.3), SHA1 (4.4):
    |   Auth Type   |   Auth Len    |  Auth Key ID  |   Reserved    |
    |                        Sequence Number                        |
    |                  Auth Key/Digest (16 or 20 bytes) ...         |
"""

from __future__ import annotations

import dataclasses
import struct

from pybfd.constants import BFD_VERSION, MANDATORY_LEN, AuthType, DropReason, State

_MANDATORY = struct.Struct("!BBBBIIIII")
_DIGEST_HEAD = struct.Struct("!BBBBI")
#: Digest length per authentication type (RFC 5880 sections 4.3 and 4.4).
DIGEST_LEN: dict[AuthType, int] = {
    AuthType.KEYED_MD5: 16,
    AuthType.METICULOUS_KEYED_MD5: 16,
    AuthType.KEYED_SHA1: 20,
    AuthType.METICULOUS_KEYED_SHA1: 20,
}
_U32 = 0xFFFFFFFF


class PacketError(ValueError):
    """A received packet that must be discarded; `reason` is the counter it increments."""

    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class AuthSection:
    """The authentication section (RFC 5880 sections 4.2-4.4).

    `password` is set for Simple Password only; `sequence` and `digest` for the MD5/SHA1 types.
    The digest is whatever the sender put there: checking it is `pybfd.auth`'s job.
    """

    auth_type: AuthType
    key_id: int
    password: bytes = b""
    sequence: int = 0
    digest: bytes = b""

    @property
    def length(self) -> int:
        """Auth Len as it appears on the wire."""
        if self.auth_type is AuthType.SIMPLE_PASSWORD:
            return 3 + len(self.password)
        return 8 + DIGEST_LEN[self.auth_type]


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class ControlPacket:
    """One BFD Control packet. Intervals are microseconds, as on the wire.

    The A bit and the Length field are derived (from `auth`), so `decode(encode(p)) == p` always.
    """

    version: int = BFD_VERSION
    diag: int = 0
    state: State = State.DOWN
    poll: bool = False
    final: bool = False
    control_plane_independent: bool = False
    demand: bool = False
    multipoint: bool = False
    detect_mult: int = 3
    my_discr: int = 0
    your_discr: int = 0
    desired_min_tx_interval: int = 1_000_000
    required_min_rx_interval: int = 1_000_000
    required_min_echo_rx_interval: int = 0
    auth: AuthSection | None = None

    @property
    def auth_present(self) -> bool:
        """The A bit."""
        return self.auth is not None

    @property
    def length(self) -> int:
        """The Length field: 24 plus the authentication section."""
        return MANDATORY_LEN + (self.auth.length if self.auth is not None else 0)


def encode_packet(packet: ControlPacket) -> bytes:
    """Serialise `packet`. The digest field is copied as given (see `pybfd.auth.sign` to fill it)."""
    flags = (
        (packet.state << 6)
        | (0x20 if packet.poll else 0)
        | (0x10 if packet.final else 0)
        | (0x08 if packet.control_plane_independent else 0)
        | (0x04 if packet.auth is not None else 0)
        | (0x02 if packet.demand else 0)
        | (0x01 if packet.multipoint else 0)
    )
    head = _MANDATORY.pack(
        ((packet.version & 0x7) << 5) | (packet.diag & 0x1F),
        flags,
        packet.detect_mult & 0xFF,
        packet.length,
        packet.my_discr & _U32,
        packet.your_discr & _U32,
        packet.desired_min_tx_interval & _U32,
        packet.required_min_rx_interval & _U32,
        packet.required_min_echo_rx_interval & _U32,
    )
    auth = packet.auth
    if auth is None:
        return head
    if auth.auth_type is AuthType.SIMPLE_PASSWORD:
        return head + bytes((auth.auth_type, auth.length, auth.key_id & 0xFF)) + auth.password
    digest = auth.digest.ljust(DIGEST_LEN[auth.auth_type], b"\0")[: DIGEST_LEN[auth.auth_type]]
    return (
        head + _DIGEST_HEAD.pack(auth.auth_type, auth.length, auth.key_id & 0xFF, 0, auth.sequence) + digest
    )


def _decode_auth(data: memoryview) -> AuthSection:
    """Parse the authentication section; raises `PacketError(AUTH_MALFORMED)` on any inconsistency."""
    if len(data) < 3:
        raise PacketError(DropReason.AUTH_MALFORMED, "authentication section shorter than 3 bytes")
    try:
        auth_type = AuthType(data[0])
    except ValueError:
        raise PacketError(DropReason.AUTH_MALFORMED, f"unknown Auth Type {data[0]}") from None
    auth_len = data[1]
    if auth_len > len(data):
        raise PacketError(DropReason.AUTH_MALFORMED, f"Auth Len {auth_len} beyond the packet")
    if auth_type is AuthType.SIMPLE_PASSWORD:
        # RFC 5880 4.2: the password MUST be from 1 to 16 bytes, so Auth Len is 4..19.
        if not 4 <= auth_len <= 19:
            raise PacketError(DropReason.AUTH_MALFORMED, f"Simple Password Auth Len {auth_len}")
        return AuthSection(auth_type=auth_type, key_id=data[2], password=bytes(data[3:auth_len]))
    if auth_type is AuthType.RESERVED:
        raise PacketError(DropReason.AUTH_MALFORMED, "Auth Type 0 is reserved")
    # RFC 5880 4.3: Auth Len is 24 for the MD5 types; 4.4: 28 for the SHA1 types.
    want = 8 + DIGEST_LEN[auth_type]
    if auth_len != want:
        raise PacketError(DropReason.AUTH_MALFORMED, f"{auth_type.name} Auth Len {auth_len} != {want}")
    _, _, key_id, _, sequence = _DIGEST_HEAD.unpack_from(data, 0)
    return AuthSection(auth_type=auth_type, key_id=key_id, sequence=sequence, digest=bytes(data[8:want]))


def decode_packet(data: bytes | bytearray | memoryview) -> ControlPacket:
    """Parse and run the packet-only reception checks of RFC 5880 section 6.8.6.

    Raises only `PacketError`, whose `reason` says which check failed. Trailing bytes beyond the
    Length field are ignored (6.8.6 only requires Length <= payload).
    """
    view = memoryview(data)
    if len(view) < MANDATORY_LEN:
        raise PacketError(
            DropReason.TOO_SHORT, f"{len(view)} bytes, shorter than the 24-byte mandatory section"
        )
    vd, flags, detect_mult, length, my_discr, your_discr, tx, rx, echo = _MANDATORY.unpack_from(view, 0)
    version = vd >> 5
    # 6.8.6: If the version number is not correct (1), the packet MUST be discarded.
    if version != BFD_VERSION:
        raise PacketError(DropReason.BAD_VERSION, f"version {version}")
    auth_bit = bool(flags & 0x04)
    # 6.8.6: If the Length field is less than the minimum correct value (24 if the A bit is clear,
    # or 26 if the A bit is set), the packet MUST be discarded.
    if length < (26 if auth_bit else MANDATORY_LEN):
        raise PacketError(DropReason.BAD_LENGTH, f"Length field says {length}")
    # 6.8.6: If the Length field is greater than the payload of the encapsulating protocol, discard.
    if length > len(view):
        raise PacketError(DropReason.BAD_LENGTH, f"Length field says {length} but {len(view)} bytes present")
    # 6.8.6: If the Detect Mult field is zero, the packet MUST be discarded.
    if detect_mult == 0:
        raise PacketError(DropReason.ZERO_DETECT_MULT, "Detect Mult is 0")
    # 6.8.6: If the Multipoint (M) bit is nonzero, the packet MUST be discarded.
    if flags & 0x01:
        raise PacketError(DropReason.MULTIPOINT, "M bit set")
    # 6.8.6: If the My Discriminator field is zero, the packet MUST be discarded.
    if my_discr == 0:
        raise PacketError(DropReason.ZERO_MY_DISCR, "My Discriminator is 0")
    state = State(flags >> 6)
    # 6.8.6: If Your Discriminator is zero and the State field is not Down or AdminDown, discard.
    if your_discr == 0 and state not in (State.DOWN, State.ADMIN_DOWN):
        raise PacketError(DropReason.ZERO_YOUR_DISCR_NOT_DOWN, f"Your Discriminator 0 in state {state.name}")
    poll, final = bool(flags & 0x20), bool(flags & 0x10)
    # 4.1 / 6.5: a packet MUST NOT have both Poll and Final set; such a packet is malformed.
    if poll and final:
        raise PacketError(DropReason.POLL_AND_FINAL, "P and F both set")
    auth = None
    if auth_bit:
        auth = _decode_auth(view[MANDATORY_LEN:length])
        if auth.length != length - MANDATORY_LEN:
            raise PacketError(DropReason.AUTH_MALFORMED, f"Auth Len {auth.length} != Length - 24")
    return ControlPacket(
        version=version,
        diag=vd & 0x1F,
        state=state,
        poll=poll,
        final=final,
        control_plane_independent=bool(flags & 0x08),
        demand=bool(flags & 0x02),
        multipoint=False,
        detect_mult=detect_mult,
        my_discr=my_discr,
        your_discr=your_discr,
        desired_min_tx_interval=tx,
        required_min_rx_interval=rx,
        required_min_echo_rx_interval=echo,
        auth=auth,
    )


def decode_unchecked(data: bytes | bytearray | memoryview) -> ControlPacket:
    """Parse the mandatory section without the 6.8.6 checks (for inspecting captures and tests).

    Still raises `PacketError(TOO_SHORT)` under 24 bytes; the authentication section is omitted.
    """
    view = memoryview(data)
    if len(view) < MANDATORY_LEN:
        raise PacketError(DropReason.TOO_SHORT, f"{len(view)} bytes")
    vd, flags, detect_mult, _length, my_discr, your_discr, tx, rx, echo = _MANDATORY.unpack_from(view, 0)
    return ControlPacket(
        version=vd >> 5,
        diag=vd & 0x1F,
        state=State(flags >> 6),
        poll=bool(flags & 0x20),
        final=bool(flags & 0x10),
        control_plane_independent=bool(flags & 0x08),
        demand=bool(flags & 0x02),
        multipoint=bool(flags & 0x01),
        detect_mult=detect_mult,
        my_discr=my_discr,
        your_discr=your_discr,
        desired_min_tx_interval=tx,
        required_min_rx_interval=rx,
        required_min_echo_rx_interval=echo,
    )
