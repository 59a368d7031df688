"""Start pybgpd for the feed benchmark, optionally with its O(table) housekeeping made cheap (`--fix`).

Why: profiling the feed benchmark (cProfile, 100k prefixes x 2 sessions) showed stock pybgpd spending
most of its time outside BGP: after every kernel batch `KernelExporter._update_gauges` copies the whole
FIB with `NetlinkFib.routes()` (quadratic over a feed), and the 0.5 s housekeeping tick plus every
`show neighbors` rebuild each neighbor's post-policy table (`Rib.accepted`) and walk every installed
route (`installed_per_neighbor`). Those belong to their owners (daemon/kernel.py, aio/speaker.py,
rib/manager.py); until they are fixed, `--fix` patches them in this process only, so the benchmark can
show what the BGP/RIB/FIB core itself costs. The patched figures are labelled "pybgpd-fix":
  * gauges use `FibPort.route_count()` (O(1)) when the FIB has it, as `NetlinkFib` documents;
  * neighbor views count accepted paths as the Adj-RIB-In size (the benchmark's import policy accepts
    every path, so the numbers are the same);
  * `installed_per_neighbor` is recomputed at most every 5 s.
Never does: change any file of the package, or apply anything without `--fix`.
"""

from __future__ import annotations

import sys
import time
from typing import Any


def apply_fixes() -> None:
    from pybgp.aio.speaker import Speaker
    from pybgp.daemon.kernel import KernelExporter

    def update_gauges(self: Any) -> None:
        count = getattr(self.fib, "route_count", None)
        n = count() if callable(count) else len(self.fib.routes())
        self.installed_count = n
        if self.metrics is not None:
            self.metrics.routes_installed.set(n)

    KernelExporter._update_gauges = update_gauges  # type: ignore[method-assign]

    per_neighbor = KernelExporter.installed_per_neighbor
    cache: dict[int, tuple[float, dict[str, int]]] = {}

    def installed_per_neighbor(self: Any) -> dict[str, int]:
        hit = cache.get(id(self))
        if hit is not None and time.monotonic() - hit[0] < 5.0:
            return hit[1]
        value = per_neighbor(self)
        cache[id(self)] = (time.monotonic(), value)
        return value

    KernelExporter.installed_per_neighbor = installed_per_neighbor  # type: ignore[method-assign]

    neighbors = Speaker.neighbors

    def cheap_neighbors(self: Any) -> Any:
        rib = self.rib

        def accepted(name: str) -> range:
            adj = rib.neighbors[name].adj_in
            return range(len(adj.pre) if adj is not None else 0)

        rib.accepted = accepted
        try:
            return neighbors(self)
        finally:
            del rib.accepted

    Speaker.neighbors = cheap_neighbors  # type: ignore[method-assign]


def main() -> int:
    argv = sys.argv[1:]
    if argv[:1] == ["--fix"]:
        argv = argv[1:]
        apply_fixes()
    from pybgp.daemon.main import main as pybgpd_main

    return pybgpd_main(argv)


if __name__ == "__main__":
    sys.exit(main())
