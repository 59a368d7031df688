"""The Loc-RIB: every candidate path per prefix, the selected best and multipath set.

Owns: `LocRib`, keyed by `Prefix`, holding per prefix the candidate paths (at most one per origin:
a BGP session or a local source) ordered best first, and reporting `BestChange`s when the
selection changes. Bulk removal of one origin's paths (session down, BFD down) returns all the
changes of that event in one batch.
Never does: policy, loop checks, I/O, or clocks; it trusts the paths it is given.

Memory: per prefix one dict entry and one tuple, `(key, *candidates)`. The key rides in the tuple so
`key(prefix)` hands every Adj-RIB-In the one `Prefix` object the Loc-RIB holds: both ToRs send
each prefix, and a second copy of the key (a 108-byte tuple and int) would be ~50 bytes per path.
The second origin's path of a prefix (the other ToR's) holds the first one's attribute set when the
two differ only in NEXT_HOP, its own next hop in `next_hops` (`_twin`): the two ToRs' copies of a route
keep one set between them, which halves the sets of a feed with a set per prefix (feed (c)).
There is no per-origin index: the Adj-RIB-In knows which prefixes an origin holds, and for a
neighbor that keeps none (`import_table = false`) `prefixes_of` / `paths_of` walk the table (1M
prefixes: see docs/performance.md, session 5), while `count` / `stale_count` keep the per-origin
totals in step with every change, so `show neighbors` stays O(1).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

from pybgp.rib.decision import DEFAULT_OPTIONS, DecisionOptions, Selection, rank_pair, select
from pybgp.rib.route import BestChange, Path, PeerInfo, best_change, next_hop_twins, twin_path
from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.nlri import Prefix

Entry = tuple[Any, ...]
"""`(key, *candidates)`: the stored `Prefix` object, then the candidate `Path`s best first. Typed
`Any` because the hot loops unpack it without a `typing.cast` call per element; the accessors below
give the typed views."""


def _same_selection(old: tuple[Path, ...], new: tuple[Path, ...]) -> bool:
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


def _candidates(entry: Entry) -> tuple[Path, ...]:
    paths: tuple[Path, ...] = entry[1:]
    return paths


class LocRib:
    """Candidate paths and the selection for each prefix (RFC 4271 section 3.2, 9.1).

    Storage: `_entries[prefix]` is `(key, *candidates)`, candidates best first, and the leading
    candidates up to the multipath count are the selected set. The count is stored (in `_partial`)
    only when it is not every candidate, which is rare: one candidate, or two equal ones from the
    two ToRs, need none.
    """

    def __init__(self, options: DecisionOptions = DEFAULT_OPTIONS) -> None:
        self.options = options
        self._entries: dict[Prefix, Entry] = {}
        self._partial: dict[Prefix, int] = {}
        # Candidates per origin name, and how many of them are stale (RFC 4724 4.2 / RFC 7313).
        self._counts: dict[str, int] = {}
        self._stale: dict[str, int] = {}
        # The last `rank_pair` answer: prefixes of one UPDATE share their Path objects (one per
        # attribute set and origin), so a feed asks the same question for prefix after prefix.
        self._last_pair: tuple[Path, Path, DecisionOptions,
                               tuple[tuple[Path, Path], int] | None] | None = None
        # The last `_twin` answer (the held set, the arriving path, what was stored), for the same
        # reason; and one shared `(next_hop,)` tuple per address for the twins' `next_hops`.
        self._last_twin: tuple[PathAttributes, Path, Path] | None = None
        self._hop_tuples: dict[IPAddress, tuple[IPAddress]] = {}
        self._last_hops: tuple[IPAddress] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, prefix: object) -> bool:
        return prefix in self._entries

    def prefixes(self) -> Iterator[Prefix]:
        return iter(self._entries)

    def count(self, origin_name: str) -> int:
        """How many candidates `origin_name` contributes (every path id counts), in O(1)."""
        return self._counts.get(origin_name, 0)

    def stale_count(self, origin_name: str) -> int:
        """How many of `origin_name`'s candidates are marked stale, in O(1)."""
        return self._stale.get(origin_name, 0)

    def _count(self, name: str, old: Path | None, new: Path | None) -> None:
        """Keep `count` / `stale_count` in step: `name`'s candidate `old` became `new` (None: absent)."""
        delta = (new is not None) - (old is not None)
        if delta:
            self._counts[name] = self._counts.get(name, 0) + delta
        stale = (new is not None and new.stale) - (old is not None and old.stale)
        if stale:
            self._stale[name] = self._stale.get(name, 0) + stale

    def prefixes_of(self, origin_name: str) -> list[Prefix]:
        """The keys of every prefix holding a candidate of `origin_name`: the walk of the whole table
        that stands in for the Adj-RIB-In's key list of a neighbor without an import table."""
        out: list[Prefix] = []
        add = out.append
        for entry in self._entries.values():
            if entry[1].peer.name == origin_name or (
                    len(entry) > 2 and any(p.peer.name == origin_name for p in entry[2:])):
                add(entry[0])
        return out

    def mark_stale(self, origin_name: str, families: set[tuple[int, int]] | None = None) -> int:
        """Mark every candidate of `origin_name` (of `families`, all when None) stale, in place, and
        return how many were marked: RFC 4724 4.2 (helper) and RFC 7313 (BoRR) for a neighbor without
        an import table. Staleness takes no part in the decision, so the order and the selection stay;
        a re-announcement replaces the path and a sweep (`paths_of(stale_only=True)`) removes the rest.
        One stale copy per distinct `Path` (the prefixes of one UPDATE share theirs), so marking a
        full table allocates a few thousand objects, not a million. Reports no change: forwarding is
        the same."""
        copies: dict[int, tuple[Path, Path]] = {}  # id(path) -> (path kept alive, its stale copy)
        table = self._entries
        marked = 0
        for key, entry in table.items():  # values of existing keys only: safe while iterating
            if families is not None and (int(key.afi), 1) not in families:
                continue
            if not any(p.peer.name == origin_name and not p.stale for p in entry[1:]):
                continue
            new: list[Any] = [key]
            for path in entry[1:]:
                if path.peer.name == origin_name and not path.stale:
                    hit = copies.get(id(path))
                    if hit is None:
                        hit = copies[id(path)] = (path, dataclasses.replace(path, stale=True))
                    path = hit[1]
                    marked += 1
                new.append(path)
            table[key] = tuple(new)
        if marked:
            self._stale[origin_name] = self._stale.get(origin_name, 0) + marked
        return marked

    def paths_of(self, origin_name: str, *, stale_only: bool = False) -> list[tuple[Prefix, Path]]:
        """(key, candidate) for every candidate of `origin_name` (only the stale ones with
        `stale_only`), every path id included: a walk of the whole table, as `prefixes_of`."""
        if stale_only and not self._stale.get(origin_name):
            return []
        out: list[tuple[Prefix, Path]] = []
        for entry in self._entries.values():
            for path in entry[1:]:
                if path.peer.name == origin_name and (path.stale or not stale_only):
                    out.append((entry[0], path))
        return out

    def key(self, prefix: Prefix) -> Prefix:
        """The `Prefix` object stored for `prefix` (equal to it), or `prefix` itself when absent:
        callers key their own tables with it so one object serves every table."""
        entry = self._entries.get(prefix)
        if entry is None:
            return prefix
        key: Prefix = entry[0]
        return key

    def _selected(self, prefix: Prefix, paths: tuple[Path, ...]) -> tuple[Path, ...]:
        count = self._partial.get(prefix)
        return paths if count is None else paths[:count]

    def best(self, prefix: Prefix) -> Path | None:
        entry = self._entries.get(prefix)
        if entry is None:
            return None
        best: Path = entry[1]
        return best

    def multipath(self, prefix: Prefix) -> tuple[Path, ...]:
        entry = self._entries.get(prefix)
        return self._selected(prefix, _candidates(entry)) if entry is not None else ()

    def candidates(self, prefix: Prefix) -> tuple[Path, ...]:
        entry = self._entries.get(prefix)
        return _candidates(entry) if entry is not None else ()

    def path_of(self, prefix: Prefix, peer_name: str, path_id: int = 0) -> Path | None:
        """The candidate `peer_name` contributed for `prefix` (its post-policy path), if any."""
        for path in self.candidates(prefix):
            if path.peer.name == peer_name and path.path_id == path_id:
                return path
        return None

    def selection(self, prefix: Prefix) -> Selection:
        """Re-run the decision for `prefix` with reasons, for `show routes --all`."""
        return select(self.candidates(prefix), self.options)

    def items(self) -> Iterator[tuple[Prefix, tuple[Path, ...]]]:
        """(prefix, multipath set) for every prefix, best path first."""
        partial = self._partial
        for prefix, entry in self._entries.items():
            count = partial.get(prefix) if partial else None
            selected: tuple[Path, ...] = entry[1:] if count is None else entry[1:count + 1]
            yield prefix, selected

    def update(
        self, prefix: Prefix, peer: PeerInfo, path: Path | None, path_id: int = 0
    ) -> BestChange | None:
        """Replace (or with `path=None` remove) `peer`'s path `path_id` (RFC 7911; 0 without ADD-PATH)
        for `prefix`; return the change of the selection, or None when the best path and multipath
        set stayed the same objects."""
        entry = self._entries.get(prefix)
        name = peer.name
        if entry is None:
            if path is None:
                return None
            self._entries[prefix] = (prefix, path)
            self._count(name, None, path)
            return best_change(prefix, path, (path,))
        key: Prefix = entry[0]
        if len(entry) == 2:  # the shapes of a feed: first path replaced, or a second one arriving
            only: Path = entry[1]
            if only.peer.name == name and only.path_id == path_id:
                if path is only:
                    return None
                self._count(name, only, path)
                if path is None:
                    del self._entries[prefix]
                    return best_change(key, None, ())
                self._entries[prefix] = (key, path)
                return best_change(key, path, (path,))
            if path is None:
                return None
            path = self._twin(only, path)
            self._count(name, None, path)
            return self._reselect(key, (only, path), (only,))
        paths = _candidates(entry)
        old_selected = self._selected(prefix, paths)
        others = tuple([p for p in paths if p.peer.name != name or p.path_id != path_id])
        old = None if len(others) == len(paths) else next(
            p for p in paths if p.peer.name == name and p.path_id == path_id)
        if path is None:
            if old is None:
                return None
            candidates = others
        else:
            if len(others) == 1:  # the other ToR's path beside it: see `_twin`
                path = self._twin(others[0], path)
            candidates = (*others, path)
        self._count(name, old, path)
        return self._reselect(key, candidates, old_selected)

    def update_many(self, prefixes: Iterable[Prefix], peer: PeerInfo, path: Path,
                    changes: list[BestChange]) -> list[Prefix]:
        """`update(prefix, peer, path)` for every prefix of one UPDATE (no path identifiers: they
        share `path`), the selection changes appended to `changes`; returns the stored key object of
        each prefix, in order, so the caller's Adj-RIB-In keys its entries with them (see `key`).

        The per-prefix hot loop of a feed: the shapes it takes (a new prefix, the peer's own path
        replaced, a second ToR's path arriving) are handled here without a call per prefix."""
        entries = self._entries
        name = peer.name
        keys: list[Prefix] = []
        add_key, add_change = keys.append, changes.append
        alone = (path,)  # the multipath set of every prefix `path` is alone on, shared
        added = 0  # new candidates of `name`, counted once at the end (`count`)
        for prefix in prefixes:
            entry = entries.get(prefix)
            if entry is None:
                entries[prefix] = (prefix, path)
                added += 1
                add_key(prefix)
                add_change(best_change(prefix, path, alone))
                continue
            key: Prefix = entry[0]
            add_key(key)
            if len(entry) == 2:
                only: Path = entry[1]
                if only.peer.name == name and only.path_id == 0:
                    if path is not only:
                        if only.stale or path.stale:
                            self._count(name, only, path)
                        entries[key] = (key, path)
                        add_change(best_change(key, path, alone))
                    continue
                change = self._second_origin(key, only, path)
            else:
                change = self.update(key, peer, path)
            if change is not None:
                add_change(change)
        if added:
            self._counts[name] = self._counts.get(name, 0) + added
            if path.stale:
                self._stale[name] = self._stale.get(name, 0) + added
        return keys

    def update_one(self, prefix: Prefix, peer: PeerInfo, path: Path, changes: list[BestChange]) -> Prefix:
        """`update_many((prefix,), peer, path, changes)[0]` for an UPDATE of one prefix (feed (c): all
        of them), without the run's tuple, key list and loop; the same three shapes, in the same order
        (`tests/rib/test_fast_paths.py` checks both against `update`)."""
        entries = self._entries
        entry = entries.get(prefix)
        if entry is None:
            entries[prefix] = (prefix, path)
            self._count(peer.name, None, path)
            changes.append(best_change(prefix, path, (path,)))
            return prefix
        key: Prefix = entry[0]
        if len(entry) == 2:
            only: Path = entry[1]
            if only.peer.name == peer.name and only.path_id == 0:
                if path is not only:
                    if only.stale or path.stale:
                        self._count(peer.name, only, path)
                    entries[key] = (key, path)
                    changes.append(best_change(key, path, (path,)))
                return key
            change = self._second_origin(key, only, path)
        else:
            change = self.update(key, peer, path)
        if change is not None:
            changes.append(change)
        return key

    def _second_origin(self, key: Prefix, only: Path, path: Path) -> BestChange | None:
        """`update_many`'s and `update_one`'s answer when `path`, from a second origin (the other
        ToR), joins the one path `only` of prefix `key`: consecutive prefixes ask the same question of
        `_rank_pair`, whose answer also gives the multipath tuple every prefix of the run shares."""
        path = self._twin(only, path)
        self._count(path.peer.name, None, path)
        pair = self._rank_pair(only, path)
        if pair is None:
            return self._reselect(key, (only, path), (only,))
        ordered, count = pair
        self._entries[key] = (key, *ordered)
        if count == 2:
            return best_change(key, ordered[0], ordered)
        self._partial[key] = count  # one selected: recorded as partial; a change only if the new path won
        return None if ordered[0] is only else best_change(key, ordered[0], ordered[:1])

    def _twin(self, only: Path, path: Path) -> Path:
        """`path` as stored beside `only`, another origin's path for the same prefix: when the two
        sets are next-hop twins (`route.next_hop_twins`: the other ToR's copy of the route), `path`
        holds `only`'s set and its own IPv4 NEXT_HOP in `next_hops` (`route.twin_path`), so its own
        set (with its received bytes and intern entry, ~430 bytes) is not kept: with unique sets per
        prefix (feed (c)) that is half the sets. Same route, same decision (every attribute it reads
        is equal), same next hop (`Path.next_hop`). Else `path` itself."""
        held = only.attributes
        attrs = path.attributes
        if attrs is held or path.next_hops or attrs.next_hop is None:
            return path
        last = self._last_twin
        if last is not None and last[0] is held and last[1] is path:
            return last[2]  # the next prefix of the same run: the same answer
        twin = path
        if next_hop_twins(held, attrs):
            hop = attrs.next_hop
            hops = self._last_hops
            if hops is None or hops[0] is not hop:  # an address hashes in Python: looked up on change
                hops = self._hop_tuples.get(hop)
                if hops is None:
                    if len(self._hop_tuples) >= 1024:  # a handful of ToRs in practice: bounded anyway
                        self._hop_tuples.clear()
                    hops = self._hop_tuples[hop] = (hop,)
                self._last_hops = hops
            twin = twin_path(path, held, hops)
        self._last_twin = (held, path, twin)
        return twin

    def _rank_pair(self, a: Path, b: Path) -> tuple[tuple[Path, Path], int] | None:
        last = self._last_pair
        if last is not None and last[0] is a and last[1] is b and last[2] is self.options:
            return last[3]
        answer = rank_pair(a, b, self.options)
        self._last_pair = (a, b, self.options, answer)
        return answer

    def _reselect(
        self, key: Prefix, candidates: tuple[Path, ...], old_selected: tuple[Path, ...]
    ) -> BestChange | None:
        """Store the selection among `candidates` for `key` (the stored key object) and report it
        if it differs from `old_selected`."""
        if not candidates:
            del self._entries[key]
            self._partial.pop(key, None)
            return best_change(key, None, ())
        if len(candidates) == 1:
            self._entries[key] = (key, candidates[0])
            if self._partial:
                self._partial.pop(key, None)
            new_selected: tuple[Path, ...] = candidates
        else:
            pair = self._rank_pair(candidates[0], candidates[1]) if len(candidates) == 2 else None
            if pair is not None:
                ordered: tuple[Path, ...] = pair[0]
                count = pair[1]
            else:
                sel = select(candidates, self.options)
                ordered = sel.multipath + tuple([p for p, _ in sel.losers])
                count = len(sel.multipath)
            self._entries[key] = (key, *ordered)
            if count == len(ordered):
                new_selected = ordered
                if self._partial:
                    self._partial.pop(key, None)
            else:
                new_selected = ordered[:count]
                self._partial[key] = count
        if _same_selection(old_selected, new_selected):
            return None
        return best_change(key, new_selected[0], new_selected)

    def remove_peer(self, peer_name: str, prefixes: Iterable[Prefix]) -> list[BestChange]:
        """Drop every path of one origin (session down, BFD down) for `prefixes` (the origin's
        Adj-RIB-In keys, so the Loc-RIB keeps no per-peer index): all changes in one batch.

        The hot loop of a BFD-down flush over a full table, so the common shapes (the prefix had
        only this origin's path, or two paths of which one remains) skip the general re-selection."""
        changes: list[BestChange] = []
        table, partial = self._entries, self._partial
        removed = stale = 0  # for `count` / `stale_count`, settled once at the end
        for prefix in prefixes:
            entry = table.get(prefix)
            if entry is None:
                continue
            key: Prefix = entry[0]
            if len(entry) == 2:
                if entry[1].peer.name != peer_name:
                    continue
                del table[prefix]
                removed += 1
                stale += entry[1].stale
                if partial:
                    partial.pop(prefix, None)
                changes.append(best_change(key, None, ()))
                continue
            if len(entry) == 3:  # both ToRs had it: the other path stays, alone
                first: Path = entry[1]
                second: Path = entry[2]
                first_gone, second_gone = first.peer.name == peer_name, second.peer.name == peer_name
                if first_gone != second_gone:
                    keep = second if first_gone else first
                    removed += 1
                    stale += (first if first_gone else second).stale
                    table[prefix] = (key, keep)
                    count = partial.pop(prefix, None) if partial else None
                    if first_gone or count is None:  # the removed path was selected
                        changes.append(best_change(key, keep, (keep,)))
                    continue
                if not first_gone:
                    continue
            paths = _candidates(entry)
            candidates = tuple([p for p in paths if p.peer.name != peer_name])
            if len(candidates) == len(paths):
                continue
            removed += len(paths) - len(candidates)
            stale += sum(p.stale for p in paths if p.peer.name == peer_name)
            change = self._reselect(key, candidates, self._selected(prefix, paths))
            if change is not None:
                changes.append(change)
        if removed:
            self._counts[peer_name] -= removed
        if stale:
            self._stale[peer_name] -= stale
        return changes

    def rerun(self, prefixes: Iterable[Prefix] | None = None) -> list[BestChange]:
        """Re-run selection (after a decision option changed); returns the changes."""
        changes: list[BestChange] = []
        targets = list(self._entries) if prefixes is None else list(prefixes)
        for prefix in targets:
            entry = self._entries.get(prefix)
            if entry is None:
                continue
            paths = _candidates(entry)
            change = self._reselect(entry[0], paths, self._selected(prefix, paths))
            if change is not None:
                changes.append(change)
        return changes
