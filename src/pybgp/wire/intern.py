"""The intern tables: decoded attribute sets shared by their bytes, and held weakly.

Owns: one table per (4-octet AS, iBGP) context (index `2 * as4 + ibgp`: the same bytes can mean
different things in another context), mapping the bytes a set was decoded from to an `InternEntry`,
a weak reference to the set (plus the fault found with it, if any), and each table's running verdict
on whether it pays (`HITS`, `PAUSED`); `intern_key`, `intern_set`, `seen_codes` and `clear_tables`.
Never does: decode (that is `attributes.py` and `attrfast.py`), or
keep a set alive.

Weak, because a table should hold a set for as long as someone (an Adj-RIB-In, a caller) uses it and
no longer: identical bytes still give the identical object while it is alive, which is all interning
promises, and a dead set does not stay behind for the cyclic GC to walk on every full pass (that walk
was ~40% of decoding a full table while the tables pinned every set, up to 131,072 per context).

Paused while they do not pay (`intern_set`, `HITS`, `PAUSED`): a context whose last `HIT_WINDOW` new
sets saw fewer than one hit per `MIN_HIT_RATIO` of them stops adding sets for the next `PAUSE_FOR` new
sets, then tries again. A feed of a unique set per prefix (issue 6, feed (c): a MED per prefix) never
hits, and its entries only cost: a weak reference with a callback, a table slot and the set's bytes
kept alive per prefix (~140 bytes), and about a tenth of the daemon's CPU to load it. Shared sets
(feed (b)'s 8 over a million prefixes, two ToRs sending the same bytes) hit on most decodes and keep
their table. Lookups go on while paused: sets already in the table are still handed out.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pybgp.wire.errors import UpdateFault

if TYPE_CHECKING:
    from pybgp.wire.attributes import PathAttributes

__all__ = [
    "HITS",
    "HIT_WINDOW",
    "INTERN_CACHE_SIZE",
    "MIN_HIT_RATIO",
    "PAUSED",
    "PAUSE_FOR",
    "TABLES",
    "FaultyInternEntry",
    "InternEntry",
    "InternKey",
    "clear_tables",
    "intern_key",
    "intern_set",
    "seen_codes",
]

InternKey = bytes | tuple[bytes | int, ...]
"""The attribute bytes themselves when the field held no MP attribute (the usual case: no key tuple to
build), else the `WireImage.parts` layout (byte runs, 14/15 where MP_REACH/MP_UNREACH sat)."""


def intern_key(layout: tuple[bytes | int, ...]) -> InternKey:
    """The key (and `WireImage.parts`) of a layout of byte runs and MP codes: its only run, or itself."""
    return layout[0] if len(layout) == 1 and isinstance(layout[0], bytes) else layout


class InternEntry(weakref.ref["PathAttributes"]):
    """A table's entry: a weak reference to the set and its own key, so that the set's death can
    remove the entry. What a hit needs besides the set: the fault found with it (`fault`, None here:
    a set decoded with a fault gets a `FaultyInternEntry`, the rare case) and the bitmap of codes seen
    for the mandatory-attribute check, which is the set's own `wire.seen` (0 for the empty set, the
    only interned set without an image). One slot, not three: -16 bytes per interned set."""

    __slots__ = ("key",)
    key: InternKey
    fault: UpdateFault | None = None


class FaultyInternEntry(InternEntry):
    """The entry of a set decoded with an RFC 7606 fault, which every later hit must report again."""

    __slots__ = ("fault",)


TABLES: tuple[dict[InternKey, InternEntry], ...] = ({}, {}, {}, {})
"""The tables, index `2 * as4 + ibgp`."""

INTERN_CACHE_SIZE = 1 << 17
"""Bound on the entries of one table (live sets, since dead ones leave by themselves); beyond it that
table starts afresh (sets already handed out stay valid, only later duplicates of them become new,
equal objects)."""


def _forgetter(table: dict[InternKey, InternEntry]) -> Callable[[weakref.ref[PathAttributes]], None]:
    """The callback that removes a dead set's entry from `table` (unless the key has been reused).
    It reaches nothing through module globals, which are gone when sets die at interpreter exit."""
    get = table.get

    def forget(ref: Any) -> None:  # always an `InternEntry`, which weakref's signature cannot say
        key = ref.key
        if get(key) is ref:
            del table[key]

    return forget


_FORGET = tuple(_forgetter(table) for table in TABLES)

HIT_WINDOW = 4096
"""New sets per verdict on whether a context's table pays (see the module docstring)."""
MIN_HIT_RATIO = 64
"""A table pays while it gets at least one hit per this many new sets (1.6%)."""
PAUSE_FOR = 65536
"""New sets a context leaves out of its table after a window that did not pay."""

HITS = [0, 0, 0, 0]
"""Per context: table hits in the current window (the decoder counts them as it finds a live set)."""
_NEW = [0, 0, 0, 0]
"""Per context: new sets interned in the current window."""
PAUSED = [0, 0, 0, 0]
"""Per context: new sets still to leave out of the table."""


def intern_set(index: int, key: InternKey, attrs: PathAttributes, fault: UpdateFault | None) -> None:
    """Remember `attrs` (decoded from `key` with `fault`) in table `index` while it lives, unless the
    table is paused for not paying (module docstring): then `attrs` is only what the caller holds,
    and a later decode of `key` builds an equal set (with the same fault: it is found again)."""
    if PAUSED[index]:
        PAUSED[index] -= 1
        return
    new = _NEW[index] = _NEW[index] + 1
    if new >= HIT_WINDOW:
        if HITS[index] * MIN_HIT_RATIO < new:
            PAUSED[index] = PAUSE_FOR
        _NEW[index] = HITS[index] = 0
    table = TABLES[index]
    if len(table) >= INTERN_CACHE_SIZE:
        # Start afresh rather than evict one by one: popping a dict's oldest entry repeatedly makes
        # each `next(iter())` skip more dead slots. Dropped entries die with the table's reference
        # to them, so their callbacks never run.
        table.clear()
    if fault is None:
        entry = InternEntry(attrs, _FORGET[index])
    else:
        entry = FaultyInternEntry(attrs, _FORGET[index])
        entry.fault = fault
    entry.key = key
    table[key] = entry


def seen_codes(attrs: PathAttributes) -> int:
    """The bitmap (1 << code) of the attributes an interned set was decoded from (see `InternEntry`)."""
    wire = attrs.wire
    return 0 if wire is None else wire.seen


def clear_tables() -> None:
    """Forget every interned set (they stay valid; later decodes build new, equal objects) and every
    verdict on whether a table pays."""
    for table in TABLES:
        table.clear()
    for counts in (HITS, _NEW, PAUSED):
        counts[:] = [0, 0, 0, 0]
