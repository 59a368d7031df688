"""`RouteMap`: the FIB's map from each group route to its kernel nexthop group, split over fixed dicts.

Why (issue 6, session 5): a Python dict grows by allocating a table twice as large and copying every
entry into it, so while it grows the old table and the new one are alive together. One dict of a
million routes grows from 21 MB to 42 MB at ~700,000 entries; with the startup hold
(`[kernel] update_delay`) the whole table is written after the RIB is complete, so those copies landed on
top of the process's largest heap and made its peak (feed (a): the old tables and the heap holes they
left, with the release's prefix list ~21 bytes per path above what stayed). Split over `SHARDS` dicts
chosen by the prefix's hash, each copy moves one shard (at most ~1/60 of the table), and the smaller
tables also index their slots with 2 bytes where one big table needs 4.

Owns: the storage of prefix -> group id and the shard choice. Never does: decide groups, count
routes per group or talk netlink (`GroupTable` and `NetlinkFib` do). The hot loops of `GroupTable` index
`shards` themselves (`hash(prefix) % SHARDS`, as `shard_of`), without a method call per route.
"""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from itertools import chain

from pybgp.wire.nlri import Prefix

SHARDS = 61
"""How many dicts. A prime: `hash(prefix) % SHARDS` spreads prefixes evenly even where the hash is the
prefix's packed int, whose low bits (the length, host bits of the network) are the same for every /24."""


def shard_of(prefix: Prefix) -> int:
    """The index of the dict holding `prefix`."""
    return hash(prefix) % SHARDS


class RouteMap(MutableMapping[Prefix, int]):
    """A `dict[Prefix, int]` in behaviour (equality with a dict included), stored as `SHARDS` dicts."""

    __slots__ = ("shards",)

    def __init__(self) -> None:
        self.shards: list[dict[Prefix, int]] = [{} for _ in range(SHARDS)]

    def __getitem__(self, prefix: Prefix) -> int:
        return self.shards[hash(prefix) % SHARDS][prefix]

    def get(self, prefix: Prefix, default: int | None = None) -> int | None:  # type: ignore[override]
        return self.shards[hash(prefix) % SHARDS].get(prefix, default)

    def __setitem__(self, prefix: Prefix, gid: int) -> None:
        self.shards[hash(prefix) % SHARDS][prefix] = gid

    def __delitem__(self, prefix: Prefix) -> None:
        del self.shards[hash(prefix) % SHARDS][prefix]

    def pop_gid(self, prefix: Prefix) -> int | None:
        """Remove `prefix`; its group id, or None when it had none."""
        return self.shards[hash(prefix) % SHARDS].pop(prefix, None)

    def __contains__(self, prefix: object) -> bool:
        return prefix in self.shards[hash(prefix) % SHARDS]

    def __len__(self) -> int:
        return sum(map(len, self.shards))

    def __iter__(self) -> Iterator[Prefix]:
        return chain.from_iterable(self.shards)

    def pairs(self) -> Iterator[tuple[Prefix, int]]:
        """Every (prefix, group id): one walk at C speed (the rare walks over all routes use it)."""
        return chain.from_iterable(shard.items() for shard in self.shards)

    def clear(self) -> None:
        for shard in self.shards:
            shard.clear()

    def __repr__(self) -> str:
        return f"RouteMap({dict(self.pairs())!r})"
