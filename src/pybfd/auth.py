"""BFD authentication (RFC 5880 sections 4.2-4.4 and 6.7): signing, verification, sequence windows.

Owns: the key configuration (`BfdAuth`, `BfdKey`), the digest computation of Keyed/Meticulous Keyed
MD5 and SHA1, the Simple Password comparison, and the per-session sequence state of section 6.7
(`AuthState`: bfd.RcvAuthSeq, bfd.XmitAuthSeq, bfd.AuthSeqKnown). Never does: I/O or clocks; the
session tells it when 2x the Detection Time has passed without a packet.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import random

from pybfd.constants import AuthType, DropReason
from pybfd.packet import DIGEST_LEN, AuthSection, ControlPacket, encode_packet

_U32 = 0xFFFFFFFF
_METICULOUS = (AuthType.METICULOUS_KEYED_MD5, AuthType.METICULOUS_KEYED_SHA1)
_MD5 = (AuthType.KEYED_MD5, AuthType.METICULOUS_KEYED_MD5)


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BfdKey:
    """One key of a key chain: RFC 5880 Auth Key ID and its secret."""

    key_id: int
    secret: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.key_id <= 255:
            raise ValueError(f"key id {self.key_id} outside 0..255")
        if not 1 <= len(self.secret) <= 20:
            raise ValueError("secret must be 1..20 bytes (16 for Simple Password and MD5)")


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BfdAuth:
    """Authentication configuration of a session: the type, the keys accepted, the key sent."""

    auth_type: AuthType
    keys: tuple[BfdKey, ...]
    tx_key_id: int | None = None  # None: the first key

    def __post_init__(self) -> None:
        if self.auth_type is AuthType.RESERVED:
            raise ValueError("auth type 0 is reserved")
        if not self.keys:
            raise ValueError("at least one key is needed")
        limit = 16 if self.auth_type in (AuthType.SIMPLE_PASSWORD, *_MD5) else 20
        for key in self.keys:
            if len(key.secret) > limit:
                raise ValueError(f"{self.auth_type.name} secrets are at most {limit} bytes")

    @property
    def tx_key(self) -> BfdKey:
        """The key used to sign transmitted packets."""
        if self.tx_key_id is None:
            return self.keys[0]
        for key in self.keys:
            if key.key_id == self.tx_key_id:
                return key
        raise ValueError(f"tx key id {self.tx_key_id} is not among the keys")

    def key(self, key_id: int) -> BfdKey | None:
        """The key with this id, if configured."""
        for key in self.keys:
            if key.key_id == key_id:
                return key
        return None

    @property
    def meticulous(self) -> bool:
        """Whether the sequence number must increase on every packet (6.7.3, 6.7.4)."""
        return self.auth_type in _METICULOUS


def _digest(auth_type: AuthType, data: bytes) -> bytes:
    if auth_type in _MD5:
        return hashlib.md5(data, usedforsecurity=False).digest()
    return hashlib.sha1(data, usedforsecurity=False).digest()


@dataclasses.dataclass(slots=True)
class AuthState:
    """Per-session sequence state of RFC 5880 section 6.8.1 (mutable, owned by one session)."""

    xmit_auth_seq: int
    rcv_auth_seq: int = 0
    auth_seq_known: bool = False

    @classmethod
    def initial(cls, rng: random.Random) -> AuthState:
        """6.8.1: bfd.XmitAuthSeq MUST be initialised to a random 32-bit value."""
        return cls(xmit_auth_seq=rng.getrandbits(32))


def sign(packet: ControlPacket, config: BfdAuth, state: AuthState) -> bytes:
    """Encode `packet` with an authentication section filled in per `config` (sections 6.7.2-6.7.4).

    For the MD5/SHA1 types the sequence number advances on every packet (mandatory for the
    meticulous types, allowed for the others), so a peer's window check always passes.
    """
    key = config.tx_key
    if config.auth_type is AuthType.SIMPLE_PASSWORD:
        section = AuthSection(auth_type=config.auth_type, key_id=key.key_id, password=key.secret)
        return encode_packet(dataclasses.replace(packet, auth=section))
    state.xmit_auth_seq = (state.xmit_auth_seq + 1) & _U32
    # 6.7.3 / 6.7.4: the Auth Key, zero padded to the digest length, goes in the digest field, the
    # digest is computed over the whole packet, then written over the key.
    padded = key.secret.ljust(DIGEST_LEN[config.auth_type], b"\0")
    section = AuthSection(
        auth_type=config.auth_type, key_id=key.key_id, sequence=state.xmit_auth_seq, digest=padded
    )
    raw = encode_packet(dataclasses.replace(packet, auth=section))
    n = DIGEST_LEN[config.auth_type]
    return raw[:-n] + _digest(config.auth_type, raw)


def verify(raw: bytes, packet: ControlPacket, config: BfdAuth | None, state: AuthState) -> DropReason | None:
    """Check a received packet's authentication (6.8.6 and 6.7); None when it is acceptable.

    Updates bfd.RcvAuthSeq / bfd.AuthSeqKnown only when the packet is accepted.
    """
    auth = packet.auth
    # 6.8.6: If the A bit is set and no authentication is in use (bfd.AuthType is zero), or the A bit
    # is clear and authentication is in use, the packet MUST be discarded.
    if config is None:
        return DropReason.AUTH_MISMATCH if auth is not None else None
    if auth is None or auth.auth_type is not config.auth_type:
        return DropReason.AUTH_MISMATCH
    key = config.key(auth.key_id)
    if key is None:
        return DropReason.AUTH_FAILED
    if auth.auth_type is AuthType.SIMPLE_PASSWORD:
        # 6.7.2: the password MUST match the one for the key id.
        return None if hmac.compare_digest(auth.password, key.secret) else DropReason.AUTH_FAILED
    # 6.7.3 / 6.7.4: sequence window, in circular 32-bit arithmetic.
    if state.auth_seq_known:
        delta = (auth.sequence - state.rcv_auth_seq) & _U32
        low = 1 if config.meticulous else 0
        if not low <= delta <= 3 * packet.detect_mult:
            return DropReason.AUTH_SEQUENCE
    n = DIGEST_LEN[config.auth_type]
    length = packet.length
    data = raw[: length - n] + key.secret.ljust(n, b"\0")
    if not hmac.compare_digest(_digest(config.auth_type, data), raw[length - n : length]):
        return DropReason.AUTH_FAILED
    state.rcv_auth_seq = auth.sequence
    state.auth_seq_known = True
    return None
