"""Daemon drivers: one typed interface over BIRD, FRR, GoBGP and pybgpd running inside a lab node.

Owns: the `DaemonDriver` protocol every driver implements, the `DaemonRoute` record they report,
`wait_until` (the bounded poll loop tests use), and `load_server_driver`, which finds the factory a
seed-topology server uses (``pybgp.testing.drivers.<name>.for_server(node, spec)``).
Never does: build namespaces (that is `pybgp.testing.lab`) or decide the topology (`topology`).

A driver for a new daemon implements::

    class MyDriver:
        name: str                       # "bird", "pybgpd", ...
        node: Node
        def write_config(self) -> Path: ...          # idempotent; returns the config path
        def start(self) -> None: ...                 # child of the test process (no daemonising)
        def stop(self, timeout: float = 5.0) -> None: ...   # idempotent, reaps the child
        def running(self) -> bool: ...
        def established(self, peer: str) -> bool: ...       # peer = neighbor IP address
        def sessions(self) -> dict[str, bool]: ...          # neighbor IP -> Established?
        def routes(self) -> list[DaemonRoute]: ...          # what the daemon's RIB holds

and, to run on the seed topology's servers, a module-level
``def for_server(node: Node, spec: ServerSpec) -> DaemonDriver`` (see `pybgp.testing.topology`).
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from pybgp.testing.lab import Node
    from pybgp.testing.topology import ServerSpec


@dataclass(frozen=True, slots=True, kw_only=True)
class DaemonRoute:
    """One route as a daemon reports it: prefix, the nexthops it would install, who it came from."""

    prefix: IPv4Network | IPv6Network
    nexthops: tuple[IPv4Address | IPv6Address, ...] = ()
    interfaces: tuple[str, ...] = ()
    source: str = ""  # protocol / neighbor name as the daemon calls it
    best: bool = True
    kind: str = "unicast"  # unicast, unreachable, blackhole, ...


@runtime_checkable
class DaemonDriver(Protocol):
    """What tests, the seed topology and the demo need from any routing daemon in a lab node."""

    name: str
    node: Node

    def write_config(self) -> Path: ...

    def start(self) -> None: ...

    def stop(self, timeout: float = 5.0) -> None: ...

    def running(self) -> bool: ...

    def established(self, peer: str) -> bool: ...

    def sessions(self) -> dict[str, bool]: ...

    def routes(self) -> list[DaemonRoute]: ...


ServerDriverFactory = Callable[["Node", "ServerSpec"], DaemonDriver]


def load_server_driver(name: str) -> ServerDriverFactory:
    """`pybgp.testing.drivers.<name>.for_server`; ImportError/AttributeError name what is missing."""
    module = importlib.import_module(f"pybgp.testing.drivers.{name}")
    factory: ServerDriverFactory = module.for_server
    return factory


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.1) -> bool:
    """Poll `predicate` until true or `timeout` seconds pass; returns its last value. Always bounded."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
