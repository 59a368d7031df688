"""Loc-RIB bookkeeping, loop checks, export rewriting, Adj-RIB-In graceful-restart marking."""

from __future__ import annotations

import ipaddress

from pybgp.rib.adj_rib import AdjRibIn, export_path, loop_reason
from pybgp.rib.loc_rib import LocRib
from pybgp.rib.route import BestChange, Path, PeerInfo, Source, same_path, same_route
from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import AsPathSegmentType, Origin
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
SEQ = AsPathSegmentType.AS_SEQUENCE
RID = IP("10.69.0.3")
TOR1 = PeerInfo(name="tor1", address=IP("10.69.0.65"), asn=64600, local_as=64600, router_id=IP("10.69.0.65"),
                local_address=IP("10.69.0.70"))
TOR2 = PeerInfo(name="tor2", address=IP("10.69.0.129"), asn=64600, local_as=64600,
                router_id=IP("10.69.0.129"), local_address=IP("10.69.0.134"))
SPINE = PeerInfo(name="spine", address=IP("10.1.0.1"), asn=64599, local_as=64600, router_id=IP("10.1.0.1"),
                 local_address=IP("10.1.0.2"))
P = Prefix.parse("10.64.1.0/24")


def mk(peer: PeerInfo, asns: tuple[int, ...] = (64599,), lp: int | None = 100, **kw: object) -> Path:
    attrs = PathAttributes(origin=Origin.IGP, as_path=(AsPathSegment(SEQ, asns),), next_hop=peer.address,  # type: ignore[arg-type]
                           local_pref=lp, **kw)  # type: ignore[arg-type]
    return Path(attributes=attrs, peer=peer)


def test_loc_rib_changes_and_multipath() -> None:
    rib = LocRib()
    a, b = mk(TOR1), mk(TOR2)
    ch = rib.update(P, TOR1, a)
    assert ch is not None and ch.best == a and ch.multipath == (a,)
    ch = rib.update(P, TOR2, b)
    # b's set is a's but for NEXT_HOP: b is stored as a twin holding a's set and its own next hop
    assert ch is not None and ch.multipath[0] == a and same_path(ch.multipath[1], b)
    twin = ch.multipath[1]
    assert twin.attributes is a.attributes and twin.next_hops == (TOR2.address,)
    assert twin.next_hop == b.next_hop
    assert rib.candidates(P) == (a, twin)
    ch = rib.update(P, TOR2, b)  # the same path again: stored as an equal twin (the same one, here)
    assert (ch is None or ch.multipath == (a, twin)) and rib.candidates(P) == (a, twin)
    better = mk(TOR2, lp=200)
    ch = rib.update(P, TOR2, better)
    assert ch is not None and ch.best == better and ch.multipath == (better,)
    assert rib.candidates(P) == (better, a)
    ch = rib.update(P, TOR2, None)
    assert ch is not None and ch.best == a
    assert rib.update(P, TOR2, None) is None
    ch = rib.update(P, TOR1, None)
    assert ch is not None and ch.best is None and P not in rib


def test_staleness_alone_is_no_change() -> None:
    """Marking a path stale reports nothing (`mark_stale`), and its re-announcement, fresh again but
    otherwise the same, reports nothing either: the Loc-RIB of a neighbor without an import table,
    which marks its paths stale, reports what one with the table reports (`test_import_table.py`).
    The counts follow; a re-announcement that changes the route is a change."""
    rib = LocRib()
    a, b = mk(TOR1), mk(TOR2)
    rib.update(P, TOR1, a)
    assert rib.mark_stale("tor1") == 1 and rib.stale_count("tor1") == 1
    assert rib.update(P, TOR1, a) is None
    assert rib.stale_count("tor1") == 0 and rib.best(P) == a
    changes: list[BestChange] = []
    rib.mark_stale("tor1")
    rib.update_one(P, TOR1, a, changes)  # the feed's path, same answer
    assert changes == [] and rib.stale_count("tor1") == 0
    rib.update(P, TOR2, b)  # two candidates: the selection is compared without staleness too
    assert rib.mark_stale("tor2") == 1
    assert rib.update(P, TOR2, b) is None and rib.stale_count("tor2") == 0
    assert rib.count("tor1") == rib.count("tor2") == 1
    better = mk(TOR1, lp=200)
    rib.mark_stale("tor1")
    change = rib.update(P, TOR1, better)
    assert change is not None and change.best == better and rib.stale_count("tor1") == 0


def test_twin_only_for_the_same_set_but_next_hop() -> None:
    """A second origin's path borrows the first's set only when every attribute but NEXT_HOP is equal,
    and only for an IPv4 NEXT_HOP of its own (not one in `next_hops`, like MP_REACH's)."""
    rib = LocRib()
    a = mk(TOR1)
    rib.update(P, TOR1, a)
    for other in (mk(TOR2, lp=90), mk(TOR2, med=5), mk(TOR2, asns=(64598,)),
                  Path(attributes=a.attributes, peer=TOR2, next_hops=(IP("10.69.0.129"),))):
        fresh = LocRib()
        fresh.update(P, TOR1, a)
        fresh.update(P, TOR2, other)
        assert any(c.attributes is other.attributes and c == other for c in fresh.candidates(P))
    # the same set object from both (no NEXT_HOP difference): nothing to borrow either
    same = Path(attributes=a.attributes, peer=TOR2)
    rib.update(P, TOR2, same)
    assert any(c.attributes is same.attributes and c == same for c in rib.candidates(P))
    # a twin keeps its staleness and path id, and the decision sees the same attributes
    stale = Path(attributes=mk(TOR2).attributes, peer=TOR2, stale=True)
    rib.update(P, TOR2, stale)  # replacing tor2's own path (the general case) twins as well
    twin = rib.path_of(P, "tor2")
    assert twin is not None and twin.stale and twin.attributes is a.attributes
    assert twin.next_hop == TOR2.address
    assert rib.multipath(P) == (a, twin)


