"""Figure: CPU per one-prefix UPDATE after the codec -- RIB, kernel export, kernel writes (issue 6, feed (c)).

What pybgpd does with feed (c) once an UPDATE is decoded, without sockets, FSM or event loop: the RIB of
`rib_ingest.py` (both ToRs Established, import policy "from-tor", `next_hop_self` export towards both),
a `KernelExporter` with the daemon's kernel config (merge paths, the excluded community) and a real
`NetlinkFib` with the writer thread in a throwaway namespace (`s4rp-*` by default, two veth links; no
packet is sent). Feed (c) as BIRD's ToRs send it: one /24 per UPDATE, ORIGIN, AS_PATH 65010, NEXT_HOP =
the ToR's own address (next-hop-self), MED = i + 1, LOCAL_PREF. ToR2 trails ToR1 by `--lag` UPDATEs and
both are applied in turns of `--turn` UPDATEs per session, one kernel batch per turn (the daemon: one
`_deliver` per receive slice, one `flush_pending` per loop turn), so each prefix is written once with
ToR1's path, then again as ECMP.

Prints CPU seconds: the process (loop thread + writer thread), the calling thread split into
`Rib.receive` and export + FIB (`on_best_changes` + `flush_pending`), and the writer thread's (the
kernel's per-route work); plus route writes. The UPDATEs are decoded before the clock starts.
Pin nothing (the writer thread wants the other core); run it under the benchmark lock and compare
versions with `PYTHONPATH`: `flock /tmp/s4/bench.lock .venv/bin/python benchmarks/fib_pipeline.py
[--prefixes 100000] [--rounds 2]`.
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rib_ingest import TORS, GcTimer, bring_up, make_rib

from pybgp.daemon.config import parse_config
from pybgp.daemon.kernel import KernelExporter
from pybgp.daemon.main import tune_gc
from pybgp.fib.netlink import NetlinkFib
from pybgp.rib.manager import Rib
from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update, decode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

CONFIG = (
    '[global]\nasn = 64600\nrouter_id = "10.69.0.100"\n'
    '[kernel]\nmerge_paths = 16\nexclude_community = ["64698:64699"]\n'
)


def make_netns(prefix: str) -> str:
    """A namespace with eth1/eth2 in the two ToR subnets of `rib_ingest.TORS` (veth, peers up)."""
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    for tor, _address, local, subnet, _rid in TORS:
        dev = f"eth{tor[-1]}"
        plen = subnet.split("/")[1]
        for args in (
            ["link", "add", dev, "type", "veth", "peer", "name", f"peer{tor[-1]}"],
            ["link", "set", f"peer{tor[-1]}", "up"],
            ["link", "set", dev, "up"],
            ["addr", "add", f"{local}/{plen}", "dev", dev],
        ):
            subprocess.run(["ip", "-n", name, *args], check=True, timeout=30)
    return name


def feed_c(prefixes: int) -> dict[str, list[Update]]:
    """Each ToR's feed (c) stream, decoded (the codec's work is not measured here)."""
    ctx = WireContext(ibgp=True)
    streams: dict[str, list[Update]] = {}
    for tor, address, *_ in TORS:
        out: list[Update] = []
        for i in range(prefixes):
            attrs = PathAttributes(
                origin=Origin.IGP,
                as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65010,)),),
                next_hop=ipaddress.IPv4Address(address),
                med=i + 1,
                local_pref=100,
            )
            pfx = Prefix(Afi.IPV4, (11 << 24) + (i << 8), 24)
            for data in encode_updates(ctx, attributes=attrs, announced=[pfx]):
                msg = decode_message(data, ctx)
                assert isinstance(msg, Update)
                out.append(msg)
        streams[tor] = out
    return streams


def writer_cpu(fib: NetlinkFib) -> float:
    """CPU seconds of the writer thread so far (its /proc task; 0 without one)."""
    stream = fib._stream
    if stream is None:
        return 0.0
    tid = stream.writer._thread.native_id
    try:
        with open(f"/proc/self/task/{tid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / 100


def run(netns: str, streams: dict[str, list[Update]], lag: int, turn: int) -> dict[str, float]:
    rib: Rib = make_rib(False)
    bring_up(rib, WireContext(ibgp=True), False)
    fib = NetlinkFib(netns=netns, writer_thread=True)
    exporter = KernelExporter(fib, parse_config(CONFIG))
    one, two = streams["tor1"], streams["tor2"]
    gc.collect()
    timer = GcTimer()
    gc.callbacks.append(timer)
    receive_cpu = export_cpu = 0.0
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        i = j = 0
        while i < len(one) or j < len(two):
            for name, stream, start in (("tor1", one, i), ("tor2", two, j)):
                if name == "tor2" and i < lag and i < len(one):
                    continue
                part = stream[start : start + turn]
                if not part:
                    continue
                t0 = time.thread_time()
                changes = []
                for update in part:
                    changes += rib.receive(name, update, 0.0)
                t1 = time.thread_time()
                exporter.on_best_changes(changes)  # no running loop: written at once, one batch
                fib.settle()
                export_cpu += time.thread_time() - t1
                receive_cpu += t1 - t0
                if name == "tor1":
                    i += len(part)
                else:
                    j += len(part)
        fib.settle(wait=True)
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
        thread = writer_cpu(fib)
        assert fib.route_count() == len(one)
        return {
            "cpu": cpu, "wall": wall, "receive": receive_cpu, "export": export_cpu, "writer": thread,
            "writes": fib.stats.route_writes, "gc": sum(timer.seconds), "gcs": sum(timer.count),
        }
    finally:
        gc.callbacks.remove(timer)
        fib.close(flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefixes", type=int, default=100_000)
    ap.add_argument("--lag", type=int, default=30_000, help="UPDATEs ToR1 is ahead when ToR2 starts")
    ap.add_argument("--turn", type=int, default=300, help="UPDATEs per session per receive slice")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--prefix", default="s4rp", help="namespace name prefix")
    args = ap.parse_args()
    tune_gc()
    streams = feed_c(args.prefixes)
    netns = make_netns(args.prefix)
    try:
        for r in range(args.rounds):
            res = run(netns, streams, args.lag, args.turn)
            per = 1e6 / (2 * args.prefixes)
            print(
                f"round {r}: {res['cpu']:.2f} CPU s ({res['wall']:.2f} s wall) for {2 * args.prefixes:,} "
                f"UPDATEs: Rib.receive {res['receive']:.2f} s ({res['receive'] * per:.2f} us/UPDATE), "
                f"export + FIB {res['export']:.2f} s ({res['export'] * per:.2f} us), writer thread "
                f"{res['writer']:.2f} s; {int(res['writes']):,} route writes; GC {res['gc']:.2f} s "
                f"({int(res['gcs'])} collections)"
            )
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False, timeout=30)


if __name__ == "__main__":
    main()
