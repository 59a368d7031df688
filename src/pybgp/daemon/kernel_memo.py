"""The kernel exporter's memo keys, and its per-change loop under the default (rule-less) kernel policy.

Owns: the identity keys under which `KernelExporter.hops_for` remembers the nexthop set of a multipath
selection (`selection_key` with kernel policy rules, `session_key` without), and `record_by_session`, the
loop that turns a batch of best-path changes into the exporter's pending kernel writes with that memo
inline (issue 6, feed (c): one change per UPDATE, 200k of them). Never does: resolve a nexthop, apply a
policy or touch the FIB (every miss goes to the exporter's `hops_for`, which owns the memo).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pybgp.fib.model import NextHop
from pybgp.rib.route import BestChange, Path
from pybgp.wire.nlri import Prefix

Selections = dict[tuple[object, ...], tuple[tuple[NextHop, ...], tuple[Path, ...]]]
"""`KernelExporter._selections`: memo key -> (nexthop set, the paths that keep the key's objects alive)."""


def selection_key(paths: tuple[Path, ...]) -> tuple[object, ...]:
    """The memo key of a selection under a kernel policy with rules: a full table shares a few
    attribute sets (interned) and one PeerInfo per session, so the nexthop set depends on each path's
    (attributes, peer, next hops) only, compared by identity (the RIB shares one next-hop tuple per
    address; no address is hashed per change)."""
    if len(paths) == 2:  # the server's shape (two ToRs): no generator per change
        a, b = paths
        return (id(a.attributes), id(a.peer), id(a.next_hops), id(b.attributes), id(b.peer), id(b.next_hops))
    return tuple(x for p in paths for x in (id(p.attributes), id(p.peer), id(p.next_hops)))


def session_key(paths: tuple[Path, ...], excluded: frozenset[int]) -> tuple[object, ...]:
    """The memo key without policy rules (the default): then a path's part of the answer depends on
    its session, its gateway and (with `excluded` communities) its communities only, not on the rest
    of its attributes; so a feed with a unique attribute set per prefix (feed (c), issue 6) still
    hits, where `selection_key` would miss on every change. By identity, as `selection_key` (the
    codec interns gateways; interned attribute sets share their communities tuple, and an absent one
    is the empty tuple); the `paths` kept with the entry keep the objects behind the ids alive."""
    if len(paths) == 2:  # the server's shape (two ToRs), and below one ToR's path: no loop per change
        a, b = paths
        gw_a = a.next_hops[0] if a.next_hops else a.attributes.next_hop
        gw_b = b.next_hops[0] if b.next_hops else b.attributes.next_hop
        if not excluded:
            return (id(a.peer), id(gw_a), id(b.peer), id(gw_b))
        attrs_a, attrs_b = a.attributes, b.attributes
        return (id(a.peer), id(gw_a), id(attrs_a.communities), id(b.peer), id(gw_b), id(attrs_b.communities))
    if len(paths) == 1:
        (a,) = paths
        gw_a = a.next_hops[0] if a.next_hops else a.attributes.next_hop
        if not excluded:
            return (id(a.peer), id(gw_a))
        return (id(a.peer), id(gw_a), id(a.attributes.communities))
    key: list[int] = []
    for p in paths:
        key += (id(p.peer), id(p.next_hops[0] if p.next_hops else p.attributes.next_hop))
        if excluded:
            key.append(id(p.attributes.communities))
    return tuple(key)


def record_by_session(
    changes: Iterable[BestChange],
    pending: dict[Prefix, tuple[NextHop, ...]],
    selections: Selections,
    hops_for: Callable[[BestChange], tuple[NextHop, ...]],
    excluded: frozenset[int],
    merge_paths: int,
) -> None:
    """Put each change's nexthop set into `pending` (keyed by prefix without path id), as
    `pending[prefix] = hops_for(change)` would under a rule-less kernel policy, for the shapes of a
    server's feed -- one or two merged paths, best first, within `merge_paths` -- with `hops_for`'s
    memo lookup inline (under `session_key`'s key), and no lookup at all when a
    change has the key of the change before it (a feed sends one ToR's prefixes in a row). Any other
    shape, and every memo miss, goes to `hops_for`, which fills the memo under the same key.
    `tests/daemon/test_kernel_memo.py` compares the result with `hops_for` change by change."""
    # (key, its nexthop set, the paths it was built from: alive, so no other object can take an id)
    last: tuple[tuple[object, ...], tuple[NextHop, ...], tuple[Path, ...]] | None = None
    most = min(2, merge_paths)
    for change in changes:
        prefix = change.prefix
        if prefix.path_id:
            prefix = prefix.without_path_id()
        best, paths = change.best, change.multipath
        n = len(paths)
        if best is None or not 0 < n <= most or paths[0] is not best:
            pending[prefix] = hops_for(change)
            continue
        key = session_key(paths, excluded)
        if last is not None and key == last[0]:
            pending[prefix] = last[1]
            continue
        cached = selections.get(key)  # an entry keeps its own paths alive
        hops = hops_for(change) if cached is None else cached[0]
        last = (key, hops, paths)
        pending[prefix] = hops
