"""The library API: a BGP speaker on the running event loop, in a few lines.

    speaker = Speaker(local_as=64600, router_id=IPv4Address("10.69.0.3"), listen_port=None)
    await speaker.start()
    speaker.add_neighbor(PeerSettings(local_as=64600, remote_as=64600, router_id=..., remote_address=...))
    speaker.announce("10.69.0.3/32", next_hop="10.69.0.70")
    async for change in speaker.changes():
        print(change.prefix, change.best)

Owns: `Speaker` (glue from each `Peer`'s handler callbacks to the sans-IO `pybgp.rib.manager.Rib`
and from the Rib's queued UPDATEs back to the peers), the one worker task that processes received
UPDATEs in slices that yield to the loop, the batching timer, `changes()` streams and
`on_best_change` callbacks (batches of `BestChange` for the kernel layer, optionally filtered by a
kernel export policy), BFD-driven `neighbor_down`, route refresh both ways, neighbor
enable/disable/reset, and read-only views for `pybgpctl` (their types: `speaker_views`).
Never does: route selection or policy (the Rib does), session protocol (the Peer does), or touch
the kernel (the daemon maps `BestChange`s to `FibRoute`s).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass

from pybgp.aio.listener import Listener
from pybgp.aio.peer import Peer
from pybgp.aio.read_throttle import ReadThrottle
from pybgp.aio.speaker_views import NeighborView, RouteView, kernel_view, route_views
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.negotiate import Negotiated
from pybgp.fsm.states import State
from pybgp.rib.decision import DEFAULT_OPTIONS, DecisionOptions
from pybgp.rib.manager import Rib, update_end_of_rib
from pybgp.rib.policy import Policy
from pybgp.rib.route import BestChange, IPNetwork, Path, PeerInfo, Source
from pybgp.rib.update_builder import DEFAULT_BATCH_DELAY
from pybgp.wire.attributes import AsPathSegment, IPAddress, LargeCommunity, PathAttributes
from pybgp.wire.constants import AsPathSegmentType, CeaseSubcode, Origin, RouteRefreshSubtype
from pybgp.wire.context import Family
from pybgp.wire.messages import Notification, RouteRefresh, Update
from pybgp.wire.nlri import Prefix

log = logging.getLogger(__name__)

SLICE_SECONDS = 0.005
"""Longest stretch of RIB work before the worker yields to the loop (timers, BFD, keepalives)."""
SYNC_SLICE = 2000  # prefixes of an initial export per slice (a few ms each)
BUILD_SLICE = 1000
"""Prefixes turned into UPDATEs per peer per slice (all-different attributes: ~20-60 ms, the slow case)."""
FLUSH_SLICE = 2000  # prefixes of a dead session removed from the Loc-RIB per worker slice

BestChangeCallback = Callable[[list[BestChange]], None]


@dataclass(slots=True, kw_only=True)
class _Neighbor:
    name: str
    peer: Peer
    subnet: IPNetwork | None
    rr_client: bool
    enabled: bool = True
    negotiated: Negotiated | None = None
    established_since: float | None = None
    last_down_reason: str = ""


def _session_local_address(peer: Peer) -> IPAddress | None:
    """Our address on the session: configured, else the connected socket's (for next-hop-self)."""
    if peer.settings.local_address is not None:
        return peer.settings.local_address
    endpoint = peer.local_endpoint
    return endpoint[0] if endpoint is not None else None


