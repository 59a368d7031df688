"""Hypothesis: generated messages round-trip exactly (`decode(encode(m)) == m`, STYLE rule 5), and
mutated real messages never make the decoder raise anything but `WireError` (STYLE rule 14)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.wire.strategies import ADDPATH_ALL, messages
from tests.wire.vectors import exabgp_decoding, exabgp_encoding

from pybgp.wire.context import WireContext
from pybgp.wire.errors import LocalUsageError, WireError
from pybgp.wire.messages import Message, decode_message, encode_message

CONTEXTS = [
    WireContext(ibgp=True),
    WireContext(ibgp=True, as4=False),
    WireContext(ibgp=True, addpath_rx=ADDPATH_ALL, addpath_tx=ADDPATH_ALL, extended_message=True),
]
EXAMPLES = int(os.environ.get("PYBGP_HYPOTHESIS_EXAMPLES", "300"))


@pytest.mark.parametrize("ctx", CONTEXTS, ids=["as4", "as2", "addpath"])
def test_generated_messages_round_trip(ctx: WireContext) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(messages(ctx))
    def check(msg: Message) -> None:
        try:
            raw = encode_message(msg, ctx)
        except LocalUsageError:
            return  # too long for one message; packing splits such content
        back = decode_message(raw, ctx)
        assert back == msg
        assert encode_message(back, ctx) == raw

    check()


def _seeds(testdata: Path) -> list[tuple[bytes, WireContext]]:
    seeds = [(raw, ctx) for _, raw, ctx in exabgp_decoding(testdata) + exabgp_encoding(testdata)]
    corpus = testdata / "fuzz/corpi/frr-bgpd-seed"
    seeds += [(p.read_bytes(), WireContext()) for p in sorted(corpus.glob("*.bin"))]
    return seeds


def test_mutated_real_messages_raise_only_wire_errors(testdata: Path) -> None:
    seeds = _seeds(testdata)

    @settings(max_examples=EXAMPLES * 3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.integers(0, len(seeds) - 1),
        st.lists(
            st.tuples(
                st.sampled_from(["flip", "set", "cut", "insert", "delete"]), st.integers(0, 1 << 16), U8
            ),
            max_size=6,
        ),
        st.booleans(),
    )
    def check(index: int, edits: list[tuple[str, int, int]], fix_length: bool) -> None:
        raw, ctx = seeds[index]
        data = bytearray(raw)
        for op, pos, value in edits:
            pos %= max(len(data), 1)
            if op == "flip" and data:
                data[pos] ^= 1 << (value % 8)
            elif op == "set" and data:
                data[pos] = value
            elif op == "cut":
                del data[pos:]
            elif op == "insert":
                data[pos:pos] = bytes((value,)) * (1 + value % 4)
            elif op == "delete" and data:
                del data[pos : pos + 1 + value % 4]
        if fix_length and len(data) >= 19:
            data[16:18] = min(len(data), 0xFFFF).to_bytes(2, "big")  # reach the body decoders
        try:
            msg = decode_message(bytes(data), ctx)
        except WireError:
            return
        assert encode_message(msg, ctx) == bytes(data)  # whatever decodes re-encodes byte for byte

    check()


U8 = st.integers(0, 255)
