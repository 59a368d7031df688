"""The BGP decision process (RFC 4271 section 9.1.2), one function per step, and multipath.

Owns: `Reason` (why a path lost, STYLE rule 12), `DecisionOptions`, one elimination function per
tie-breaker, and `select(paths, options) -> Selection` (best path, the merged multipath set, and
every loser with its reason for `pybgpctl show routes --all`), plus `rank_pair`, the same answer for
the commonest contest (one route from both ToRs) without the elimination steps.
Never does: store routes (that is `loc_rib.py`), apply policy, or look at the clock.

Why elimination rather than a sort: the MED step only compares paths from the same neighbor AS, so
it is not a total order (a sort with it gives answers that depend on arrival order). RFC 4271
9.1.2.2 describes the process as successive elimination over the whole candidate set; each step
here removes the paths that lose it, and the losers keep the step's `Reason`.

Multipath (BIRD `merge paths`): the paths still standing after the IGP-cost step are equal for
forwarding; they merge into one route with up to `multipath_limit` next hops, provided they share
the best path's neighbor AS (or `multipath_relax` allows different ones, for eBGP fabrics).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum

from pybgp.rib.route import Path, as_path_length, neighbor_as
from pybgp.wire.constants import Origin

DEFAULT_LOCAL_PREF = 100


class Reason(Enum):
    """Why a path is not the best (or that it is). Values are what `pybgpctl` prints."""

    BEST = "best"
    MULTIPATH = "multipath"  # equal through IGP cost, merged into the best route
    LOCAL_PREF = "lower local-pref"
    LOCAL_ORIGIN = "learned, not locally originated"
    AS_PATH = "longer AS path"
    ORIGIN = "worse origin"
    MED = "higher MED"
    EBGP_OVER_IBGP = "iBGP, eBGP preferred"
    IGP_COST = "higher IGP cost"
    ROUTER_ID = "higher router ID"
    CLUSTER_LIST = "longer cluster list"
    PEER_ADDRESS = "higher peer address"
    PATH_ID = "same peer, higher path identifier"  # RFC 7911: ties on every step above
    MULTIPATH_NEIGHBOR_AS = "equal, different neighbor AS"
    MULTIPATH_LIMIT = "equal, beyond multipath limit"


@dataclass(frozen=True, slots=True, kw_only=True)
class DecisionOptions:
    """Knobs of the decision process.

    `always_compare_med`: compare MED across neighbor ASes. `med_missing_as_worst`: a missing MED
    counts as 2**32-1 instead of RFC 4271's 0. `multipath_limit`: paths per merged route (1 turns
    ECMP off; BIRD's limit is 16). `multipath_relax`: merge equal paths from different neighbor
    ASes. `igp_cost`: next hop -> cost; None means every next hop is directly connected (cost 0),
    which is the data-center case.
    """

    always_compare_med: bool = False
    med_missing_as_worst: bool = False
    multipath_limit: int = 16
    multipath_relax: bool = False
    default_local_pref: int = DEFAULT_LOCAL_PREF
    igp_cost: Callable[[Path], int] | None = None


DEFAULT_OPTIONS = DecisionOptions()


@dataclass(frozen=True, slots=True)
class Selection:
    """The outcome for one prefix: `best` (None when no candidates), `multipath` (best first, best
    included) and `losers` as (path, reason) pairs, best-ranked loser first."""

    best: Path | None
    multipath: tuple[Path, ...]
    losers: tuple[tuple[Path, Reason], ...] = ()


Step = Callable[[list[Path], DecisionOptions], list[Path]]


def _keep_min(paths: list[Path], key: Callable[[Path], int]) -> list[Path]:
    values = [key(p) for p in paths]
    low = min(values)
    return [p for p, v in zip(paths, values, strict=True) if v == low]


def local_pref_of(path: Path, options: DecisionOptions) -> int:
    lp = path.attributes.local_pref
    return options.default_local_pref if lp is None else lp


def step_local_pref(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4271 9.1.1: the highest degree of preference (LOCAL_PREF; default for eBGP-learned)."""
    return _keep_min(paths, lambda p: -local_pref_of(p, options))


