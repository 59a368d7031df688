"""Best paths -> kernel routes: the daemon's kernel protocol (BIRD `protocol kernel` with `merge paths`).

Owns: turning a Loc-RIB `BestChange` into a `FibRoute` (one nexthop per merged path: the path's next hop
via the interface of the session it came from, TARGET.md rule 5), the export filter (rule 6: never our own
originated routes, never routes carrying an excluded community, then the configured kernel policy),
batching changes into one `FibPort.apply` per event-loop turn, fast nexthop removal when a link or BFD
session dies, and the "routes pybgpd installed" view for `pybgpctl show kernel`.
Never does: route selection (the RIB did it) or netlink itself (the `FibPort` does).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable

from pybgp.daemon.logsetup import event
from pybgp.daemon.metrics import Metrics
from pybgp.daemon.schema import DaemonConfig, IPAddress, KernelExportConfig
from pybgp.fib.model import MAX_ECMP, FibPort, FibRoute, NextHop
from pybgp.rib.policy import Policy, PolicyContext
from pybgp.rib.route import BestChange, Path
from pybgp.wire.nlri import Prefix

log = logging.getLogger("pybgp.daemon.kernel")

IfnameResolver = Callable[[IPAddress], str | None]
CACHE_LIMIT = 50_000
"""Distinct multipath selections remembered by `route_for` (cleared when full or when anything it
depends on changes: config, dead nexthops, interface addresses)."""


class KernelExporter:
    """Feeds a `FibPort` from best-path changes, batched per event-loop turn."""

    def __init__(
        self,
        fib: FibPort,
        config: DaemonConfig,
        metrics: Metrics | None = None,
        resolve_ifname: IfnameResolver | None = None,
    ) -> None:
        self.fib = fib
        self.metrics = metrics
        self.resolve_ifname = resolve_ifname
        self._config = config
        self._policy = Policy.from_dict(config.policy_spec(config.kernel.policy), config.kernel.policy)
        # prefix -> its new nexthop set (a tuple shared by every prefix of one selection; () deletes):
        # no FibRoute per pending prefix, they are built one at a time as the FIB consumes the batch
        self._pending: dict[Prefix, tuple[NextHop, ...]] = {}
        self._pending_since: float | None = None
        self._scheduled = False
        self._down: set[NextHop] = set()  # nexthops known dead until their session comes back
        self._down_ifnames: set[str] = set()  # interfaces whose nexthops are all dead (carrier, BFD)
        self._hops_by_ifname: dict[str, set[NextHop]] = {}
        self._cache: dict[tuple[object, ...], tuple[tuple[NextHop, ...], object]] = {}
        self.installed_count = 0
        self.frozen = False  # set while stopping: best-path changes no longer reach the kernel
        # nexthop -> neighbors whose paths resolved to it (a handful): `installed_per_neighbor` maps
        # the FIB's per-nexthop route counts to neighbors, with no per-prefix record here
        self._owners: dict[NextHop, set[str]] = {}

    @property
    def cfg(self) -> KernelExportConfig:
        return self._config.kernel

    def invalidate(self) -> None:
        """Forget cached nexthop sets (interface addresses changed: `resolve_ifname` may answer anew)."""
        self._cache.clear()

    def reconfigure(self, config: DaemonConfig) -> None:
        self._cache.clear()
        self._config = config
        self._policy = Policy.from_dict(config.policy_spec(config.kernel.policy), config.kernel.policy)

    # --- translation ------------------------------------------------------------------------------

    def exportable(self, prefix: Prefix, path: Path) -> bool:
        """Rule 6 plus the configured kernel policy."""
        if path.peer.local and not self.cfg.install_local:
            return False
        if self.cfg.exclude_communities and not set(self.cfg.exclude_communities).isdisjoint(
            path.attributes.communities
        ):
            return False
        return self._policy.apply(path, PolicyContext(prefix=prefix)) is not None

    def nexthop_for(self, path: Path) -> NextHop | None:
        gateway = path.next_hop
        ifname = path.peer.interface
        if ifname is None and gateway is not None and self.resolve_ifname is not None:
            ifname = self.resolve_ifname(gateway)
        if ifname is None:
            return None
        if gateway is not None and gateway.is_unspecified:
            gateway = None
        return NextHop(gateway, ifname)

    def route_for(self, change: BestChange) -> FibRoute | None:
        """The kernel route for a change, or None when nothing may be installed for the prefix."""
        hops = self.hops_for(change)
        # `hops_for` returns them normalised: no per-prefix re-validation
        return FibRoute.trusted(change.prefix.without_path_id(), hops) if hops else None

    def hops_for(self, change: BestChange) -> tuple[NextHop, ...]:
        """The normalised nexthop set to install for a change; () when nothing may be installed."""
        if change.best is None:
            return ()
        paths = (change.multipath or (change.best,))[: self.cfg.merge_paths]
        if paths[0] is not change.best:
            paths = (change.best, *(p for p in paths if p is not change.best))[: self.cfg.merge_paths]
        cached = None
        ckey: tuple[object, ...] = ()
        if self._policy.prefix_free:
            # A full table shares a few attribute sets (interned) and one PeerInfo per session, so the
            # nexthop set depends on the selection's (attributes, peer, next hops) only: compute it once.
            if len(paths) == 2:  # the server's shape (two ToRs): no generator per change
                a, b = paths
                ckey = (id(a.attributes), id(a.peer), a.next_hops, id(b.attributes), id(b.peer), b.next_hops)
            else:
                ckey = tuple(x for p in paths for x in (id(p.attributes), id(p.peer), p.next_hops))
            cached = self._cache.get(ckey)
        if cached is None:
            hops = self._hops_of(change.prefix, paths)
            if ckey:
                if len(self._cache) >= CACHE_LIMIT:
                    self._cache.clear()
                # keeps the ids above unique; flat (no tuple per path): up to CACHE_LIMIT entries live
                pinned = tuple(x for p in paths for x in (p.attributes, p.peer))
                self._cache[ckey] = (hops, pinned)
        else:
            hops = cached[0]
        return hops

    def _hops_of(
        self, prefix: Prefix, paths: tuple[Path, ...]
    ) -> tuple[NextHop, ...]:
        hops: list[NextHop] = []
        for i, path in enumerate(paths):
            if not self.exportable(prefix, path):
                if i == 0:
                    return ()  # BIRD filters the best route; merged paths ride on it
                continue
            nh = self.nexthop_for(path)
            if nh is not None and nh not in self._down and nh.ifname not in self._down_ifnames:
                hops.append(nh)
                self._owners.setdefault(nh, set()).add(path.peer.name)
                self._hops_by_ifname.setdefault(nh.ifname, set()).add(nh)
        # normalised as `FibRoute` would (deduplicated, sorted, at most MAX_ECMP): `route_for` builds
        # routes with `FibRoute.trusted`, once per selection here instead of once per prefix
        return tuple(sorted(set(hops)))[:MAX_ECMP]

    # --- feeding the FIB --------------------------------------------------------------------------

    def on_best_changes(self, changes: Iterable[BestChange]) -> None:
        for change in changes:
            self.on_best_change(change)

    def on_best_change(self, change: BestChange) -> None:
        """Record a change; the FIB write happens once per loop turn for all changes recorded."""
        if not self.cfg.enabled or self.frozen:
            return
        self._pending[change.prefix.without_path_id()] = self.hops_for(change)
        if self._pending_since is None:
            self._pending_since = time.perf_counter()
        if not self._scheduled:
            self._scheduled = True
            try:
                asyncio.get_running_loop().call_soon(self.flush_pending)
            except RuntimeError:  # no loop (unit tests calling synchronously): write now
                self.flush_pending()

    def flush_pending(self) -> None:
        self._scheduled = False
        if not self._pending or self.frozen:
            return
        pending, self._pending = self._pending, {}
        started, self._pending_since = self._pending_since, None
        trusted = FibRoute.trusted
        replace = (trusted(prefix, hops) for prefix, hops in pending.items() if hops)
        delete = [prefix for prefix, hops in pending.items() if not hops]
        try:
            self.fib.apply(replace=replace, delete=delete)
        except Exception:  # the kernel adapter must not take the daemon down; resync repairs later
            log.exception("kernel write failed for %d routes", len(pending))
        if self.metrics is not None and started is not None:
            self.metrics.install_latency.observe(time.perf_counter() - started)
        self._update_gauges()

    def nexthop_down(self, nh: NextHop, reason: str) -> None:
        """A nexthop died (carrier loss, BFD Down): drop it from every route at once, before BGP notices."""
        if nh in self._down:
            return
        self._down.add(nh)
        seconds = self._drop_nexthops((nh,))
        event(
            log,
            "nexthop-down",
            f"removed nexthop {nh} from kernel routes ({reason})",
            nexthop=str(nh),
            reason=reason,
            seconds=seconds,
        )

    def nexthop_up(self, nh: NextHop) -> None:
        """The nexthop may be used again (its session re-established); routes come back with BGP."""
        self._down.discard(nh)
        self._cache.clear()

    def interface_down(self, ifname: str, reason: str) -> None:
        """Every nexthop through `ifname` is dead (carrier loss, BFD Down of the neighbor on that link):
        remove them from the kernel now and keep them out until `interface_up`."""
        if ifname in self._down_ifnames:
            return
        self._down_ifnames.add(ifname)
        # Every nexthop ever installed via `ifname` (a handful): no walk over the routes, however many.
        hops = sorted(self._hops_by_ifname.get(ifname, set()))
        seconds = self._drop_nexthops(hops)
        event(
            log,
            "nexthop-down",
            f"removed {len(hops)} nexthops via {ifname} from kernel routes ({reason})",
            interface=ifname,
            reason=reason,
            seconds=seconds,
        )

    def _drop_nexthops(self, hops: Iterable[NextHop]) -> float:
        """Take `hops` out of every kernel route (`FibPort.nexthop_down`: a few group rewrites);
        returns the seconds it took. A kernel refusal is logged, never raised: failover goes on."""
        self._cache.clear()
        started = time.perf_counter()
        for nh in hops:
            try:
                self.fib.nexthop_down(nh)
            except Exception:
                log.exception("nexthop_down %s failed", nh)
        self._update_gauges()
        return round(time.perf_counter() - started, 6)

    def interface_up(self, ifname: str) -> None:
        """Nexthops through `ifname` may be installed again (its session re-established)."""
        self._down_ifnames.discard(ifname)
        self._down = {nh for nh in self._down if nh.ifname != ifname}
        self._cache.clear()

    def reconcile(self, changes: Iterable[BestChange]) -> None:
        """Make the kernel exactly match the given selections (startup, resync, after reload)."""
        if not self.cfg.enabled:
            return
        # a generator: the FIB keeps each route's nexthop tuple, not a FibRoute per prefix (issue 6)
        desired = (r for r in (self.route_for(c) for c in changes) if r is not None)
        self._pending.clear()
        try:
            self.fib.reconcile(desired)
        except Exception:
            log.exception("kernel reconcile failed")
        self._update_gauges()

    def installed_per_neighbor(self) -> dict[str, int]:
        """How many installed kernel routes use a nexthop learned from each neighbor.

        From the FIB's routes per nexthop (`NetlinkFib`: O(nexthop groups), no walk over the routes)
        mapped to the neighbors whose paths resolved to each nexthop; a FIB without that method (test
        fakes) is walked. A route with two nexthops of one neighbor (ADD-PATH) counts twice.
        """
        counter = getattr(self.fib, "nexthop_route_counts", None)
        per_hop: dict[NextHop, int]
        if callable(counter):
            per_hop = counter()
        else:
            per_hop = {}
            for route in self.fib.routes().values():
                for nh in route.nexthops:
                    per_hop[nh] = per_hop.get(nh, 0) + 1
        counts: dict[str, int] = {}
        for nh, n in per_hop.items():
            for name in self._owners.get(nh, ()):
                counts[name] = counts.get(name, 0) + n
        return counts

    def _update_gauges(self) -> None:
        """Refresh the installed-routes gauge after every kernel batch: O(1) with `route_count()`
        (both shipped FIBs have it); copying the FIB here made a feed quadratic."""
        count = getattr(self.fib, "route_count", None)
        n = count() if callable(count) else len(self.fib.routes())
        self.installed_count = n
        if self.metrics is not None:
            self.metrics.routes_installed.set(n)
            failures = getattr(self.fib, "failures", None)
            if callable(failures):
                try:
                    self.metrics.kernel_failures.set(len(failures()))
                except Exception:
                    pass

    def shutdown(self) -> None:
        """On exit: flush our routes unless `keep_on_exit` (forwarding then survives a restart)."""
        try:
            if not self.cfg.keep_on_exit:
                self.fib.flush()
            elif hasattr(self.fib, "flush_on_close"):
                self.fib.flush_on_close = False  # reloaded to keep_on_exit after starting without it
            self.fib.close()
        except Exception:
            log.exception("kernel shutdown failed")

    def view(self, prefix: Prefix | None = None) -> list[dict[str, object]]:
        routes = self.fib.routes()
        if prefix is not None:
            items = [routes[prefix]] if prefix in routes else []
        else:
            items = sorted(routes.values(), key=lambda r: (r.prefix.afi, r.prefix.network, r.prefix.length))
        return [
            {
                "prefix": str(r.prefix),
                "nexthops": [
                    {"gateway": str(nh.gateway) if nh.gateway is not None else None, "ifname": nh.ifname}
                    for nh in r.nexthops
                ],
            }
            for r in items
        ]
