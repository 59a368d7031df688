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

from pybgp.daemon.kernel_memo import record_by_session, selection_key, session_key
from pybgp.daemon.logsetup import event
from pybgp.daemon.metrics import Metrics
from pybgp.daemon.schema import DaemonConfig, IPAddress, KernelExportConfig
from pybgp.fib.model import MAX_ECMP, FibPort, FibRoute, NextHop
from pybgp.rib.loc_rib import LocRib
from pybgp.rib.policy import Policy, PolicyContext, Verdict
from pybgp.rib.route import BestChange, Path, best_change
from pybgp.wire.nlri import Prefix

log = logging.getLogger("pybgp.daemon.kernel")

IfnameResolver = Callable[[IPAddress], str | None]
_SessionHop = tuple[NextHop | None, bool, object, object]
"""(usable nexthop, session passes a rule-less policy, the PeerInfo and gateway kept alive for their ids)"""
CACHE_LIMIT = 50_000
"""Distinct nexthop combinations remembered by `hops_for` (a handful on a server); cleared when full,
and with the other caches when anything they depend on changes: config, dead nexthops, interfaces."""
SELECTION_LIMIT = 1024
"""Recent multipath selections remembered by `hops_for`. Feeds send the prefixes of one attribute set
together, so a small memo hits as often as a big one; and with a unique set per prefix (feed (c)) every
entry is dead weight: a 50,000-entry cache of them cost more (allocation, GC) than it saved."""


