"""`RouteMap`: the FIB's prefix -> nexthop group map, split over fixed dicts (fib/route_map.py).

It must behave exactly as the `dict[Prefix, int]` it replaced (every operation `GroupTable`,
`NetlinkFib` and `RouteStream` use, checked against a dict under random operations), spread real
tables' prefixes evenly over its dicts (the packed-int hash of a /24 has the same low bits for every
/24), and never copy more than one small dict when it grows.
"""

from __future__ import annotations

import sys
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.fib.route_map import SHARDS, RouteMap, shard_of
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

POOL = [Prefix.parse(f"10.{i // 256}.{i % 256}.0/24") for i in range(40)] + [
    Prefix.parse(f"2001:db8:{i:x}::/48") for i in range(10)
]

OPS = st.sampled_from(["set", "del", "pop", "get", "clear"])
ops = st.lists(st.tuples(OPS, st.sampled_from(POOL), st.integers(1, 5)), max_size=80)


@given(ops)
@settings(max_examples=200, deadline=None)
def test_a_route_map_behaves_as_a_dict(steps: list[tuple[str, Prefix, int]]) -> None:
    model: dict[Prefix, int] = {}
    routes = RouteMap()
    for op, prefix, gid in steps:
        if op == "set":
            model[prefix] = routes[prefix] = gid
        elif op == "del" and prefix in model:
            del model[prefix]
            del routes[prefix]
        elif op == "pop":
            assert routes.pop_gid(prefix) == model.pop(prefix, None)
        elif op == "clear" and gid == 5:
            model.clear()
            routes.clear()
        assert routes.get(prefix) == model.get(prefix)
        assert (prefix in routes) == (prefix in model)
        assert len(routes) == len(model)
    assert routes == model and model == routes
    assert sorted(routes) == sorted(model) and sorted(routes.pairs()) == sorted(model.items())
    assert dict(routes.items()) == model and sorted(routes.values()) == sorted(model.values())


def test_missing_keys_raise_as_in_a_dict() -> None:
    routes = RouteMap()
    prefix = POOL[0]
    try:
        routes[prefix]
    except KeyError:
        pass
    else:
        raise AssertionError("no KeyError")
    assert routes.get(prefix) is None and routes.pop_gid(prefix) is None and routes == {}


def test_real_tables_spread_evenly_over_the_dicts() -> None:
    tables = {
        "/24": [Prefix(Afi.IPV4, (10 << 24) | (i << 8), 24) for i in range(20_000)],
        "/16": [Prefix(Afi.IPV4, (i << 16), 16) for i in range(1, 20_001)],
        "/32": [Prefix(Afi.IPV4, (10 << 24) | i, 32) for i in range(20_000)],
        "/48": [Prefix(Afi.IPV6, (0x2001_0DB8 << 96) | (i << 80), 48) for i in range(20_000)],
    }
    even = 20_000 / SHARDS
    for name, prefixes in tables.items():
        counts = Counter(shard_of(p) for p in prefixes)
        assert len(counts) == SHARDS, name
        assert max(counts.values()) < 1.5 * even and min(counts.values()) > 0.5 * even, name


def test_growing_copies_one_small_dict_at_a_time() -> None:
    routes = RouteMap()
    for i in range(200_000):
        routes[Prefix(Afi.IPV4, i << 8, 24)] = 7
    assert len(routes) == 200_000
    largest = max(sys.getsizeof(shard) for shard in routes.shards)
    whole = sys.getsizeof(dict.fromkeys(range(200_000)))
    assert largest * 10 < whole  # a resize copies at most one shard (the old table of one dict alone)
    assert sum(sys.getsizeof(shard) for shard in routes.shards) <= whole  # and it is not larger in all
