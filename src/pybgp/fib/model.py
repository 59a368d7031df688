"""The kernel forwarding table as the rest of pybgp sees it: `NextHop`, `FibRoute`, the `FibPort` protocol.

Owns: the value types a route installer takes (a prefix and its ECMP nexthop set), the per-route
failure record, and the synchronous `FibPort` interface that `MemoryFib` (fake) and `NetlinkFib`
(kernel) both implement. Never does: I/O, route selection, or anything pyroute2: callers above
`pybgp.fib` only ever see these types.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol, runtime_checkable

from pybgp.wire.nlri import Prefix

MAX_ECMP = 16
"""Largest nexthop set a route may carry (BIRD `merge paths ... limit 16`); extra nexthops are dropped."""


@dataclass(frozen=True, slots=True)
class NextHop:
    """One way out: a gateway reached over an interface, or (gateway None) the interface itself.

    Positional construction is allowed (`NextHop(gw, "eth0")`) because it is the cross-team contract;
    `<` gives nexthop sets a canonical order (device-only first, then IPv4, then IPv6 gateways).
    """

    gateway: IPv4Address | IPv6Address | None
    ifname: str

    def __lt__(self, other: object) -> bool:  # mixed None/v4/v6 gateways must still sort
        if not isinstance(other, NextHop):
            return NotImplemented
        return _sort_key(self) < _sort_key(other)

    def __str__(self) -> str:
        return f"via {self.gateway} dev {self.ifname}" if self.gateway is not None else f"dev {self.ifname}"


def _sort_key(nh: NextHop) -> tuple[int, int, str]:
    if nh.gateway is None:
        return (0, 0, nh.ifname)
    return (nh.gateway.version, int(nh.gateway), nh.ifname)


@dataclass(frozen=True, slots=True)
class FibRoute:
    """A prefix and the set of nexthops traffic is spread over (ECMP when more than one).

    The nexthops are normalised at construction (deduplicated, sorted, at most `MAX_ECMP`) so two
    routes with the same set compare equal whatever order the RIB produced them in, and the prefix
    loses its ADD-PATH path id (the kernel has one route per prefix). An empty nexthop set is the
    caller's bug (withdraw the prefix instead) and raises ValueError.
    """

    prefix: Prefix
    nexthops: tuple[NextHop, ...]

    def __post_init__(self) -> None:
        if not self.nexthops:
            raise ValueError(f"FibRoute {self.prefix} without nexthops: delete the prefix instead")
        normal = tuple(sorted(set(self.nexthops), key=_sort_key))[:MAX_ECMP]
        if normal != self.nexthops:
            object.__setattr__(self, "nexthops", normal)
        if self.prefix.path_id:
            object.__setattr__(self, "prefix", self.prefix.without_path_id())

    def __str__(self) -> str:
        return f"{self.prefix} " + " ".join(f"nexthop {nh}" for nh in self.nexthops)

    @classmethod
    def trusted(cls, prefix: Prefix, nexthops: tuple[NextHop, ...]) -> FibRoute:
        """Build without re-normalising, for nexthops taken from an existing FibRoute (hot paths only)."""
        route = object.__new__(cls)
        object.__setattr__(route, "prefix", prefix)
        object.__setattr__(route, "nexthops", nexthops)
        return route


@dataclass(frozen=True, slots=True, kw_only=True)
class FibFailure:
    """The kernel refused to install (or remove) a route; kept until a later change succeeds.

    `errno` is the kernel's error number (0 for a failure found in user space, such as an unknown
    interface name) and `message` the kernel's extended-ack text when it sent one.
    """

    prefix: Prefix
    operation: str
    errno: int
    message: str = field(default="")

    def __str__(self) -> str:
        return f"{self.operation} {self.prefix}: {self.message or f'errno {self.errno}'}"


@runtime_checkable
class FibPort(Protocol):
    """The kernel forwarding table as pybgp drives it: batched, replace-only, cheap nexthop failover.

    Calls are synchronous and never raise for a route the kernel refuses: that route is recorded
    as a `FibFailure` (see the implementations' `failures()`) and the rest of the batch goes in.
    """

    def apply(self, replace: Iterable[FibRoute] = (), delete: Iterable[Prefix] = ()) -> None:
        """Install or replace `replace` and remove `delete`, as one batch.

        Replacing never deletes first (no blackhole window); a route equal to the installed one is
        not sent again; deleting an unknown prefix is a no-op.
        """
        ...

    def nexthop_down(self, nh: NextHop) -> None:
        """Drop `nh` from every route using it; routes left with no nexthop are removed.

        The cost must not grow with the number of routes (nexthop groups are rewritten, not routes).
        """
        ...

    def routes(self) -> dict[Prefix, FibRoute]:
        """What this FIB has installed (a copy), keyed by prefix without path id."""
        ...

    def reconcile(self, desired: Mapping[Prefix, FibRoute] | Iterable[FibRoute]) -> None:
        """Make the installed set exactly `desired`: replace what differs, delete what is extra."""
        ...

    def flush(self) -> None:
        """Remove every route (and nexthop object) this FIB installed."""
        ...

    def close(self) -> None:
        """Release resources; routes stay installed unless the implementation was told to flush."""
        ...


def desired_map(desired: Mapping[Prefix, FibRoute] | Iterable[FibRoute]) -> dict[Prefix, FibRoute]:
    """Normalise `reconcile`'s argument (a mapping or an iterable of routes) to prefix -> route."""
    if isinstance(desired, Mapping):
        return {route.prefix: route for route in desired.values()}
    return {route.prefix: route for route in desired}
