"""Review of the codec's caches (weak intern tables, template cache, no stored semantic snapshot):
they may only ever make decoding cheaper, never change an answer.

Pinned here: the same bytes in another context (AS width, iBGP) give another set; an RFC 7606 fault
found with a set comes back on every later decode of those bytes, whether it is an intern-table hit,
a template hit (same list around another AS_PATH) or a cold decode; sets are immutable; a bounded or
cleared table leaves every set handed out valid; a dead set's weakref callback never removes the
entry of a newer set with its bytes; nothing is printed at interpreter exit; and arbitrary bytes
decoded through warm caches raise nothing but `WireError`.
"""

from __future__ import annotations

import dataclasses
import gc
import struct
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.wire.builders import NEXT_HOP, ORIGIN_IGP, attr

from pybgp.wire import intern
from pybgp.wire.attributes import clear_intern_cache, decode_path_attributes, encode_path_attributes
from pybgp.wire.context import WireContext
from pybgp.wire.errors import UpdateAction, WireError

CONTEXTS = [WireContext(as4=a, ibgp=i) for a in (True, False) for i in (True, False)]
LOCAL_PREF = attr(5, struct.pack("!I", 300))


def as_path(*asns: int) -> bytes:
    """An AS_SEQUENCE written 4 octets wide: at 2-octet width the same bytes mean something else
    (here a malformed AS_PATH), so the context decides what they mean."""
    return attr(2, bytes((2, len(asns))) + struct.pack(f"!{len(asns)}I", *asns))


def cold(data: bytes, ctx: WireContext) -> object:
    """The decode with every cache empty (the reference answer), caches emptied again after."""
    clear_intern_cache()
    try:
        return _decode(data, ctx)
    finally:
        clear_intern_cache()


def _decode(data: bytes, ctx: WireContext) -> object:
    try:
        attrs, reach, unreach, fault = decode_path_attributes(data, ctx, has_nlri=True)
    except WireError as exc:
        return ("raised", type(exc).__name__, str(exc))
    return attrs, reach, unreach, fault


def test_same_bytes_in_other_contexts_never_share_a_set() -> None:
    data = ORIGIN_IGP + as_path(65001) + NEXT_HOP + LOCAL_PREF
    expected = {ctx: cold(data, ctx) for ctx in CONTEXTS}
    for _ in range(2):  # interleaved: every context sees the others' entries in the caches
        got = {ctx: _decode(data, ctx) for ctx in CONTEXTS}
        assert got == expected
    sets = [r[0] for r in got.values() if isinstance(r, tuple) and not isinstance(r[0], str)]
    assert len({id(s) for s in sets}) == len(CONTEXTS)
    for ctx, result in got.items():
        assert isinstance(result, tuple)
        attrs, _, _, fault = result
        if not ctx.as4:  # the 4-octet AS_PATH read 2 octets wide: RFC 7606 treat-as-withdraw
            assert fault is not None and fault.action is UpdateAction.TREAT_AS_WITHDRAW
        elif ctx.ibgp:
            assert attrs.local_pref == 300 and fault is None
        else:  # RFC 7606 section 7.5: LOCAL_PREF from an external peer is discarded, every time
            assert attrs.local_pref is None and fault is not None
            assert fault.action is UpdateAction.ATTRIBUTE_DISCARD


MALFORMED_OUTSIDE_AS_PATH = [
    attr(4, b"\x00\x00\x05"),  # MED of 3 octets: treat-as-withdraw
    attr(8, b"\x00\x00\x00"),  # COMMUNITIES not a multiple of 4: treat-as-withdraw
    attr(5, struct.pack("!I", 7), flags=0xC0),  # LOCAL_PREF flagged optional: flags conflict
    attr(9, b"\x0a\x00\x00\x01"),  # ORIGINATOR_ID: discarded from an external peer
    attr(3, b"\x0a\x00\x00"),  # NEXT_HOP of 3 octets
]


@pytest.mark.parametrize("bad", MALFORMED_OUTSIDE_AS_PATH)
@pytest.mark.parametrize("ctx", CONTEXTS)
def test_faults_come_back_on_every_hit(bad: bytes, ctx: WireContext) -> None:
    """A fault outside AS_PATH, found on the first decode: the intern-table hit (set alive), the
    decode after the set died, and the same list around another AS_PATH (the template's case) must
    each report what a cold decode reports."""
    first = ORIGIN_IGP + as_path(65001) + NEXT_HOP + bad
    second = ORIGIN_IGP + as_path(65002, 65003) + NEXT_HOP + bad
    want_first, want_second = cold(first, ctx), cold(second, ctx)
    held = _decode(first, ctx)  # cold, fills every cache
    assert held == want_first
    assert _decode(first, ctx) == want_first  # intern-table hit, the set alive in `held`
    assert _decode(second, ctx) == want_second  # another AS_PATH: template / value caches warm
    del held
    gc.collect()
    assert _decode(first, ctx) == want_first  # the set died: decoded anew from warm caches


