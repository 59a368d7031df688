"""Read-only views the `Speaker` hands out, and the kernel's view of best-path changes.

Owns: `NeighborView` and `RouteView` (what `pybgpctl show neighbors` / `show routes` print, built by
`Speaker.neighbors()` / `route_views`), and `kernel_view` (best-path changes filtered by a kernel export
policy, TARGET rule 6). Never does: hold state, talk to peers or the kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pybgp.rib.decision import Reason, explain
from pybgp.rib.loc_rib import LocRib
from pybgp.rib.policy import Policy, PolicyContext
from pybgp.rib.route import BestChange, Path
from pybgp.wire.nlri import Prefix


@dataclass(frozen=True, slots=True, kw_only=True)
class NeighborView:
    """One neighbor as `pybgpctl show neighbors` prints it."""

    name: str
    address: str
    remote_as: int | None
    state: str
    enabled: bool
    established_since: float | None
    received: int
    accepted: int
    advertised: int
    stale: int
    last_down_reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteView:
    """One candidate path of a prefix; `reason` is BEST, MULTIPATH or why it lost."""

    prefix: Prefix
    path: Path
    reason: Reason


def kernel_view(changes: Sequence[BestChange], policy: Policy) -> list[BestChange]:
    """The changes as the kernel should see them: each multipath member run through `policy`
    (TARGET rule 6: never install our own /32, pod routes or LB addresses); a prefix whose members
    are all rejected becomes a removal."""
    out: list[BestChange] = []
    for change in changes:
        kept: list[Path] = []
        for path in change.multipath:
            accepted = policy.apply(path, PolicyContext(prefix=change.prefix))
            if accepted is not None:
                kept.append(accepted)
        if kept:
            out.append(BestChange(prefix=change.prefix, best=kept[0], multipath=tuple(kept)))
        else:
            out.append(BestChange(prefix=change.prefix, best=None, multipath=()))
    return out


def route_views(loc: LocRib, prefix: Prefix | None = None, *, all_paths: bool = False) -> list[RouteView]:
    """The Loc-RIB's best and multipath paths of `prefix` (or of every prefix), or every candidate with
    the `Reason` it lost for when `all_paths`: `Speaker.routes()`."""
    prefixes = [prefix] if prefix is not None else list(loc.prefixes())
    out: list[RouteView] = []
    for p in prefixes:
        if all_paths:
            out.extend(RouteView(prefix=p, path=path, reason=r) for path, r in explain(loc.selection(p)))
        else:
            out.extend(
                RouteView(prefix=p, path=path, reason=Reason.BEST if i == 0 else Reason.MULTIPATH)
                for i, path in enumerate(loc.multipath(p))
            )
    return out
