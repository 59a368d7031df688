"""The whole routing pipeline of a speaker, sans-IO: Adj-RIB-In -> policy -> Loc-RIB -> Adj-RIB-Out.

Owns: `Rib`, which holds one `NeighborRib` (`neighbor.py`) per configured neighbor (policies,
Adj-RIB-In/Out, the update builder, graceful-restart state) and the `LocRib`; it turns received
UPDATEs and local originations into `BestChange`s and into UPDATE bytes queued per neighbor.
Everything takes `now` from the caller, and `next_deadline()` says when `tick(now)` / `output(now)`
have work (batching delay, graceful-restart timers). The per-prefix receive loops live in its base
`receive_loops.ReceiveLoops`. A neighbor added with `import_table=False` keeps no pre-policy
Adj-RIB-In: its session-down flush, graceful-restart and RFC 7313 stale handling and counts work
on the Loc-RIB (`LocRib.prefixes_of`, `mark_stale`, `paths_of`, `count`).
Never does: sockets, tasks, reading the clock, or touching the kernel; `pybgp.aio.speaker` drives
it and delivers its results.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterable, Sequence

from pybgp.rib.adj_rib import AdjRibIn, export_path, family_of, loop_reason
from pybgp.rib.adj_rib import never_exported as never_exported  # its old home
from pybgp.rib.decision import DEFAULT_OPTIONS, DecisionOptions
from pybgp.rib.loc_rib import LocRib
from pybgp.rib.neighbor import NeighborRib as NeighborRib
from pybgp.rib.policy import Policy, PolicyContext, default_policy
from pybgp.rib.receive_loops import ReceiveLoops
from pybgp.rib.receive_loops import Run as Run  # its old home
from pybgp.rib.route import AttributeInterner, BestChange, Path, PeerInfo, Source, same_route
from pybgp.rib.update_builder import DEFAULT_BATCH_DELAY, UpdateBuilder
from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.constants import Afi, Safi
from pybgp.wire.context import Family, WireContext
from pybgp.wire.errors import UpdateAction
from pybgp.wire.messages import Update
from pybgp.wire.nlri import Prefix

EXPORT_CACHE_LIMIT = 50_000


def update_end_of_rib(update: Update) -> Family | None:
    """The family an UPDATE marks End-of-RIB for (RFC 4724 section 2), or None."""
    if update.nlri or update.withdrawn or update.mp_reach is not None:
        return None
    if update.attributes is None and update.mp_unreach is None:
        return (int(Afi.IPV4), int(Safi.UNICAST))
    unreach = update.mp_unreach
    if unreach is not None and not unreach.nlri and not unreach.raw_nlri:
        return (unreach.afi, unreach.safi)
    return None


class Rib(ReceiveLoops):
    """Adj-RIBs, policies and the Loc-RIB of one speaker, driven by events and `now`."""

    def __init__(self, *, local_as: int, router_id: ipaddress.IPv4Address,
                 cluster_id: ipaddress.IPv4Address | None = None,
                 options: DecisionOptions = DEFAULT_OPTIONS,
                 batch_delay: float = DEFAULT_BATCH_DELAY) -> None:
        self.local_as = local_as
        self.router_id = router_id
        self.cluster_id = cluster_id
        self.batch_delay = batch_delay
        self.loc = LocRib(options)
        self.interner = AttributeInterner()
        self.neighbors: dict[str, NeighborRib] = {}
        self.origins: dict[str, tuple[PeerInfo, dict[Prefix, Path]]] = {}

    # -- neighbors -----------------------------------------------------------------------------

    def add_neighbor(self, name: str, *, import_policy: Policy | None = None,
                     export_policy: Policy | None = None, next_hop_self: bool = False,
                     rr_client: bool = False, import_table: bool = True) -> NeighborRib:
        """Configure a neighbor. `import_table=False` keeps no pre-policy Adj-RIB-In (BIRD's `import
        table off`): `set_import_policy` cannot re-run the policy then (the caller asks the peer to
        resend, see `Speaker.set_import_policy`) and the peer's paths are found by walking the Loc-RIB.
        The default keeps the table, as this API always did."""
        if name in self.neighbors:
            raise ValueError(f"neighbor {name!r} already exists")
        nb = NeighborRib(name=name, import_policy=import_policy, export_policy=export_policy,
                         next_hop_self=next_hop_self, rr_client=rr_client, import_table=import_table,
                         builder=UpdateBuilder(self.batch_delay))
        self.neighbors[name] = nb
        return nb

    def remove_neighbor(self, name: str, now: float) -> list[BestChange]:
        changes = self.neighbor_down(name, now, graceful_restart_time=None)
        del self.neighbors[name]
        return changes

    def neighbor_up(self, name: str, peer: PeerInfo, ctx: WireContext, families: Iterable[Family],
                    now: float) -> list[BestChange]:
        """The session reached Established: remember its facts and start the initial export (every
        Loc-RIB best path allowed by policy, then End-of-RIB per family). The export runs in slices
        through `sync_step` so a full table never blocks the caller's loop; `sync_step(now)` with no
        budget finishes it at once."""
        nb = self.neighbors[name]
        nb.peer = peer
        nb.ctx = ctx
        nb.families = frozenset((int(a), int(s)) for a, s in families)
        if nb.adj_in is None:
            nb.adj_in = AdjRibIn(peer, table=nb.import_table)
        else:
            nb.adj_in.peer = peer  # stale paths from before a graceful restart stay until EoR
        nb.adj_out.clear()
        nb.builder.clear()
        nb.export_cache.clear()
        nb.sync = list(self.loc.prefixes())
        nb.sync_pos = 0
        return []

    def sync_pending(self) -> bool:
        return any(nb.sync is not None for nb in self.neighbors.values())

    def sync_step(self, now: float, budget: int | None = None) -> bool:
        """Export up to `budget` prefixes of one pending initial sync (all of every sync when None);
        True while work remains. Prefixes that changed meanwhile were exported by the change
        itself; looking up the current best here keeps both consistent (the builder keeps the last
        word per prefix)."""
        for nb in self.neighbors.values():
            sync = nb.sync
            if sync is None:
                continue
            end = len(sync) if budget is None else min(len(sync), nb.sync_pos + budget)
            # A second ToR coming up gets the first one's table: all refused (iBGP to a non-client).
            # As in `_export_changes`, the verdict is taken per origin, and a refused path of a
            # prefix never sent, with nothing queued, is skipped: `_export_one` would do nothing.
            target, sent, builder, loc_best = nb.peer, nb.adj_out.sent, nb.builder, self.loc.best
            origin: PeerInfo | None = None
            refused = False
            for prefix in sync[nb.sync_pos:end]:
                best = loc_best(prefix)
                if best is None:
                    continue
                if target is not None and best.peer is not origin:
                    origin = best.peer
                    refused = never_exported(origin, target)
                if not (refused and prefix not in sent and not len(builder)):
                    self._export_one(nb, prefix, best, now)
            nb.sync_pos = end
            if end >= len(sync):
                nb.sync = None
                nb.builder.queue_end_of_rib(sorted(nb.families), now)
            if budget is not None:
                break
        return self.sync_pending()

    def neighbor_down(self, name: str, now: float, *, graceful_restart_time: float | None = None,
                      families: Iterable[Family] | None = None) -> list[BestChange]:
        """The session went down (or BFD said so). Without graceful restart every path of the
        neighbor leaves the Loc-RIB in one batch. With it (the peer advertised RFC 4724 with a
        restart time), the paths are kept stale until End-of-RIB or `now + graceful_restart_time`."""
        nb = self.neighbors[name]
        adj = nb.adj_in
        self._forget_session(nb)
        if adj is None:
            return []
        fams = None if families is None else {(int(a), int(s)) for a, s in families}
        if not adj.table:
            adj.eor_received.clear()
            if graceful_restart_time is not None and graceful_restart_time > 0 and self.loc.count(name):
                self.loc.mark_stale(name, fams)  # in place: same forwarding, nobody to notify
                nb.stale_deadline = now + graceful_restart_time
                if fams is None:
                    return []
                dropped = [(k, p) for k, p in self.loc.paths_of(name) if family_of(k) not in fams]
                return self._remove_paths(dropped, now)  # families the peer does not preserve go at once
            nb.stale_deadline = None
            changes = self.loc.remove_peer(name, self.loc.prefixes_of(name) if self.loc.count(name) else [])
            self._export_changes(changes, now)
            return changes
        if graceful_restart_time is not None and graceful_restart_time > 0 and adj.pre:
            for prefix in adj.mark_stale(fams):
                base = prefix.without_path_id()
                path = self.loc.path_of(base, name, prefix.path_id)
                if path is not None and not path.stale:  # same forwarding: nobody to notify
                    self.loc.update(base, path.peer, dataclasses.replace(path, stale=True), prefix.path_id)
            nb.stale_deadline = now + graceful_restart_time
            if fams is not None:  # families the peer does not preserve go at once
                gone = [p for p in adj.pre if family_of(p) not in fams]
                for prefix in gone:
                    adj.store(prefix, None)
                return self._apply_loc([(p, adj.peer, None) for p in gone], now)
            return []
        prefixes = adj.clear()
        nb.stale_deadline = None
        changes = self.loc.remove_peer(adj.peer.name, (p.without_path_id() for p in prefixes))
        self._export_changes(changes, now)
        return changes

    @staticmethod
    def _forget_session(nb: NeighborRib) -> None:
        """What every way of losing a session shares: no peer, context or initial sync any more, and
        nothing left to send (the Adj-RIB-Out is rebuilt when the next session comes up)."""
        nb.peer = None
        nb.ctx = None
        nb.sync = None
        nb.adj_out.clear()
        nb.builder.clear()

    def neighbor_detach(self, name: str) -> list[Prefix]:
        """Session lost without graceful restart (BFD Down): forget the session and the Adj-RIB-In
        at once and return the Loc-RIB keys of the neighbor's paths, which the caller removes with
        `flush_paths` in slices (a full table takes seconds; BFD and keepalives must not wait)."""
        nb = self.neighbors[name]
        adj = nb.adj_in
        self._forget_session(nb)
        nb.stale_deadline = None
        if adj is not None and not adj.table:
            adj.eor_received.clear()
            # A walk of the Loc-RIB (docs/performance.md, session 5), unless the neighbor holds nothing.
            return self.loc.prefixes_of(name) if self.loc.count(name) else []
        return [] if adj is None else [p.without_path_id() for p in adj.clear()]

    def flush_paths(self, name: str, prefixes: Iterable[Prefix], now: float) -> list[BestChange]:
        """Remove `name`'s paths for `prefixes` (a slice of `neighbor_detach`'s list) from the
        Loc-RIB; returns the changes, also queued for export. Prefixes the neighbor's new session
        already re-announced keep their new path (so the flush may interleave with a reconnect;
        without ADD-PATH, where one path per prefix and neighbor makes that exact). Without an import
        table the new session's paths are those whose `peer` is its `PeerInfo` object."""
        nb = self.neighbors[name]
        adj, current = nb.adj_in, nb.peer
        if adj is not None and adj.pre:
            prefixes = [p for p in prefixes if p not in adj.pre]
        elif current is not None and adj is not None and not adj.table:
            candidates = self.loc.candidates
            prefixes = [p for p in prefixes if not any(c.peer is current for c in candidates(p))]
        changes = self.loc.remove_peer(name, prefixes)
        self._export_changes(changes, now)
        return changes

    # -- receiving ---------------------------------------------------------------------------

    def receive(self, name: str, update: Update, now: float) -> list[BestChange]:
        """Apply one UPDATE from an Established neighbor: loop checks, RFC 7606 treat-as-withdraw,
        import policy, Loc-RIB; returns the best-path changes (also queued for export)."""
        nb = self.neighbors[name]
        peer, adj = nb.peer, nb.adj_in
        if peer is None or adj is None:
            return []
        nb.received_updates += 1
        # End-of-RIB carries no NLRI and no withdrawn routes: the test is skipped for the others.
        eor = None if update.nlri or update.withdrawn else update_end_of_rib(update)
        if eor is not None:
            adj.eor_received.add(eor)
            swept = self._sweep(nb, adj, eor, now)
            if not (adj.stale if adj.table else self.loc.stale_count(name)):
                nb.stale_deadline = None
            return swept
        attrs = update.attributes
        nlri = update.nlri
        if (len(nlri) == 1 and attrs is not None and not update.withdrawn and update.mp_reach is None
                and update.mp_unreach is None and update.fault is None and attrs.originator_id is None
                and not attrs.cluster_list and not peer.ebgp):
            # One prefix, attributes intact, nothing to withdraw, no loop check to run (iBGP, no
            # RFC 4456 attributes): the shape of every UPDATE of a table sent one prefix per message
            # (feed (c)); the general code below gives the same result through more temporaries.
            policy = nb.import_policy if nb.import_policy is not None else default_policy(peer)
            if policy.prefix_free and nb.ctx is not None and not nb.ctx.addpath_rx:
                changes: list[BestChange] = []
                self._receive_one(adj, peer, policy, attrs, nlri[0], changes)
                self._export_changes(changes, now)
                return changes
        withdrawn: list[Prefix] = list(update.withdrawn)
        if update.mp_unreach is not None:
            withdrawn.extend(p for p in update.mp_unreach.nlri if isinstance(p, Prefix))
        # The announced prefixes as runs sharing their next hops: the NLRI field (NEXT_HOP), then
        # MP_REACH's (its next hops).
        runs: list[Run] = [((), update.nlri)] if update.nlri else []
        if (mp := update.mp_reach) is not None:
            runs.append((mp.next_hops, [p for p in mp.nlri if isinstance(p, Prefix)]))
        fault = update.fault
        if not runs:
            pass
        elif attrs is None or (fault is not None and fault.action is not UpdateAction.ATTRIBUTE_DISCARD):
            withdrawn.extend(p for _, run in runs for p in run)  # RFC 7606 treat-as-withdraw
            runs = []
        elif ((attrs.originator_id is not None or attrs.cluster_list or peer.ebgp)  # what it reads
              and loop_reason(attrs, peer, router_id=self.router_id, cluster_id=self.cluster_id) is not None):
            nb.loops += sum(len(run) for _, run in runs)
            withdrawn.extend(p for _, run in runs for p in run)  # a looped route replaces what we had
            runs = []
        # Adj-RIB-In keys keep the RFC 7911 path identifier (one entry per path the peer sent); the
        # Loc-RIB tells a peer's paths of one prefix apart by it. The loops below are the per-prefix
        # hot path of a feed, so they call the Loc-RIB directly rather than through `_apply_loc`.
        changes = []
        loc_update, keep = self.loc.update, adj.table
        for prefix in withdrawn:  # without a table, a prefix the peer never had (or we rejected) is a no-op
            if keep:
                if prefix not in adj.pre:
                    continue
                adj.store(prefix, None)
            change = loc_update(prefix.without_path_id(), peer, None, prefix.path_id)
            if change is not None:
                changes.append(change)
        if runs and attrs is not None:
            policy = nb.effective_import(peer)
            if policy.prefix_free and nb.ctx is not None and not nb.ctx.addpath_rx:
                self._receive_runs(adj, peer, policy, attrs, runs, changes)
            else:
                self._receive_each(adj, peer, policy, attrs, runs, changes)
        self._export_changes(changes, now)
        return changes

    def _remove_paths(self, gone: Sequence[tuple[Prefix, Path]], now: float) -> list[BestChange]:
        """Remove these (Loc-RIB key, candidate) pairs; the changes are returned and queued for export."""
        changes: list[BestChange] = []
        for key, path in gone:
            change = self.loc.update(key, path.peer, None, path.path_id)
            if change is not None:
                changes.append(change)
        self._export_changes(changes, now)
        return changes

    def _sweep(self, nb: NeighborRib, adj: AdjRibIn, family: Family | None, now: float) -> list[BestChange]:
        """Withdraw `nb`'s paths still stale (of `family`, or all): RFC 4724 4.2 End-of-RIB or restart
        timer, RFC 7313 EoRR. Without an import table they are the Loc-RIB's stale candidates."""
        if adj.table:
            return self._apply_loc([(p, adj.peer, None) for p in adj.sweep_stale(family)], now)
        return self._remove_paths([(k, p) for k, p in self.loc.paths_of(nb.name, stale_only=True)
                                   if family is None or family_of(k) == family], now)

    def _apply_loc(
        self, work: Sequence[tuple[Prefix, PeerInfo, Path | None]], now: float
    ) -> list[BestChange]:
        changes: list[BestChange] = []
        for prefix, peer, path in work:
            change = self.loc.update(prefix.without_path_id(), peer, path, prefix.path_id)
            if change is not None:
                changes.append(change)
        self._export_changes(changes, now)
        return changes

    # -- local origination --------------------------------------------------------------------

    def local_origin(self, name: str, source: Source = Source.STATIC, *, table: int | None = None,
                     interface: str | None = None) -> PeerInfo:
        """The origin record of locally originated routes (one per source, e.g. "direct:node0")."""
        if name not in self.origins:
            info = PeerInfo(name=name, source=source, asn=self.local_as, local_as=self.local_as,
                            router_id=self.router_id, table=table, interface=interface)
            self.origins[name] = (info, {})
        return self.origins[name][0]

    def originate(self, prefix: Prefix, attributes: PathAttributes, origin: PeerInfo, now: float,
                  next_hops: tuple[IPAddress, ...] = ()) -> list[BestChange]:
        """Add or replace a locally originated route; it takes part in the decision process."""
        if origin.name not in self.origins:
            self.origins[origin.name] = (origin, {})
        path = Path(attributes=self.interner.intern(attributes), peer=origin, next_hops=next_hops)
        self.origins[origin.name][1][prefix] = path
        return self._apply_loc([(prefix, origin, path)], now)

    def withdraw_local(self, prefix: Prefix, origin: PeerInfo, now: float) -> list[BestChange]:
        routes = self.origins.get(origin.name)
        if routes is None or routes[1].pop(prefix, None) is None:
            return []
        return self._apply_loc([(prefix, origin, None)], now)

    # -- export --------------------------------------------------------------------------------

    def _export_one(self, nb: NeighborRib, prefix: Prefix, best: Path | None, now: float) -> None:
        target = nb.peer
        if target is None or family_of(prefix) not in nb.families:
            return
        out: Path | None = None
        if (best is not None and not never_exported(best.peer, target)
                and not nb.effective_export(target).rejects_all):
            out = self._exported(nb, target, prefix, best)
        if out is None and prefix not in nb.adj_out.sent:
            nb.builder.discard(prefix)  # nothing sent: nothing to withdraw
            return
        nb.builder.queue(prefix, out, now)

    def _exported(self, nb: NeighborRib, target: PeerInfo, prefix: Prefix, best: Path) -> Path | None:
        """`best` as `target` receives it: `export_path` (cached per attribute set and origin), then
        the export policy; None when it is not advertised."""
        attrs, origin = best.attributes, best.peer
        key = (id(attrs), id(origin), best.next_hops, best.stale, int(prefix.afi))
        hit = nb.export_cache.get(key)
        if hit is not None and hit[0] is attrs and hit[1] is origin:
            out = hit[2]
        else:
            out = export_path(best, prefix, target, router_id=self.router_id, cluster_id=self.cluster_id,
                              next_hop_self=nb.next_hop_self, interner=self.interner)
            if len(nb.export_cache) >= EXPORT_CACHE_LIMIT:
                nb.export_cache.clear()
            nb.export_cache[key] = (attrs, origin, out)
        if out is None:
            return None
        return nb.effective_export(target).apply(
            out, PolicyContext(prefix=prefix, neighbor=target, export=True), self.interner)

    def _export_changes(self, changes: Sequence[BestChange], now: float) -> None:
        """Queue `changes` for every Established neighbor. The hot loop of a feed: a server's two ToRs
        each get every best change, and every one of them is an iBGP-learned path that `export_path`
        would refuse (RFC 4271 9.2 / RFC 4456 8), so that verdict is taken once per origin here
        instead of once per prefix, and refused paths never reach the export cache."""
        if not changes:
            return
        # One UPDATE of one prefix (feed (c)): its origin and prefix, read once for every neighbor.
        origin: PeerInfo | None = None
        single: Prefix | None = None
        if len(changes) == 1 and (only := changes[0].best) is not None:
            origin, single = only.peer, changes[0].prefix
        for nb in self.neighbors.values():
            target = nb.peer
            if target is None:
                continue
            sent, builder, families = nb.adj_out.sent, nb.builder, nb.families
            last_origin, last_target, refused = nb.export_verdict
            if last_target is not target:
                last_origin = None
            elif (refused and origin is last_origin and origin is not None and single not in sent
                  and not len(builder)):
                continue  # refused, never sent, nothing queued to drop: no work at all (the feed's case)
            # Nothing queued: a refused path of a prefix never sent needs no work at all (the server's
            # own /32 in `sent` does not change that, so this is not "nothing sent").
            empty = not len(builder)
            export = nb.export_policy if nb.export_policy is not None else default_policy(target)
            if export.rejects_all:  # e.g. `export = "reject"` towards the lb
                if sent or len(builder):
                    for change in changes:
                        if change.prefix in sent:
                            builder.queue(change.prefix, None, now)
                        else:
                            builder.discard(change.prefix)
                continue
            for change in changes:
                prefix, best = change.prefix, change.best
                out: Path | None = None
                if best is not None:
                    if best.peer is not last_origin:
                        last_origin = best.peer
                        refused = never_exported(last_origin, target)
                        nb.export_verdict = (last_origin, target, refused)
                    if refused and empty and prefix not in sent:
                        continue
                if (prefix.afi, 1) not in families:  # unicast of a family the session did not negotiate
                    continue
                if best is not None and not refused:
                    out = self._exported(nb, target, prefix, best)
                if out is None and prefix not in sent:
                    if not empty:
                        builder.discard(prefix)  # nothing sent: nothing to withdraw
                else:
                    builder.queue(prefix, out, now)
                    empty = False

    def set_import_policy(self, name: str, policy: Policy | None, now: float) -> list[BestChange]:
        """Install a new import policy and re-run it over the routes the peer sent (kept as received
        in the Adj-RIB-In, so no ROUTE-REFRESH is needed: soft reconfiguration). Without an import
        table only installs it: the routes must be sent again (`Speaker.set_import_policy`)."""
        nb = self.neighbors[name]
        nb.import_policy = policy
        adj = nb.adj_in
        if adj is None or nb.peer is None or not adj.table:
            return []
        pol = nb.effective_import(nb.peer)
        work: list[tuple[Prefix, PeerInfo, Path | None]] = []
        adj.rejected.clear()
        for prefix, received in adj.pre.items():
            accepted = pol.apply(received, PolicyContext(prefix=prefix, neighbor=nb.peer), self.interner)
            if accepted is None:
                adj.rejected.add(prefix)
            current = self.loc.path_of(prefix.without_path_id(), name, prefix.path_id)
            if accepted is None and current is None:
                continue
            if accepted is not None and current is not None and same_route(accepted, current):
                continue
            work.append((prefix, adj.peer, accepted))
        return self._apply_loc(work, now)

    def accepted_count(self, name: str) -> int:
        """How many paths the neighbor contributes to the Loc-RIB, in O(1) (`len(accepted(name))`
        walks the table: fine for `show rib-in`, not for a tick or `show neighbors`)."""
        adj = self.neighbors[name].adj_in
        if adj is None:
            return 0
        return adj.accepted_count if adj.table else self.loc.count(name)

    def counts(self, name: str) -> tuple[int, int, int]:
        """(received, accepted, stale) paths of the neighbor, in O(1). Without an import table the
        rejected paths are not kept, so received counts the accepted ones."""
        adj = self.neighbors[name].adj_in
        if adj is None:
            return (0, 0, 0)
        if adj.table:
            return (len(adj.pre), adj.accepted_count, len(adj.stale))
        return (self.loc.count(name), self.loc.count(name), self.loc.stale_count(name))

    def accepted(self, name: str) -> dict[Prefix, Path]:
        """The neighbor's post-policy paths (what it contributes to the Loc-RIB), keyed with their
        RFC 7911 path identifiers."""
        adj = self.neighbors[name].adj_in
        if adj is None:
            return {}
        out: dict[Prefix, Path] = {}
        if not adj.table:
            for key, held in self.loc.paths_of(name):
                pid = held.path_id
                out[Prefix(key.afi, key.network, key.length, pid) if pid else key] = held
            return out
        for prefix in adj.pre:
            path = self.loc.path_of(prefix.without_path_id(), name, prefix.path_id)
            if path is not None:
                out[prefix] = path
        return out

    def set_export_policy(self, name: str, policy: Policy | None, now: float) -> None:
        """Install a new export policy and queue the differences for that neighbor."""
        nb = self.neighbors[name]
        nb.export_policy = policy
        if nb.peer is None:
            return
        for prefix, paths in self.loc.items():
            self._export_one(nb, prefix, paths[0], now)
        for prefix in [p for p in nb.adj_out.sent if p not in self.loc]:
            nb.builder.queue(prefix, None, now)

    def route_refresh(self, name: str, afi: int, safi: int) -> list[bytes]:
        """The peer sent ROUTE-REFRESH (RFC 2918 section 4): the Adj-RIB-Out of that family again."""
        nb = self.neighbors[name]
        if nb.ctx is None:
            return []
        return nb.builder.resend_all(nb.adj_out, nb.ctx, [(afi, safi)])

    def refresh_begin(self, name: str, family: Family) -> int:
        """The peer sent BoRR (RFC 7313 section 4.2): its routes of `family` become stale until
        re-advertised; returns how many."""
        adj = self.neighbors[name].adj_in
        if adj is None:
            return 0
        fams = {(int(family[0]), int(family[1]))}
        return len(adj.mark_stale(fams)) if adj.table else self.loc.mark_stale(name, fams)

    def refresh_end(self, name: str, family: Family, now: float) -> list[BestChange]:
        """The peer sent EoRR (RFC 7313 section 4.2): what it did not re-advertise is withdrawn."""
        nb = self.neighbors[name]
        if nb.adj_in is None:
            return []
        return self._sweep(nb, nb.adj_in, (int(family[0]), int(family[1])), now)

    # -- time ----------------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        deadlines = [d for nb in self.neighbors.values()
                     for d in (nb.builder.next_deadline(), nb.stale_deadline) if d is not None]
        return min(deadlines) if deadlines else None

    def tick(self, now: float) -> list[BestChange]:
        """Sweep stale paths whose graceful-restart timer expired (RFC 4724 4.2)."""
        changes: list[BestChange] = []
        for nb in self.neighbors.values():
            if nb.stale_deadline is not None and now >= nb.stale_deadline and nb.adj_in is not None:
                nb.stale_deadline = None
                changes.extend(self._sweep(nb, nb.adj_in, None, now))
        return changes

    def output(
        self, now: float, *, force: bool = False, max_prefixes: int | None = None
    ) -> dict[str, list[bytes]]:
        """UPDATE bytes due at `now` per Established neighbor name."""
        out: dict[str, list[bytes]] = {}
        for name in self.neighbors:
            msgs = self.output_for(name, now, force=force, max_prefixes=max_prefixes)
            if msgs:
                out[name] = msgs
        return out

    def output_for(
        self, name: str, now: float, *, force: bool = False, max_prefixes: int | None = None
    ) -> list[bytes]:
        """UPDATE bytes due at `now` for one neighbor (the caller skips a peer that cannot write)."""
        nb = self.neighbors[name]
        if nb.ctx is None:
            return []
        return nb.builder.build(nb.adj_out, nb.ctx, now, force=force, max_prefixes=max_prefixes)