def test_same_route_reads_next_hops_as_paths_do() -> None:
    """`same_route` compares the next hop a path is read with: the set's NEXT_HOP given again in
    `next_hops` is the same route; a twin stands for its path; another next hop is not the same."""
    a, b = mk(TOR1), mk(TOR2)
    assert same_route(a, Path(attributes=a.attributes, peer=TOR2, next_hops=(TOR1.address,)))
    assert same_route(Path(attributes=a.attributes, peer=TOR2, next_hops=(TOR2.address,)), b)
    assert not same_route(a, b)
    assert not same_route(a, Path(attributes=a.attributes, peer=TOR1, next_hops=(TOR2.address,)))


def test_remove_peer_is_one_batch() -> None:
    rib = LocRib()
    prefixes = [Prefix.parse(f"10.64.{i}.0/24") for i in range(100)]
    for p in prefixes:
        rib.update(p, TOR1, mk(TOR1))
        rib.update(p, TOR2, mk(TOR2))
    changes = rib.remove_peer("tor1", prefixes)
    assert len(changes) == 100
    assert all(c.best is not None and c.best.peer is TOR2 and len(c.multipath) == 1 for c in changes)
    assert rib.remove_peer("tor1", prefixes) == []


def test_loop_checks() -> None:
    mine = PathAttributes(as_path=(AsPathSegment(SEQ, (64599, 64600)),))
    assert loop_reason(mine, SPINE, router_id=RID) is not None
    assert loop_reason(mine, TOR1, router_id=RID) is None  # iBGP: own AS check not applied
    assert loop_reason(PathAttributes(originator_id=RID), TOR1, router_id=RID) is not None
    assert loop_reason(PathAttributes(cluster_list=(IP("1.2.3.4"), RID)), TOR1, router_id=RID) is not None
    assert loop_reason(PathAttributes(cluster_list=(IP("9.9.9.9"),)), TOR1, router_id=RID,
                       cluster_id=IP("9.9.9.9")) is not None
    assert loop_reason(PathAttributes(cluster_list=(IP("1.2.3.4"),)), TOR1, router_id=RID) is None


def test_export_rules() -> None:
    learned = mk(TOR1, med=5)
    # iBGP -> iBGP: not re-advertised unless reflecting.
    assert export_path(learned, P, TOR2, router_id=RID) is None
    assert export_path(learned, P, TOR1, router_id=RID) is None  # never back to the sender
    client = PeerInfo(name="srv", address=IP("10.69.0.5"), asn=64600, local_as=64600,
                      router_id=IP("10.69.0.5"), rr_client=True, local_address=IP("10.69.0.65"))
    refl = export_path(learned, P, client, router_id=RID)
    assert refl is not None and refl.attributes.originator_id == TOR1.router_id
    assert refl.attributes.cluster_list == (RID,)
    # iBGP -> eBGP: prepend, next hop self, no LOCAL_PREF, no foreign MED.
    out = export_path(learned, P, SPINE, router_id=RID)
    assert out is not None
    assert out.attributes.as_path[0].asns == (64600, 64599)
    assert out.attributes.next_hop == IP("10.1.0.2")
    assert out.attributes.local_pref is None and out.attributes.med is None
    # NO_EXPORT / NO_ADVERTISE.
    assert export_path(mk(TOR1, communities=(0xFFFFFF01,)), P, SPINE, router_id=RID) is None
    local = Path(attributes=PathAttributes(origin=Origin.IGP), peer=PeerInfo(
        name="direct:node0", source=Source.INTERFACE, asn=64600, local_as=64600))
    assert export_path(Path(attributes=PathAttributes(communities=(0xFFFFFF02,)), peer=local.peer), P, TOR1,
                       router_id=RID) is None
    # Local route to iBGP: our address as next hop, LOCAL_PREF filled in.
    out = export_path(local, P, TOR1, router_id=RID)
    assert out is not None and out.attributes.next_hop == IP("10.69.0.70")
    assert out.attributes.local_pref == 100


def test_graceful_restart_marking_and_sweep() -> None:
    adj = AdjRibIn(TOR1)
    p1, p2 = Prefix.parse("10.64.1.0/24"), Prefix.parse("10.64.2.0/24")
    v6 = Prefix.parse("2001:db8::/32")
    for p in (p1, p2, v6):
        adj.store(p, mk(TOR1))
    assert sorted(map(str, adj.mark_stale({(1, 1)}))) == ["10.64.1.0/24", "10.64.2.0/24"]
    assert adj.stale == {p1, p2}
    assert set(adj.mark_stale()) == {p1, p2, v6}
    adj.store(p1, mk(TOR1))  # re-announced after the restart: no longer stale
    assert adj.sweep_stale((1, 1)) == [p2]
    assert set(adj.pre) == {p1, v6}
    assert adj.sweep_stale() == [v6]
    assert list(adj.pre) == [p1] and not adj.stale
    assert adj.clear() == [p1] and len(adj) == 0
