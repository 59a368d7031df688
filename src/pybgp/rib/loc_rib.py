"""The Loc-RIB: every candidate path per prefix, the selected best and multipath set.

Owns: `LocRib`, keyed by `Prefix`, holding per prefix the candidate paths (at most one per origin and
path identifier: a BGP session or a local source) ordered best first, and reporting `BestChange`s
when the selection changes. Bulk removal of one origin's paths (session down, BFD down) returns all
the changes of that event in one batch.
Never does: policy, loop checks, I/O, or clocks; it trusts the paths it is given.

Memory (issue 6: a full table is a million prefixes from each of two ToRs). A prefix is one dict
entry and one flat tuple, `(key, attributes, holder, attributes, holder, ...)`: per candidate, best
first, its attribute set and its `Holder`, the rest of a `Path` -- `(peer, next_hops, stale,
path_id)` -- which a handful of objects serve for the whole table (one per session, next-hop tuple
and staleness; `holders.py`). No `Path` object is kept per prefix: where a feed has a set per prefix
(feed (c)) those were 144 of its ~650 bytes per prefix, and the tuple of two candidates is 80 bytes
where the tuple and two `Path`s were 208. The readers (`best`, `candidates`, every `BestChange`) get
`Path`s built from the pairs on demand, equal to the ones stored (one is remembered, so the prefixes
of one UPDATE, which share their pair, share their `Path` too).
The key rides in the tuple so `key(prefix)` hands every Adj-RIB-In the one `Prefix` object the
Loc-RIB holds: both ToRs send each prefix, and a second copy of the key would be ~50 bytes per path.
The second origin's candidate of a prefix (the other ToR's) holds the first one's attribute set when
the two differ only in NEXT_HOP, its own next hop in its holder's `next_hops` (`_twin`): the two
ToRs' copies of a route keep one set between them, which halves the sets of a feed with a set per
prefix (feed (c)).
There is no per-origin index: the Adj-RIB-In knows which prefixes an origin holds, and for a
neighbor that keeps none (`import_table = false`) `prefixes_of` / `paths_of` walk the table (1M
prefixes: see docs/performance.md, session 5), while `count` / `stale_count` keep the per-origin
totals in step with every change, so `show neighbors` stays O(1).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pybgp.rib.decision import DEFAULT_OPTIONS, DecisionOptions, Selection, rank_pair, select
from pybgp.rib.holders import NO_HOLDER, Flat, Holder, Holders, pairs, same_but_stale, same_selection
from pybgp.rib.route import BestChange, Path, PeerInfo, best_change, make_path, next_hop_twins
from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.nlri import Prefix

Entry = tuple[Any, ...]
"""`(key, attributes, holder, attributes, holder, ...)`: the stored `Prefix` object, then per
candidate, best first, its attribute set and `Holder` (`holders.py`). Typed `Any` because the hot
loops unpack it without a `typing.cast` call per element; the accessors below give the typed views."""

Ranked = tuple[Flat, tuple[Path, Path], int]
"""`_rank_pair`'s answer: the two candidates ordered, their `Path`s in that order, how many are selected."""


