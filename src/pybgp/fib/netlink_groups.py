"""Bookkeeping of kernel nexthop objects and groups shared by routes (no I/O).

Owns: which nexthop object id stands for which `NextHop`, which group id for which nexthop set, the
routes using each group, id allocation that avoids ids already taken in the kernel, and the plans
`NetlinkFib` turns into messages: a batch of route changes (reusing a group whose members already
equal the wanted set; rewriting a whole group in one message when every route of it moves to the
same new set), a failover (`nexthop_down`: rewrite or remove only the groups holding the dead
nexthop), and garbage (groups no route uses, nexthops no group uses). Never does: netlink, time.

Every route in nexthop-object mode points at a group, even a group of one, so a dead nexthop is
always handled by touching groups: a group left empty is deleted and the kernel removes its routes.

Memory (issue 6): the only per-route state is one `route_gid` entry (the prefix object is the RIB's,
the group id object is shared by the group's routes). A group counts its routes instead of holding
a set of them (a second hash table as large as `route_gid`: ~30-60 bytes per route); the rare
operations that need a group's routes (a group deleted while routes use it, a failed group write)
walk `route_gid` once. `route_gid` is a `RouteMap` (split over fixed dicts, so growing it never copies
the whole table at once: see `route_map`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from pybgp.fib.model import NextHop
from pybgp.fib.route_map import SHARDS, RouteMap
from pybgp.wire.nlri import Prefix

Hops = tuple[NextHop, ...]


@dataclass(slots=True)
class Group:
    """A kernel nexthop group: its id, its members now, and how many routes point at it."""

    gid: int
    nexthops: Hops
    routes: int = 0


@dataclass(slots=True)
class RoutePlan:
    """What a batch needs: nexthop objects and groups to create or rewrite, then route moves."""

    new_nexthops: list[NextHop] = field(default_factory=list)
    group_writes: list[tuple[int, Hops, Hops | None]] = field(default_factory=list)  # gid, new, old
    moves: list[tuple[Prefix, int]] = field(default_factory=list)  # prefix -> group id
    unchanged: int = 0


class GroupTable:
    """Nexthop ids, groups and the route -> group map, kept in step with what the kernel holds."""

    def __init__(self, first_id: int = 0x0B60000, taken: Iterable[int] = ()) -> None:
        self.nh_ids: dict[NextHop, int] = {}
        self.nh_groups: dict[NextHop, set[int]] = {}
        self.groups: dict[int, Group] = {}
        self.index: dict[Hops, int] = {}
        self.route_gid = RouteMap()
        self._taken: set[int] = set(taken)
        self._next_id = first_id

    # -- ids ------------------------------------------------------------------------------------

    def allocate(self) -> int:
        """A nexthop id unused by us and by anyone else in the kernel at start."""
        while self._next_id in self._taken or self._next_id in self.groups or self._next_id == 0:
            self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        nh_id = self._next_id
        self._taken.add(nh_id)
        self._next_id = (self._next_id + 1) & 0xFFFFFFFF
        return nh_id

    def release(self, nh_id: int) -> None:
        self._taken.discard(nh_id)

    # -- queries --------------------------------------------------------------------------------

    def nexthops_of(self, prefix: Prefix) -> Hops | None:
        gid = self.route_gid.get(prefix)
        if gid is None:
            return None
        group = self.groups.get(gid)
        return group.nexthops if group is not None else ()

    def prefixes_in(self, gids: Collection[int]) -> list[Prefix]:
        """Routes pointing at any of `gids`: one walk over every route (only for rare events)."""
        if not any(gid in self.groups and self.groups[gid].routes for gid in gids):
            return []
        wanted = set(gids)
        return [prefix for prefix, gid in self.route_gid.pairs() if gid in wanted]

    # -- route batches --------------------------------------------------------------------------

    def plan(self, wanted: dict[Prefix, Hops]) -> RoutePlan:
        """Decide groups and moves for `wanted` routes; state changes only in `commit_*` calls.

        A route whose group already has exactly the wanted members is unchanged (so updates that
        follow a `nexthop_down` cost nothing). When every route of one group moves to the same new
        set that no group has yet, the group itself is rewritten: one message instead of one per route.
        """
        plan = RoutePlan()
        # A batch shares a few nexthop tuple objects over many routes: compare and hash each distinct
        # object once (NextHop hashing/equality is Python-level: ~1 us per route otherwise), and keep
        # the routes to move per distinct set, so the moves are built per set, not looked up per route.
        canon: dict[int, Hops] = {}  # id(tuple) -> the first equal tuple of this batch
        by_value: dict[Hops, Hops] = {}
        pending: dict[int, list[Prefix]] = {}  # id(canonical tuple) -> routes to point at that set
        same: dict[tuple[int, int], bool] = {}  # (gid, id(canonical tuple)) -> group has exactly it
        by_source: dict[tuple[int, int], int] = {}  # (gid now, id(canonical tuple)) -> routes moving
        route_gid, groups = self.route_gid, self.groups
        shards = route_gid.shards  # `route_gid.get(prefix)` without a method call per route
        # Consecutive routes mostly share their tuple and their current group (a feed's batch: one
        # ToR's new prefixes, then the other ToR's moving from one group to the same pair), so the
        # lookups above are done again only when the tuple or the group differs from the route before.
        last_hops: Hops | None = None
        kid, routes = 0, []
        last_gid: int | None = None
        key, hit = (0, 0), False
        for prefix, hops in wanted.items():
            if hops is not last_hops:
                known = canon.get(id(hops))
                if known is None:
                    known = canon[id(hops)] = by_value.setdefault(hops, hops)
                kid = id(known)
                routes = pending.setdefault(kid, [])
                last_hops, last_gid = hops, None
            gid = shards[hash(prefix) % SHARDS].get(prefix)
            if gid is not None and gid in groups:
                if gid != last_gid:
                    key = (gid, kid)
                    answer = same.get(key)
                    if answer is None:
                        answer = same[key] = groups[gid].nexthops == known
                    hit, last_gid = answer, gid
                if hit:
                    plan.unchanged += 1
                    continue
                by_source[key] = by_source.get(key, 0) + 1
            routes.append(prefix)
        sets = {id(hops): hops for hops in canon.values()}
        new_sets: dict[Hops, int] = {}
        rewritten: dict[int, int] = {}  # id(canonical tuple) -> the group rewritten to it (its routes stay)
        for (gid, kid), count in by_source.items():
            group = groups[gid]
            hops = sets[kid]
            if hops in self.index or hops in new_sets or count != group.routes:
                continue
            plan.group_writes.append((gid, hops, group.nexthops))
            new_sets[hops] = gid
            rewritten[kid] = gid
        for kid, prefixes in pending.items():
            if not prefixes:  # every route of this set is unchanged
                continue
            hops = sets[kid]
            source = rewritten.get(kid)
            if source is not None:  # the rewritten group's routes need no move (rare: one walk of them)
                prefixes = [p for p in prefixes if route_gid.get(p) != source]
                if not prefixes:
                    continue
            gid = new_sets.get(hops)
            if gid is None:
                gid = self.index.get(hops)
                if gid in rewritten.values():  # that group is getting other members in this batch
                    gid = None
            if gid is None:
                gid = self.allocate()
                new_sets[hops] = gid
                plan.group_writes.append((gid, hops, None))
            plan.moves.extend([(prefix, gid) for prefix in prefixes])
        seen: set[NextHop] = set()
        for _gid, hops, _old in plan.group_writes:
            for nh in hops:
                if nh not in self.nh_ids and nh not in seen:
                    seen.add(nh)
                    plan.new_nexthops.append(nh)
        return plan

    def commit_nexthop(self, nh: NextHop, nh_id: int) -> None:
        self.nh_ids[nh] = nh_id
        self.nh_groups.setdefault(nh, set())

    def commit_group(self, gid: int, hops: Hops) -> None:
        """Record that group `gid` now has members `hops` (created or rewritten)."""
        group = self.groups.get(gid)
        if group is None:
            group = self.groups[gid] = Group(gid, hops)
        else:
            if self.index.get(group.nexthops) == gid:
                del self.index[group.nexthops]
            for nh in group.nexthops:
                if nh not in hops:
                    self.nh_groups.get(nh, set()).discard(gid)
            group.nexthops = hops
        self.index.setdefault(hops, gid)
        for nh in hops:
            self.nh_groups.setdefault(nh, set()).add(gid)

    def commit_move(self, prefix: Prefix, gid: int) -> None:
        """Record that route `prefix` now points at group `gid` (which must exist)."""
        group = self.groups[gid]
        old = self.route_gid.get(prefix)
        if old == gid:
            return
        if old is not None and old in self.groups:
            self.groups[old].routes -= 1
        self.route_gid[prefix] = group.gid  # the group's own int object: no int per route
        group.routes += 1

    def commit_moves(self, moves: list[tuple[Prefix, int]]) -> list[int | None]:
        """`commit_move` for a batch (one tight loop: the writer thread's caller commits a whole table
        this way before the kernel confirms); returns each route's group before, None when it had none."""
        shards, groups = self.route_gid.shards, self.groups
        olds: list[int | None] = []
        append = olds.append
        for prefix, gid in moves:
            group = groups[gid]
            shard = shards[hash(prefix) % SHARDS]
            old = shard.get(prefix)
            append(old)
            if old == gid:
                continue
            if old is not None and old in groups:
                groups[old].routes -= 1
            shard[prefix] = group.gid  # the group's own int object: no int per route
            group.routes += 1
        return olds

    def forget_route(self, prefix: Prefix) -> None:
        gid = self.route_gid.pop_gid(prefix)
        if gid is not None and gid in self.groups:
            self.groups[gid].routes -= 1

    def forget_all_routes(self) -> None:
        """Forget every group route at once (their groups are about to be deleted)."""
        self.route_gid.clear()
        for group in self.groups.values():
            group.routes = 0

    # -- failover -------------------------------------------------------------------------------

    def plan_nexthop_down(self, nh: NextHop) -> tuple[list[tuple[int, Hops]], list[int]]:
        """Groups holding `nh`: (gid, remaining members) to rewrite, and gids left empty to delete."""
        rewrites: list[tuple[int, Hops]] = []
        deletes: list[int] = []
        for gid in sorted(self.nh_groups.get(nh, ())):
            group = self.groups.get(gid)
            if group is None:
                continue
            remaining = tuple(h for h in group.nexthops if h != nh)
            if remaining:
                rewrites.append((gid, remaining))
            else:
                deletes.append(gid)
        return rewrites, deletes

    def drop_group(self, gid: int) -> set[Prefix]:
        """Forget group `gid` (deleted in the kernel, which removed its routes); returns those routes."""
        return set(self.drop_groups([gid]))

    def drop_groups(self, gids: Collection[int]) -> list[Prefix]:
        """Forget groups deleted in the kernel (which removed their routes); returns those routes.

        One walk over the routes for all of them, and none when no route used them.
        """
        routes = self.prefixes_in(gids)
        shards = self.route_gid.shards  # a million routes when a group of a whole table goes
        for prefix in routes:
            del shards[hash(prefix) % SHARDS][prefix]
        for gid in gids:
            self._drop_group(gid)
        return routes

    def _drop_group(self, gid: int) -> None:
        group = self.groups.pop(gid, None)
        if group is None:
            return
        if self.index.get(group.nexthops) == gid:
            del self.index[group.nexthops]
            for other in self.groups.values():  # another group with the same members takes over
                if other.nexthops == group.nexthops:
                    self.index[other.nexthops] = other.gid
                    break
        for nh in group.nexthops:
            self.nh_groups.get(nh, set()).discard(gid)
        self.release(gid)

    def drop_nexthop(self, nh: NextHop) -> None:
        nh_id = self.nh_ids.pop(nh, None)
        self.nh_groups.pop(nh, None)
        if nh_id is not None:
            self.release(nh_id)

    # -- garbage --------------------------------------------------------------------------------

    def garbage(self) -> tuple[list[int], list[NextHop]]:
        """Groups no route uses, then nexthop objects no remaining group uses."""
        groups = [gid for gid, group in self.groups.items() if not group.routes]
        dead = set(groups)
        nexthops = [nh for nh, gids in self.nh_groups.items() if not (gids - dead)]
        return groups, nexthops
