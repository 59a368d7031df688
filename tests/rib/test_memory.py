"""Memory per path: 100k prefixes from both ToRs (the server's real case: 300 shared attribute sets,
TARGET rule 4 rewriting next hops), measured with tracemalloc. Target: < 250 bytes per path,
counting the prefix keys, the Adj-RIB-In, the Loc-RIB and rewritten attribute sets."""

from __future__ import annotations

import gc
import ipaddress
import tracemalloc

import pytest

from pybgp.rib.manager import Rib
from pybgp.rib.policy import Policy
from pybgp.rib.route import PeerInfo
from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
N = 100_000
PER_UPDATE = 500


def tor(n: int) -> PeerInfo:
    addr, local, net = (("10.69.0.65", "10.69.0.67", "10.69.0.64/26") if n == 1
                        else ("10.69.0.129", "10.69.0.131", "10.69.0.128/26"))
    return PeerInfo(name=f"tor{n}", address=IP(addr), asn=64600, local_as=64600, router_id=IP(addr),
                    local_address=IP(local), subnet=ipaddress.ip_network(net))


@pytest.mark.slow
def test_bytes_per_path_100k_prefixes_two_peers() -> None:
    attrsets = [PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100, as_path=(
        AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (64599, 64597, 65000 + i)),)) for i in range(300)]
    rib = Rib(local_as=64600, router_id=IP("10.69.0.3"))
    rule4 = Policy.from_dict({"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}],
                              "default": "accept"})
    for n in (1, 2):
        rib.add_neighbor(f"tor{n}", import_policy=rule4)
        rib.neighbor_up(f"tor{n}", tor(n), WireContext(ibgp=True), [(1, 1)], 0.0)
    gc.collect()
    tracemalloc.start()
    try:
        for n in (1, 2):
            for start in range(0, N, PER_UPDATE):
                prefixes = tuple(Prefix(Afi.IPV4, (11 << 24) + (i << 8), 24)
                                 for i in range(start, start + PER_UPDATE))
                update = Update(attributes=attrsets[(start // PER_UPDATE) % 300], nlri=prefixes)
                rib.receive(f"tor{n}", update, 0.0)
                del prefixes, update
        gc.collect()
        used, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_path = used / (2 * N)
    print(f"\nRIB memory: {per_path:.0f} bytes per path ({N} prefixes x 2 peers, {used / 1e6:.1f} MB)")
    assert len(rib.loc) == N
    merged = rib.loc.multipath(Prefix(Afi.IPV4, 11 << 24, 24))
    assert [str(p.next_hop) for p in merged] == ["10.69.0.65", "10.69.0.129"]
    assert per_path < 200  # 168 measured: the Adj-RIB-Ins share the Loc-RIB's prefix keys
    # The rewritten attribute sets are shared: 300 sets x 2 next hops, not one per prefix.
    sample = list(rib.loc.prefixes())[:5000]
    distinct = {id(p.attributes) for prefix in sample for p in rib.loc.multipath(prefix)}
    assert len(distinct) <= 2 * 300


@pytest.mark.slow
def test_bytes_per_prefix_unique_sets_decoded_from_both_tors() -> None:
    """Feed (c) of the feed benchmark through the codec and the server's RIB: a set per prefix
    (MED = index), one prefix per UPDATE, both ToRs with next-hop-self. Each prefix keeps one set
    (the other ToR's is a twin: `LocRib._twin`), no received bytes (BIRD's lists are canonical:
    `image.canonical_image`) and no `Path` object (the Loc-RIB stores pairs). Counted over the
    prefixes after the first 10,000 (by then the intern tables have paused, and their last window
    and the codec's caches are fixed costs): ~375 bytes per prefix, where the set with two `Path`s,
    its image and its bytes took ~630."""
    from pybgp.wire.messages import decode_message
    from pybgp.wire.packing import encode_updates

    first, count = 10_000, 30_000
    ctx = WireContext(ibgp=True)
    rib = Rib(local_as=64600, router_id=IP("10.69.0.3"))
    rule4 = Policy.from_dict({"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}]})
    streams = []
    for n in (1, 2):
        rib.add_neighbor(f"tor{n}", import_policy=rule4, import_table=False)  # pybgpd's default
        rib.neighbor_up(f"tor{n}", tor(n), ctx, [(1, 1)], 0.0)
        own = tor(n).address
        streams.append([b for i in range(count) for b in encode_updates(
            ctx, announced=[Prefix(Afi.IPV4, (48 << 24) + (i << 8), 24)], attributes=PathAttributes(
                origin=Origin.IGP, as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65010,)),),
                next_hop=own, local_pref=100, med=i + 1))])

    def feed(start: int, end: int) -> None:
        for at in range(start, end, PER_UPDATE):  # the two ToRs interleaved, as they arrive
            for n, stream in ((1, streams[0]), (2, streams[1])):
                for data in stream[at:at + PER_UPDATE]:
                    rib.receive(f"tor{n}", decode_message(data, ctx), 0.0)

    gc.collect()
    tracemalloc.start()
    try:
        feed(0, first)
        gc.collect()
        before, _peak = tracemalloc.get_traced_memory()
        feed(first, count)
        gc.collect()
        used, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    per_prefix = (used - before) / (count - first)
    print(f"\nRIB memory, a set per prefix: {per_prefix:.0f} bytes per prefix ({count} prefixes x 2 ToRs)")
    assert len(rib.loc) == count
    merged = rib.loc.multipath(Prefix(Afi.IPV4, 48 << 24, 24))
    assert [str(p.next_hop) for p in merged] == ["10.69.0.65", "10.69.0.129"]
    assert merged[0].attributes is merged[1].attributes and merged[0].attributes.med == 1
    assert per_prefix < 450
