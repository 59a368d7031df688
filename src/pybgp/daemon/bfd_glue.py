"""BFD for BGP neighbors: one `pybfd.aio.BfdService` session per neighbor with `bfd` enabled.

Owns: keeping the service's sessions equal to the configured neighbors (added, removed, or re-timed on
reload without touching the others), translating a `BfdStateChange` into the daemon's reaction
(Up -> Down: the neighbor's nexthops leave the kernel at once and the session is reset with Cease/BFD Down
and a quick retry, RFC 9384; a session whose BFD never came up still establishes unless `strict`), the
BFD metrics and log records, and the rows of `pybgpctl show bfd`.
Never does: run BFD timers (the service does, isolated from the daemon's load) or touch BGP itself (it
calls the callbacks the daemon gives it).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pybfd.aio import BfdPeerConfig, BfdService, BfdStateChange, SessionKey
from pybgp.daemon.logsetup import event
from pybgp.daemon.metrics import Metrics
from pybgp.daemon.schema import IPAddress, NeighborConfig

log = logging.getLogger("pybgp.daemon.bfd")

STATE_NAMES = {0: "admindown", 1: "down", 2: "init", 3: "up"}


@dataclass(frozen=True, slots=True)
class _Wanted:
    peer: IPAddress
    local: IPAddress | None
    interface: str | None
    multihop: bool
    tx: int
    rx: int
    mult: int


def state_name(state: object) -> str:
    """`State.UP` / 3 / "Up" -> "up"."""
    if isinstance(state, int):
        return STATE_NAMES.get(int(state), str(state))
    name = getattr(state, "name", str(state))
    return str(name).lower().replace("_", "")


class BfdGlue:
    """Mirror BFD-enabled neighbors into a BFD service and report state changes per neighbor name.

    `on_down(name, reason)` is called on an Up -> Down transition, `on_up(name)` when a session reaches
    Up. `service` may be injected (tests use a fake with the same methods); otherwise
    `pybfd.aio.BfdService()` is created at `start()`.
    """

    def __init__(
        self,
        on_down: Callable[[str, str], None],
        on_up: Callable[[str], None],
        metrics: Metrics | None = None,
        service: Any = None,
        local_address: Callable[[NeighborConfig], IPAddress | None] | None = None,
    ) -> None:
        self._on_down = on_down
        self._on_up = on_up
        self._metrics = metrics
        self._service = service
        self._local_address = local_address or (lambda n: n.local_address)
        self._keys: dict[str, SessionKey] = {}  # neighbor name -> service key
        self._wanted: dict[str, _Wanted] = {}
        self._names: dict[SessionKey, str] = {}  # service key -> neighbor name
        self.states: dict[str, str] = {}
        self.flaps: dict[str, int] = {}
        self.available = True
        self.unavailable_reason = ""

    async def start(self) -> None:
        if self._service is None:
            self._service = BfdService()
        try:
            await self._service.start()
        except Exception as exc:  # no BFD is better than no BGP: sessions still establish (non-strict)
            self.available = False
            self.unavailable_reason = f"BFD service failed to start: {exc!r}"
            log.error("BFD disabled: %s", self.unavailable_reason)
            return
        self._service.subscribe(self._on_change)

    async def stop(self) -> None:
        if self._service is not None and self.available:
            try:
                await self._service.stop()
            except Exception:
                log.exception("BFD service stop failed")

    def _config_for(self, w: _Wanted) -> BfdPeerConfig:
        return BfdPeerConfig(
            peer=w.peer,
            local=w.local,
            interface=w.interface,
            multihop=w.multihop,
            desired_min_tx_ms=w.tx,
            required_min_rx_ms=w.rx,
            detect_mult=w.mult,
        )

    def sync(self, neighbors: list[NeighborConfig]) -> None:
        """Make the service's sessions match `neighbors` (only those with BFD enabled and an address)."""
        if self._service is None or not self.available:
            return
        wanted: dict[str, _Wanted] = {}
        for n in neighbors:
            if n.bfd.enabled and n.enabled and n.address is not None:
                wanted[n.name] = _Wanted(
                    peer=n.address,
                    local=self._local_address(n),
                    interface=n.interface,
                    multihop=n.bfd.multihop,
                    tx=n.bfd.min_tx_ms,
                    rx=n.bfd.min_rx_ms,
                    mult=n.bfd.multiplier,
                )
        for name in list(self._keys):
            old = self._wanted.get(name)
            new = wanted.get(name)
            if (
                new is None
                or old is None
                or (new.peer, new.local, new.interface, new.multihop)
                != (old.peer, old.local, old.interface, old.multihop)
            ):
                self._remove(name)
            elif new != old:  # timers only: a Poll Sequence, the session stays Up (RFC 5880 6.8.3)
                try:
                    self._service.set_parameters(
                        self._keys[name],
                        desired_min_tx_ms=new.tx,
                        required_min_rx_ms=new.rx,
                        detect_mult=new.mult,
                    )
                    self._wanted[name] = new
                except Exception:
                    log.exception("BFD timer change for %s failed", name)
        for name, w in wanted.items():
            if name in self._keys:
                continue
            try:
                key = self._service.add_session(self._config_for(w))
            except Exception as exc:
                log.error("BFD session for %s could not be created: %s", name, exc)
                continue
            self._keys[name] = key
            self._names[key] = name
            self._wanted[name] = w
            self.states.setdefault(name, "down")
            if self._metrics is not None:
                self._metrics.set_bfd_state(name, self.states[name])

    def _remove(self, name: str) -> None:
        key = self._keys.pop(name)
        self._names.pop(key, None)
        self._wanted.pop(name, None)
        self.states.pop(name, None)
        try:
            self._service.remove_session(key)
        except Exception:
            log.exception("BFD session removal for %s failed", name)

    def is_up(self, name: str) -> bool:
        return self.states.get(name) == "up"

    def _on_change(self, change: BfdStateChange) -> None:
        """Runs on the daemon's loop for every BFD state change."""
        name = self._names.get(change.key)
        if name is None:
            return
        old, new = state_name(change.old_state), state_name(change.new_state)
        diag = getattr(change.diag, "name", str(change.diag)).lower()
        self.states[name] = new
        event(
            log,
            "bfd-state",
            f"BFD {name} {old} -> {new} (diag {diag})",
            neighbor=name,
            old=old,
            new=new,
            diag=diag,
            peer=str(change.peer),
        )
        if self._metrics is not None:
            self._metrics.set_bfd_state(name, new)
        if new == "up" and old != "up":
            self._on_up(name)
        elif old == "up" and new in ("down", "admindown"):
            self.flaps[name] = self.flaps.get(name, 0) + 1
            if self._metrics is not None:
                self._metrics.bfd_flaps.labels(name).inc()
            if getattr(change, "is_failure", new == "down"):
                self._on_down(name, f"BFD down ({diag})")

    def view(self) -> list[dict[str, object]]:
        rows: list[dict[str, object]] = []
        snapshot: dict[Any, Any] = {}
        if self._service is not None and self.available:
            try:
                snapshot = {s.key: s for s in self._service.sessions()}
            except Exception:
                log.exception("BFD snapshot failed")
        for name, key in sorted(self._keys.items()):
            w = self._wanted[name]
            info = snapshot.get(key)
            rows.append(
                {
                    "neighbor": name,
                    "peer": str(w.peer),
                    "interface": w.interface,
                    "state": self.states.get(name),
                    "remote_state": state_name(getattr(info, "remote_state", ""))
                    if info is not None
                    else None,
                    "diag": getattr(getattr(info, "diag", None), "name", None) if info is not None else None,
                    "tx_ms": w.tx,
                    "rx_ms": w.rx,
                    "multiplier": w.mult,
                    "flaps": self.flaps.get(name, 0),
                }
            )
        return rows
