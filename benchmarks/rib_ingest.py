"""Figure: RIB ingest of N prefixes x 2 iBGP peers (the two ToRs) -- paths/s, CPU s, bytes per path.

What a server's `Rib` does with a full feed from its two route-reflector ToRs (TARGET.md): both
sessions Established, import policy "from-tor" (`set.next_hop = "peer-unless-same-subnet"`, TARGET
rule 4), `next_hop_self` export towards both ToRs (so every best change is export-evaluated for the
other ToR and always rejected: iBGP-learned, non-client, RFC 4271 9.2 / RFC 4456 8). The UPDATEs are
encoded up front and decoded inside the run (decode time is reported apart, so the RIB figure is
`Rib.receive` alone), the way a session hands them over.

Two feeds:
- shared: N /24s over S attribute sets (default 300k over 300; `--prefixes 1000000` is the 1M x 2
  case), packed as many prefixes per UPDATE as fit. 9 sets in 10 carry a next hop outside both ToR
  subnets (rewritten to the ToR address, so each set is interned once per ToR), 1 in 10 a
  rack-mate's next hop in ToR1's subnet (kept from ToR1, rewritten from ToR2).
- unique: U /24s (default 100k), one prefix per UPDATE with its own attribute set (MED = index),
  LAB-NOTES' worst case.
- real (`--real`): feed (a) of `benchmarks/feed_server.py`, the real table of
  `mrt/bgpdump/test_data/updates.et-header.2015.gz` (last announcement per IPv4 prefix,
  `feed_data.real_table`: 577,704 prefixes, 89,638 attribute sets), sent as the BIRD ToRs of that
  benchmark send it: ORIGIN, AS_PATH (AS_SETs flattened), MED, LOCAL_PREF and (large) communities
  of the file, NEXT_HOP = the ToR's own address (next-hop-self, inside its subnet, so rule 4 keeps
  it and each ToR's sets differ from the other's), all prefixes of one set packed together.
  `--real-limit N` takes the first N prefixes.

Per feed: receive seconds (wall, CPU), paths per second, RSS growth per path (after a full GC; the
pre-encoded UPDATEs exist before and after, so they are not counted; each feed is built in one
forked process and fed in another, so neither the feed's construction nor another feed's freed
memory is reused unseen by the RIB -- before 2026-11-26 09:30 UTC the feed was built in the measuring
process, which hid ~40-90 bytes per path of the RIB's growth) and peak RSS growth
per path (VmHWM, reset when the feed starts: transients such as a big dict's resize count), and the time for
`neighbor_down` of one ToR (the session-down flush: every prefix drops to one path, one batch), then the
BFD-down path for the other ToR: `neighbor_detach` (its prefix list) and `flush_paths` in the speaker's
2,000-prefix slices (every prefix leaves the Loc-RIB). `--no-import-table` builds the Rib as pybgpd's
default `import_table = false` does (no pre-policy Adj-RIB-In: those lists come from a Loc-RIB walk).
Runs under the daemon's GC thresholds (`pybgp.daemon.main.tune_gc`). Anchor, same run: the decode
time of the same UPDATEs (the codec floor every receiver pays); BIRD's figures for the same feed are
in docs/performance.md ("RIB and kernel: feeding a server").

Run: .venv/bin/python benchmarks/rib_ingest.py [--prefixes N] [--sets S] [--unique U] [--real]
     [--real-limit N] [--testdata DIR] [--lb] [--no-import-table] [--profile FILE] [--tracemalloc] [--json]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import ipaddress
import json
import multiprocessing
import resource
import sys
import time
import tracemalloc
from dataclasses import dataclass
from pathlib import Path

from pybgp.aio.speaker import FLUSH_SLICE
from pybgp.daemon.main import tune_gc
from pybgp.rib.manager import Rib
from pybgp.rib.policy import Policy
from pybgp.rib.route import PeerInfo
from pybgp.wire.attributes import AsPathSegment, PathAttributes, clear_intern_cache
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin, Safi
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update, decode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

LOCAL_AS = 64600
TORS = (
    ("tor1", "10.69.0.65", "10.69.0.100", "10.69.0.64/26", "10.69.0.1"),
    ("tor2", "10.69.0.129", "10.69.0.164", "10.69.0.128/26", "10.69.0.2"),
)
FROM_TOR = {"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}]}
TESTDATA = Path(__file__).resolve().parents[2] / "shared" / "testdata"


def rss_bytes(field: str = "VmRSS") -> int:
    """Resident set size now (VmRSS), or its peak since `reset_peak_rss` (VmHWM, what the daemon's
    `bytes per path` in feed_server.py is built from)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak_rss() -> None:
    """Start VmHWM afresh at the current RSS (Linux `clear_refs` 5), so the peak is the feed's own."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class GcTimer:
    """Seconds spent in the cyclic GC (`gc.callbacks`), per generation: Prefix tuples stay tracked
    (their `afi` is an IntEnum member, not an atom), so a full collection walks every key."""

    def __init__(self) -> None:
        self.seconds = [0.0, 0.0, 0.0]
        self.count = [0, 0, 0]
        self._t0 = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._t0 = time.perf_counter()
        else:
            gen = info["generation"]
            self.seconds[gen] += time.perf_counter() - self._t0
            self.count[gen] += 1


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def attribute_set(k: int, unique: bool) -> PathAttributes:
    """Set `k`: AS path of the spine and an origin AS; 1 in 10 has a rack-mate's next hop."""
    rack_mate = k % 10 == 0
    nh = "10.69.0.70" if rack_mate else f"10.{70 + (k >> 16) % 100}.{(k >> 8) & 255}.{k & 255 or 1}"
    return PathAttributes(
        origin=Origin.IGP,
        as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (64599, 65000 + k % 500)),),
        next_hop=ipaddress.IPv4Address(nh),
        local_pref=100,
        med=k if unique else None,
        communities=((64599 << 16) | (k % 300),),
    )


