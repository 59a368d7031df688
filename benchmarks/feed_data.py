"""The three feeds of the feed benchmark, written as BIRD static-route configuration the ToRs originate.

Owns: turning each feed into a BIRD 2 config fragment (cached on disk, since the real table takes a
few seconds to decode):
  (a) the real table of `mrt/bgpdump/test_data/updates.et-header.2015.gz`: the last announcement of
      every IPv4 prefix in the file (577,706 distinct prefixes; 577,704 once the martian 0.0.0.0/32,
      which BIRD will not carry, and one route whose AS path holds the lab's own AS 64600 -- a loop
      every receiver must drop -- are left out), each a static route whose attribute block
      re-creates the original ORIGIN, AS_PATH (AS_SETs flattened into the sequence: BIRD has no
      literal for them), MED, LOCAL_PREF, communities and large communities;
  (b) N synthetic /24s (default 1M, from 16.0.0.0) over 8 shared attribute sets (one static
      protocol per set, its import filter sets the attributes, so BIRD shares them);
  (c) N /24s (default 100k, from 48.0.0.0) each with its own attributes (MED = index): BIRD sends
      one prefix per UPDATE.
Never does: run BIRD or touch a namespace.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CACHE = Path("/var/tmp/pybgp-bench-feed")
MRT_FILE = "mrt/bgpdump/test_data/updates.et-header.2015.gz"
FULL_A, FULL_B, FULL_C = 577_706, 1_000_000, 100_000
_LAB_NET = (10 << 8) | 69  # 10.69.0.0/16, the lab's addresses
_LAB_AS = 64600  # the lab's rack AS (iBGP between server and ToRs)


@dataclass(frozen=True, slots=True, kw_only=True)
class Feed:
    """A feed ready for a ToR: its BIRD fragment (static protocols named feed*) and prefix count."""

    name: str
    description: str
    prefixes: int
    bird_include: Path


def _aspath_block(asns: list[int]) -> str:
    # prepend in reverse: the last prepend becomes the leftmost (neighbor) AS
    return "bgp_path = +empty+; " + "".join(f"bgp_path.prepend({a}); " for a in reversed(asns))


def feed_b(count: int) -> Feed:
    """(b): `count` /24s from 16.0.0.0 over 8 shared attribute sets."""
    path = CACHE / f"feed_b_{count}.conf"
    sets = 8
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        base = int(ipaddress.IPv4Address("16.0.0.0"))
        with tmp.open("w") as out:
            for s in range(sets):
                asns = [64512 + s, 3356, 1299, 15169 + s][: 2 + s % 3]
                out.write(
                    f"protocol static feed{s} {{\n  ipv4 {{ import filter {{ {_aspath_block(asns)}"
                    f"bgp_origin = ORIGIN_IGP; bgp_community.add((65000,{s})); accept; }}; }};\n"
                )
                for i in range(s, count, sets):
                    out.write(f"  route {ipaddress.IPv4Address(base + (i << 8))}/24 blackhole;\n")
                out.write("}\n")
        tmp.rename(path)
    return Feed(
        name="b",
        description=f"{count:,} synthetic /24s, 8 shared attribute sets",
        prefixes=count,
        bird_include=path,
    )


def feed_c(count: int) -> Feed:
    """(c): `count` /24s from 48.0.0.0, each with its own attributes (MED = index)."""
    path = CACHE / f"feed_c_{count}.conf"
    if not path.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        base = int(ipaddress.IPv4Address("48.0.0.0"))
        with tmp.open("w") as out:
            out.write(
                "protocol static feedc {\n  ipv4 { import filter { bgp_path = +empty+; "
                "bgp_path.prepend(65010); bgp_origin = ORIGIN_IGP; accept; }; };\n"
            )
            for i in range(count):
                out.write(
                    f"  route {ipaddress.IPv4Address(base + (i << 8))}/24 blackhole"
                    f" {{ bgp_med = {i + 1}; }};\n"
                )
            out.write("}\n")
        tmp.rename(path)
    return Feed(
        name="c",
        description=f"{count:,} /24s, unique attributes each (one prefix per UPDATE)",
        prefixes=count,
        bird_include=path,
    )


def real_table(testdata: Path, limit: int | None = None) -> dict[tuple[int, int], Any]:
    """Feed (a)'s routes: (network, length) -> the `PathAttributes` of the last announcement of every
    IPv4 prefix in the file, without the prefixes no receiver keeps (see the module docstring).
    Attribute sets are the codec's interned objects, so prefixes sharing a set share the object.
    `benchmarks/rib_ingest.py --real` feeds the same routes to a bare `Rib`."""
    from pybgp.wire.constants import Afi
    from pybgp.wire.mrt import iter_routes, read_mrt

    table: dict[tuple[int, int], Any] = {}
    for route in iter_routes(read_mrt(testdata / MRT_FILE)):
        if route.kind != "A" or route.prefix.afi != Afi.IPV4 or route.attributes is None:
            continue
        net = route.prefix.network
        if (net >> 16) == _LAB_NET or (net >> 24) == 127 or (net >> 24 == 0 and route.prefix.length):
            # never shadow the lab's own 10.69.0.0/16 links or loopback; 0.0.0.0/8 (but the default
            # route) is a martian BGP speakers refuse: the file's 0.0.0.0/32 never reaches BIRD's RIB
            continue
        if any(_LAB_AS in seg.asns for seg in route.attributes.as_path):
            continue  # the lab's AS 64600 in the path: an AS-path loop every receiver must drop
        table[(route.prefix.network, route.prefix.length)] = route.attributes
        if limit is not None and len(table) >= limit:
            break  # a smoke-sized slice: the first `limit` prefixes of the file
    return table


def feed_a(testdata: Path, limit: int | None = None) -> Feed:
    """(a): the real table, last announcement per IPv4 prefix, attributes as BIRD static blocks."""
    tag = "all" if limit is None else str(limit)
    path = CACHE / f"feed_a_{tag}.conf"
    count_path = path.with_suffix(".count")
    if not path.exists() or not count_path.exists():
        from pybgp.wire.constants import AsPathSegmentType, Origin

        table = real_table(testdata, limit)
        keys = list(table)
        if limit is not None:
            keys = keys[:limit]
        origin_name = {
            Origin.IGP: "ORIGIN_IGP",
            Origin.EGP: "ORIGIN_EGP",
            Origin.INCOMPLETE: "ORIGIN_INCOMPLETE",
        }
        blocks: dict[int, str] = {}  # id(attrs) -> block: interned attributes are shared objects
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with tmp.open("w") as out:
            out.write("protocol static feeda {\n  ipv4;\n")
            for key in keys:
                attrs = table[key]
                block = blocks.get(id(attrs))
                if block is None:
                    a = attrs  # PathAttributes
                    asns: list[int] = []
                    for seg in a.as_path:  # type: ignore[attr-defined]
                        if seg.type in (AsPathSegmentType.AS_SEQUENCE, AsPathSegmentType.AS_SET):
                            asns.extend(seg.asns)
                    parts = [_aspath_block(asns)]
                    if a.origin is not None:  # type: ignore[attr-defined]
                        parts.append(f"bgp_origin = {origin_name[a.origin]}; ")  # type: ignore[attr-defined]
                    if a.med is not None:  # type: ignore[attr-defined]
                        parts.append(f"bgp_med = {a.med}; ")  # type: ignore[attr-defined]
                    if a.local_pref is not None:  # type: ignore[attr-defined]
                        parts.append(f"bgp_local_pref = {a.local_pref}; ")  # type: ignore[attr-defined]
                    for c in a.communities:  # type: ignore[attr-defined]
                        parts.append(f"bgp_community.add(({c >> 16},{c & 0xFFFF})); ")
                    for lc in a.large_communities:  # type: ignore[attr-defined]
                        parts.append(f"bgp_large_community.add(({lc[0]},{lc[1]},{lc[2]})); ")
                    block = "{ " + "".join(parts) + "}"
                    blocks[id(attrs)] = block
                network = ipaddress.IPv4Network((key[0], key[1]))
                out.write(f"  route {network} blackhole {block};\n")
            out.write("}\n")
        tmp.rename(path)
        count_path.write_text(f"{len(keys)} {len(blocks)}\n")
    count, distinct = (int(x) for x in count_path.read_text().split())
    return Feed(
        name="a",
        description=f"real table ({MRT_FILE}): {count:,} prefixes, {distinct:,} attribute sets",
        prefixes=count,
        bird_include=path,
    )
