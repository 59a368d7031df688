"""GroupTable planning (no kernel): shared groups, cheap failover, no-op updates, whole-group rewrites,
and the plan of any batch against the sets it asked for (Hypothesis)."""

from __future__ import annotations

from ipaddress import ip_address

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.fib.model import NextHop
from pybgp.fib.netlink_groups import GroupTable, Hops
from pybgp.wire.nlri import Prefix

A = NextHop(ip_address("10.0.1.2"), "eth0")
B = NextHop(ip_address("10.0.2.2"), "eth1")
C = NextHop(ip_address("10.0.3.2"), "eth2")


def prefixes(n: int) -> list[Prefix]:
    return [Prefix.parse(f"10.{100 + i // 256}.{i % 256}.0/24") for i in range(n)]


def commit(table: GroupTable, wanted: dict[Prefix, Hops]) -> None:
    """Apply a plan as if the kernel accepted every request (what NetlinkFib does on success)."""
    plan = table.plan(wanted)
    for nh in plan.new_nexthops:
        table.commit_nexthop(nh, table.allocate())
    for gid, hops, _old in plan.group_writes:
        table.commit_group(gid, hops)
    for prefix, gid in plan.moves:
        table.commit_move(prefix, gid)


def test_routes_with_the_same_set_share_one_group() -> None:
    table = GroupTable(first_id=100, taken=[100, 101])
    ps = prefixes(50)
    wanted = {p: (A, B) for p in ps[:40]} | {p: (A,) for p in ps[40:]}
    plan = table.plan(wanted)
    assert len(plan.new_nexthops) == 2 and len(plan.group_writes) == 2 and len(plan.moves) == 50
    commit(table, wanted)
    assert len(table.groups) == 2
    assert {table.route_gid[p] for p in ps[:40]} == {table.index[(A, B)]}
    assert all(i not in (100, 101) for i in [*table.nh_ids.values(), *table.groups])  # taken ids avoided
    assert table.plan(wanted).unchanged == 50


def test_nexthop_down_touches_groups_not_routes() -> None:
    table = GroupTable()
    ps = prefixes(1000)
    commit(table, {p: (A, B) for p in ps[:900]} | {p: (A,) for p in ps[900:]})
    rewrites, deletes = table.plan_nexthop_down(A)
    assert rewrites == [(table.index[(A, B)], (B,))]
    assert deletes == [table.index[(A,)]]
    gid_ab = table.index[(A, B)]
    table.commit_group(gid_ab, (B,))
    removed = table.drop_group(deletes[0])
    assert removed == set(ps[900:]) and all(p not in table.route_gid for p in ps[900:])
    # the RIB now sends every route without A: nothing to do in the kernel
    plan = table.plan({p: (B,) for p in ps[:900]})
    assert plan.unchanged == 900 and not plan.moves and not plan.group_writes
    groups, nexthops = table.garbage()
    assert groups == [] and nexthops == [A]


def test_whole_group_moving_together_is_one_group_rewrite() -> None:
    table = GroupTable()
    ps = prefixes(300)
    commit(table, {p: (B,) for p in ps})
    gid = table.index[(B,)]
    plan = table.plan({p: (A, B) for p in ps})  # A is back: every route of the group wants {A, B}
    assert plan.moves == [] and plan.group_writes == [(gid, (A, B), (B,))]
    assert plan.new_nexthops == [A]


def test_partial_move_creates_a_new_group_and_keeps_the_old() -> None:
    table = GroupTable()
    ps = prefixes(10)
    commit(table, {p: (A,) for p in ps})
    old = table.index[(A,)]
    wanted = {p: (A, B) for p in ps[:3]}
    plan = table.plan(wanted)
    assert len(plan.moves) == 3 and [w[2] for w in plan.group_writes] == [None]
    commit(table, wanted)
    # in no particular order: `route_gid` is split over several dicts (fib/route_map.py)
    assert table.groups[old].routes == 7 and sorted(table.prefixes_in((old,))) == ps[3:]


