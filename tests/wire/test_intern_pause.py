"""The intern tables pause while they do not pay (`pybgp.wire.intern.intern_set`).

A feed of a unique set per prefix (issue 6, feed (c)) never finds a set in the table, so every entry
only costs memory and time. Pinned here, with a small window: a context whose window of new sets saw
too few hits stops adding sets, yet still hands out the sets it holds; the pause ends and the table
fills again; a table whose sets are reused never pauses; a set left out is decoded again to an equal
set with the same encoding, and a fault is found again; `clear_tables` forgets the verdict; one
context's verdict leaves the others alone.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from tests.wire.builders import NEXT_HOP, ORIGIN_IGP, attr

from pybgp.wire import attrfast, intern
from pybgp.wire.attributes import (
    PathAttributes,
    clear_intern_cache,
    decode_path_attributes,
    encode_path_attributes,
)
from pybgp.wire.context import WireContext
from pybgp.wire.errors import UpdateAction

CTX = WireContext(as4=True, ibgp=True)
OTHER = WireContext(as4=True, ibgp=False)
WINDOW = 32
PAUSE = 100
AS_PATH = attr(2, bytes((2, 1)) + struct.pack("!I", 65010))


def unique(i: int) -> bytes:
    """Feed (c)'s lists: the same set but for MED, one per prefix."""
    return ORIGIN_IGP + AS_PATH + NEXT_HOP + attr(4, struct.pack("!I", i), flags=0x80)


def table(ctx: WireContext = CTX) -> dict[intern.InternKey, intern.InternEntry]:
    return intern.TABLES[2 * ctx.as4 + ctx.ibgp]


def decode(data: bytes, ctx: WireContext = CTX) -> PathAttributes:
    return decode_path_attributes(data, ctx, has_nlri=True)[0]


@pytest.fixture(autouse=True)
def small_window(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    clear_intern_cache()
    monkeypatch.setattr(intern, "HIT_WINDOW", WINDOW)
    monkeypatch.setattr(intern, "PAUSE_FOR", PAUSE)
    yield
    clear_intern_cache()


def test_unique_sets_pause_the_table_which_still_hands_out_its_sets() -> None:
    held = [decode(unique(i)) for i in range(WINDOW)]  # the window: no hit at all
    assert len(table()) == WINDOW
    later = [decode(unique(i)) for i in range(WINDOW, WINDOW + 50)]
    assert len(table()) == WINDOW  # paused: none of the 50 was added
    again = decode(unique(WINDOW + 7))
    assert again == later[7] and again is not later[7]  # an equal set, built again
    assert encode_path_attributes(again, CTX) == unique(WINDOW + 7)
    assert decode(unique(3)) is held[3]  # lookups go on while paused


def test_the_pause_ends_and_the_table_fills_again() -> None:
    held = [decode(unique(i)) for i in range(WINDOW + PAUSE)]
    assert len(table()) == WINDOW
    held += [decode(unique(WINDOW + PAUSE + i)) for i in range(5)]
    assert len(table()) == WINDOW + 5
    assert decode(unique(WINDOW + PAUSE + 2)) is held[-3]


def test_reused_sets_never_pause_the_table() -> None:
    """A hit per two new sets (two ToRs sending the same bytes) keeps every set interned."""
    held = []
    for i in range(10 * WINDOW):
        held.append(decode(unique(i)))
        assert decode(unique(i)) is held[-1]
    assert len(table()) == 10 * WINDOW


def test_one_hit_per_ratio_keeps_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    """The verdict's threshold: a window with one hit per `MIN_HIT_RATIO` new sets pays; one less
    pauses."""
    window = intern.MIN_HIT_RATIO * 2  # two hits needed
    monkeypatch.setattr(intern, "HIT_WINDOW", window)
    first = decode(unique(0))
    decode(unique(0))  # one hit: not enough
    held = [decode(unique(i)) for i in range(1, window + 10)]
    assert len(table()) == window  # paused at the window's end
    clear_intern_cache()
    first = decode(unique(0))
    decode(unique(0))
    decode(unique(0))  # two hits: enough
    held = [decode(unique(i)) for i in range(1, window + 10)]
    assert len(table()) == window + 10
    assert first is decode(unique(0)) and held


def test_a_fault_is_found_again_on_a_set_left_out() -> None:
    """A treat-as-withdraw fault (MED of 3 octets) decoded while paused: the same fault every time."""
    held = [decode(unique(i)) for i in range(WINDOW)]
    bad = ORIGIN_IGP + AS_PATH + NEXT_HOP + attr(4, b"\x00\x00\x01", flags=0x80)
    faults = [decode_path_attributes(bad, CTX, has_nlri=True)[3] for _ in range(2)]
    assert len(table()) == WINDOW and held
    assert faults[0] is not None and faults[0].action is UpdateAction.TREAT_AS_WITHDRAW
    assert faults[0] == faults[1]


def test_clear_tables_forgets_the_verdict() -> None:
    held = [decode(unique(i)) for i in range(WINDOW + 1)]
    assert len(table()) == WINDOW
    intern.clear_tables()
    held.append(decode(unique(1000)))
    assert len(table()) == 1


def test_a_paused_context_leaves_the_others_interning() -> None:
    held = [decode(unique(i)) for i in range(WINDOW + 1)]
    assert len(table()) == WINDOW
    other = decode(unique(5), OTHER)
    assert decode(unique(5), OTHER) is other and held


def test_no_sibling_lookup_while_paused(monkeypatch: pytest.MonkeyPatch) -> None:
    """While a context adds no sets, the other ToR's copy of a new set is never in the table: the
    sibling lookup (`attrfast._sibling`) is not tried, since it could only miss."""
    index = 2 * CTX.as4 + CTX.ibgp
    tried: list[bytes] = []
    monkeypatch.setattr(attrfast, "_sibling", lambda buf, *_: tried.append(buf))
    monkeypatch.setattr(attrfast, "SIBLING_MIN_LIVE", 1)
    siblings = list(attrfast._SIBLINGS)
    siblings[index] = True  # two ToRs' next hops seen
    monkeypatch.setattr(attrfast, "_SIBLINGS", siblings)
    held = [decode(unique(i)) for i in range(WINDOW)]
    assert len(tried) == WINDOW - 1  # from the second list on: the table held a set
    held += [decode(unique(WINDOW + i)) for i in range(10)]
    assert len(tried) == WINDOW - 1 and intern.PAUSED[index] == PAUSE - 10
