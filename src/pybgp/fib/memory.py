"""An in-memory `FibPort`: the kernel FIB's fake for unit tests of the RIB, the speaker and the daemon.

Owns: a dict of installed routes with the same semantics as `NetlinkFib` (replace never deletes
first, equal routes are no-ops, `nexthop_down` drops a nexthop everywhere and removes routes left
without one, per-route failures instead of exceptions), plus counters and a change log so tests can
assert what would have reached the kernel. Never does: I/O, threads, or time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from pybgp.fib.model import FibFailure, FibRoute, NextHop, desired_map
from pybgp.wire.nlri import Prefix

ENODEV = 19


@dataclass(slots=True)
class FibStats:
    """What reached the (fake) kernel: one count per route written or removed, and per failover."""

    replaced: int = 0
    deleted: int = 0
    unchanged: int = 0
    failed: int = 0
    nexthop_down: int = 0
    log: list[tuple[str, Prefix]] = field(default_factory=list)


class MemoryFib:
    """A `FibPort` that keeps routes in a dict.

    `interfaces`, when given, is the set of interface names that "exist": a route through any other
    interface fails like the kernel's ENODEV and is reported by `failures()`, not installed.
    `on_change` (optional) is called with (prefix, route or None) after each effective change, which
    is how a test can watch the FIB the way `ip monitor route` watches the kernel.
    """

    def __init__(
        self,
        *,
        interfaces: Iterable[str] | None = None,
        on_change: Callable[[Prefix, FibRoute | None], None] | None = None,
    ) -> None:
        self._routes: dict[Prefix, FibRoute] = {}
        self._failures: dict[Prefix, FibFailure] = {}
        self._interfaces: set[str] | None = set(interfaces) if interfaces is not None else None
        self._on_change = on_change
        self._closed = False
        self.stats = FibStats()

    # -- FibPort --------------------------------------------------------------------------------

    def apply(self, replace: Iterable[FibRoute] = (), delete: Iterable[Prefix] = ()) -> None:
        self._check_open()
        for route in replace:
            self._replace(route)
        for prefix in delete:
            self._delete(prefix.without_path_id())

    def apply_nexthops(
        self, wanted: dict[Prefix, tuple[NextHop, ...]], delete: Iterable[Prefix] = ()
    ) -> None:
        """`NetlinkFib.apply_nexthops`: normalised nexthop tuples by prefix, through `apply`."""
        self.apply((FibRoute.trusted(prefix, hops) for prefix, hops in wanted.items()), delete)

    def nexthop_down(self, nh: NextHop) -> None:
        self._check_open()
        self.stats.nexthop_down += 1
        for prefix, route in list(self._routes.items()):
            if nh not in route.nexthops:
                continue
            remaining = tuple(h for h in route.nexthops if h != nh)
            if remaining:
                self._set(prefix, FibRoute(prefix, remaining))
            else:
                self._delete(prefix)

    def routes(self) -> dict[Prefix, FibRoute]:
        return dict(self._routes)

    def reconcile(self, desired: Mapping[Prefix, FibRoute] | Iterable[FibRoute]) -> None:
        self._check_open()
        want = desired_map(desired)
        stale = [prefix for prefix in self._routes if prefix not in want]
        self.apply(replace=want.values(), delete=stale)

    def flush(self) -> None:
        self._check_open()
        for prefix in list(self._routes):
            self._delete(prefix)
        self._failures.clear()

    def close(self, *, flush: bool = False) -> None:
        if self._closed:
            return
        if flush:
            self.flush()
        self._closed = True

    # -- extras shared with NetlinkFib ----------------------------------------------------------

    def failures(self) -> dict[Prefix, FibFailure]:
        """Routes the (fake) kernel refused, until a later change for that prefix succeeds."""
        return dict(self._failures)

    def route_count(self) -> int:
        """How many routes are installed, in O(1) (for gauges; `routes()` copies the table)."""
        return len(self._routes)

    def nexthops(self) -> frozenset[NextHop]:
        """Every nexthop some installed route uses (what a carrier loss on an interface must drop)."""
        return frozenset(nh for route in self._routes.values() for nh in route.nexthops)

    def set_interfaces(self, interfaces: Iterable[str] | None) -> None:
        """Change which interface names exist (None: all of them), e.g. to simulate a removed link."""
        self._interfaces = set(interfaces) if interfaces is not None else None

    # -- internals ------------------------------------------------------------------------------

    def _replace(self, route: FibRoute) -> None:
        prefix = route.prefix
        if self._routes.get(prefix) == route:
            self.stats.unchanged += 1
            return
        if self._interfaces is not None:
            missing = [nh.ifname for nh in route.nexthops if nh.ifname not in self._interfaces]
            if missing:
                self.stats.failed += 1
                self._failures[prefix] = FibFailure(
                    prefix=prefix, operation="replace", errno=ENODEV, message=f"no device {missing[0]!r}"
                )
                return
        self._set(prefix, route)

    def _set(self, prefix: Prefix, route: FibRoute) -> None:
        self._routes[prefix] = route
        self._failures.pop(prefix, None)
        self.stats.replaced += 1
        self.stats.log.append(("replace", prefix))
        if self._on_change is not None:
            self._on_change(prefix, route)

    def _delete(self, prefix: Prefix) -> None:
        self._failures.pop(prefix, None)
        if self._routes.pop(prefix, None) is None:
            return
        self.stats.deleted += 1
        self.stats.log.append(("delete", prefix))
        if self._on_change is not None:
            self._on_change(prefix, None)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("MemoryFib used after close()")