def test_rewritten_group_is_not_reused_for_its_old_members() -> None:
    table = GroupTable()
    ps = prefixes(4)
    commit(table, {ps[0]: (A,), ps[1]: (A,), ps[2]: (C,)})
    old = table.index[(A,)]
    # both routes of group {A} move to {A, C}; the route on {C} moves to {A}: it must not land on
    # the group that is being rewritten to {A, C}
    plan = table.plan({ps[0]: (A, C), ps[1]: (A, C), ps[2]: (A,)})
    assert (old, (A, C), (A,)) in plan.group_writes
    target = dict(plan.moves)[ps[2]]
    assert target != old


def test_drop_group_hands_the_index_to_a_twin() -> None:
    table = GroupTable()
    ps = prefixes(3)
    commit(table, {ps[0]: (A, B), ps[1]: (A, C)})
    g_ab, g_ac = table.index[(A, B)], table.index[(A, C)]
    table.commit_group(g_ac, (A,))
    table.commit_group(g_ab, (A,))  # both groups now hold {A}
    keep = table.index[(A,)]
    table.drop_group(keep)
    assert table.index[(A,)] in {g_ab, g_ac} - {keep}


def test_groups_count_routes_and_stay_consistent_through_moves_and_drops() -> None:
    """Groups keep a route count, not a route set (issue 6): counts must follow every change."""
    table = GroupTable()
    ps = prefixes(20)
    commit(table, {p: (A, B) for p in ps})
    ab = table.index[(A, B)]
    assert table.groups[ab].routes == 20
    commit(table, {p: (A,) for p in ps[:5]})  # a partial move: a new group {A}
    a_only = table.index[(A,)]
    assert (table.groups[ab].routes, table.groups[a_only].routes) == (15, 5)
    table.commit_move(ps[0], a_only)  # a move to the group it already uses changes nothing
    assert table.groups[a_only].routes == 5
    table.forget_route(ps[19])
    table.forget_route(ps[19])  # forgetting twice is harmless
    assert table.groups[ab].routes == 14
    removed = table.drop_groups([ab, a_only])
    assert sorted(removed, key=lambda p: p.network) == ps[:19]
    assert table.route_gid == {} and table.groups == {}
    assert table.garbage() == ([], [A, B])


def test_group_ids_in_the_route_map_are_shared_objects() -> None:
    """A route map entry reuses the group's own id object (no int per route after a restart)."""
    table = GroupTable()
    gid = table.allocate()
    table.commit_group(gid, (A,))
    ps = prefixes(3)
    for p in ps:
        table.commit_move(p, int(str(gid)))  # a fresh int, as parsed from a kernel dump
    assert all(table.route_gid[p] is table.groups[gid].gid for p in ps)
    table.forget_all_routes()
    assert table.route_gid == {} and table.groups[gid].routes == 0


SETS: list[Hops] = [(A,), (A, B), (B,), (A, B, C)]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 11), st.integers(0, 3), st.booleans()), max_size=14),
                max_size=6))
def test_plan_per_route_matches_the_wanted_sets(batches: list[list[tuple[int, int, bool]]]) -> None:
    """Whatever the order of a batch, and whether equal sets come as one tuple object or as copies
    (`plan` skips its lookups while the tuple and the current group repeat): after the plan is
    committed every route of the batch has its set, the others keep theirs, a route already on its
    set is counted unchanged and not moved, no group is written without a route or rewrite needing
    it, and the groups' route counts match the route map."""
    table = GroupTable()
    ps = prefixes(12)
    installed: dict[Prefix, Hops] = {}
    for batch in batches:
        wanted: dict[Prefix, Hops] = {}
        for i, s, copy in batch:
            wanted[ps[i]] = tuple(list(SETS[s])) if copy else SETS[s]
        plan = table.plan(dict(wanted))
        same = [p for p, hops in wanted.items() if installed.get(p) == hops]
        assert plan.unchanged == len(same)
        moved = {p for p, _gid in plan.moves}
        assert not moved & set(same) and len(moved) == len(plan.moves)
        targets = {gid for _p, gid in plan.moves}
        assert all(old is not None or gid in targets for gid, _hops, old in plan.group_writes)
        commit(table, wanted)
        installed.update(wanted)
        for p, hops in installed.items():
            assert table.nexthops_of(p) == hops
        counts: dict[int, int] = {}
        for gid in table.route_gid.values():
            counts[gid] = counts.get(gid, 0) + 1
        assert all(g.routes == counts.get(gid, 0) for gid, g in table.groups.items())
