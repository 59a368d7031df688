"""Authentication (RFC 5880 4.2-4.4, 6.7): os-ken's signed packets verify, sequence windows hold."""

from __future__ import annotations

import dataclasses
import json
import random
from pathlib import Path

import pytest

from pybfd.auth import AuthState, BfdAuth, BfdKey, sign, verify
from pybfd.constants import AuthType, DropReason, State
from pybfd.packet import ControlPacket, decode_packet

KEY = BfdKey(key_id=2, secret=b"secret")


def _osken(testdata: Path) -> dict[str, bytes]:
    data = json.loads((testdata / "vectors" / "osken_bfd_auth.json").read_text())
    return {v["id"]: bytes.fromhex(v["bfd_hex"]) for v in data["vectors"]}


@pytest.mark.parametrize(
    ("vector", "auth_type"),
    [
        ("osken-bfd-auth-simple", AuthType.SIMPLE_PASSWORD),
        ("osken-bfd-auth-keyed-md5", AuthType.KEYED_MD5),
        ("osken-bfd-auth-keyed-sha1", AuthType.KEYED_SHA1),
    ],
)
def test_osken_packets_authenticate(testdata: Path, vector: str, auth_type: AuthType) -> None:
    raw = _osken(testdata)[vector]
    packet = decode_packet(raw)
    good = BfdAuth(auth_type=auth_type, keys=(KEY,))
    assert verify(raw, packet, good, AuthState(xmit_auth_seq=0)) is None
    wrong = BfdAuth(auth_type=auth_type, keys=(BfdKey(key_id=2, secret=b"Secret"),))
    assert verify(raw, packet, wrong, AuthState(xmit_auth_seq=0)) is DropReason.AUTH_FAILED
    other_id = BfdAuth(auth_type=auth_type, keys=(BfdKey(key_id=3, secret=b"secret"),))
    assert verify(raw, packet, other_id, AuthState(xmit_auth_seq=0)) is DropReason.AUTH_FAILED
    assert verify(raw, packet, None, AuthState(xmit_auth_seq=0)) is DropReason.AUTH_MISMATCH


def test_osken_unauthenticated_packet_rejected_when_auth_configured(testdata: Path) -> None:
    raw = _osken(testdata)["osken-bfd-noauth"]
    config = BfdAuth(auth_type=AuthType.KEYED_SHA1, keys=(KEY,))
    assert verify(raw, decode_packet(raw), config, AuthState(xmit_auth_seq=0)) is DropReason.AUTH_MISMATCH


def test_we_reproduce_osken_digests(testdata: Path) -> None:
    """Signing os-ken's packet content with its sequence number gives its exact bytes."""
    for vector, auth_type in (
        ("osken-bfd-auth-keyed-md5", AuthType.KEYED_MD5),
        ("osken-bfd-auth-keyed-sha1", AuthType.KEYED_SHA1),
    ):
        raw = _osken(testdata)[vector]
        packet = decode_packet(raw)
        assert packet.auth is not None
        state = AuthState(xmit_auth_seq=packet.auth.sequence - 1)
        ours = sign(dataclasses.replace(packet, auth=None), BfdAuth(auth_type=auth_type, keys=(KEY,)), state)
        assert ours == raw


PACKET = ControlPacket(state=State.UP, detect_mult=3, my_discr=9, your_discr=10)


@pytest.mark.parametrize("auth_type", [t for t in AuthType if t is not AuthType.RESERVED])
def test_sign_verify_every_type(auth_type: AuthType) -> None:
    config = BfdAuth(auth_type=auth_type, keys=(KEY, BfdKey(key_id=7, secret=b"other")), tx_key_id=7)
    tx = AuthState.initial(random.Random(1))
    rx = AuthState(xmit_auth_seq=0)
    for _ in range(5):
        raw = sign(PACKET, config, tx)
        packet = decode_packet(raw)
        assert packet.auth is not None and packet.auth.key_id == 7
        assert verify(raw, packet, config, rx) is None
    tampered = bytearray(sign(dataclasses.replace(PACKET, my_discr=99), config, tx))
    if auth_type is AuthType.SIMPLE_PASSWORD:
        tampered[-1] ^= 0x01  # the password itself: content is not protected by this type
    else:
        tampered[7] ^= 0x01  # My Discriminator changed after signing: the digest no longer matches
    bad = bytes(tampered)
    assert verify(bad, decode_packet(bad), config, rx) is DropReason.AUTH_FAILED


@pytest.mark.parametrize("auth_type", [AuthType.KEYED_MD5, AuthType.KEYED_SHA1])
def test_keyed_sequence_window(auth_type: AuthType) -> None:
    """6.7.3: Keyed: accept seq in [rcv, rcv + 3*DetectMult]; replays of the same seq are allowed."""
    config = BfdAuth(auth_type=auth_type, keys=(KEY,))
    rx = AuthState(xmit_auth_seq=0)

    def at(seq: int) -> DropReason | None:
        raw = sign(PACKET, config, AuthState(xmit_auth_seq=(seq - 1) % 2**32))
        return verify(raw, decode_packet(raw), config, rx)

    assert at(2**32 - 2) is None  # first packet: sequence becomes known
    assert rx.auth_seq_known and rx.rcv_auth_seq == 2**32 - 2
    assert at(2**32 - 2) is None  # same number again: fine for the non-meticulous types
    assert at(5) is None  # wraps: delta 7 <= 9
    assert at(15) is DropReason.AUTH_SEQUENCE  # delta 10 > 3*3
    assert at(4) is DropReason.AUTH_SEQUENCE  # backwards
    assert rx.rcv_auth_seq == 5


@pytest.mark.parametrize("auth_type", [AuthType.METICULOUS_KEYED_MD5, AuthType.METICULOUS_KEYED_SHA1])
def test_meticulous_sequence_must_increase(auth_type: AuthType) -> None:
    config = BfdAuth(auth_type=auth_type, keys=(KEY,))
    rx = AuthState(xmit_auth_seq=0)
    raw = sign(PACKET, config, AuthState(xmit_auth_seq=99))
    assert verify(raw, decode_packet(raw), config, rx) is None
    # 6.7.3 Meticulous: the same sequence number again is a replay.
    assert verify(raw, decode_packet(raw), config, rx) is DropReason.AUTH_SEQUENCE
    raw = sign(PACKET, config, AuthState(xmit_auth_seq=100))
    assert verify(raw, decode_packet(raw), config, rx) is None


def test_type_mismatch_and_bad_config() -> None:
    raw = sign(PACKET, BfdAuth(auth_type=AuthType.KEYED_MD5, keys=(KEY,)), AuthState(xmit_auth_seq=1))
    sha = BfdAuth(auth_type=AuthType.KEYED_SHA1, keys=(KEY,))
    assert verify(raw, decode_packet(raw), sha, AuthState(xmit_auth_seq=0)) is DropReason.AUTH_MISMATCH
    with pytest.raises(ValueError):
        BfdAuth(auth_type=AuthType.KEYED_MD5, keys=(BfdKey(key_id=1, secret=b"x" * 17),))
    with pytest.raises(ValueError):
        BfdAuth(auth_type=AuthType.KEYED_MD5, keys=())
    with pytest.raises(ValueError):
        BfdKey(key_id=256, secret=b"x")
    with pytest.raises(ValueError):
        _ = BfdAuth(auth_type=AuthType.SIMPLE_PASSWORD, keys=(KEY,), tx_key_id=9).tx_key
