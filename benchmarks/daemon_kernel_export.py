"""Figure: the daemon's cost between a Loc-RIB best-path change and the FIB write (no kernel).

`KernelExporter` turns each `BestChange` into a `FibRoute` (rule 6 filter, kernel policy, one nexthop
per merged path via the session's interface) and batches them into one `FibPort.apply`. A full table
shares a few attribute sets, so the nexthop set is computed once per distinct selection. This prints
microseconds per change for N /24s with 2-path ECMP over shared attributes, into a FIB that only
counts (so the figure is the daemon's own work, not netlink's; see the Kernel section for that).

Run: .venv/bin/python benchmarks/daemon_kernel_export.py [--prefixes 200000]
"""

from __future__ import annotations

import argparse
import ipaddress
import time
from collections.abc import Iterable

from pybgp.daemon.config import parse_config
from pybgp.daemon.kernel import KernelExporter
from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import FibRoute
from pybgp.rib.route import BestChange, Path, PeerInfo
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

CONFIG = '[global]\nasn = 64600\nrouter_id = "10.69.0.2"\n[kernel]\nexclude_community = ["64698:64699"]\n'


class CountingFib(MemoryFib):
    """A FibPort that only counts what it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def apply(self, replace: Iterable[FibRoute] = (), delete: Iterable[Prefix] = ()) -> None:
        self.count += sum(1 for _ in replace)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=200_000)
    args = parser.parse_args()
    fib = CountingFib()
    exporter = KernelExporter(fib, parse_config(CONFIG))
    tors = [
        PeerInfo(name=f"tor{i}", address=ipaddress.ip_address(gw), asn=64600, local_as=64600, interface=dev)
        for i, (gw, dev) in enumerate((("10.69.0.65", "eth0"), ("10.69.0.129", "eth1")), start=1)
    ]
    paths = [Path(attributes=PathAttributes(next_hop=p.address, local_pref=100), peer=p) for p in tors]  # type: ignore[arg-type]
    changes = [
        BestChange(
            prefix=Prefix(Afi.IPV4, (0x0B000000 + (i << 8)) & 0xFFFFFF00, 24),
            best=paths[0],
            multipath=tuple(paths),
        )
        for i in range(args.prefixes)
    ]
    exporter._scheduled = True  # one batch, as the daemon's loop turn gives it
    started = time.perf_counter()
    exporter.on_best_changes(changes)
    exporter._scheduled = False
    exporter.flush_pending()
    seconds = time.perf_counter() - started
    assert fib.count == args.prefixes
    print(
        f"best change -> FibRoute batch: {args.prefixes} changes in {seconds:.2f} s = "
        f"{seconds / args.prefixes * 1e6:.1f} us per change (2-path ECMP, shared attributes)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
