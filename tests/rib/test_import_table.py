"""A neighbor without an import table (`import_table=False`, BIRD's `import table off`) keeps no
pre-policy Adj-RIB-In: every route decision, count, flush, graceful-restart and RFC 7313 sweep must
come out as with the table, from the Loc-RIB alone (Hypothesis, both Ribs fed the same events)."""

from __future__ import annotations

import dataclasses
import ipaddress
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.rib.manager import Rib
from pybgp.rib.policy import Policy
from pybgp.rib.route import Path, PeerInfo
from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
V4 = (1, 1)
PREFIXES = [Prefix.parse(f"10.{i}.0.0/16") for i in range(6)]
NAMES = ["p0", "p1", "p2"]
REJECT = 65000 << 16 | 666
# Prefix-free rule 4, a community reject, and a policy that reads the prefix.
IMPORTS: dict[str, dict[str, Any]] = {
    "p0": {"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}]},
    "p1": {"rules": [{"match": {"community": "65000:666"}, "action": "reject"},
                     {"set": {"local_pref": 150}}], "default": "accept"},
    "p2": {"rules": [{"match": {"prefix": "10.1.0.0/16"}, "action": "reject"}], "default": "accept"},
}


def peer(name: str) -> PeerInfo:
    """A fresh `PeerInfo` per session, as the Speaker makes one on every Established."""
    i = NAMES.index(name)
    return PeerInfo(name=name, address=IP(f"10.255.0.{i + 1}"), asn=64600, local_as=64600,
                    router_id=IP(f"1.1.1.{i + 1}"), local_address=IP("10.255.0.100"))


def attrs(lp: int | None, med: int | None, tagged: bool) -> PathAttributes:
    return PathAttributes(origin=Origin.IGP, local_pref=lp, med=med, next_hop=IP("10.255.1.1"),
                          as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65001,)),),
                          communities=(REJECT,) if tagged else ())


names_st = st.sampled_from(NAMES)
prefixes_st = st.sets(st.integers(0, len(PREFIXES) - 1), min_size=1)  # indexes into PREFIXES
op_st = st.one_of(
    st.tuples(st.just("announce"), names_st, prefixes_st, st.sampled_from([None, 100, 200]),
              st.sampled_from([None, 0, 10]), st.booleans()),
    st.tuples(st.just("withdraw"), names_st, prefixes_st),
    st.tuples(st.just("down"), names_st, st.booleans()),
    st.tuples(st.just("detach"), names_st, st.booleans()),
    st.tuples(st.just("eor"), names_st),
    st.tuples(st.just("tick"), names_st),
    st.tuples(st.just("borr"), names_st),
    st.tuples(st.just("eorr"), names_st),
)


def shape(path: Path, with_stale: bool) -> tuple[object, ...]:
    """What a path says: a twin (`LocRib._twin`: the set of the prefix's other path, its own next hop
    in `next_hops`) says the same as the path it stands for, and which path of a prefix becomes the
    twin depends on arrival order, which a flush's order changes. So the next hop is compared as
    the path's (`next_hops`, else NEXT_HOP) and the set without it."""
    hops = path.next_hops or (path.attributes.next_hop,)
    return (dataclasses.replace(path.attributes, next_hop=None), path.peer.name, hops, path.path_id,
            path.stale if with_stale else None)


def check_counts(rib: Rib) -> None:
    """`LocRib.count` / `stale_count` are kept in step with the table, change by change."""
    for name in NAMES:
        held = [p for prefix in rib.loc.prefixes() for p in rib.loc.candidates(prefix) if p.peer.name == name]
        assert rib.loc.count(name) == len(held)
        assert rib.loc.stale_count(name) == sum(p.stale for p in held)


