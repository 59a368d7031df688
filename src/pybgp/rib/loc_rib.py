"""The Loc-RIB: every candidate path per prefix, the selected best and multipath set.

Owns: `LocRib`, keyed by `Prefix`, holding per prefix the candidate paths (at most one per origin:
a BGP session or a local source) ordered best first, and reporting `BestChange`s when the
selection changes. Bulk removal of one origin's paths (session down, BFD down) returns all the
changes of that event in one batch.
Never does: policy, loop checks, I/O, or clocks; it trusts the paths it is given.

Memory: per prefix one dict entry and one tuple, `(key, *candidates)`. The key rides in the tuple so
`key(prefix)` hands every Adj-RIB-In the one `Prefix` object the Loc-RIB holds: both ToRs send
each prefix, and a second copy of the key (a 108-byte tuple and int) would be ~50 bytes per path.
The Adj-RIB-In knows which prefixes an origin holds, so there is no per-peer index here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pybgp.rib.decision import DEFAULT_OPTIONS, DecisionOptions, Selection, rank_pair, select
from pybgp.rib.route import BestChange, Path, PeerInfo, best_change
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
        # The last `rank_pair` answer: prefixes of one UPDATE share their Path objects (one per
        # attribute set and origin), so a feed asks the same question for prefix after prefix.
        self._last_pair: tuple[Path, Path, DecisionOptions,
                               tuple[tuple[Path, Path], int] | None] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, prefix: object) -> bool:
        return prefix in self._entries

    def prefixes(self) -> Iterator[Prefix]:
        return iter(self._entries)

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
            return best_change(prefix, path, (path,))
        key: Prefix = entry[0]
        if len(entry) == 2:  # the shapes of a feed: first path replaced, or a second one arriving
            only: Path = entry[1]
            if only.peer.name == name and only.path_id == path_id:
                if path is only:
                    return None
                if path is None:
                    del self._entries[prefix]
                    return best_change(key, None, ())
                self._entries[prefix] = (key, path)
                return best_change(key, path, (path,))
            if path is None:
                return None
            return self._reselect(key, (only, path), (only,))
        paths = _candidates(entry)
        old_selected = self._selected(prefix, paths)
        others = tuple([p for p in paths if p.peer.name != name or p.path_id != path_id])
        if path is None:
            if len(others) == len(paths):
                return None
            candidates = others
        else:
            candidates = (*others, path)
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
        for prefix in prefixes:
            entry = entries.get(prefix)
            if entry is None:
                entries[prefix] = (prefix, path)
                add_key(prefix)
                add_change(best_change(prefix, path, alone))
                continue
            key: Prefix = entry[0]
            add_key(key)
            if len(entry) == 2:
                only: Path = entry[1]
                if only.peer.name == name and only.path_id == 0:
                    if path is not only:
                        entries[key] = (key, path)
                        add_change(best_change(key, path, alone))
                    continue
                change = self._second_origin(key, only, path)
            else:
                change = self.update(key, peer, path)
            if change is not None:
                add_change(change)
        return keys

    def update_one(self, prefix: Prefix, peer: PeerInfo, path: Path, changes: list[BestChange]) -> Prefix:
        """`update_many((prefix,), peer, path, changes)[0]` for an UPDATE of one prefix (feed (c): all
        of them), without the run's tuple, key list and loop; the same three shapes, in the same order
        (`tests/rib/test_fast_paths.py` checks both against `update`)."""
        entries = self._entries
        entry = entries.get(prefix)
        if entry is None:
            entries[prefix] = (prefix, path)
            changes.append(best_change(prefix, path, (path,)))
            return prefix
        key: Prefix = entry[0]
        if len(entry) == 2:
            only: Path = entry[1]
            if only.peer.name == peer.name and only.path_id == 0:
                if path is not only:
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
        pair = self._rank_pair(only, path)
        if pair is None:
            return self._reselect(key, (only, path), (only,))
        ordered, count = pair
        self._entries[key] = (key, *ordered)
        if count == 2:
            return best_change(key, ordered[0], ordered)
        self._partial[key] = count  # one selected: recorded as partial; a change only if the new path won
        return None if ordered[0] is only else best_change(key, ordered[0], ordered[:1])

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
        for prefix in prefixes:
            entry = table.get(prefix)
            if entry is None:
                continue
            key: Prefix = entry[0]
            if len(entry) == 2:
                if entry[1].peer.name != peer_name:
                    continue
                del table[prefix]
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
            change = self._reselect(key, candidates, self._selected(prefix, paths))
            if change is not None:
                changes.append(change)
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