class LocRib:
    """Candidate paths and the selection for each prefix (RFC 4271 section 3.2, 9.1).

    Storage: `_entries[prefix]` is `(key, attributes, holder, ...)` (see the module docstring),
    candidates best first, and the leading candidates up to the multipath count are the selected set.
    The count is stored (in `_partial`) only when it is not every candidate, which is rare: one
    candidate, or two equal ones from the two ToRs, need none.
    """

    def __init__(self, options: DecisionOptions = DEFAULT_OPTIONS) -> None:
        self.options = options
        self._entries: dict[Prefix, Entry] = {}
        self._partial: dict[Prefix, int] = {}
        # Candidates per origin name, and how many of them are stale (RFC 4724 4.2 / RFC 7313).
        self._counts: dict[str, int] = {}
        self._stale: dict[str, int] = {}
        # The shared holders (`holders.Holders.get`, bound: one call per stored path).
        self._holder = Holders().get
        # The last `Path` built from a pair (`_path`): the prefixes of one UPDATE share theirs.
        self._last_path: tuple[PathAttributes, Holder, Path] | None = None
        # The last two-candidate selection built (`_paths`): the prefixes of one UPDATE, stored one
        # after the other, share it, and so do a walk's (the kernel's release, `items`) in that order.
        self._last_two: tuple[Flat, tuple[Path, ...]] = ((None, NO_HOLDER, None, NO_HOLDER), ())
        # The last `_rank_pair` answer: prefixes of one UPDATE share their pairs (one set per UPDATE
        # and origin), so a feed asks the same question for prefix after prefix.
        self._last_pair: tuple[Flat, DecisionOptions, Ranked | None] | None = None
        # The last `_twin` answer (the held set, the arriving path, what was stored), for the same
        # reason; and one shared `(next_hop,)` tuple per address for the twins' `next_hops`.
        self._last_twin: tuple[PathAttributes, Path, tuple[PathAttributes, Holder]] | None = None
        self._hop_tuples: dict[IPAddress, tuple[IPAddress]] = {}
        self._last_hops: tuple[IPAddress] | None = None

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, prefix: object) -> bool:
        return prefix in self._entries

    def prefixes(self) -> Iterator[Prefix]:
        return iter(self._entries)

    # -- the stored form ---------------------------------------------------------------------------

    def _held(self, path: Path) -> Holder:
        """`path`'s holder: everything of it but its attributes."""
        return self._holder(path.peer, path.next_hops, path.stale, path.path_id)

    def _path(self, attributes: PathAttributes, holder: Holder) -> Path:
        """The `Path` a stored pair stands for; the last one is reused."""
        last = self._last_path
        if last is not None and last[0] is attributes and last[1] is holder:
            return last[2]
        path = make_path(attributes, *holder)
        self._last_path = (attributes, holder, path)
        return path

    def _paths(self, flat: Flat) -> tuple[Path, ...]:
        """The `Path`s of stored candidates, in order."""
        if len(flat) == 2:
            return (self._path(flat[0], flat[1]),)
        if len(flat) == 4:  # both ToRs' paths: one walk of a full table builds 2M of them otherwise
            seen, paths = self._last_two
            if seen[0] is flat[0] and seen[1] is flat[1] and seen[2] is flat[2] and seen[3] is flat[3]:
                return paths
            paths = (make_path(flat[0], *flat[1]), make_path(flat[2], *flat[3]))
            self._last_two = (flat, paths)
            return paths
        return tuple([self._path(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)])

    def _selected(self, prefix: Prefix, flat: Flat) -> Flat:
        count = self._partial.get(prefix)
        return flat if count is None else flat[:2 * count]

    # -- counts ------------------------------------------------------------------------------------

    def count(self, origin_name: str) -> int:
        """How many candidates `origin_name` contributes (every path id counts), in O(1)."""
        return self._counts.get(origin_name, 0)

    def stale_count(self, origin_name: str) -> int:
        """How many of `origin_name`'s candidates are marked stale, in O(1)."""
        return self._stale.get(origin_name, 0)

    def _count(self, name: str, old: Holder | None, new: Holder | None) -> None:
        """Keep `count` / `stale_count` in step: `name`'s candidate held by `old` became `new` (None:
        absent)."""
        delta = (new is not None) - (old is not None)
        if delta:
            self._counts[name] = self._counts.get(name, 0) + delta
        stale = (new is not None and new[2]) - (old is not None and old[2])
        if stale:
            self._stale[name] = self._stale.get(name, 0) + stale

    # -- reading -----------------------------------------------------------------------------------

    def prefixes_of(self, origin_name: str) -> list[Prefix]:
        """The keys of every prefix holding a candidate of `origin_name`: the walk of the whole table
        that stands in for the Adj-RIB-In's key list of a neighbor without an import table."""
        out: list[Prefix] = []
        add = out.append
        for entry in self._entries.values():
            if entry[2][0].name == origin_name or (
                    len(entry) > 3 and any(entry[i][0].name == origin_name for i in range(4, len(entry), 2))):
                add(entry[0])
        return out

    def mark_stale(self, origin_name: str, families: set[tuple[int, int]] | None = None) -> int:
        """Mark every candidate of `origin_name` (of `families`, all when None) stale, in place, and
        return how many were marked: RFC 4724 4.2 (helper) and RFC 7313 (BoRR) for a neighbor without
        an import table. Staleness takes no part in the decision, so the order and the selection stay;
        a re-announcement replaces the path and a sweep (`paths_of(stale_only=True)`) removes the rest.
        Only holders change (shared ones), so marking a full table allocates one tuple per prefix.
        Reports no change: forwarding is the same."""
        table = self._entries
        marked = 0
        for key, entry in table.items():  # values of existing keys only: safe while iterating
            if families is not None and (int(key.afi), 1) not in families:
                continue
            new: list[Any] = [key]
            hit = False
            for i in range(1, len(entry), 2):
                holder: Holder = entry[i + 1]
                if holder[0].name == origin_name and not holder[2]:
                    holder = self._holder(holder[0], holder[1], True, holder[3])
                    marked += 1
                    hit = True
                new += (entry[i], holder)
            if hit:
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
            for i in range(1, len(entry), 2):
                holder: Holder = entry[i + 1]
                if holder[0].name == origin_name and (holder[2] or not stale_only):
                    out.append((entry[0], self._path(entry[i], holder)))
        return out

    def key(self, prefix: Prefix) -> Prefix:
        """The `Prefix` object stored for `prefix` (equal to it), or `prefix` itself when absent:
        callers key their own tables with it so one object serves every table."""
        entry = self._entries.get(prefix)
        if entry is None:
            return prefix
        key: Prefix = entry[0]
        return key

    def best(self, prefix: Prefix) -> Path | None:
        entry = self._entries.get(prefix)
        return None if entry is None else self._path(entry[1], entry[2])

    def multipath(self, prefix: Prefix) -> tuple[Path, ...]:
        entry = self._entries.get(prefix)
        if entry is None:
            return ()
        return self._paths(entry[1:] if not self._partial else self._selected(prefix, entry[1:]))

    def candidates(self, prefix: Prefix) -> tuple[Path, ...]:
        entry = self._entries.get(prefix)
        return self._paths(entry[1:]) if entry is not None else ()

    def path_of(self, prefix: Prefix, peer_name: str, path_id: int = 0) -> Path | None:
        """The candidate `peer_name` contributed for `prefix` (its post-policy path), if any."""
        entry = self._entries.get(prefix)
        if entry is not None:
            for i in range(1, len(entry), 2):
                holder: Holder = entry[i + 1]
                if holder[0].name == peer_name and holder[3] == path_id:
                    return self._path(entry[i], holder)
        return None

    def selection(self, prefix: Prefix) -> Selection:
        """Re-run the decision for `prefix` with reasons, for `show routes --all`."""
        return select(self.candidates(prefix), self.options)

    def items(self) -> Iterator[tuple[Prefix, tuple[Path, ...]]]:
        """(prefix, multipath set) for every prefix, best path first."""
        partial = self._partial
        for prefix, entry in self._entries.items():
            count = partial.get(prefix) if partial else None
            yield prefix, self._paths(entry[1:] if count is None else entry[1:2 * count + 1])

    # -- changing ----------------------------------------------------------------------------------

    def update(
        self, prefix: Prefix, peer: PeerInfo, path: Path | None, path_id: int = 0
    ) -> BestChange | None:
        """Replace (or with `path=None` remove) `peer`'s path `path_id` (RFC 7911; 0 without ADD-PATH)
        for `prefix`; return the change of the selection, or None when the best path and multipath
        set stayed the same."""
        entry = self._entries.get(prefix)
        name = peer.name
        if path is None:
            return None if entry is None else self._withdraw(entry, name, path_id)
        holder = self._held(path)
        if entry is None:
            self._entries[prefix] = (prefix, path.attributes, holder)
            self._count(name, None, holder)
            return best_change(prefix, path, (path,))
        key: Prefix = entry[0]
        flat: Flat = entry[1:]
        if len(entry) == 3:  # the shapes of a feed: first path replaced, or a second one arriving
            only: Holder = entry[2]
            if only[0].name == name and only[3] == path_id:
                if path.attributes is entry[1] and holder is only:
                    return None
                self._count(name, only, holder)
                self._entries[prefix] = (key, path.attributes, holder)
                if path.attributes is entry[1] and same_but_stale(only, holder):
                    return None
                return best_change(key, path, (path,))
            stored = self._twin(entry[1], path)
            self._count(name, None, stored[1])
            return self._reselect(key, flat + stored, flat)
        others, old = self._split(flat, name, path_id)
        stored = (path.attributes, holder)
        if len(others) == 2:  # the other ToR's path beside it: see `_twin`
            stored = self._twin(others[0], path)
        self._count(name, old, stored[1])
        return self._reselect(key, (*others, *stored), self._selected(key, flat))

    def _withdraw(self, entry: Entry, name: str, path_id: int) -> BestChange | None:
        """`update(prefix, peer, None, path_id)` for the stored `entry` of `prefix`."""
        key: Prefix = entry[0]
        flat: Flat = entry[1:]
        others, old = self._split(flat, name, path_id)
        if old is None:
            return None
        self._count(name, old, None)
        return self._reselect(key, others, self._selected(key, flat))

    @staticmethod
    def _split(flat: Flat, name: str, path_id: int) -> tuple[Flat, Holder | None]:
        """`flat` without the candidate of origin `name` and `path_id`, and that candidate's holder
        (None when it has none)."""
        others: list[Any] = []
        old: Holder | None = None
        for attrs, held in pairs(flat):
            if held[0].name == name and held[3] == path_id:
                old = held
            else:
                others += (attrs, held)
        return tuple(others), old

    def update_many(self, prefixes: Iterable[Prefix], peer: PeerInfo, path: Path,
                    changes: list[BestChange]) -> list[Prefix]:
        """`update(prefix, peer, path)` for every prefix of one UPDATE (no path identifiers: they
        share `path`), the selection changes appended to `changes`; returns the stored key object of
        each prefix, in order, so the caller's Adj-RIB-In keys its entries with them (see `key`).

        The per-prefix hot loop of a feed: the shapes it takes (a new prefix, the peer's own path
        replaced, a second ToR's path arriving) are handled here without a call per prefix."""
        entries = self._entries
        name = peer.name
        attrs = path.attributes
        holder = self._held(path)
        keys: list[Prefix] = []
        add_key, add_change = keys.append, changes.append
        alone = (path,)  # the multipath set of every prefix `path` is alone on, shared
        added = 0  # new candidates of `name`, counted once at the end (`count`)
        for prefix in prefixes:
            entry = entries.get(prefix)
            if entry is None:
                entries[prefix] = (prefix, attrs, holder)
                added += 1
                add_key(prefix)
                add_change(best_change(prefix, path, alone))
                continue
            key: Prefix = entry[0]
            add_key(key)
            if len(entry) == 3:
                only: Holder = entry[2]
                if only[0].name == name and only[3] == 0:
                    if only is not holder or entry[1] is not attrs:
                        if only[2] or holder[2]:
                            self._count(name, only, holder)
                        entries[key] = (key, attrs, holder)
                        if entry[1] is not attrs or not same_but_stale(only, holder):
                            add_change(best_change(key, path, alone))
                    continue
                change = self._second_origin(key, entry[1], only, path)
            else:
                change = self.update(key, peer, path)
            if change is not None:
                add_change(change)
        if added:
            self._counts[name] = self._counts.get(name, 0) + added
            if holder[2]:
                self._stale[name] = self._stale.get(name, 0) + added
        return keys

    def update_one(self, prefix: Prefix, peer: PeerInfo, path: Path, changes: list[BestChange]) -> Prefix:
        """`update_many((prefix,), peer, path, changes)[0]` for an UPDATE of one prefix (feed (c): all
        of them), without the run's tuple, key list and loop; the same three shapes, in the same order
        (`tests/rib/test_fast_paths.py` checks both against `update`)."""
        entries = self._entries
        entry = entries.get(prefix)
        if entry is None:
            holder = self._held(path)
            entries[prefix] = (prefix, path.attributes, holder)
            self._count(peer.name, None, holder)
            changes.append(best_change(prefix, path, (path,)))
            return prefix
        key: Prefix = entry[0]
        if len(entry) == 3:
            only: Holder = entry[2]
            if only[0].name == peer.name and only[3] == 0:
                holder = self._held(path)
                if only is not holder or entry[1] is not path.attributes:
                    if only[2] or holder[2]:
                        self._count(peer.name, only, holder)
                    entries[key] = (key, path.attributes, holder)
                    if entry[1] is not path.attributes or not same_but_stale(only, holder):
                        changes.append(best_change(key, path, (path,)))
                return key
            change = self._second_origin(key, entry[1], only, path)
        else:
            change = self.update(key, peer, path)
        if change is not None:
            changes.append(change)
        return key

    def _second_origin(
        self, key: Prefix, held: PathAttributes, only: Holder, path: Path
    ) -> BestChange | None:
        """`update_many`'s and `update_one`'s answer when `path`, from a second origin (the other
        ToR), joins the one candidate `(held, only)` of prefix `key`: consecutive prefixes ask the
        same question of `_rank_pair`, whose answer also gives the multipath tuple every prefix of
        the run shares."""
        attrs, holder = self._twin(held, path)
        name = holder[0].name  # `_count(name, None, holder)`, inline: once per prefix of a feed
        self._counts[name] = self._counts.get(name, 0) + 1
        if holder[2]:
            self._stale[name] = self._stale.get(name, 0) + 1
        pair = self._rank_pair(held, only, attrs, holder, path if attrs is path.attributes else None)
        if pair is None:
            return self._reselect(key, (held, only, attrs, holder), (held, only))
        ordered, paths, count = pair
        self._entries[key] = (key, *ordered)
        if count == 2:
            return best_change(key, paths[0], paths)
        self._partial[key] = count  # one selected: recorded as partial; a change only if the new path won
        return None if ordered[1] is only and ordered[0] is held else best_change(key, paths[0], paths[:1])

    def _twin(self, held: PathAttributes, path: Path) -> tuple[PathAttributes, Holder]:
        """The pair to store for `path` beside a candidate with the set `held`,
        another origin's, for the same prefix: when the two sets are next-hop twins
        (`route.next_hop_twins`: the other ToR's copy of the route), `held` with `path`'s own IPv4
        NEXT_HOP in the holder's `next_hops`, so its own set (with its received bytes and intern
        entry) is not kept: with unique sets per prefix (feed (c)) that is half the sets. Same route,
        same decision (every attribute it reads is equal), same next hop (`Path.next_hop`). Else
        `path`'s own pair."""
        last = self._last_twin
        if last is not None and last[0] is held and last[1] is path:
            return last[2]  # the next prefix of the same run: the same answer
        attrs = path.attributes
        if attrs is held or path.next_hops or attrs.next_hop is None or not next_hop_twins(held, attrs):
            stored = attrs, self._held(path)
        else:
            hop = attrs.next_hop
            hops = self._last_hops
            if hops is None or hops[0] is not hop:  # an address hashes in Python: looked up on change
                hops = self._hop_tuples.get(hop)
                if hops is None:
                    if len(self._hop_tuples) >= 1024:  # a handful of ToRs in practice: bounded anyway
                        self._hop_tuples.clear()
                    hops = self._hop_tuples[hop] = (hop,)
                self._last_hops = hops
            stored = held, self._holder(path.peer, hops, path.stale, path.path_id)
        self._last_twin = (held, path, stored)
        return stored

    def _rank_pair(self, a1: PathAttributes, h1: Holder, a2: PathAttributes, h2: Holder,
                   second: Path | None = None) -> Ranked | None:
        """`decision.rank_pair` of two stored candidates: (the two pairs ordered, their `Path`s in
        that order, how many are selected), or None to run `select`. `second`, when given, is the
        second candidate's `Path` already built."""
        last = self._last_pair
        options = self.options
        if last is not None:
            seen = last[0]
            if seen[0] is a1 and seen[1] is h1 and seen[2] is a2 and seen[3] is h2 and last[1] is options:
                return last[2]
        a = make_path(a1, *h1)
        b = second if second is not None else make_path(a2, *h2)
        ranked = rank_pair(a, b, options)
        answer: Ranked | None = None
        if ranked is not None:
            (first, other), count = ranked
            answer = ((a1, h1, a2, h2) if first is a else (a2, h2, a1, h1)), (first, other), count
        self._last_pair = ((a1, h1, a2, h2), options, answer)
        return answer

    def _reselect(self, key: Prefix, candidates: Flat, old_selected: Flat) -> BestChange | None:
        """Store the selection among `candidates` (stored pairs) for `key` (the stored key object)
        and report it if it differs from `old_selected`."""
        if not candidates:
            del self._entries[key]
            self._partial.pop(key, None)
            return best_change(key, None, ())
        if len(candidates) == 2:
            self._entries[key] = (key, *candidates)
            if self._partial:
                self._partial.pop(key, None)
            if same_selection(old_selected, candidates):
                return None
            only = self._path(candidates[0], candidates[1])
            return best_change(key, only, (only,))
        pair = self._rank_pair(*candidates) if len(candidates) == 4 else None
        paths: tuple[Path, ...]
        if pair is not None:
            ordered, paths, count = pair
        else:
            built = self._paths(candidates)
            sel = select(built, self.options)
            ranked = sel.multipath + tuple([p for p, _ in sel.losers])
            at = {id(p): i for i, p in enumerate(built)}
            ordered = tuple([x for p in ranked for x in candidates[2 * at[id(p)]:2 * at[id(p)] + 2]])
            paths, count = ranked, len(sel.multipath)
        self._entries[key] = (key, *ordered)
        if 2 * count == len(ordered):
            if self._partial:
                self._partial.pop(key, None)
        else:
            self._partial[key] = count
        if same_selection(old_selected, ordered[:2 * count]):
            return None
        return best_change(key, paths[0], tuple(paths[:count]))

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
            if len(entry) == 3:
                if entry[2][0].name != peer_name:
                    continue
                del table[prefix]
                removed += 1
                stale += entry[2][2]
                if partial:
                    partial.pop(prefix, None)
                changes.append(best_change(key, None, ()))
                continue
            if len(entry) == 5:  # both ToRs had it: the other path stays, alone
                first: Holder = entry[2]
                second: Holder = entry[4]
                first_gone, second_gone = first[0].name == peer_name, second[0].name == peer_name
                if first_gone != second_gone:
                    attrs, keep = (entry[3], second) if first_gone else (entry[1], first)
                    removed += 1
                    stale += (first if first_gone else second)[2]
                    table[prefix] = (key, attrs, keep)
                    count = partial.pop(prefix, None) if partial else None
                    if first_gone or count is None:  # the removed path was selected
                        path = self._path(attrs, keep)
                        changes.append(best_change(key, path, (path,)))
                    continue
                if not first_gone:
                    continue
            flat: Flat = entry[1:]
            kept: list[Any] = []
            for attrs, held in pairs(flat):
                if held[0].name == peer_name:
                    removed += 1
                    stale += held[2]
                else:
                    kept += (attrs, held)
            if len(kept) == len(flat):
                continue
            change = self._reselect(key, tuple(kept), self._selected(prefix, flat))
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
            flat: Flat = entry[1:]
            change = self._reselect(entry[0], flat, self._selected(prefix, flat))
            if change is not None:
                changes.append(change)
        return changes