def step_local_origin(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """Routes this speaker originates (interface, static, kernel) beat learned ones, as in BIRD
    (protocol preference) and most implementations (Cisco's "locally originated" step)."""
    return _keep_min(paths, lambda p: 0 if p.peer.local else 1)


def step_as_path(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4271 9.1.2.2 a: the shortest AS path (AS_SET counts 1, confederation segments 0)."""
    return _keep_min(paths, lambda p: as_path_length(p.attributes))


def step_origin(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4271 9.1.2.2 b: the lowest ORIGIN (IGP < EGP < INCOMPLETE; missing counts INCOMPLETE)."""
    return _keep_min(paths, lambda p: int(p.attributes.origin if p.attributes.origin is not None
                                          else Origin.INCOMPLETE))


def med_of(path: Path, options: DecisionOptions) -> int:
    med = path.attributes.med
    if med is None:
        return 0xFFFFFFFF if options.med_missing_as_worst else 0
    return med


def step_med(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4271 9.1.2.2 c: among paths from the same neighbor AS, remove those whose MED is higher
    than the lowest of that group. Paths from different neighbor ASes are not compared unless
    `always_compare_med`."""
    if options.always_compare_med:
        return _keep_min(paths, lambda p: med_of(p, options))
    lowest: dict[int | None, int] = {}
    for p in paths:
        nas = neighbor_as(p.attributes)
        m = med_of(p, options)
        if nas not in lowest or m < lowest[nas]:
            lowest[nas] = m
    return [p for p in paths if med_of(p, options) == lowest[neighbor_as(p.attributes)]]


def step_ebgp_over_ibgp(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4271 9.1.2.2 d: if any path was learned over eBGP, remove the iBGP-learned ones."""
    return _keep_min(paths, lambda p: 1 if p.peer.ibgp else 0)


def step_igp_cost(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4271 9.1.2.2 e: the lowest interior cost to the next hop. Here every next hop is directly
    connected (TARGET rule 4 makes it so) unless the caller supplies `igp_cost`."""
    cost = options.igp_cost
    if cost is None:
        return paths
    return _keep_min(paths, cost)


def router_id_of(path: Path) -> int:
    """RFC 4456 section 9: ORIGINATOR_ID stands in for the router ID of a reflected route."""
    oid = path.attributes.originator_id
    return int(oid) if oid is not None else int(path.peer.router_id)


def step_router_id(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4271 9.1.2.2 f: the lowest BGP Identifier (ORIGINATOR_ID when present, RFC 4456 9)."""
    return _keep_min(paths, router_id_of)


def step_cluster_list(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4456 section 9: the shorter CLUSTER_LIST."""
    return _keep_min(paths, lambda p: len(p.attributes.cluster_list))


def step_peer_address(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """RFC 4271 9.1.2.2 g: the lowest peer address."""
    return _keep_min(paths, lambda p: p.peer.address_int)


MULTIPATH_STEPS: tuple[tuple[Step, Reason], ...] = (
    (step_local_pref, Reason.LOCAL_PREF),
    (step_local_origin, Reason.LOCAL_ORIGIN),
    (step_as_path, Reason.AS_PATH),
    (step_origin, Reason.ORIGIN),
    (step_med, Reason.MED),
    (step_ebgp_over_ibgp, Reason.EBGP_OVER_IBGP),
    (step_igp_cost, Reason.IGP_COST),
)
"""Steps that decide forwarding; survivors of all of them are equal-cost multipath candidates."""

TIE_BREAK_STEPS: tuple[tuple[Step, Reason], ...] = (
    (step_router_id, Reason.ROUTER_ID),
    (step_cluster_list, Reason.CLUSTER_LIST),
    (step_peer_address, Reason.PEER_ADDRESS),
)
"""Steps that only pick one path among equals."""


def _eliminate(
    paths: list[Path], steps: tuple[tuple[Step, Reason], ...], options: DecisionOptions,
    losers: list[tuple[Path, Reason]],
) -> list[Path]:
    for step, reason in steps:
        if len(paths) == 1:
            break
        kept = step(paths, options)
        if len(kept) != len(paths):
            kept_ids = {id(p) for p in kept}
            losers.extend((p, reason) for p in paths if id(p) not in kept_ids)
            paths = kept
    return paths


def _equal_through_igp(first: Path, path: Path) -> bool:
    """True when no step up to IGP cost can tell `path` from `first`: same LOCAL_PREF, AS_PATH,
    ORIGIN, MED and kind of peer (local, iBGP, eBGP). One interned set answers the first four."""
    fa, a, fp, p = first.attributes, path.attributes, first.peer, path.peer
    if p.source is not fp.source or p.ibgp != fp.ibgp:
        return False
    return a is fa or (a.local_pref == fa.local_pref and a.as_path == fa.as_path
                       and a.origin == fa.origin and a.med == fa.med)


def _all_equal(candidates: Sequence[Path], options: DecisionOptions) -> bool:
    """True when no step up to IGP cost can tell the candidates apart (`_equal_through_igp`). The
    common case (one route reflected by two ToRs) then skips the elimination steps; the result is the
    one they would give."""
    if options.igp_cost is not None:
        return False
    first = candidates[0]
    return all(_equal_through_igp(first, path) for path in candidates[1:])


def _tie_key(path: Path) -> tuple[int, int, int, int]:
    """The order of equal-cost paths: router ID (ORIGINATOR_ID first), CLUSTER_LIST length, peer
    address, path ID (all three tie-breakers are total orders)."""
    return (router_id_of(path), len(path.attributes.cluster_list), path.peer.address_int, path.path_id)


def rank_equal(paths: list[Path], options: DecisionOptions) -> list[Path]:
    """Order equal-cost paths by the tie-breakers, best first (all three are total orders)."""
    return sorted(paths, key=_tie_key)


def rank_pair(a: Path, b: Path, options: DecisionOptions) -> tuple[tuple[Path, Path], int] | None:
    """`select` for the commonest contest -- the same route from both ToRs -- without building a
    `Selection`: the two paths in the order `select` ranks them and how many of them it selects
    (2 merged, or 1). None when a forwarding step can tell them apart; the caller then runs
    `select`. Same answer by construction: `_equal_through_igp` is `_all_equal`'s test for two paths
    (so the elimination steps are skipped exactly when `select` skips them), the sort key is
    `rank_equal`'s (a stable sort keeps `a` first on a tie), and the merge test is `select`'s (equal
    AS_PATHs always pass its neighbor-AS test). It runs once per prefix the second ToR sends (issue 6,
    feed (c): a unique attribute set per prefix, so the Loc-RIB's memo of the last pair never hits)."""
    if options.igp_cost is not None or not _equal_through_igp(a, b):
        return None
    key_a, key_b = _tie_key(a), _tie_key(b)
    first, second = (a, b) if key_a <= key_b else (b, a)
    if options.multipath_limit <= 1:
        return (first, second), 1
    # `select`'s neighbor-AS merge test (without multipath_relax) needs no work here: the two AS_PATHs
    # are equal, and the neighbor AS is read from the AS_PATH alone.
    return (first, second), 2


def select(candidates: Sequence[Path], options: DecisionOptions = DEFAULT_OPTIONS) -> Selection:
    """Run the decision process over every candidate path of one prefix."""
    if not candidates:
        return Selection(None, ())
    if len(candidates) == 1:
        return Selection(candidates[0], (candidates[0],))
    losers: list[tuple[Path, Reason]] = []
    if _all_equal(candidates, options):
        equal = list(candidates)  # the same route via several peers (both ToRs): every step ties
    else:
        equal = _eliminate(list(candidates), MULTIPATH_STEPS, options, losers)
    ranked = rank_equal(equal, options)
    best = ranked[0]
    merged = [best]
    if options.multipath_limit > 1:
        best_nas = neighbor_as(best.attributes)
        for p in ranked[1:]:
            if not options.multipath_relax and neighbor_as(p.attributes) != best_nas:
                losers.append((p, Reason.MULTIPATH_NEIGHBOR_AS))
            elif len(merged) >= options.multipath_limit:
                losers.append((p, Reason.MULTIPATH_LIMIT))
            else:
                merged.append(p)
    else:
        tie_losers: list[tuple[Path, Reason]] = []
        survivors = _eliminate(ranked, TIE_BREAK_STEPS, options, tie_losers)
        losers.extend(tie_losers)
        # Paths of one ADD-PATH peer (RFC 7911) tie on every step; `rank_equal` ordered them by path
        # identifier. They lose last, so they rank highest among the losers (hence reversed here).
        losers.extend((p, Reason.PATH_ID) for p in reversed(survivors[1:]))
    losers.reverse()  # the last eliminated ranks highest among losers
    return Selection(best, tuple(merged), tuple(losers))


def explain(selection: Selection) -> list[tuple[Path, Reason]]:
    """Every candidate with its reason, best first: what `show routes --all` prints."""
    out: list[tuple[Path, Reason]] = []
    if selection.best is not None:
        out.append((selection.best, Reason.BEST))
        out.extend((p, Reason.MULTIPATH) for p in selection.multipath[1:])
    out.extend(selection.losers)
    return out