def build_feed(prefixes: int, sets: int, unique: bool, ctx: WireContext) -> list[bytes]:
    """The UPDATE stream one ToR sends (both send the same: a reflector passes routes unchanged)."""
    out: list[bytes] = []
    if unique:
        for i in range(prefixes):
            pfx = Prefix(Afi.IPV4, (11 << 24) + (i << 8), 24)
            out.extend(encode_updates(ctx, attributes=attribute_set(i, True), announced=[pfx]))
        return out
    groups: list[list[Prefix]] = [[] for _ in range(sets)]
    for i in range(prefixes):
        groups[i % sets].append(Prefix(Afi.IPV4, (11 << 24) + (i << 8), 24))
    for k, group in enumerate(groups):
        out.extend(encode_updates(ctx, attributes=attribute_set(k, False), announced=group))
    return out


def as_bird_sends(attrs: PathAttributes, next_hop: ipaddress.IPv4Address) -> PathAttributes:
    """A set of the real table as feed (a)'s BIRD ToRs send it: the attributes their static blocks
    set (`feed_data.feed_a`: AS_SETs flattened into the sequence) and their own address as next hop."""
    asns = [a for seg in attrs.as_path
            if seg.type in (AsPathSegmentType.AS_SEQUENCE, AsPathSegmentType.AS_SET) for a in seg.asns]
    return PathAttributes(
        origin=attrs.origin,
        as_path=tuple(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, tuple(asns[i:i + 255]))
                      for i in range(0, len(asns), 255)),
        next_hop=next_hop,
        med=attrs.med,
        local_pref=attrs.local_pref if attrs.local_pref is not None else 100,
        communities=attrs.communities,
        large_communities=attrs.large_communities,
    )


