"""The Loc-RIB: every candidate path per prefix, the selected best and multipath set.

Owns: `LocRib`, keyed by `Prefix`, holding per prefix the candidate paths (at most one per origin:
a BGP session or a local source) ordered best first, and reporting `BestChange`s when the
selection changes. Bulk removal of one origin's paths (session down, BFD down) returns all the
changes of that event in one batch.
Never does: policy, loop checks, I/O, or clocks; it trusts the paths it is given.

Memory: per prefix one dict entry and the candidate tuple. The Adj-RIB-In knows which prefixes an
origin holds, so there is no per-peer index here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from pybgp.rib.decision import DEFAULT_OPTIONS, DecisionOptions, Selection, select
from pybgp.rib.route import BestChange, Path, PeerInfo
from pybgp.wire.nlri import Prefix


def _same_selection(old: tuple[Path, ...], new: tuple[Path, ...]) -> bool:
    return len(old) == len(new) and all(a is b for a, b in zip(old, new, strict=True))


class LocRib:
    """Candidate paths and the selection for each prefix (RFC 4271 section 3.2, 9.1).

    Storage: `_paths[prefix]` is the candidate tuple, best first, and its leading paths up to the
    multipath count are the selected set. The count is stored (in `_partial`) only when it is not
    the whole tuple, which is rare: one candidate, or two equal ones from the two ToRs, need none.
    """

    def __init__(self, options: DecisionOptions = DEFAULT_OPTIONS) -> None:
        self.options = options
        self._paths: dict[Prefix, tuple[Path, ...]] = {}
        self._partial: dict[Prefix, int] = {}

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, prefix: object) -> bool:
        return prefix in self._paths

    def prefixes(self) -> Iterator[Prefix]:
        return iter(self._paths)

    def _selected(self, prefix: Prefix, paths: tuple[Path, ...]) -> tuple[Path, ...]:
        count = self._partial.get(prefix)
        return paths if count is None else paths[:count]

    def best(self, prefix: Prefix) -> Path | None:
        paths = self._paths.get(prefix)
        return paths[0] if paths else None

    def multipath(self, prefix: Prefix) -> tuple[Path, ...]:
        paths = self._paths.get(prefix)
        return self._selected(prefix, paths) if paths else ()

    def candidates(self, prefix: Prefix) -> tuple[Path, ...]:
        return self._paths.get(prefix, ())

    def path_of(self, prefix: Prefix, peer_name: str, path_id: int = 0) -> Path | None:
        """The candidate `peer_name` contributed for `prefix` (its post-policy path), if any."""
        for path in self._paths.get(prefix, ()):
            if path.peer.name == peer_name and path.path_id == path_id:
                return path
        return None

    def selection(self, prefix: Prefix) -> Selection:
        """Re-run the decision for `prefix` with reasons, for `show routes --all`."""
        return select(self.candidates(prefix), self.options)

    def items(self) -> Iterator[tuple[Prefix, tuple[Path, ...]]]:
        """(prefix, multipath set) for every prefix, best path first."""
        partial = self._partial
        for prefix, paths in self._paths.items():
            count = partial.get(prefix) if partial else None
            yield prefix, paths if count is None else paths[:count]

    def update(
        self, prefix: Prefix, peer: PeerInfo, path: Path | None, path_id: int = 0
    ) -> BestChange | None:
        """Replace (or with `path=None` remove) `peer`'s path `path_id` (RFC 7911; 0 without ADD-PATH)
        for `prefix`; return the change of the selection, or None when the best path and multipath
        set stayed the same objects."""
        paths = self._paths.get(prefix)
        name = peer.name
        if paths is None:
            if path is None:
                return None
            self._paths[prefix] = (path,)
            return BestChange(prefix=prefix, best=path, multipath=(path,))
        old_selected = self._selected(prefix, paths)
        others = tuple(p for p in paths if p.peer.name != name or p.path_id != path_id)
        if path is None:
            if len(others) == len(paths):
                return None
            candidates = others
        else:
            candidates = (*others, path)
        return self._reselect(prefix, candidates, old_selected)

    def _reselect(
        self, prefix: Prefix, candidates: tuple[Path, ...], old_selected: tuple[Path, ...]
    ) -> BestChange | None:
        if not candidates:
            del self._paths[prefix]
            self._partial.pop(prefix, None)
            return BestChange(prefix=prefix, best=None, multipath=())
        if len(candidates) == 1:
            self._paths[prefix] = candidates
            self._partial.pop(prefix, None)
            new_selected: tuple[Path, ...] = candidates
        else:
            sel = select(candidates, self.options)
            new_selected = sel.multipath
            ordered = new_selected + tuple(p for p, _ in sel.losers)
            self._paths[prefix] = ordered
            if len(new_selected) == len(ordered):
                self._partial.pop(prefix, None)
            else:
                self._partial[prefix] = len(new_selected)
        if _same_selection(old_selected, new_selected):
            return None
        return BestChange(prefix=prefix, best=new_selected[0], multipath=new_selected)

    def remove_peer(self, peer_name: str, prefixes: Iterable[Prefix]) -> list[BestChange]:
        """Drop every path of one origin (session down, BFD down) for `prefixes` (the origin's
        Adj-RIB-In keys, so the Loc-RIB keeps no per-peer index): all changes in one batch.

        The hot loop of a BFD-down flush over a full table, so the common shapes (the prefix had
        only this origin's path, or two paths of which one remains) skip the general re-selection."""
        changes: list[BestChange] = []
        table, partial = self._paths, self._partial
        for prefix in prefixes:
            paths = table.get(prefix)
            if paths is None:
                continue
            if len(paths) == 1:
                if paths[0].peer.name != peer_name:
                    continue
                del table[prefix]
                if partial:
                    partial.pop(prefix, None)
                changes.append(BestChange(prefix=prefix, best=None, multipath=()))
                continue
            candidates = tuple([p for p in paths if p.peer.name != peer_name])
            if len(candidates) == len(paths):
                continue
            change = self._reselect(prefix, candidates, self._selected(prefix, paths))
            if change is not None:
                changes.append(change)
        return changes

    def rerun(self, prefixes: Iterable[Prefix] | None = None) -> list[BestChange]:
        """Re-run selection (after a decision option changed); returns the changes."""
        changes: list[BestChange] = []
        targets = list(self._paths) if prefixes is None else list(prefixes)
        for prefix in targets:
            paths = self._paths.get(prefix)
            if paths is None:
                continue
            change = self._reselect(prefix, paths, self._selected(prefix, paths))
            if change is not None:
                changes.append(change)
        return changes
