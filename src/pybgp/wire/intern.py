"""The intern tables: decoded attribute sets shared by their bytes, and held weakly.

Owns: one table per (4-octet AS, iBGP) context (index `2 * as4 + ibgp`: the same bytes can mean
different things in another context), mapping the bytes a set was decoded from to an `InternEntry`,
a weak reference to the set (plus the fault found with it, if any); `intern_key`, `intern_set`,
`seen_codes` and `clear_tables`. Never does: decode (that is `attributes.py` and `attrfast.py`), or
keep a set alive.

Weak, because a table should hold a set for as long as someone (an Adj-RIB-In, a caller) uses it and
no longer: identical bytes still give the identical object while it is alive, which is all interning
promises, and a dead set does not stay behind for the cyclic GC to walk on every full pass (that walk
was ~40% of decoding a full table while the tables pinned every set, up to 131,072 per context).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pybgp.wire.errors import UpdateFault

if TYPE_CHECKING:
    from pybgp.wire.attributes import PathAttributes

__all__ = [
    "INTERN_CACHE_SIZE",
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


def intern_set(index: int, key: InternKey, attrs: PathAttributes, fault: UpdateFault | None) -> None:
    """Remember `attrs` (decoded from `key` with `fault`) in table `index` while it lives."""
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
    """Forget every interned set (they stay valid; later decodes build new, equal objects)."""
    for table in TABLES:
        table.clear()