def build_real_feed(
    testdata: Path, limit: int | None, ctx: WireContext
) -> tuple[int, dict[str, list[bytes]]]:
    """Feed (a) per ToR: (prefix count, ToR name -> its UPDATE stream). Reuses the feed benchmark's
    table (`feed_data.real_table`) so both benchmarks feed the same routes."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from feed_data import real_table

    groups: dict[int, tuple[PathAttributes, list[Prefix]]] = {}
    table = real_table(testdata, limit)
    for (network, length), attrs in table.items():
        groups.setdefault(id(attrs), (attrs, []))[1].append(Prefix(Afi.IPV4, network, length))
    streams: dict[str, list[bytes]] = {}
    for name, address, *_ in TORS:
        tor = ipaddress.IPv4Address(address)
        stream: list[bytes] = []
        for attrs, prefixes in groups.values():
            stream.extend(encode_updates(ctx, attributes=as_bird_sends(attrs, tor), announced=prefixes))
        streams[name] = stream
    count = len(table)
    del table, groups
    clear_intern_cache()  # the MRT decode's sets are not the RIB's: free them before measuring
    return count, streams


def make_rib(lb: bool, import_table: bool = True) -> Rib:
    rib = Rib(local_as=LOCAL_AS, router_id=ipaddress.IPv4Address("10.69.0.100"))
    for name, *_ in TORS:
        rib.add_neighbor(name, import_policy=Policy.from_dict(FROM_TOR, "from-tor"), next_hop_self=True,
                         import_table=import_table)
    if lb:  # TARGET's load-balancer session: eBGP on loopback, `export = "reject"`
        rib.add_neighbor("lb", import_policy=Policy.accept_all(), export_policy=Policy.reject_all(),
                         import_table=import_table)
    return rib


def bring_up(rib: Rib, ctx: WireContext, lb: bool) -> None:
    if lb:
        lb_peer = PeerInfo(name="lb", address=ipaddress.IPv4Address("127.0.0.1"), asn=65534,
                           local_as=LOCAL_AS,
                           router_id=ipaddress.IPv4Address("127.0.0.1"),
                           local_address=ipaddress.IPv4Address("127.0.0.1"))
        rib.neighbor_up("lb", lb_peer, WireContext(), [(Afi.IPV4, Safi.UNICAST)], 0.0)
        rib.sync_step(0.0)
    for name, address, local, subnet, router_id in TORS:
        peer = PeerInfo(
            name=name, address=ipaddress.IPv4Address(address), asn=LOCAL_AS, local_as=LOCAL_AS,
            router_id=ipaddress.IPv4Address(router_id), local_address=ipaddress.IPv4Address(local),
            subnet=ipaddress.IPv4Network(subnet), interface=f"eth{name[-1]}",
        )
        rib.neighbor_up(name, peer, ctx, [(Afi.IPV4, Safi.UNICAST)], 0.0)
        rib.sync_step(0.0)  # empty Loc-RIB: only End-of-RIB


@dataclass(frozen=True, slots=True, kw_only=True)
class Result:
    feed: str
    prefixes: int
    paths: int
    updates: int
    decode_s: float
    receive_s: float
    receive_cpu_s: float
    paths_per_s: float
    bytes_per_path: float
    peak_bytes_per_path: float
    best_changes: int
    gc_s: float
    gc_full: int
    down_s: float
    down_changes: int
    detach_s: float
    flush_s: float


def build_streams(name: str, prefixes: int, sets: int, unique: bool,
                  testdata: Path | None = None) -> tuple[int, dict[str, list[bytes]]]:
    """(prefix count, ToR name -> its UPDATE stream) of one feed."""
    ctx = WireContext(ibgp=True)
    if name == "real":
        assert testdata is not None
        return build_real_feed(testdata, prefixes or None, ctx)
    stream = build_feed(prefixes, sets, unique, ctx)
    return prefixes, {tor: stream for tor, *_ in TORS}  # a reflector passes routes unchanged


def run_feed(name: str, prefixes: int, streams: dict[str, list[bytes]], profile: cProfile.Profile | None,
             trace: bool, lb: bool, import_table: bool = True) -> Result:
    """Feed `streams` to a fresh `Rib`. Run it in a process that did not build the streams: building
    them frees far more small objects (the feed's `Prefix` lists, the MRT decode) than the RIB then
    allocates, and the RIB reusing that freed memory would not show as RSS growth."""
    ctx = WireContext(ibgp=True)
    rib = make_rib(lb, import_table)
    bring_up(rib, ctx, lb)
    gc.collect()
    if trace:
        tracemalloc.start(8)
    base_rss = rss_bytes()
    reset_peak_rss()
    decode_s = receive_s = decode_cpu = 0.0
    changes = 0
    timer = GcTimer()
    gc.callbacks.append(timer)
    cpu0 = cpu_seconds()
    if profile is not None:
        profile.enable()
    for peer_name, *_ in TORS:
        for data in streams[peer_name]:
            t0, c0 = time.perf_counter(), time.process_time()
            msg = decode_message(data, ctx)
            t1 = time.perf_counter()
            decode_cpu += time.process_time() - c0
            assert isinstance(msg, Update)
            changes += len(rib.receive(peer_name, msg, 0.0))
            receive_s += time.perf_counter() - t1
            decode_s += t1 - t0
        rib.output(1e9, force=True)  # what the exports queued (nothing: the other ToR is iBGP)
    if profile is not None:
        profile.disable()
    cpu = cpu_seconds() - cpu0
    peak = rss_bytes("VmHWM") - base_rss
    gc.callbacks.remove(timer)
    del msg
    gc.collect()
    grown = rss_bytes() - base_rss
    paths = 2 * prefixes
    if trace:
        snap = tracemalloc.take_snapshot()
        traced, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(f"  tracemalloc: {traced / paths:.0f} bytes per path live; top sites:")
        for stat in snap.statistics("lineno")[:12]:
            print(f"    {stat.size / paths:7.1f} B/path  {stat.count:>9,}  {stat.traceback[0]}")
    assert len(rib.loc) == prefixes, (len(rib.loc), prefixes)
    assert all(len(rib.loc.multipath(p)) == 2 for p in list(rib.loc.prefixes())[:100])
    t0 = time.perf_counter()
    down = rib.neighbor_down("tor1", 0.0)
    down_s = time.perf_counter() - t0
    assert len(down) == prefixes
    t0 = time.perf_counter()  # BFD Down of the other ToR: its prefix list, then the speaker's slices
    keys = rib.neighbor_detach("tor2")
    t1 = time.perf_counter()
    flushed = sum(len(rib.flush_paths("tor2", keys[i:i + FLUSH_SLICE], 0.0))
                  for i in range(0, len(keys), FLUSH_SLICE))
    flush_s = time.perf_counter() - t1
    assert flushed == prefixes and len(rib.loc) == 0
    updates = sum(len(s) for s in streams.values())
    return Result(feed=name, prefixes=prefixes, paths=paths, updates=updates, decode_s=decode_s,
                  receive_s=receive_s, receive_cpu_s=max(0.0, cpu - decode_cpu),
                  paths_per_s=paths / receive_s if receive_s else 0.0, bytes_per_path=grown / paths,
                  peak_bytes_per_path=peak / paths,
                  best_changes=changes, gc_s=sum(timer.seconds), gc_full=timer.count[2], down_s=down_s,
                  down_changes=len(down), detach_s=t1 - t0, flush_s=flush_s)


def main(argv: list[str] | None = None) -> list[Result]:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefixes", type=int, default=300_000, help="shared feed: prefixes per ToR")
    ap.add_argument("--sets", type=int, default=300, help="shared feed: attribute sets")
    ap.add_argument("--unique", type=int, default=100_000, help="unique feed: prefixes per ToR (0: skip)")
    ap.add_argument("--real", action="store_true",
                    help="add feed (a): the real table of the MRT file, as the feed benchmark's ToRs send it")
    ap.add_argument("--real-limit", type=int, default=0, help="real feed: only the first N prefixes")
    ap.add_argument("--testdata", type=Path, default=TESTDATA, help="the shared test data directory")
    ap.add_argument("--profile", help="write a cProfile of the receive loops to this file")
    ap.add_argument("--tracemalloc", action="store_true", help="print the top allocation sites")
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--no-import-table", dest="import_table", action="store_false",
                    help="keep no pre-policy Adj-RIB-In (pybgpd's default `import_table = false`)")
    ap.add_argument("--lb", action="store_true",
                    help='add an Established eBGP "lb" neighbor with export = "reject" (TARGET config)')
    args = ap.parse_args(argv)
    tune_gc()
    profile = cProfile.Profile() if args.profile else None
    feeds = [("shared", args.prefixes, args.sets, False)]
    if args.unique:
        feeds.append(("unique", args.unique, args.unique, True))
    if args.real:
        feeds.append(("real", args.real_limit, 0, False))
    results = []
    for name, n, sets, unique in feeds:
        if n <= 0 and name != "real":
            continue
        if name == "real":
            label = f"real: feed (a), first {n:,} prefixes x 2" if n else "real: feed (a), every prefix x 2"
        else:
            label = f"{name}: {n:,} x 2" + (f" over {sets} sets" if not unique else ", one prefix per UPDATE")
        print(label)
        if profile is None:
            # The streams are built in one process and fed in another that only unpickles them, so
            # RSS growth is this feed's RIB alone (see `run_feed`).
            with multiprocessing.get_context("fork").Pool(1) as pool:
                count, streams = pool.apply(build_streams, (name, n, sets, unique, args.testdata))
            with multiprocessing.get_context("fork").Pool(1) as pool:
                r = pool.apply(run_feed, (name, count, streams, None, args.tracemalloc, args.lb,
                                          args.import_table))
            del streams
        else:
            count, streams = build_streams(name, n, sets, unique, args.testdata)
            r = run_feed(name, count, streams, profile, args.tracemalloc, args.lb, args.import_table)
        results.append(r)
        if name == "real":
            print(f"  {r.prefixes:,} prefixes, {r.updates:,} UPDATEs")
        print(f"  decode (anchor)   {r.decode_s:7.2f} s for {r.updates:,} UPDATEs")
        print(f"  Rib.receive       {r.receive_s:7.2f} s wall, {r.receive_cpu_s:.2f} CPU s, "
              f"{r.paths_per_s:,.0f} paths/s, {r.receive_s / r.paths * 1e5:.2f} s per 100k paths")
        print(f"  of which GC       {r.gc_s:7.2f} s ({r.gc_full} full collections)")
        print(f"  memory            {r.bytes_per_path:7.0f} bytes per path (RSS growth / {r.paths:,} paths), "
              f"peak {r.peak_bytes_per_path:.0f} (VmHWM growth, as feed_server.py counts)")
        print(f"  neighbor_down     {r.down_s:7.2f} s for {r.down_changes:,} best changes")
        print(f"  BFD-down flush    {r.detach_s:7.2f} s neighbor_detach, {r.flush_s:.2f} s flush_paths "
              f"({FLUSH_SLICE:,}-prefix slices)")
    if profile is not None:
        profile.dump_stats(args.profile)
        print("profile written to", args.profile)
    if args.json:
        print(json.dumps([{f: getattr(r, f) for f in Result.__slots__} for r in results]))
    return results


if __name__ == "__main__":
    main()
