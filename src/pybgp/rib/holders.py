"""The Loc-RIB's stored form of a path: its attribute set, and a shared `Holder` for the rest.

Owns: `Holder` (`(peer, next_hops, stale, path_id)`, a `Path` but its attributes), `Flat` (stored
candidates as `(attributes, holder, ...)` pairs), `Holders` (the table that hands out one shared holder
per distinct value), and the comparisons of stored candidates: `same_but_stale`, `same_selection`,
`pairs`. Never does: selection, or build a `Path` (`loc_rib.LocRib` does both).

Why: a full table is a million prefixes from each of two ToRs, and a `Path` object per prefix and ToR
was 144 of the ~650 bytes per prefix of a feed with a set per prefix (feed (c)). The rest of a path
takes a handful of values over the whole table (one per session, next-hop tuple and staleness), so it
is one shared tuple, and a Loc-RIB entry holds two references per candidate instead of a `Path`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pybgp.rib.route import PeerInfo
from pybgp.wire.attributes import IPAddress, PathAttributes

__all__ = ["HOLDER_CACHE_SIZE", "Flat", "Holder", "Holders", "pairs", "same_but_stale", "same_selection"]

Holder = tuple[PeerInfo, tuple[IPAddress, ...], bool, int]
"""A stored candidate's `Path` but its attributes: `(peer, next_hops, stale, path_id)`, in
`make_path`'s argument order, so `make_path(attributes, *holder)` is the path. Shared: `Holders`
hands out one object per distinct value."""

Flat = tuple[Any, ...]
"""Stored candidates: `(attributes, holder, attributes, holder, ...)`, best first. Typed `Any` because
the Loc-RIB's hot loops unpack it without a `typing.cast` call per element."""

HOLDER_CACHE_SIZE = 4096
"""Distinct holders remembered (a server has two sessions, a next-hop tuple per ToR address and the
stale variants: a few dozen); beyond, the table starts afresh, and equal holders made later are other
objects, which costs a no-op change report at most."""

NOBODY = PeerInfo(name="")
NO_HOLDER: Holder = (NOBODY, (), False, -1)
"""A holder that matches no path (no path identifier is negative): what memos start with."""


class Holders:
    """One shared `Holder` per distinct value, found by the identity of its peer and next-hop tuple (an
    address hashes in Python; the holder keeps both objects alive, so their ids stay theirs), and the
    last two handed out: a feed from two ToRs alternates between one holder per ToR."""

    __slots__ = ("_last", "_prev", "_table")

    def __init__(self) -> None:
        self._table: dict[tuple[int, int, bool, int], Holder] = {}
        self._last = self._prev = NO_HOLDER

    def get(self, peer: PeerInfo, next_hops: tuple[IPAddress, ...], stale: bool, path_id: int) -> Holder:
        """The shared holder of these values (see `HOLDER_CACHE_SIZE`)."""
        last = self._last
        if last[0] is peer and last[1] is next_hops and last[2] == stale and last[3] == path_id:
            return last
        holder = self._prev
        if not (holder[0] is peer and holder[1] is next_hops and holder[2] == stale and holder[3] == path_id):
            key = (id(peer), id(next_hops), stale, path_id)
            found = self._table.get(key)
            if found is None:
                if len(self._table) >= HOLDER_CACHE_SIZE:
                    self._table.clear()
                found = self._table[key] = (peer, next_hops, stale, path_id)
            holder = found
        self._prev, self._last = last, holder
        return holder


def same_but_stale(a: Holder, b: Holder) -> bool:
    """Whether two holders are the same but perhaps for staleness. Staleness is not forwarding: marking
    a path stale reports no change (`LocRib.mark_stale`), and neither does its re-announcement, so a
    Loc-RIB that marks paths stale (no import table) reports what one that does not reports."""
    return a is b or (a[0] is b[0] and a[1] is b[1] and a[3] == b[3])


def same_selection(old: Flat, new: Flat) -> bool:
    """Whether two selections (stored pairs) forward the same: the same sets and holders, a holder
    that differs in staleness alone counting as the same (`same_but_stale`)."""
    if len(old) != len(new):
        return False
    for i in range(0, len(old), 2):
        if old[i] is not new[i] or not same_but_stale(old[i + 1], new[i + 1]):
            return False
    return True


def pairs(flat: Flat) -> Iterator[tuple[PathAttributes, Holder]]:
    """The (attributes, holder) pairs of `flat`, in order."""
    for i in range(0, len(flat), 2):
        yield flat[i], flat[i + 1]