@settings(max_examples=200, deadline=None)
@given(st.lists(op_st, max_size=30), st.booleans())
def test_no_import_table_is_the_table(ops: list[tuple[object, ...]], addpath: bool) -> None:
    ribs = [Rib(local_as=64600, router_id=IP("10.255.0.100")) for _ in range(2)]
    ctx = WireContext(ibgp=True, addpath_rx=frozenset({V4}) if addpath else frozenset())
    for rib, table in zip(ribs, (True, False), strict=True):
        for each in NAMES:
            rib.add_neighbor(each, import_policy=Policy.from_dict(IMPORTS[each], each), import_table=table)
            rib.neighbor_up(each, peer(each), ctx, [V4], 0.0)
    refreshed = False  # RFC 7313 marks Loc-RIB paths stale only without the table
    now = 0.0
    for op in ops:
        now += 1.0
        kind, name = str(op[0]), str(op[1])
        refreshed |= kind == "borr"
        results = []
        for rib in ribs:
            if rib.neighbors[name].peer is None and kind not in ("tick", "detach", "down"):
                rib.neighbor_up(name, peer(name), ctx, [V4], now)
            if kind == "announce":
                _, _, prefixes, lp, med, tagged = op
                assert isinstance(prefixes, set) and isinstance(tagged, bool)
                nlri = tuple(PREFIXES[i] for i in sorted(prefixes))
                if addpath:  # two path identifiers per prefix, one UPDATE
                    nlri = tuple(Prefix(p.afi, p.network, p.length, i) for p in nlri for i in (1, 2))
                update = Update(attributes=attrs(lp, med, tagged), nlri=nlri)  # type: ignore[arg-type]
                results.append(rib.receive(name, update, now))
            elif kind == "withdraw":
                assert isinstance(op[2], set)
                gone = tuple(PREFIXES[i] for i in sorted(op[2]))
                if addpath:
                    gone = tuple(Prefix(p.afi, p.network, p.length, 1) for p in gone)
                results.append(rib.receive(name, Update(withdrawn=gone), now))
            elif kind == "down":  # with graceful restart: kept stale until End-of-RIB or the timer
                results.append(rib.neighbor_down(name, now, graceful_restart_time=30.0 if op[2] else None))
            elif kind == "detach":  # BFD Down: flushed in slices, maybe around a reconnect's UPDATE
                keys = sorted(set(rib.neighbor_detach(name)))  # with the table: its order, path ids dropped
                out = rib.flush_paths(name, keys[:2], now)
                if op[2] and not addpath:  # with ADD-PATH the table's flush is not exact (`flush_paths`)
                    rib.neighbor_up(name, peer(name), ctx, [V4], now)
                    first = PREFIXES[0] if not addpath else Prefix(PREFIXES[0].afi, PREFIXES[0].network,
                                                                    PREFIXES[0].length, 1)
                    out += rib.receive(name, Update(attributes=attrs(100, None, False), nlri=(first,)), now)
                out += rib.flush_paths(name, keys[2:], now)
                results.append(out)
            elif kind == "eor":
                results.append(rib.receive(name, Update(), now))
            elif kind == "tick":
                results.append(rib.tick(now + 60.0))
            elif kind == "borr":
                rib.refresh_begin(name, V4)
                results.append([])
            else:
                results.append(rib.refresh_end(name, V4, now))
        # The same changes, replayed (the last word per prefix: a sweep's order is the stale set's with
        # the table, the Loc-RIB's without, and two path ids of one prefix may go in either order).
        replayed = [{str(c.prefix): sorted(repr(shape(p, False)) for p in c.multipath) for c in r}
                    for r in results]
        assert replayed[0] == replayed[1]
        for prefix in PREFIXES:
            with_table, without = (rib.loc.candidates(prefix) for rib in ribs)
            # As sets: paths tied to the last step (ADD-PATH) keep their order here, while the table's
            # stale marking re-inserts them.
            assert sorted(repr(shape(p, not refreshed)) for p in with_table) == \
                   sorted(repr(shape(p, not refreshed)) for p in without)
            assert sorted(repr(shape(p, not refreshed)) for p in ribs[0].loc.multipath(prefix)) == \
                   sorted(repr(shape(p, not refreshed)) for p in ribs[1].loc.multipath(prefix))
        for name in NAMES:
            assert ribs[0].accepted_count(name) == ribs[1].accepted_count(name)
            assert refreshed or ({k: shape(p, True) for k, p in ribs[0].accepted(name).items()}
                                 == {k: shape(p, True) for k, p in ribs[1].accepted(name).items()})
            assert ribs[0].counts(name)[1] == ribs[1].counts(name)[1]
            adj = ribs[1].neighbors[name].adj_in
            assert adj is None or (not adj.pre and not adj.stale and not adj.rejected)  # nothing kept
        for rib in ribs:
            check_counts(rib)


