"""What this server originates: interface addresses (node0), static prefixes, kernel-table routes.

Owns: the set of locally originated prefixes per origin (`interface:node0`, `static`, `kernel:119`), kept
equal to the kernel's state from `KernelWatcher` events (an address added to node0 is announced at once;
a pod route deleted from table 119 is withdrawn at once, not at the next scan as BIRD does, TARGET.md rule
7) and from periodic full snapshots (resync repairs anything an overflow lost), and the diff that turns a
new desired set into announce/withdraw calls.
Never does: BGP or netlink itself: it calls `announce(origin, prefix)` / `withdraw(origin, prefix)` and
reads `KernelEvent`s / `KernelSnapshot`s it is given.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from pybgp.daemon.schema import OriginationConfig
from pybgp.fib.watch import AddressEvent, KernelEvent, KernelSnapshot, LinkEvent, Overflow, RouteEvent
from pybgp.wire.nlri import Prefix

log = logging.getLogger("pybgp.daemon.origination")

Origin = str  # "static", "interface:node0", "kernel:119"
ChangeFn = Callable[[Origin, Prefix], None]


def interface_origin(ifname: str) -> Origin:
    return f"interface:{ifname}"


def kernel_origin(table: int) -> Origin:
    return f"kernel:{table}"


def _address_prefix(event: AddressEvent) -> Prefix | None:
    net = event.address.network
    if net.is_link_local:
        return None
    try:
        return Prefix.parse(str(net))
    except ValueError:
        return None


class Origination:
    """Keeps announced local prefixes equal to config + kernel state."""

    def __init__(
        self,
        config: OriginationConfig,
        announce: ChangeFn,
        withdraw: ChangeFn,
        on_resync_needed: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self._announce = announce
        self._withdraw = withdraw
        self._on_resync_needed = on_resync_needed
        self.current: dict[Origin, set[Prefix]] = {}
        self._addresses: dict[str, set[Prefix]] = {}  # ifname -> prefixes of its addresses
        self._link_up: dict[str, bool] = {}
        self._kernel: dict[int, set[Prefix]] = {}

    # --- desired state ----------------------------------------------------------------------------

    def _kernel_wanted(self, event: RouteEvent) -> bool:
        for k in self.config.kernel:
            if k.table == event.table and (k.protocol is None or k.protocol == event.protocol):
                return True
        return False

    def desired(self) -> dict[Origin, set[Prefix]]:
        out: dict[Origin, set[Prefix]] = {}
        if self.config.static:
            out["static"] = set(self.config.static)
        for ifname in self.config.interfaces:
            if self._link_up.get(ifname, True):
                prefixes = self._addresses.get(ifname, set())
                if prefixes:
                    out[interface_origin(ifname)] = set(prefixes)
        for table, prefixes in self._kernel.items():
            if prefixes and any(k.table == table for k in self.config.kernel):
                out[kernel_origin(table)] = set(prefixes)
        return out

    def apply(self) -> None:
        """Announce what is desired and not current; withdraw what is current and no longer desired."""
        desired = self.desired()
        for origin in set(self.current) | set(desired):
            old = self.current.get(origin, set())
            new = desired.get(origin, set())
            for prefix in sorted(old - new):
                self._call(self._withdraw, origin, prefix)
            for prefix in sorted(new - old):
                self._call(self._announce, origin, prefix)
        self.current = desired

    def _call(self, fn: ChangeFn, origin: Origin, prefix: Prefix) -> None:
        try:
            fn(origin, prefix)
        except Exception:  # one bad prefix must not stop the others
            log.exception("origination of %s (%s) failed", prefix, origin)

    # --- inputs -----------------------------------------------------------------------------------

    def reconfigure(self, config: OriginationConfig) -> None:
        self.config = config
        self._kernel = {t: p for t, p in self._kernel.items() if any(k.table == t for k in config.kernel)}
        self.apply()

    def load_snapshot(self, snapshot: KernelSnapshot) -> None:
        """Replace everything known about the kernel with a full dump, then apply the difference."""
        self._link_up = {name: link.carrier and link.admin_up for name, link in snapshot.links.items()}
        self._addresses = {}
        for addr in snapshot.addresses:
            p = _address_prefix(addr)
            if p is not None and addr.ifname in self.config.interfaces:
                self._addresses.setdefault(addr.ifname, set()).add(p)
        self._kernel = {}
        for route in snapshot.routes.values():
            if self._kernel_wanted(route):
                self._kernel.setdefault(route.table, set()).add(route.prefix.without_path_id())
        self.apply()

    def on_event(self, event: KernelEvent) -> None:
        """One kernel event; changes are applied at once."""
        if isinstance(event, AddressEvent):
            if event.ifname not in self.config.interfaces:
                return
            p = _address_prefix(event)
            if p is None:
                return
            bucket = self._addresses.setdefault(event.ifname, set())
            if event.added:
                bucket.add(p)
            else:
                bucket.discard(p)
        elif isinstance(event, RouteEvent):
            if not self._kernel_wanted(event):
                return
            bucket = self._kernel.setdefault(event.table, set())
            if event.added:
                bucket.add(event.prefix.without_path_id())
            else:
                bucket.discard(event.prefix.without_path_id())
        elif isinstance(event, LinkEvent):
            if event.ifname not in self.config.interfaces:
                return
            self._link_up[event.ifname] = event.carrier and event.admin_up and not event.removed
            if event.removed:
                self._addresses.pop(event.ifname, None)
        elif isinstance(event, Overflow):
            if self._on_resync_needed is not None:
                self._on_resync_needed()
            return
        self.apply()

    def view(self) -> list[dict[str, str]]:
        return [
            {"origin": origin, "prefix": str(p)}
            for origin, ps in sorted(self.current.items())
            for p in sorted(ps)
        ]

    def all_prefixes(self) -> Iterable[Prefix]:
        for ps in self.current.values():
            yield from ps