def test_sets_handed_out_are_immutable() -> None:
    attrs, *_ = decode_path_attributes(ORIGIN_IGP + as_path(65001) + NEXT_HOP, CONTEXTS[0], has_nlri=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        attrs.med = 5  # type: ignore[misc]
    again, *_ = decode_path_attributes(ORIGIN_IGP + as_path(65001) + NEXT_HOP, CONTEXTS[0], has_nlri=True)
    assert again is attrs and again.med is None


def test_bounded_table_and_clear_keep_sets_valid(monkeypatch: pytest.MonkeyPatch) -> None:
    """A table that starts afresh at its bound (or `clear_tables`) drops entries, never sets: each set
    handed out still equals, and re-encodes to, its bytes; a later decode gives an equal set."""
    clear_intern_cache()
    monkeypatch.setattr(intern, "INTERN_CACHE_SIZE", 4)
    ctx = CONTEXTS[0]
    lists = [ORIGIN_IGP + as_path(65000 + i) + NEXT_HOP + attr(4, struct.pack("!I", i)) for i in range(11)]
    held = [decode_path_attributes(data, ctx, has_nlri=True)[0] for data in lists]
    assert all(len(table) <= 4 for table in intern.TABLES)
    intern.clear_tables()
    for data, attrs in zip(lists, held, strict=True):
        assert encode_path_attributes(attrs, ctx) == data
        again = decode_path_attributes(data, ctx, has_nlri=True)[0]
        assert again == attrs and encode_path_attributes(again, ctx) == data
    clear_intern_cache()


def test_dead_set_never_removes_a_newer_entry_for_its_bytes() -> None:
    """`clear_tables`, then the same bytes decoded again (a new set, a new entry under the same key):
    when the old set dies, its weakref callback must leave the new entry alone."""
    clear_intern_cache()
    ctx = CONTEXTS[0]
    data = ORIGIN_IGP + as_path(65001) + NEXT_HOP + attr(4, struct.pack("!I", 9))
    old = decode_path_attributes(data, ctx, has_nlri=True)[0]
    intern.clear_tables()
    new = decode_path_attributes(data, ctx, has_nlri=True)[0]
    assert new is not old and new == old
    del old
    gc.collect()
    assert decode_path_attributes(data, ctx, has_nlri=True)[0] is new
    assert data in intern.TABLES[2 * ctx.as4 + ctx.ibgp]
    clear_intern_cache()


def test_interpreter_exit_with_live_interned_sets_is_quiet() -> None:
    """Sets still alive at exit die after module teardown began: their weakref callbacks must not
    print "Exception ignored in ..." (they reach nothing through module globals)."""
    code = (
        "import struct\n"
        "from pybgp.wire.attributes import decode_path_attributes\n"
        "from pybgp.wire.context import WireContext\n"
        "KEEP = []\n"
        "for i in range(200):\n"
        "    data = b'\\x40\\x01\\x01\\x00' + b'\\x40\\x02\\x06\\x02\\x01' + struct.pack('!I', 65000 + i)\n"
        "    for ctx in (WireContext(), WireContext(ibgp=True), WireContext(as4=False)):\n"
        "        KEEP.append(decode_path_attributes(data, ctx)[0])\n"
        "KEEP.append(KEEP)  # a cycle: collected only at the final GC\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         check=False)
    assert run.returncode == 0 and run.stderr == ""


_PIECES = st.sampled_from([
    ORIGIN_IGP, NEXT_HOP, LOCAL_PREF, as_path(65001), as_path(1, 2, 3), attr(4, bytes(4)),
    attr(8, bytes(8)), attr(7, bytes(8)), attr(9, bytes(4)), attr(10, bytes(4)), attr(99, b"x"),
    attr(14, b"\x00\x02\x01\x10" + bytes(16) + b"\x00"), attr(15, b"\x00\x02\x01"),
    *MALFORMED_OUTSIDE_AS_PATH,
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(_PIECES, max_size=6), cut=st.integers(0, 60), junk=st.binary(max_size=4),
       flip=st.integers(0, 255), ctx=st.sampled_from(CONTEXTS))
def test_warm_caches_answer_like_cold_ones_on_hostile_lists(
    pieces: list[bytes], cut: int, junk: bytes, flip: int, ctx: WireContext
) -> None:
    """Lists built from real attributes, then truncated, extended with junk, or with one octet
    changed: decoded after their well-formed sibling warmed every cache, the answer (or the
    `WireError`) is the cold one, and nothing else is raised."""
    good = b"".join(pieces)
    bad = bytearray(good[: len(good) - cut % (len(good) + 1)] + junk)
    if bad:
        bad[flip % len(bad)] ^= 0xFF
    for data in (good, bytes(bad)):
        want = cold(data, ctx)
        _decode(good, ctx)  # warm: intern table, values, template
        assert _decode(data, ctx) == want
        assert _decode(data, ctx) == want  # and once more, from its own entry
