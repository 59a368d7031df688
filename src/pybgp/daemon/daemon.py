"""`Daemon`: one config turned into a running speaker with BFD, kernel routes, origination and control.

Owns: the lifecycle (start in dependency order, graceful stop: Cease/Administrative Shutdown with an
RFC 9003 message to every peer, kernel routes flushed or kept), the glue between parts (best paths ->
`KernelExporter`; `KernelWatcher` events -> origination and carrier-loss handling; BFD changes -> nexthop
removal and session reset), reload by difference (untouched sessions stay up and keep their routes; policy
changes re-evaluate; a bad config never replaces a good one), the control-socket commands, and the
housekeeping tick (metrics, session state log, origination resync).
Never does: protocol work (Speaker/Peer/Rib), BFD timing (pybfd) or netlink (pybgp.fib).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import time
from dataclasses import replace
from typing import Any

from pybgp.aio.peer import Peer
from pybgp.aio.speaker import Speaker
from pybgp.daemon.bfd_glue import BfdGlue
from pybgp.daemon.config import ConfigErrors, load_config
from pybgp.daemon.control import CommandError, ControlServer
from pybgp.daemon.kernel import KernelExporter
from pybgp.daemon.logsetup import event, setup_logging
from pybgp.daemon.metrics import Metrics
from pybgp.daemon.origination import Origination
from pybgp.daemon.reconnect import Reconnector
from pybgp.daemon.schema import DaemonConfig, DynamicNeighborConfig, IPAddress, NeighborConfig
from pybgp.daemon.translate import compile_policy, peer_settings, resolve_neighbors
from pybgp.daemon.update_delay import KernelHold
from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import FibPort
from pybgp.rib.decision import DecisionOptions
from pybgp.rib.route import BestChange, PeerInfo, Source, best_change
from pybgp.wire.context import Family
from pybgp.wire.messages import Notification, Update
from pybgp.wire.nlri import Prefix

log = logging.getLogger("pybgp.daemon")

CARRIER_RETRY = 1.0  # seconds before reconnecting after carrier loss / BFD Down (BIRD waits error-wait)
RECONCILE_SETTLE = 3.0  # after a restart with kept routes: every session up this long -> drop leftovers
RECONCILE_DEADLINE = 60.0  # ... or this long after start, whatever the sessions do


class _DaemonSpeaker(Speaker):
    """The Speaker with the daemon listening to session events (logs, metrics, BFD/kernel bookkeeping)."""

    daemon: Daemon

    def on_established(self, peer: Peer) -> None:
        super().on_established(peer)
        self.daemon.hook("established", peer)

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None:
        super().on_down(peer, reason, notification)
        self.daemon.hook("down", peer, reason, notification)

    def on_update(self, peer: Peer, update: Update) -> None:
        super().on_update(peer, update)
        self.daemon.metrics.update_received(peer.name)

    def on_updates(self, peer: Peer, updates: list[Update]) -> None:
        super().on_updates(peer, updates)
        self.daemon.metrics.update_received(peer.name, len(updates))

    def on_end_of_rib(self, name: str, family: Family) -> None:
        self.daemon.kernel_hold.check()


class Daemon:
    """pybgpd. `kernel=False` keeps it off the host's kernel (MemoryFib, no watcher): unit tests."""

    def __init__(
        self,
        cfg: DaemonConfig,
        *,
        config_path: str | None = None,
        kernel: bool = True,
        fib: FibPort | None = None,
        bfd_service: Any = None,
        watcher: Any = None,
    ) -> None:
        self.cfg = cfg
        self.config_path = config_path
        self.use_kernel = kernel
        self.metrics = Metrics()
        self.fib: FibPort = fib if fib is not None else MemoryFib()
        self._fib_given = fib is not None
        self.watcher = watcher
        self.exporter = KernelExporter(self.fib, cfg, self.metrics, self._ifname_for)
        self.speaker = self._new_speaker(cfg)
        # `update_delay` is read here only: a reload cannot start or stretch a hold
        self.kernel_hold = KernelHold(cfg.kernel.update_delay, self.speaker, self.exporter)
        self.bfd = BfdGlue(
            self._bfd_down, self._bfd_up, self.metrics, service=bfd_service, local_address=self._local_address
        )
        self.reconnector = Reconnector(self.speaker, self._spawn, lambda: self.stopping)
        self.origination = Origination(cfg.origination, self._announce, self._withdraw, self._resync_soon)
        self.control = ControlServer(cfg.control.socket, self.handle_command, cfg.control.mode)
        self._connected: dict[str, set[ipaddress.IPv4Interface | ipaddress.IPv6Interface]] = {}
        self._origins: dict[str, PeerInfo] = {}
        self._states: dict[str, str] = {}
        self._logged_notifications: dict[tuple[str, str], Notification] = {}
        self._updates_out: dict[str, int] = {}
        self._dynamic_count: dict[str, int] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._housekeeping: asyncio.Task[None] | None = None
        self.started_at = time.monotonic()
        self._last_resync = 0.0
        self._pending_reconcile = False
        self._all_up_since: float | None = None
        self._failed: set[str] = set()  # neighbors reset for BFD Down / carrier loss, until Established
        self.stopping = False

    # --- construction -------------------------------------------------------------------------

    def _new_speaker(self, cfg: DaemonConfig) -> _DaemonSpeaker:
        listen = tuple(str(a) for a in cfg.global_.listen) or ("::",)
        sp = _DaemonSpeaker(
            local_as=cfg.global_.asn,
            router_id=cfg.global_.router_id,
            options=DecisionOptions(multipath_limit=cfg.kernel.merge_paths),
            listen_addresses=listen,
            listen_port=cfg.global_.port,
        )
        sp.daemon = self
        sp.on_best_change(self._best_changes)
        return sp

    def _subnet_of(self, n: NeighborConfig) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
        if n.connected_subnet is not None:
            return n.connected_subnet.to_network()
        if n.address is None:
            return None
        for ifname, addrs in self._connected.items():
            if n.interface is not None and ifname != n.interface:
                continue
            for a in addrs:
                if n.address in a.network and a.network.prefixlen < a.network.max_prefixlen:
                    return a.network
        return None

    def _resolve(self, cfg: DaemonConfig) -> DaemonConfig:
        """`cfg` with interface-only neighbors given their address (from the interface's subnet)."""
        resolved, problems = resolve_neighbors(cfg, self._connected)
        for problem in problems:
            event(log, "neighbor-unresolved", problem, level=logging.ERROR)
        self.cfg = resolved
        self.exporter.reconfigure(resolved)
        return resolved

    def _add_neighbor(self, cfg: DaemonConfig, n: NeighborConfig) -> None:
        enabled = n.enabled and not (n.bfd.enabled and n.bfd.strict)
        self.speaker.add_neighbor(
            peer_settings(cfg, n),
            import_policy=compile_policy(cfg, n.import_policy),
            export_policy=compile_policy(cfg, n.export_policy),
            next_hop_self=n.next_hop_self, rr_client=n.route_reflector_client,
            import_table=n.import_table,
            subnet=self._subnet_of(n),
            enabled=enabled,
        )
        self.metrics.set_session_state(n.name, "idle")

    def _dynamic_factory(self, d: DynamicNeighborConfig) -> Any:
        def factory(address: IPAddress) -> Peer | None:
            if self._dynamic_count.get(d.name, 0) >= d.max_sessions:
                log.warning(
                    "dynamic range %s full (%d sessions): refusing %s", d.name, d.max_sessions, address
                )
                return None
            self._dynamic_count[d.name] = self._dynamic_count.get(d.name, 0) + 1
            settings = peer_settings(self.cfg, d.template, address)
            event(
                log,
                "dynamic-neighbor",
                f"dynamic neighbor {settings.name} from range {d.prefix}",
                neighbor=settings.name,
            )
            return self.speaker.add_neighbor(
                settings,
                import_policy=compile_policy(self.cfg, d.template.import_policy),
                export_policy=compile_policy(self.cfg, d.template.export_policy),
                next_hop_self=d.template.next_hop_self, rr_client=d.template.route_reflector_client,
                import_table=d.template.import_table,
            )

        return factory

    # --- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        cfg = self.cfg
        if cfg.metrics.address is not None:
            self.metrics.serve(*cfg.metrics.address)
        await self.control.start()
        snapshot = None
        if self.use_kernel:
            from pybgp.fib.watch import KernelWatcher

            if self.watcher is None:
                tables = {k.table for k in cfg.origination.kernel}
                # our own kernel routes come back as events: drop them on the header unless an
                # origination rule explicitly asks for that protocol
                ours = cfg.kernel.protocol
                ignore = () if any(k.protocol == ours for k in cfg.origination.kernel) else (ours,)
                self.watcher = KernelWatcher(route_tables=tables or {119}, ignore_protocols=ignore)
            await self.watcher.start()
            self.watcher.subscribe(self._kernel_event)
            snapshot = self.watcher.dump()
            for a in snapshot.addresses:
                self._connected.setdefault(a.ifname, set()).add(a.address)
            if not self._fib_given and cfg.kernel.enabled:
                from pybgp.fib.netlink import NetlinkFib

                self.fib = NetlinkFib(
                    cfg.kernel.table,
                    cfg.kernel.protocol,
                    cfg.kernel.metric,
                    graceful_restart=cfg.kernel.keep_on_exit,
                    flush_on_close=not cfg.kernel.keep_on_exit,
                    writer_thread=cfg.kernel.writer_thread,
                    notify=self.exporter.settle_soon(asyncio.get_running_loop()),
                )
                self.exporter.fib = self.fib
                self._pending_reconcile = cfg.kernel.keep_on_exit
                if cfg.kernel.nexthop_compat_mode is not None:
                    from pybgp.fib.netlink import set_nexthop_compat_mode

                    set_nexthop_compat_mode(cfg.kernel.nexthop_compat_mode)
        cfg = self._resolve(cfg)
        for n in cfg.neighbors:
            self._add_neighbor(cfg, n)
        if self.speaker.listener is not None:
            for d in cfg.dynamic_neighbors:
                self.speaker.listener.add_dynamic(d.prefix.to_network(), self._dynamic_factory(d))
        await self.speaker.start()
        await self.bfd.start()
        self.bfd.sync(list(cfg.neighbors))
        if snapshot is not None:
            self.origination.load_snapshot(snapshot)
        else:
            self.origination.apply()
        self._last_resync = time.monotonic()
        self._housekeeping = asyncio.get_running_loop().create_task(
            self._housekeep(), name="pybgpd-housekeeping"
        )
        event(
            log,
            "started",
            f"pybgpd started: AS {cfg.global_.asn}, router id {cfg.global_.router_id}, "
            f"{len(cfg.neighbors)} neighbors",
            pid=os.getpid(),
        )

    async def stop(self, message: str = "pybgpd shutting down") -> None:
        """Graceful stop: Cease/Administrative Shutdown with `message` (RFC 9003) to every peer."""
        self.stopping = True
        if self._housekeeping is not None:
            self._housekeeping.cancel()
        # Sessions going down must not rewrite the kernel now: it is flushed or kept as a whole below.
        self.exporter.frozen = True
        self.kernel_hold.cancel()  # a held export is never written
        names = [v.name for v in self.speaker.neighbors() if v.enabled]
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                asyncio.gather(
                    *(self.speaker.disable_neighbor(n, message) for n in names), return_exceptions=True
                ),
                5.0,
            )
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.speaker.stop(), 5.0)
        self.exporter.shutdown()
        await self.bfd.stop()
        if self.watcher is not None:
            with contextlib.suppress(Exception):
                self.watcher.close()
        await self.control.stop()
        self.metrics.close()
        for task in list(self._tasks):
            task.cancel()
        event(
            log,
            "stopped",
            f"pybgpd stopped ({message}); kernel routes "
            f"{'kept' if self.cfg.kernel.keep_on_exit else 'flushed'}",
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- glue: speaker -> kernel ----------------------------------------------------------------

    def _best_changes(self, changes: list[BestChange]) -> None:
        self.exporter.on_best_changes(changes)

    def _ifname_for(self, gateway: IPAddress) -> str | None:
        for ifname, addrs in self._connected.items():
            for a in addrs:
                if gateway in a.network and a.network.prefixlen < a.network.max_prefixlen:
                    return ifname
        return None

    def _local_address(self, n: NeighborConfig) -> IPAddress | None:
        if n.local_address is not None:
            return n.local_address
        for a in self._connected.get(n.interface or "", set()):
            if n.address is not None and n.address in a.network:
                return a.ip
        return None

    # --- glue: origination ----------------------------------------------------------------------

    def _origin(self, origin: str) -> PeerInfo:
        info = self._origins.get(origin)
        if info is None:
            kind, _, detail = origin.partition(":")
            if kind == "interface":
                info = self.speaker.local_origin(origin, Source.INTERFACE, interface=detail)
            elif kind == "kernel":
                info = self.speaker.local_origin(origin, Source.KERNEL, table=int(detail))
            else:
                info = self.speaker.local_origin(origin, Source.STATIC)
            self._origins[origin] = info
        return info

    def _origin_communities(self, origin: str) -> tuple[int, ...]:
        comms = list(self.cfg.origination.communities)
        if origin.startswith("kernel:"):
            table = int(origin.partition(":")[2])
            for k in self.cfg.origination.kernel:
                if k.table == table:
                    comms.extend(c for c in k.communities if c not in comms)
        return tuple(comms)

    def _announce(self, origin: str, prefix: Prefix) -> None:
        self.speaker.announce(
            prefix, source=self._origin(origin), communities=self._origin_communities(origin)
        )
        event(log, "originate", f"originating {prefix} ({origin})", prefix=str(prefix), origin=origin)

    def _withdraw(self, origin: str, prefix: Prefix) -> None:
        self.speaker.withdraw(prefix, source=self._origin(origin))
        event(log, "withdraw", f"withdrawing {prefix} ({origin})", prefix=str(prefix), origin=origin)

    def _resync_soon(self) -> None:
        self._last_resync = 0.0

    # --- glue: kernel events ----------------------------------------------------------------------

    def _kernel_event(self, ev: Any) -> None:
        from pybgp.fib.watch import AddressEvent, LinkEvent

        try:
            if isinstance(ev, AddressEvent):
                bucket = self._connected.setdefault(ev.ifname, set())
                if ev.added:
                    bucket.add(ev.address)
                else:
                    bucket.discard(ev.address)
                self.exporter.invalidate()
            elif isinstance(ev, LinkEvent):
                self._link_event(ev)
            self.origination.on_event(ev)
        except Exception:
            log.exception("kernel event %r failed", ev)

    def _link_event(self, ev: Any) -> None:
        up = ev.carrier and ev.admin_up and not ev.removed
        users = [n for n in self.cfg.neighbors if n.interface == ev.ifname and n.enabled]
        if up:
            event(log, "carrier-up", f"carrier up on {ev.ifname}", interface=ev.ifname)
            for n in users:
                self._reconnect_now(n.name)
            return
        event(log, "carrier-down", f"carrier lost on {ev.ifname}", level=logging.WARNING, interface=ev.ifname)
        # Like BIRD's `check link`: the nexthops go first (one cheap kernel write), then the sessions.
        self.exporter.interface_down(ev.ifname, f"carrier lost on {ev.ifname}")
        for n in users:
            self._neighbor_failed(n.name, f"carrier lost on {ev.ifname}")

    # --- glue: BFD --------------------------------------------------------------------------------

    def _bfd_down(self, name: str, reason: str) -> None:
        n = self.cfg.neighbor(name)
        if n is None:
            return
        if n.interface is not None:
            self.exporter.interface_down(n.interface, f"{name}: {reason}")
        self._neighbor_failed(name, reason)

    def _bfd_up(self, name: str) -> None:
        n = self.cfg.neighbor(name)
        if n is not None and n.bfd.strict and n.enabled:
            self.speaker.enable_neighbor(name)
        else:
            self._reconnect_now(name)

    def _reconnect_now(self, name: str) -> None:
        """The path is back (BFD Up, carrier up): connect now, and again while the peer is not ready
        (`daemon/reconnect.py`); the quick connects stop if the neighbor's BFD goes Down again."""
        n = self.cfg.neighbor(name)
        with_bfd = n is not None and n.bfd.enabled
        self.reconnector.path_back(name, name in self._failed,
                                   lambda: not with_bfd or self.bfd.is_up(name))

    def _neighbor_failed(self, name: str, reason: str) -> None:
        try:
            self.speaker.neighbor_down(name, reason, retry_after=CARRIER_RETRY)
        except KeyError:
            return
        self._failed.add(name)
        self.exporter.flush_pending()  # the flushed routes leave the kernel now, not at the next loop turn
        n = self.cfg.neighbor(name)
        if n is not None and n.bfd.enabled and n.bfd.strict:
            self._spawn(self.speaker.disable_neighbor(name, reason))  # held down until BFD is Up again
        event(
            log,
            "neighbor-down",
            f"{name}: {reason}: routes flushed, session reset (Cease/BFD Down)",
            level=logging.WARNING,
            neighbor=name,
            reason=reason,
        )

    # --- session hooks ----------------------------------------------------------------------------

    def hook(self, kind: str, peer: Peer, reason: str = "", notification: Notification | None = None) -> None:
        try:
            name = peer.name
            if kind == "established":
                self._failed.discard(name)
                n = self.cfg.neighbor(name)
                if n is not None and n.interface is not None:
                    self.exporter.interface_up(n.interface)
                self.kernel_hold.on_established()
                event(log, "session-state", f"{name}: Established", neighbor=name, state="established")
                self._states[name] = "established"
                self.metrics.set_session_state(name, "established")
            else:
                was = self._states.get(name)
                if was == "established":
                    self.metrics.session_flaps.labels(name).inc()
                self._states[name] = "idle"
                self.metrics.set_session_state(name, "idle")
                fields: dict[str, Any] = {"neighbor": name, "state": "idle", "reason": reason}
                counters = peer.counters
                seen = [
                    ("sent", counters.last_notification_sent),
                    ("received", counters.last_notification_received),
                ]
                if notification is not None and all(x is not notification for _, x in seen):
                    seen.append(("received", notification))
                for direction, note in seen:
                    if note is None or self._logged_notifications.get((name, direction)) is note:
                        continue
                    self._logged_notifications[(name, direction)] = note
                    labels = (name, direction, str(note.code), str(note.subcode))
                    self.metrics.notifications.labels(*labels).inc()
                    event(
                        log,
                        "notification",
                        f"{name}: NOTIFICATION {direction} {note.code}/{note.subcode} ({reason})",
                        level=logging.WARNING,
                        neighbor=name,
                        direction=direction,
                        code=note.code,
                        subcode=note.subcode,
                        data=note.data.hex(),
                    )
                event(log, "session-state", f"{name}: down ({reason})", level=logging.WARNING, **fields)
        except Exception:
            log.exception("session hook failed")

    # --- housekeeping -------------------------------------------------------------------------------

    async def _housekeep(self) -> None:
        while not self.stopping:
            await asyncio.sleep(0.5)
            try:
                self._tick()
            except Exception:
                log.exception("housekeeping failed")

    def _tick(self) -> None:
        loop_now = asyncio.get_running_loop().time()
        installed = self.exporter.installed_per_neighbor()
        all_up = True
        for v in self.speaker.neighbors():
            state = v.state.lower()
            if self._states.get(v.name) != state:
                if state not in ("established", "idle"):
                    event(
                        log,
                        "session-state",
                        f"{v.name}: {v.state}",
                        level=logging.DEBUG,
                        neighbor=v.name,
                        state=state,
                    )
                self._states[v.name] = state
                self.metrics.set_session_state(v.name, state)
            self.metrics.session_uptime.labels(v.name).set(
                loop_now - v.established_since if v.established_since is not None else 0
            )
            self.metrics.prefixes_received.labels(v.name).set(v.received)
            self.metrics.prefixes_accepted.labels(v.name).set(v.accepted)
            self.metrics.prefixes_advertised.labels(v.name).set(v.advertised)
            self.metrics.prefixes_installed.labels(v.name).set(installed.get(v.name, 0))
            sent = self.speaker.peer(v.name).counters.messages_out.get("Update", 0)
            if sent > self._updates_out.get(v.name, 0):
                self.metrics.updates_out.labels(v.name).inc(sent - self._updates_out.get(v.name, 0))
            self._updates_out[v.name] = sent
            if v.enabled and state != "established" and not self.speaker.peer(v.name).settings.passive:
                all_up = False
        if not all_up:
            self._all_up_since = None
        elif self._all_up_since is None:
            self._all_up_since = time.monotonic()
        settled = self._all_up_since is not None and time.monotonic() - self._all_up_since >= RECONCILE_SETTLE
        self.kernel_hold.check()  # a session that went down without End-of-RIB may have ended the wait
        ready = self._pending_reconcile and not (self.exporter.held or self.exporter.releasing)
        if ready and (settled or time.monotonic() - self.started_at > RECONCILE_DEADLINE):
            # Routes adopted from the previous run (keep_on_exit) that no session re-announced go now.
            self._pending_reconcile = False
            self.reconcile_kernel()
        if (
            self.watcher is not None
            and time.monotonic() - self._last_resync >= self.cfg.origination.resync_interval
        ):
            self._last_resync = time.monotonic()
            self.origination.load_snapshot(self.watcher.dump())

    def reconcile_kernel(self) -> None:
        """The kernel made to match the Loc-RIB (`items()` gives each prefix's multipath set, best first)."""
        self.exporter.reconcile(best_change(p, paths[0], paths) for p, paths in self.speaker.rib.loc.items())

    # --- reload -----------------------------------------------------------------------------------

    async def reload(self) -> dict[str, Any]:
        """Re-read the config file and apply only the difference; the old config stays on any error."""
        if self.config_path is None:
            raise CommandError("no config file to reload from")
        try:
            new = load_config(self.config_path)
        except ConfigErrors as exc:
            self.metrics.reloads.labels("error").inc()
            event(
                log,
                "reload-failed",
                f"reload refused, keeping the running config: {len(exc.errors)} error(s)",
                level=logging.ERROR,
                errors=[str(e) for e in exc.errors],
            )
            detail = "\n".join(str(e) for e in exc.errors)
            raise CommandError(f"config has errors, nothing changed:\n{detail}") from None
        new, problems = resolve_neighbors(replace(new, control=self.cfg.control), self._connected)
        for problem in problems:
            event(log, "neighbor-unresolved", problem, level=logging.ERROR)
        from pybgp.daemon.reload import apply_reload

        result = await apply_reload(self, new)
        self.metrics.reloads.labels("ok").inc()
        event(log, "reloaded", "config reloaded", **{k: v for k, v in result.items() if v})
        return result

    def set_config(self, cfg: DaemonConfig) -> None:
        old, self.cfg = self.cfg, cfg
        if cfg.logging != old.logging:
            setup_logging(cfg.logging)

    # --- control commands -----------------------------------------------------------------------------

    async def handle_command(self, command: str, args: dict[str, Any]) -> Any:
        from pybgp.daemon.commands import dispatch

        return await dispatch(self, command, args)
