"""Figure: `KernelExporter` CPU per best-path change, shared vs unique attribute sets (issue 6, feed (c)).

The feed benchmark's pybgpd spends part of its time between the Loc-RIB and the FIB: the exporter turns
each `BestChange` into a nexthop set (rule 6, kernel policy, one `NextHop` per merged path). This runs
that step alone, the way feeds (b) and (c) drive it: per prefix one change with the first ToR's path,
then one with both (ECMP), either over two shared attribute sets (b) or with a unique attribute set per
prefix and ToR (c: MED = i), into a FIB that only counts. CPU seconds (`process_time`) of
`on_best_changes` + `flush_pending`; pin it (`taskset -c 1`) and compare versions with `PYTHONPATH`.

Run: `taskset -c 1 .venv/bin/python benchmarks/feed_exporter.py [--prefixes 100000]
[--attributes unique|shared|both]`
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
    """A FibPort that only counts the routes it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def apply(self, replace: Iterable[FibRoute] = (), delete: Iterable[Prefix] = ()) -> None:
        self.count += sum(1 for _ in replace)


def changes(prefixes: int, unique: bool) -> list[BestChange]:
    tors = [
        PeerInfo(name=f"tor{i}", address=ipaddress.IPv4Address(gw), asn=64600, local_as=64600, interface=dev)
        for i, (gw, dev) in enumerate((("10.69.0.65", "eth0"), ("10.69.0.129", "eth1")), start=1)
    ]
    shared = [PathAttributes(next_hop=p.address, local_pref=100) for p in tors]  # type: ignore[arg-type]
    out: list[BestChange] = []
    for i in range(prefixes):
        if unique:
            attrs = [PathAttributes(next_hop=p.address, local_pref=100, med=i) for p in tors]  # type: ignore[arg-type]
        else:
            attrs = shared
        paths = [Path(attributes=a, peer=p) for a, p in zip(attrs, tors, strict=True)]
        prefix = Prefix(Afi.IPV4, (0x0B000000 + (i << 8)) & 0xFFFFFF00, 24)
        out.append(BestChange(prefix=prefix, best=paths[0], multipath=(paths[0],)))
        out.append(BestChange(prefix=prefix, best=paths[0], multipath=tuple(paths)))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=100_000)
    parser.add_argument("--attributes", choices=("unique", "shared", "both"), default="both")
    args = parser.parse_args()
    kinds = ("unique", "shared") if args.attributes == "both" else (args.attributes,)
    for kind in kinds:
        batch = changes(args.prefixes, kind == "unique")
        fib = CountingFib()
        exporter = KernelExporter(fib, parse_config(CONFIG))
        exporter._scheduled = True  # no loop here: one batch, written by the explicit flush below
        started = time.process_time()
        exporter.on_best_changes(batch)
        exporter._scheduled = False
        exporter.flush_pending()
        cpu = time.process_time() - started
        assert fib.count == args.prefixes
        print(
            f"{kind} attribute sets: {len(batch):,} changes -> {fib.count:,} routes in {cpu:.3f} CPU s "
            f"= {cpu / len(batch) * 1e6:.2f} us per change"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
