"""Figure: seconds to frame and decode a full IPv4 table (577k prefixes) sent as UPDATE messages.

Builds a deterministic synthetic table (seeded RNG): 577,000 prefixes over 150,000 distinct attribute
sets (AS paths of 2-7 ASNs, some communities / MED), packed the way a router sends a table with
`pybgp.wire.packing.encode_updates`, then times `MessageFramer.feed` + `decode_message` over the stream
in 64 KiB reads on one core, with a cold attribute intern cache. Anchors, same stream, same run:
ExaBGP 5's decoder (`Update.unpack_message` with a negotiated 4-octet-AS session, the code path its
reactor uses), and scapy's BGP dissector (scapy.contrib.bgp) over the first 2,000 messages, scaled up.

Run: .venv/bin/python benchmarks/wire_decode_full_table.py [--prefixes N] [--no-anchor]
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import time

from pybgp.wire.attributes import AsPathSegment, PathAttributes, clear_intern_cache
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.framing import MessageFramer
from pybgp.wire.messages import Update, decode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates


def build_stream(prefixes: int, attr_sets: int, seed: int = 1) -> tuple[bytes, int]:
    rng = random.Random(seed)
    ctx = WireContext()
    seen: set[tuple[int, int]] = set()
    out: list[bytes] = []
    nets: list[Prefix] = []
    while len(nets) < prefixes:
        length = rng.choice((24, 24, 24, 24, 23, 22, 20, 19, 16))
        net = (rng.getrandbits(32) >> (32 - length)) << (32 - length)
        if (net, length) not in seen:
            seen.add((net, length))
            nets.append(Prefix(Afi.IPV4, net, length))
    per_set = prefixes // attr_sets
    messages = 0
    for i in range(attr_sets):
        path = tuple(rng.randrange(1, 400000) for _ in range(rng.randrange(2, 8)))
        attrs = PathAttributes(
            origin=Origin.IGP,
            as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, path),),
            next_hop=ipaddress.IPv4Address("192.0.2.1"),
            med=rng.choice((None, 0, 100)),
            communities=tuple(rng.getrandbits(32) for _ in range(rng.choice((0, 0, 1, 3)))),
        )
        chunk = nets[i * per_set : (i + 1) * per_set] if i < attr_sets - 1 else nets[i * per_set :]
        msgs = encode_updates(ctx, attributes=attrs, announced=chunk)
        messages += len(msgs)
        out.extend(msgs)
    return b"".join(out), messages


def decode_stream(stream: bytes) -> tuple[int, int]:
    ctx = WireContext()
    framer = MessageFramer()
    count = prefixes = 0
    view = memoryview(stream)
    for start in range(0, len(stream), 65536):
        for raw in framer.feed(view[start : start + 65536]):
            msg = decode_message(raw, ctx)
            count += 1
            if isinstance(msg, Update):
                prefixes += len(msg.nlri)
    return count, prefixes


def exabgp_anchor(stream: bytes) -> tuple[float, int]:
    """CPU seconds for ExaBGP to decode every UPDATE body of the stream, and the prefixes it found."""
    from exabgp.bgp.message.direction import Direction
    from exabgp.bgp.message.update import Update as ExaUpdate
    from exabgp.configuration.check import _negotiated
    from exabgp.configuration.configuration import Configuration
    from exabgp.environment import getenv
    from exabgp.logger import log

    env = getenv()
    env.bgp.passive = True
    env.tcp.bind = ""
    log.silence()
    log.init(env)
    conf = (
        "neighbor 127.0.0.1 { router-id 10.0.0.2; local-address 127.0.0.1; local-as 65533; peer-as 65534; "
        "family { ipv4 unicast; } }"
    )
    config = Configuration([conf], text=True)
    config.reload()
    negotiated = _negotiated(next(iter(config.neighbors.values())))
    raws = MessageFramer().feed(stream)
    t0 = time.process_time()
    prefixes = 0
    for raw in raws:
        prefixes += len(ExaUpdate.unpack_message(raw[19:], Direction.IN, negotiated).nlris)
    return time.process_time() - t0, prefixes


def scapy_anchor(stream: bytes, messages: int, sample: int = 2000) -> float:
    from scapy.contrib.bgp import BGP

    framer = MessageFramer()
    raws = framer.feed(stream[: 4096 * sample])[:sample]
    t0 = time.perf_counter()
    for raw in raws:
        BGP(raw)
    return (time.perf_counter() - t0) * messages / len(raws)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prefixes", type=int, default=577_000)
    parser.add_argument("--attr-sets", type=int, default=150_000)
    parser.add_argument("--no-anchor", action="store_true")
    args = parser.parse_args()
    stream, messages = build_stream(args.prefixes, args.attr_sets)
    clear_intern_cache()
    t0, c0 = time.perf_counter(), time.process_time()
    count, prefixes = decode_stream(stream)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    assert count == messages and prefixes == args.prefixes, (count, prefixes)
    print(
        f"pybgp: {prefixes} prefixes in {count} UPDATEs ({len(stream) / 1e6:.1f} MB) "
        f"framed+decoded in {elapsed:.2f} s wall, {cpu:.2f} s CPU ({prefixes / cpu:,.0f} prefixes/CPU-s)"
    )
    if not args.no_anchor:
        exa_s, exa_prefixes = exabgp_anchor(stream)
        print(
            f"anchor ExaBGP 5 Update.unpack_message: {exa_prefixes} prefixes in {exa_s:.2f} CPU s "
            f"(pybgp is {exa_s / cpu:.1f}x ExaBGP; ExaBGP is handed the framed messages, no framing cost)"
        )
        anchor = scapy_anchor(stream, messages)
        print(f"anchor scapy.contrib.bgp (extrapolated from 2000 messages): {anchor:.1f} s")


if __name__ == "__main__":
    main()