RELEASE_SLICE = 20_000
"""Prefixes per loop turn of the export that ends the startup hold (~0.1 s of kernel writes each)."""


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
        # prefix -> its new nexthop set (a tuple shared by every prefix of one selection; () deletes):
        # no FibRoute per pending prefix, they are built one at a time as the FIB consumes the batch
        self._pending: dict[Prefix, tuple[NextHop, ...]] = {}
        self._pending_since: float | None = None
        self._scheduled = False
        self._down: set[NextHop] = set()  # nexthops known dead until their session comes back
        self._down_ifnames: set[str] = set()  # interfaces whose nexthops are all dead (carrier, BFD)
        self._hops_by_ifname: dict[str, set[NextHop]] = {}
        # (id(PeerInfo), id(gateway)) -> see `_resolve`
        self._nexthops: dict[tuple[int, int], _SessionHop] = {}
        # ids of the nexthops a selection resolved to -> their normalised tuple, shared by every prefix
        # (the value also holds the keyed NextHops: equal duplicates dropped by the set stay alive)
        self._cache: dict[tuple[int, ...], tuple[tuple[NextHop, ...], tuple[NextHop, ...]]] = {}
        # (ids of each path's attributes and session, its next hops) -> (nexthop set, the paths)
        self._selections: dict[tuple[object, ...], tuple[tuple[NextHop, ...], tuple[Path, ...]]] = {}
        self._excluded: frozenset[int] = frozenset()
        self._policy_accepts = True
        self._enabled = True
        self._merge_paths = MAX_ECMP
        self._derive(config)
        self.installed_count = 0
        self.frozen = False  # set while stopping: best-path changes no longer reach the kernel
        # the startup hold (`[kernel] update_delay`): changes are dropped, not kept, until `release`
        # exports the Loc-RIB as it is then, one slice of `_release_prefixes` per loop turn (the
        # prefixes still to write, last first: each slice is cut off the end, so the list shrinks)
        self.held = False
        self._release_loc: LocRib | None = None
        self._release_prefixes: list[Prefix] = []
        self._release_total = 0
        # nexthop -> neighbors whose paths resolved to it (a handful): `installed_per_neighbor` maps
        # the FIB's per-nexthop route counts to neighbors, with no per-prefix record here
        self._owners: dict[NextHop, set[str]] = {}

    @property
    def cfg(self) -> KernelExportConfig:
        return self._config.kernel

    def invalidate(self) -> None:
        """Forget cached nexthop sets (interface addresses changed: `resolve_ifname` may answer anew)."""
        self._forget()

    def _forget(self) -> None:
        """Drop the caches together: `_cache` is keyed by the ids of NextHops `_nexthops` keeps alive."""
        self._nexthops.clear()
        self._cache.clear()
        self._selections.clear()

    def reconfigure(self, config: DaemonConfig) -> None:
        self._forget()
        self._config = config
        self._derive(config)

    def _derive(self, config: DaemonConfig) -> None:
        """What the per-change code reads from the config and the kernel policy, kept as attributes."""
        self._policy = Policy.from_dict(config.policy_spec(config.kernel.policy), config.kernel.policy)
        self._policy_accepts = self._policy.default is Verdict.ACCEPT  # the verdict when it has no rules
        self._excluded = frozenset(config.kernel.exclude_communities)
        # read once per change: plain attributes, not `self.cfg.x` (a property and two lookups)
        self._enabled = config.kernel.enabled
        self._merge_paths = config.kernel.merge_paths

    # --- translation ------------------------------------------------------------------------------

    def exportable(self, prefix: Prefix, path: Path) -> bool:
        """Rule 6 plus the configured kernel policy."""
        if path.peer.local and not self.cfg.install_local:
            return False
        if self._excluded and not self._excluded.isdisjoint(path.attributes.communities):
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
        best = change.best
        if best is None:
            return ()
        limit = self._merge_paths
        paths = (change.multipath or (best,))[:limit]
        if paths[0] is not best:
            paths = (best, *(p for p in paths if p is not best))[:limit]
        if not self._policy.prefix_free:
            return self._hops_of(change.prefix, paths)
        key = selection_key(paths) if self._policy.rules else session_key(paths, self._excluded)
        cached = self._selections.get(key)
        if cached is not None:
            return cached[0]
        hops = self._hops_of(change.prefix, paths)
        if len(self._selections) >= SELECTION_LIMIT:
            self._selections.clear()
        self._selections[key] = (hops, paths)  # `paths` keeps the objects behind the ids alive
        return hops

    def _hops_of(self, prefix: Prefix, paths: tuple[Path, ...]) -> tuple[NextHop, ...]:
        """The nexthop set of a selection not seen before. Each per-path answer is a dict lookup
        wherever it can be (issue 6, feed (c): with a unique attribute set per prefix this ran a policy
        and built a `NextHop` per path): the nexthop and the session's part of rule 6 per (session,
        gateway) object, the normalised set per tuple of those nexthops; with a rule-less kernel policy
        (the default "accept") only the excluded communities are looked at per path."""
        excluded, with_rules, nexthops = self._excluded, bool(self._policy.rules), self._nexthops
        hops: list[NextHop] = []
        for i, path in enumerate(paths):
            # `path.next_hop` without the property call (this runs for every path of every change)
            gateway = path.next_hops[0] if path.next_hops else path.attributes.next_hop
            entry = nexthops.get((id(path.peer), id(gateway))) or self._resolve(path)
            if with_rules:
                ok = self.exportable(prefix, path)
            else:
                ok = entry[1] and (not excluded or excluded.isdisjoint(path.attributes.communities))
            if not ok:
                if i == 0:
                    return ()  # BIRD filters the best route; merged paths ride on it
                continue
            if entry[0] is not None:
                hops.append(entry[0])
        return self._normalised(hops)

    def _resolve(self, path: Path) -> _SessionHop:
        """The cache entry for the path's (session, gateway): its usable nexthop (None when dead or
        unresolvable) and whether a rule-less kernel policy passes the session (rule 6's "never our own
        routes", then the policy's default).

        Keyed by identity: the codec interns next-hop addresses and a session has one `PeerInfo`, so a
        full table hits a handful of entries and no address is hashed per path. The entry keeps both
        objects alive (their ids stay unique) and is dropped with `_cache` whenever anything the answer
        depends on changes (dead nexthops, interfaces, config)."""
        peer, gateway = path.peer, path.next_hop
        nh = self.nexthop_for(path)
        if nh is not None:
            # the neighbors behind each nexthop and the nexthops per interface: recorded once here, not
            # per path (`installed_per_neighbor` and `interface_down` read them)
            self._owners.setdefault(nh, set()).add(peer.name)
            self._hops_by_ifname.setdefault(nh.ifname, set()).add(nh)
            if nh in self._down or nh.ifname in self._down_ifnames:
                nh = None
        passes = self._policy_accepts and not (peer.local and not self.cfg.install_local)
        if len(self._nexthops) >= CACHE_LIMIT:  # a peer sending endless distinct next hops: stay bounded
            self._forget()
        entry = self._nexthops[(id(peer), id(gateway))] = (nh, passes, peer, gateway)
        return entry

    def _normalised(self, hops: list[NextHop]) -> tuple[NextHop, ...]:
        """`hops` deduplicated, sorted and cut to MAX_ECMP as `FibRoute` would, as one shared tuple per
        distinct nexthop combination (the FIB then compares and hashes each distinct tuple once)."""
        if not hops:
            return ()
        # the NextHops come from `_nexthops`, which keeps them alive: their ids are stable keys
        key = tuple(map(id, hops))
        cached = self._cache.get(key)
        if cached is not None:
            return cached[0]
        if len(self._cache) >= CACHE_LIMIT:
            self._cache.clear()
        normal = tuple(sorted(set(hops)))[:MAX_ECMP]
        self._cache[key] = (normal, tuple(hops))
        return normal

    # --- feeding the FIB --------------------------------------------------------------------------

    def on_best_changes(self, changes: Iterable[BestChange]) -> None:
        """Record a batch of changes (the daemon's path: one call per Loc-RIB batch, the per-change
        work in one tight loop); the FIB write happens once per loop turn for all changes recorded."""
        if not self._enabled or self.frozen or self.held:
            return
        pending, hops_for = self._pending, self.hops_for
        policy = self._policy
        if policy.rules or not policy.prefix_free:
            for change in changes:
                prefix = change.prefix
                # `without_path_id()` inlined: this runs once per change (over 2M in a 1M x 2 feed)
                pending[prefix.without_path_id() if prefix.path_id else prefix] = hops_for(change)
        else:
            record_by_session(changes, pending, self._selections, hops_for, self._excluded, self._merge_paths)
        if pending:
            self._schedule_flush()

    def hold(self) -> None:
        """Start the startup hold: best-path changes are not written (nor kept) until `release`."""
        self.held = True
        self._hold_gauge()

    def release(self, loc: LocRib) -> None:
        """End the hold: from now on changes are written as they come, and the whole Loc-RIB is
        exported once, in slices of RELEASE_SLICE prefixes, one per loop turn (a full table is seconds
        of kernel writes: sessions and nexthop removal keep running between slices).

        Each slice reads the Loc-RIB as it is when the slice runs, so a change made after the release
        (written by `on_best_changes` too) is never undone; a prefix gone by then is skipped. Nothing is
        deleted: stale routes of a `keep_on_exit` restart are the daemon's pending reconcile's to remove."""
        if not self.held:
            return
        self.held = False
        self._release_loc = loc
        # One reference per prefix, for the release only (8 bytes each), in reverse: every slice is
        # cut off the end, so the list gives its memory back as the FIB's own map grows (issue 6: the
        # release runs on top of the complete RIB, and what it holds at once is the daemon's peak).
        self._release_prefixes = list(loc.prefixes())
        self._release_prefixes.reverse()
        self._release_total = len(self._release_prefixes)
        self._release_step()

    @property
    def releasing(self) -> bool:
        """True while the export that ended the hold still has slices to write."""
        return self._release_loc is not None

    def _release_step(self) -> None:
        """Write one slice of the release export and schedule the next on the loop (all of them at
        once without a running loop: unit tests calling synchronously)."""
        while (loc := self._release_loc) is not None:
            if self.frozen or not self._enabled:  # stopping, or a reload turned the kernel export off
                self._release_loc, self._release_prefixes = None, []
                return
            prefixes = self._release_prefixes
            start = self._release_total - len(prefixes)
            part = prefixes[-RELEASE_SLICE:]
            del prefixes[-RELEASE_SLICE:]
            part.reverse()  # the Loc-RIB's order within the slice, as the slices go
            pending, hops_for = self._pending, self.hops_for
            try:
                for prefix in part:
                    paths = loc.multipath(prefix)
                    if paths and (hops := hops_for(best_change(prefix, paths[0], paths))):
                        pending[prefix.without_path_id() if prefix.path_id else prefix] = hops
            except Exception:  # a bug must not leave the release, and the stale-route removal, pending
                end, total = start + len(part), self._release_total
                log.exception("kernel release failed in prefixes %d-%d of %d", start, end, total)
                prefixes.clear()
            if not prefixes:
                self._release_loc, self._release_prefixes = None, []
            self._pending_since = self._pending_since or time.perf_counter()
            self.flush_pending()
            if self._release_loc is None:
                self._hold_gauge()
                return
            try:
                asyncio.get_running_loop().call_soon(self._release_step)
                return
            except RuntimeError:
                continue

    def on_best_change(self, change: BestChange) -> None:
        """Record a change; the FIB write happens once per loop turn for all changes recorded."""
        self.on_best_changes((change,))

    def _schedule_flush(self) -> None:
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
        delete = [prefix for prefix, hops in pending.items() if not hops]
        apply_nexthops = getattr(self.fib, "apply_nexthops", None)  # both shipped FIBs have it
        try:
            if callable(apply_nexthops):
                # the pending dict itself, deletions taken out: no FibRoute per route (issue 6)
                for prefix in delete:
                    del pending[prefix]
                apply_nexthops(pending, delete)
            else:
                trusted = FibRoute.trusted
                replace = (trusted(prefix, hops) for prefix, hops in pending.items() if hops)
                self.fib.apply(replace=replace, delete=delete)
        except Exception:  # the kernel adapter must not take the daemon down; resync repairs later
            log.exception("kernel write failed for %d routes", len(pending))
        if self.metrics is not None and started is not None:
            self.metrics.install_latency.observe(time.perf_counter() - started)
        self._update_gauges()

    def settle_soon(self, loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
        """The `notify` for a FIB's writer thread (called from that thread): settle the finished writes
        on the loop soon (failures reported, counters and gauges updated)."""

        def settle() -> None:
            fib_settle = getattr(self.fib, "settle", None)
            if callable(fib_settle):
                try:
                    fib_settle()
                except Exception:
                    log.exception("kernel writes could not be settled")
            self._update_gauges()

        def notify() -> None:
            loop.call_soon_threadsafe(settle)

        return notify

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
        self._forget()

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
        """Take `hops` out of every kernel route (`FibPort.nexthop_down`: a few group rewrites) and out
        of the changes waiting for the next batch; returns the seconds it took. A kernel refusal is
        logged, never raised: failover goes on."""
        self._forget()
        started = time.perf_counter()
        dead = list(hops)
        for nh in dead:
            try:
                self.fib.nexthop_down(nh)
            except Exception:
                log.exception("nexthop_down %s failed", nh)
        if self._pending:
            self._scrub_pending(set(dead))
        self._update_gauges()
        return round(time.perf_counter() - started, 6)

    def _scrub_pending(self, dead: set[NextHop]) -> None:
        """Remove dead nexthops from the changes not yet written (computed before the nexthop died), so
        the next batch cannot put them back; a prefix left with none is deleted. Each distinct nexthop
        tuple is filtered once."""
        memo: dict[int, tuple[NextHop, ...]] = {}
        pending = self._pending
        for prefix, hops in pending.items():
            if not hops:
                continue
            kept = memo.get(id(hops))
            if kept is None:
                kept = tuple(h for h in hops if h not in dead)
                memo[id(hops)] = kept = hops if len(kept) == len(hops) else kept
            if kept is not hops:
                pending[prefix] = kept  # a value replaced, no key added: safe while iterating

    def interface_up(self, ifname: str) -> None:
        """Nexthops through `ifname` may be installed again (its session re-established)."""
        self._down_ifnames.discard(ifname)
        self._down = {nh for nh in self._down if nh.ifname != ifname}
        self._forget()

    def reconcile(self, changes: Iterable[BestChange]) -> None:
        """Make the kernel exactly match the given selections (startup, resync, after reload). Not
        during the startup hold: the kernel keeps what it has until `release` (a reload then changes
        only what the release will export)."""
        if not self.cfg.enabled or self.held:
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

    def _hold_gauge(self) -> None:
        """`pybgp_kernel_hold`: 1 from `hold` until the release export has written its last slice."""
        if self.metrics is not None:
            self.metrics.kernel_hold.set(1 if self.held or self.releasing else 0)

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