def server(import_table: bool) -> Rib:
    rib = Rib(local_as=64600, router_id=IP("10.255.0.100"))
    rib.add_neighbor("p0", import_policy=Policy.accept_all(), import_table=import_table)
    rib.neighbor_up("p0", peer("p0"), WireContext(ibgp=True), [V4], 0.0)
    return rib


def test_import_policy_change_needs_the_routes_again() -> None:
    """Without the table a new import policy cannot be re-run here: `set_import_policy` installs it
    and changes nothing; the routes sent again (ROUTE-REFRESH, or a new session) meet it."""
    rib = server(False)
    rib.receive("p0", Update(attributes=attrs(100, None, False), nlri=tuple(PREFIXES[:2])), 0.0)
    reject = Policy.from_dict({"rules": [{"match": {"prefix": "10.0.0.0/16"}, "action": "reject"}],
                               "default": "accept"})
    assert rib.set_import_policy("p0", reject, 1.0) == []
    assert rib.accepted_count("p0") == 2
    changes = rib.receive("p0", Update(attributes=attrs(100, None, False), nlri=tuple(PREFIXES[:2])), 2.0)
    assert [(c.prefix, c.best) for c in changes if c.best is None] == [(PREFIXES[0], None)]
    assert rib.accepted_count("p0") == 1 and rib.counts("p0") == (1, 1, 0)
    # A withdrawal of the prefix the policy rejected is harmless.
    assert rib.receive("p0", Update(withdrawn=(PREFIXES[0],)), 3.0) == []
    assert rib.loc.best(PREFIXES[1]) is not None


def test_graceful_restart_marks_one_copy_per_path() -> None:
    """Marking a table stale makes one stale `Path` per shared received path, not one per prefix."""
    rib = server(False)
    rib.receive("p0", Update(attributes=attrs(100, None, False), nlri=tuple(PREFIXES)), 0.0)
    assert rib.neighbor_down("p0", 1.0, graceful_restart_time=30.0) == []
    stale = {id(rib.loc.best(p)) for p in PREFIXES}
    assert len(stale) == 1 and rib.counts("p0") == (6, 6, 6)
    assert all(path.stale for p in PREFIXES if (path := rib.loc.best(p)) is not None)
    rib.neighbor_up("p0", peer("p0"), WireContext(ibgp=True), [V4], 2.0)
    rib.receive("p0", Update(attributes=attrs(100, None, False), nlri=(PREFIXES[0],)), 2.0)
    assert rib.counts("p0") == (6, 6, 5)
    swept = rib.receive("p0", Update(), 3.0)  # End-of-RIB
    assert sorted(c.prefix for c in swept) == PREFIXES[1:]
    assert rib.counts("p0") == (1, 1, 0) and rib.next_deadline() is None


def test_flush_keeps_what_the_new_session_sent() -> None:
    """BFD Down then a quick reconnect: the flush removes the old session's paths only (told apart
    by the session's `PeerInfo` object, as the Adj-RIB-In's keys do with the table)."""
    rib = server(False)
    rib.receive("p0", Update(attributes=attrs(100, None, False), nlri=tuple(PREFIXES)), 0.0)
    keys = rib.neighbor_detach("p0")
    assert sorted(keys) == PREFIXES
    rib.neighbor_up("p0", peer("p0"), WireContext(ibgp=True), [V4], 1.0)
    fresh = dataclasses.replace(attrs(200, None, False))
    rib.receive("p0", Update(attributes=fresh, nlri=(PREFIXES[3],)), 1.0)
    changes = rib.flush_paths("p0", keys, 2.0)
    assert sorted(c.prefix for c in changes) == PREFIXES[:3] + PREFIXES[4:]
    best = rib.loc.best(PREFIXES[3])
    assert best is not None and best.attributes.local_pref == 200
    assert rib.counts("p0") == (1, 1, 0)