class Speaker:
    """A BGP speaker: neighbors, originated routes, the RIB, and streams of best-path changes."""

    def __init__(
        self,
        *,
        local_as: int,
        router_id: ipaddress.IPv4Address | str,
        cluster_id: ipaddress.IPv4Address | None = None,
        options: DecisionOptions = DEFAULT_OPTIONS,
        batch_delay: float = DEFAULT_BATCH_DELAY,
        listen_addresses: Sequence[str] = ("::",),
        listen_port: int | None = None,
    ) -> None:
        self.local_as = local_as
        self.router_id = ipaddress.IPv4Address(router_id)
        self.rib = Rib(local_as=local_as, router_id=self.router_id, cluster_id=cluster_id, options=options,
                       batch_delay=batch_delay)
        self.listener: Listener | None = (
            Listener(addresses=listen_addresses, port=listen_port) if listen_port is not None else None
        )
        self._neighbors: dict[str, _Neighbor] = {}
        self._events: deque[tuple[str, str, object]] = deque()
        self._wake = asyncio.Event()
        self._worker: asyncio.Task[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._callbacks: list[tuple[BestChangeCallback, Policy | None]] = []
        self._streams: list[asyncio.Queue[BestChange | None]] = []
        self._running = False
        self._draining = False
        self._static = self.rib.local_origin("static", Source.STATIC)
        self._throttle = ReadThrottle()  # read back-pressure on the queue of decoded UPDATEs

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the worker (and the listener when `listen_port` was given), then every neighbor."""
        if self._running:
            return
        self._running = True
        if self.listener is not None:
            await self.listener.start()
        self._worker = asyncio.get_running_loop().create_task(self._run(), name="pybgp-speaker")
        for nb in self._neighbors.values():
            if nb.enabled and not nb.peer.started:
                nb.peer.start()

    async def stop(self) -> None:
        """Stop every neighbor (Cease), the listener and the worker; end `changes()` streams."""
        self._running = False
        await asyncio.gather(*(nb.peer.stop() for nb in self._neighbors.values()), return_exceptions=True)
        if self.listener is not None:
            await self.listener.close()
        if self._timer is not None:
            self._timer.cancel()
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        for q in self._streams:
            q.put_nowait(None)

    async def __aenter__(self) -> Speaker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def listen_port(self) -> int | None:
        return self.listener.port if self.listener is not None else None

    # -- neighbors ----------------------------------------------------------------------------

    def add_neighbor(
        self,
        settings: PeerSettings,
        *,
        import_policy: Policy | None = None,
        export_policy: Policy | None = None,
        next_hop_self: bool = False,
        rr_client: bool = False,
        subnet: IPNetwork | str | None = None,
        enabled: bool = True,
        import_table: bool = True,
    ) -> Peer:
        """Configure a neighbor (policies default to RFC 8212: eBGP rejects, iBGP accepts). `subnet` is
        the link's network, read by the "peer-unless-same-subnet" next-hop action (TARGET rule 4).
        `import_table=False` keeps no pre-policy Adj-RIB-In (`Rib.add_neighbor`, `set_import_policy`)."""
        name = settings.display_name
        if name in self._neighbors:
            raise ValueError(f"neighbor {name!r} already configured")
        peer = Peer(settings, self)
        net = ipaddress.ip_network(subnet, strict=False) if isinstance(subnet, str) else subnet
        self._neighbors[name] = _Neighbor(name=name, peer=peer, subnet=net, rr_client=rr_client,
                                          enabled=enabled)
        self.rib.add_neighbor(name, import_policy=import_policy, export_policy=export_policy,
                              next_hop_self=next_hop_self, rr_client=rr_client, import_table=import_table)
        if self.listener is not None:
            self.listener.add_peer(peer)
        if self._running and enabled:
            peer.start()
        return peer

    async def remove_neighbor(self, name: str) -> None:
        self._flush_head(name, whole=True)  # finish a BFD-down flush first
        self._events = deque(e for e in self._events if e[1] != name)
        nb = self._neighbors.pop(name)
        await nb.peer.stop(CeaseSubcode.PEER_DECONFIGURED)
        if self.listener is not None:
            self.listener.remove_peer(nb.peer)
        self._deliver(self.rib.remove_neighbor(name, self._now()))

    def peer(self, name: str) -> Peer:
        return self._neighbors[name].peer

    async def disable_neighbor(self, name: str, message: str = "") -> None:
        nb = self._neighbors[name]
        nb.enabled = False
        await nb.peer.stop(CeaseSubcode.ADMINISTRATIVE_SHUTDOWN, message)

    def enable_neighbor(self, name: str) -> None:
        nb = self._neighbors[name]
        nb.enabled = True
        if self._running and not nb.peer.started:
            nb.peer.start()

    def reset_neighbor(self, name: str, message: str = "") -> None:
        self._neighbors[name].peer.reset(CeaseSubcode.ADMINISTRATIVE_RESET, message, retry_after=1.0)

    def refresh_neighbor(self, name: str) -> bool:
        """Ask the peer to resend its routes (RFC 2918); False when it did not offer route refresh."""
        nb = self._neighbors[name]
        neg = nb.negotiated
        if neg is None or not neg.route_refresh:
            return False
        for afi, safi in sorted(neg.families):
            nb.peer.send_route_refresh(afi, safi)
        return True

    def set_import_policy(self, name: str, policy: Policy | None, *, refresh: bool = False) -> str:
        """New import policy, re-run at once over the routes as received when the neighbor keeps them
        (its import table): "rerun". With `refresh`, or without the table, the peer is asked to resend
        them (RFC 2918): "refresh"; without the table and route refresh, the session is reset (Cease
        Administrative Reset, RFC 4486, as BIRD does): "reset". "pending": no session, the next uses it."""
        kept = self.rib.neighbors[name].import_table
        self._deliver(self.rib.set_import_policy(name, policy, self._now()))
        action = "rerun" if kept else "pending"
        if (refresh or not kept) and self.refresh_neighbor(name):
            action = "refresh"
        elif not kept and self._neighbors[name].negotiated is not None:
            self.reset_neighbor(name, "import policy changed (no import table, no route refresh)")
            action = "reset"
        self._kick()
        return action

    def set_export_policy(self, name: str, policy: Policy | None) -> None:
        self.rib.set_export_policy(name, policy, self._now())
        self._kick()

    def neighbor_down(self, name: str, reason: str = "BFD down", retry_after: float | None = 1.0) -> None:
        """BFD (or carrier loss) says the neighbor is gone (no graceful restart: the path failed): reset
        the session at once (RFC 9384 Cease BFD Down), drop its queued UPDATEs, then flush its routes
        in worker slices (`_flush_slice`). The daemon removes the dead nexthop from the kernel first."""
        nb = self._neighbors[name]
        nb.last_down_reason = reason
        nb.negotiated = None
        nb.established_since = None
        nb.peer.reset(CeaseSubcode.BFD_DOWN, reason, retry_after=retry_after)
        self._events = deque(e for e in self._events if e[1] != name or e[0] == "flush")
        prefixes = self.rib.neighbor_detach(name)
        if prefixes:  # the first slice now (a small table is gone at once); all of it without a worker
            self._events.appendleft(("flush", name, prefixes))
            self._flush_head(name, whole=not self._running)
        self._kick()

    # -- originating --------------------------------------------------------------------------

    def announce(
        self,
        prefix: Prefix | str,
        *,
        next_hop: IPAddress | str | None = None,
        origin: Origin = Origin.IGP,
        as_path: Sequence[int] = (),
        med: int | None = None,
        local_pref: int | None = None,
        communities: Sequence[int] = (),
        large_communities: Sequence[LargeCommunity] = (),
        source: PeerInfo | None = None,
    ) -> None:
        """Originate `prefix` (a static route unless `source` names another origin, e.g. the
        daemon's "direct:node0" or "kernel:119"). Without `next_hop` peers get our session address."""
        key = Prefix.parse(prefix) if isinstance(prefix, str) else prefix
        nh = ipaddress.ip_address(next_hop) if isinstance(next_hop, str) else next_hop
        attrs = PathAttributes(
            origin=origin,
            as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, tuple(as_path)),) if as_path else (),
            next_hop=nh if isinstance(nh, ipaddress.IPv4Address) else None,
            med=med,
            local_pref=local_pref,
            communities=tuple(communities),
            large_communities=tuple(large_communities),
        )
        next_hops = (nh,) if isinstance(nh, ipaddress.IPv6Address) else ()
        self._deliver(self.rib.originate(key, attrs, source or self._static, self._now(), next_hops))
        self._kick()

    def withdraw(self, prefix: Prefix | str, *, source: PeerInfo | None = None) -> None:
        key = Prefix.parse(prefix) if isinstance(prefix, str) else prefix
        self._deliver(self.rib.withdraw_local(key, source or self._static, self._now()))
        self._kick()

    def local_origin(
        self, name: str, source: Source, *, table: int | None = None, interface: str | None = None
    ) -> PeerInfo:
        """The origin record for `announce(source=...)`: "direct:node0", "kernel:119", ..."""
        return self.rib.local_origin(name, source, table=table, interface=interface)

    # -- results --------------------------------------------------------------------------------

    def on_best_change(self, callback: BestChangeCallback, policy: Policy | None = None) -> None:
        """Call `callback(batch)` on the loop with each batch of best-path changes; with `policy`
        (a kernel export policy) the batch is filtered through `kernel_view` first."""
        self._callbacks.append((callback, policy))

    async def changes(self) -> AsyncIterator[BestChange]:
        """Every best-path change from now on (starts with the current Loc-RIB); ends at `stop()`."""
        q: asyncio.Queue[BestChange | None] = asyncio.Queue()
        for prefix, paths in self.rib.loc.items():
            q.put_nowait(BestChange(prefix=prefix, best=paths[0], multipath=paths))
        self._streams.append(q)
        try:
            while True:
                item = await q.get()
                if item is None:
                    return
                yield item
        finally:
            self._streams.remove(q)

    def _deliver(self, changes: list[BestChange]) -> None:
        if not changes:
            return
        for q in self._streams:
            for change in changes:
                q.put_nowait(change)
        for callback, policy in self._callbacks:
            batch = kernel_view(changes, policy) if policy is not None else changes
            try:
                callback(batch)
            except Exception:
                log.exception("best-change callback failed")

    # -- views for pybgpctl ---------------------------------------------------------------------

    def neighbors(self) -> list[NeighborView]:
        out: list[NeighborView] = []
        for name, nb in self._neighbors.items():
            rnb = self.rib.neighbors[name]
            pre, post, stale = self.rib.counts(name)  # O(1): runs on every tick and `show`
            s = nb.peer.settings
            out.append(
                NeighborView(
                    name=name, address=str(s.remote_address), remote_as=s.remote_as, state=str(nb.peer.state),
                    enabled=nb.enabled, established_since=nb.established_since, received=pre, accepted=post,
                    advertised=len(rnb.adj_out), stale=stale, last_down_reason=nb.last_down_reason,
                )
            )
        return out

    def routes(self, prefix: Prefix | None = None, *, all_paths: bool = False) -> list[RouteView]:
        """Loc-RIB: best and multipath paths (every candidate with its `Reason` when `all_paths`)."""
        return route_views(self.rib.loc, prefix, all_paths=all_paths)

    def rib_in(self, name: str, *, post_policy: bool = True) -> dict[Prefix, Path]:
        """The neighbor's paths after import policy (from the Loc-RIB), or as received; the latter
        raises ValueError when the neighbor keeps no import table."""
        if post_policy:
            return self.rib.accepted(name)
        if not self.rib.neighbors[name].import_table:
            raise ValueError(f"neighbor {name} keeps no Adj-RIB-In as received (import_table = false)")
        adj = self.rib.neighbors[name].adj_in
        return dict(adj.pre) if adj is not None else {}

    def rib_out(self, name: str) -> dict[Prefix, tuple[PathAttributes, tuple[IPAddress, ...]]]:
        return dict(self.rib.neighbors[name].adj_out.sent)

    def best(self, prefix: Prefix | str) -> Path | None:
        return self.rib.loc.best(Prefix.parse(prefix) if isinstance(prefix, str) else prefix)

    # -- PeerHandler ------------------------------------------------------------------------------

    def on_established(self, peer: Peer) -> None:
        self._events.append(("up", peer.name, None))
        self._kick()

    def on_update(self, peer: Peer, update: Update) -> None:
        self._events.append(("update", peer.name, update))
        self._kick()

    def on_updates(self, peer: Peer, updates: list[Update]) -> None:
        """The UPDATEs of one socket read (the Peer's batched `on_update`): one queue item for all,
        applied in order by the worker in time slices like single ones. A subclass that hooks
        `on_update` but not `on_updates` keeps seeing every UPDATE through its hook."""
        cls = type(self)
        if cls.on_update is not Speaker.on_update and cls.on_updates is Speaker.on_updates:
            for update in updates:
                self.on_update(peer, update)
            return
        self._events.append(("updates", peer.name, updates))
        self._throttle.added(peer, updates)
        self._kick()

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None:
        self._events.append(("down", peer.name, (reason, notification)))
        self._kick()

    def on_route_refresh(self, peer: Peer, msg: RouteRefresh) -> None:
        self._events.append(("refresh", peer.name, msg))
        self._kick()

    def on_end_of_rib(self, name: str, family: Family) -> None:
        """Hook: `name`'s End-of-RIB for `family` was applied to the RIB (with every UPDATE before it).
        Subclasses override it (the daemon's kernel `update_delay` waits for these); nothing here."""

    # -- the worker -------------------------------------------------------------------------------

    def _now(self) -> float:
        with contextlib.suppress(RuntimeError):
            return asyncio.get_running_loop().time()
        return time.monotonic()

    def _kick(self) -> None:
        self._wake.set()

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        deadline = self.rib.next_deadline()
        if deadline is not None and self._running:
            loop = asyncio.get_running_loop()
            if deadline <= loop.time():
                # Work is due but held back (a peer over its write-buffer mark, whose drain wakes
                # us): poll gently rather than spin.
                deadline = loop.time() + max(self.rib.batch_delay, 0.001)
            self._timer = loop.call_at(deadline, self._kick)

    async def _run(self) -> None:
        while self._running:
            await self._wake.wait()
            self._wake.clear()
            try:
                await self._work()
            except Exception:
                log.exception("speaker worker failed; continuing")
                if self._events:
                    self._kick()  # the failed event is dropped; those behind it must not wait for a new one
                else:
                    self._throttle.drained()  # no neighbor stays paused behind a failed slice
            self._arm()

    async def _work(self) -> None:
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        while True:  # received events first; an initial export goes one slice at a time between them
            while self._events:
                kind, name, payload = self._events.popleft()
                if kind == "updates" and isinstance(payload, list):
                    self._throttle.taken(payload)
                    if name in self._neighbors:
                        self._receive_updates(name, payload, loop, started + SLICE_SECONDS)
                elif kind == "flush":
                    self._flush_slice(name, payload)
                elif name in self._neighbors:
                    self._handle(kind, name, payload)
                self._throttle.resume()
                if time.monotonic() - started > SLICE_SECONDS:
                    self._flush_output(loop.time())
                    await asyncio.sleep(0)
                    started = time.monotonic()
            self._throttle.drained()
            if not self.rib.sync_step(loop.time(), SYNC_SLICE):
                break
            self._flush_output(loop.time())
            await asyncio.sleep(0)
            started = time.monotonic()
        self._deliver(self.rib.tick(loop.time()))
        self._flush_output(loop.time())

    def _flush_head(self, name: str, *, whole: bool) -> None:
        """One slice of `name`'s flush now (the rest at the head), or all of it when `whole`."""
        while (found := next((e for e in self._events if e[:2] == ("flush", name)), None)) is not None:
            self._events.remove(found)
            self._flush_slice(name, found[2], front=True)
            if not whole:
                return

    def _flush_slice(self, name: str, prefixes: object, *, front: bool = False) -> None:
        """One slice of a dead session's paths; the rest queues at the back, so a reconnect's UPDATEs
        interleave (the Rib keeps re-announced paths) and ECMP is back early (ADD-PATH: at the head)."""
        nb = self._neighbors.get(name)
        if isinstance(prefixes, list) and nb is not None and name in self.rib.neighbors:
            head, prefixes[-FLUSH_SLICE:] = prefixes[-FLUSH_SLICE:], []
            if prefixes:
                (self._events.appendleft if front or nb.peer.settings.add_path_receive
                 else self._events.append)(("flush", name, prefixes))
            self._deliver(self.rib.flush_paths(name, head, self._now()))

    def _receive_updates(
        self, name: str, updates: list[Update], loop: asyncio.AbstractEventLoop, until: float
    ) -> None:
        """Apply `name`'s UPDATEs to the RIB in order, as `_handle` does one (each at its own loop
        time), until `time.monotonic()` passes `until`; the rest go back to the head of the queue for
        the next slice (also when one fails: only that one is lost, as with one event per UPDATE).
        The run's best-path changes go out in one `_deliver` (one callback, one kernel batch), and
        before any End-of-RIB hook, which must see every UPDATE before it applied and delivered."""
        receive, monotonic = self.rib.receive, time.monotonic
        changes: list[BestChange] = []
        done = 0
        try:
            for update in updates:
                done += 1
                changes += receive(name, update, loop.time())
                if (family := update_end_of_rib(update)) is not None:
                    self._deliver(changes)
                    changes = []
                    self.on_end_of_rib(name, family)
                if monotonic() > until:
                    break
        finally:
            self._deliver(changes)
            if done < len(updates):
                self._events.appendleft(("updates", name, updates[done:]))
                self._throttle.added_back(updates[done:])

    def _handle(self, kind: str, name: str, payload: object) -> None:
        nb = self._neighbors[name]
        now = self._now()
        if kind == "update" and isinstance(payload, Update):
            self._deliver(self.rib.receive(name, payload, now))
            if (family := update_end_of_rib(payload)) is not None:
                self.on_end_of_rib(name, family)
        elif kind == "up":
            neg = nb.peer.negotiated
            if neg is None:
                return
            nb.negotiated = neg
            nb.established_since = now
            s = nb.peer.settings
            info = PeerInfo(  # a new object per session: `Rib.flush_paths` tells sessions apart by it
                name=name, address=s.remote_address, asn=neg.remote_as, local_as=s.local_as,
                router_id=neg.remote_id, local_address=_session_local_address(nb.peer), subnet=nb.subnet,
                rr_client=nb.rr_client, interface=s.interface)
            self.rib.neighbor_up(name, info, neg.context, neg.families, now)
        elif kind == "down" and isinstance(payload, tuple):
            reason, notification = payload
            nb.last_down_reason = str(reason)
            gr_time = self._graceful_time(nb.negotiated, notification)
            nb.negotiated = None
            nb.established_since = None
            self._deliver(self.rib.neighbor_down(name, now, graceful_restart_time=gr_time))
        elif kind == "refresh" and isinstance(payload, RouteRefresh):
            self._route_refresh(nb, payload, now)

    def _route_refresh(self, nb: _Neighbor, msg: RouteRefresh, now: float) -> None:
        """RFC 2918 / RFC 7313: answer a request with the Adj-RIB-Out (between BoRR and EoRR when
        enhanced route refresh was negotiated); BoRR/EoRR from the peer bracket its re-advertisement,
        after which what it did not resend is withdrawn."""
        family = (msg.afi, msg.safi)
        if msg.subtype == RouteRefreshSubtype.NORMAL:
            msgs = self.rib.route_refresh(nb.name, msg.afi, msg.safi)
            enhanced = nb.negotiated is not None and nb.negotiated.enhanced_route_refresh
            if enhanced:
                nb.peer.send_route_refresh(msg.afi, msg.safi, RouteRefreshSubtype.BORR)
            nb.peer.send_messages(msgs)
            if enhanced:
                nb.peer.send_route_refresh(msg.afi, msg.safi, RouteRefreshSubtype.EORR)
        elif msg.subtype == RouteRefreshSubtype.BORR:
            self.rib.refresh_begin(nb.name, family)
        elif msg.subtype == RouteRefreshSubtype.EORR:
            self._deliver(self.rib.refresh_end(nb.name, family, now))

    @staticmethod
    def _graceful_time(neg: Negotiated | None, notification: Notification | None) -> float | None:
        """RFC 4724 4.2: keep the peer's routes when it advertised graceful restart and the session
        ended without a NOTIFICATION; RFC 8538 5: also after one when both sides set the N bit,
        unless it is a Hard Reset."""
        if neg is None or neg.graceful_restart is None or neg.graceful_restart.restart_time <= 0:
            return None
        if notification is not None:
            if not neg.graceful_notification:
                return None
            if notification.code == 6 and notification.subcode == CeaseSubcode.HARD_RESET:
                return None
        return float(neg.graceful_restart.restart_time)

    def _flush_output(self, now: float) -> None:
        for name, nb in self._neighbors.items():
            if nb.peer.state is not State.ESTABLISHED or not nb.peer.writable:
                continue
            msgs = self.rib.output_for(name, now, max_prefixes=BUILD_SLICE)
            if msgs:
                nb.peer.send_messages(msgs)
        if not self._draining and any(not nb.peer.writable for nb in self._neighbors.values()):
            self._draining = True
            asyncio.get_running_loop().create_task(self._wait_writable())

    async def _wait_writable(self) -> None:
        try:
            waiting = [nb.peer.drain() for nb in self._neighbors.values() if not nb.peer.writable]
            await asyncio.gather(*waiting, return_exceptions=True)
        finally:
            self._draining = False
            self._kick()
