"""BFD packet codec: golden vectors (GoBGP, holo, os-ken), scapy agreement, Hypothesis, garbage."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybfd.constants import AuthType, DropReason, State
from pybfd.packet import AuthSection, ControlPacket, PacketError, decode_packet, encode_packet


def _vectors(testdata: Path, name: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((testdata / "vectors" / name).read_text())
    return list(data["vectors"])


def _check_fields(packet: ControlPacket, expect: dict[str, Any]) -> None:
    assert packet.version == expect["version"]
    assert packet.diag == expect["diag"]
    assert packet.state is State[expect["state"].upper()]
    assert packet.detect_mult == expect["detect_mult"]
    assert packet.my_discr == int(str(expect["my_discriminator"]), 0)
    assert packet.your_discr == int(str(expect["your_discriminator"]), 0)
    assert packet.desired_min_tx_interval == expect["desired_min_tx_interval_us"]
    assert packet.required_min_rx_interval == expect["required_min_rx_interval_us"]
    assert packet.required_min_echo_rx_interval == expect["required_min_echo_rx_interval_us"]
    for flag, attr in (("P", "poll"), ("F", "final"), ("C", "control_plane_independent"), ("D", "demand")):
        if flag in expect.get("flags", {}):
            assert getattr(packet, attr) is expect["flags"][flag]
    if "poll" in expect:
        assert packet.poll is expect["poll"] and packet.final is expect["final"]


def test_gobgp_vectors(testdata: Path) -> None:
    for vector in _vectors(testdata, "gobgp_bfd.json"):
        raw = bytes.fromhex(vector["hex"])
        if "error" in vector["expect"]:
            with pytest.raises(PacketError) as info:
                decode_packet(raw)
            assert info.value.reason in (DropReason.TOO_SHORT, DropReason.BAD_LENGTH), vector["id"]
            continue
        packet = decode_packet(raw)
        _check_fields(packet, vector["expect"])
        assert encode_packet(packet) == raw, vector["id"]


def test_holo_vector_roundtrip(testdata: Path) -> None:
    (vector,) = _vectors(testdata, "holo_bfd_packet.json")
    raw = bytes.fromhex(vector["hex"])
    packet = decode_packet(raw)
    _check_fields(packet, vector["expect"])
    assert packet.length == vector["expect"]["length"]
    assert encode_packet(packet) == raw


def test_osken_vectors_decode_and_roundtrip(testdata: Path) -> None:
    for vector in _vectors(testdata, "osken_bfd_auth.json"):
        raw = bytes.fromhex(vector["bfd_hex"])
        assert bytes.fromhex(vector["frame_hex"]).endswith(raw)
        packet = decode_packet(raw)
        _check_fields(packet, vector["expect"])
        want_auth = vector["expect"].get("auth")
        if want_auth is None:
            assert packet.auth is None
        else:
            assert packet.auth is not None
            assert packet.auth.auth_type == want_auth["type"]
            assert packet.auth.length == want_auth["len"]
            assert packet.auth.key_id == want_auth["key_id"]
            if "password" in want_auth:
                assert packet.auth.password == want_auth["password"].encode()
            if "sequence" in want_auth:
                assert packet.auth.sequence == want_auth["sequence"]
        assert encode_packet(packet) == raw


def test_scapy_agrees_with_our_bytes() -> None:
    bfd = pytest.importorskip("scapy.contrib.bfd")
    packet = ControlPacket(
        diag=3,
        state=State.UP,
        poll=True,
        detect_mult=5,
        my_discr=0xDEADBEEF,
        your_discr=7,
        desired_min_tx_interval=100_000,
        required_min_rx_interval=200_000,
        required_min_echo_rx_interval=50_000,
    )
    ours = encode_packet(packet)
    theirs = bfd.BFD(ours)
    assert theirs.version == 1 and theirs.diag == 3 and theirs.sta == 3
    assert theirs.detect_mult == 5 and theirs.len == 24
    assert theirs.my_discriminator == 0xDEADBEEF and theirs.your_discriminator == 7
    assert theirs.min_tx_interval == 100_000 and theirs.min_rx_interval == 200_000
    assert theirs.echo_rx_interval == 50_000
    assert "P" in str(theirs.flags)
    # And the other way: scapy's bytes decode to the same packet.
    built = bytes(
        bfd.BFD(
            diag=3,
            sta=3,
            flags="P",
            detect_mult=5,
            my_discriminator=0xDEADBEEF,
            your_discriminator=7,
            min_tx_interval=100_000,
            min_rx_interval=200_000,
            echo_rx_interval=50_000,
        )
    )
    assert decode_packet(built) == packet


_auth = st.one_of(
    st.none(),
    st.builds(
        AuthSection,
        auth_type=st.just(AuthType.SIMPLE_PASSWORD),
        key_id=st.integers(0, 255),
        password=st.binary(min_size=1, max_size=16),
    ),
    st.builds(
        AuthSection,
        auth_type=st.sampled_from([AuthType.KEYED_MD5, AuthType.METICULOUS_KEYED_MD5]),
        key_id=st.integers(0, 255),
        sequence=st.integers(0, 2**32 - 1),
        digest=st.binary(min_size=16, max_size=16),
    ),
    st.builds(
        AuthSection,
        auth_type=st.sampled_from([AuthType.KEYED_SHA1, AuthType.METICULOUS_KEYED_SHA1]),
        key_id=st.integers(0, 255),
        sequence=st.integers(0, 2**32 - 1),
        digest=st.binary(min_size=20, max_size=20),
    ),
)


@st.composite
def valid_packets(draw: st.DrawFn) -> ControlPacket:
    state = draw(st.sampled_from(State))
    your = (
        draw(st.integers(0, 2**32 - 1))
        if state in (State.DOWN, State.ADMIN_DOWN)
        else draw(st.integers(1, 2**32 - 1))
    )
    poll = draw(st.booleans())
    return ControlPacket(
        diag=draw(st.integers(0, 31)),
        state=state,
        poll=poll,
        final=False if poll else draw(st.booleans()),
        control_plane_independent=draw(st.booleans()),
        demand=draw(st.booleans()),
        detect_mult=draw(st.integers(1, 255)),
        my_discr=draw(st.integers(1, 2**32 - 1)),
        your_discr=your,
        desired_min_tx_interval=draw(st.integers(0, 2**32 - 1)),
        required_min_rx_interval=draw(st.integers(0, 2**32 - 1)),
        required_min_echo_rx_interval=draw(st.integers(0, 2**32 - 1)),
        auth=draw(_auth),
    )


@given(valid_packets())
@settings(max_examples=300, deadline=None)
def test_roundtrip(packet: ControlPacket) -> None:
    raw = encode_packet(packet)
    assert len(raw) == packet.length
    assert decode_packet(raw) == packet
    assert decode_packet(raw + b"trailing") == packet  # bytes past Length are ignored (6.8.6)


@given(st.binary(max_size=80))
@settings(max_examples=1000, deadline=None)
def test_garbage_raises_only_packet_error(data: bytes) -> None:
    try:
        decode_packet(data)
    except PacketError as exc:
        assert isinstance(exc.reason, DropReason)


@given(valid_packets(), st.integers(0, 60))
@settings(max_examples=300, deadline=None)
def test_truncation_is_rejected(packet: ControlPacket, cut: int) -> None:
    raw = encode_packet(packet)
    if cut >= len(raw):
        return
    with pytest.raises(PacketError) as info:
        decode_packet(raw[:cut])
    assert info.value.reason in (DropReason.TOO_SHORT, DropReason.BAD_LENGTH, DropReason.AUTH_MALFORMED)


BASE = ControlPacket(state=State.UP, my_discr=1, your_discr=2)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda b: bytes([(2 << 5) | (b[0] & 0x1F)]) + b[1:], DropReason.BAD_VERSION),  # version 2
        (lambda b: b[:3] + bytes([23]) + b[4:], DropReason.BAD_LENGTH),  # Length < 24
        (lambda b: b[:3] + bytes([40]) + b[4:], DropReason.BAD_LENGTH),  # Length > payload
        (lambda b: b[:2] + bytes([0]) + b[3:], DropReason.ZERO_DETECT_MULT),
        (lambda b: b[:1] + bytes([b[1] | 0x01]) + b[2:], DropReason.MULTIPOINT),
        (lambda b: b[:4] + bytes(4) + b[8:], DropReason.ZERO_MY_DISCR),
        (lambda b: b[:8] + bytes(4) + b[12:], DropReason.ZERO_YOUR_DISCR_NOT_DOWN),
        (lambda b: b[:1] + bytes([b[1] | 0x30]) + b[2:], DropReason.POLL_AND_FINAL),
        (
            lambda b: b[:1] + bytes([b[1] | 0x04]) + b[2:3] + bytes([26]) + b[4:] + b"\x00\x00",
            DropReason.AUTH_MALFORMED,
        ),
        (
            lambda b: b[:1] + bytes([b[1] | 0x04]) + b[2:3] + bytes([27]) + b[4:] + b"\x09\x03\x01",
            DropReason.AUTH_MALFORMED,
        ),
        (
            lambda b: b[:1] + bytes([b[1] | 0x04]) + b[2:3] + bytes([28]) + b[4:] + b"\x02\x04\x01\x00",
            DropReason.AUTH_MALFORMED,
        ),
    ],
)
def test_each_reception_check(mutate: Any, reason: DropReason) -> None:
    raw = mutate(encode_packet(BASE))
    with pytest.raises(PacketError) as info:
        decode_packet(raw)
    assert info.value.reason is reason


def test_your_discr_zero_allowed_in_down_and_admin_down() -> None:
    for state in (State.DOWN, State.ADMIN_DOWN):
        packet = ControlPacket(state=state, my_discr=5, your_discr=0)
        assert decode_packet(encode_packet(packet)) == packet
