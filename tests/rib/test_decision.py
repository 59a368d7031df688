"""The RFC 4271 9.1.2 decision process: each tie-breaker alone, MED corner cases, multipath sets."""

from __future__ import annotations

import ipaddress

from pybgp.rib.decision import DecisionOptions, Reason, explain, select
from pybgp.rib.route import Path, PeerInfo, Source, as_path_length, neighbor_as
from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import AsPathSegmentType, Origin

SEQ = AsPathSegmentType.AS_SEQUENCE
SET = AsPathSegmentType.AS_SET
CONFED = AsPathSegmentType.AS_CONFED_SEQUENCE
IP = ipaddress.IPv4Address


def peer(addr: str, asn: int = 64600, rid: str | None = None, local_as: int = 64600) -> PeerInfo:
    return PeerInfo(name=addr, address=IP(addr), asn=asn, local_as=local_as, router_id=IP(rid or addr))


def path(p: PeerInfo, *, asns: tuple[int, ...] = (64599,), lp: int | None = 100, med: int | None = None,
         origin: Origin = Origin.IGP, originator: str | None = None, clusters: int = 0,
         segs: tuple[AsPathSegment, ...] | None = None) -> Path:
    attrs = PathAttributes(
        origin=origin, as_path=segs if segs is not None else ((AsPathSegment(SEQ, asns),) if asns else ()),
        next_hop=p.address if isinstance(p.address, IP) else None, med=med, local_pref=lp,
        originator_id=IP(originator) if originator else None,
        cluster_list=tuple(IP(f"1.1.1.{i}") for i in range(clusters)))
    return Path(attributes=attrs, peer=p)


A, B, C = peer("10.0.0.1"), peer("10.0.0.2"), peer("10.0.0.3")


def loser_reason(paths: list[Path], loser: Path, **opts: object) -> Reason:
    sel = select(paths, DecisionOptions(**opts))  # type: ignore[arg-type]
    return dict((id(p), r) for p, r in explain(sel))[id(loser)]


def test_single_and_empty() -> None:
    assert select([]).best is None
    p = path(A)
    assert select([p]).best is p and select([p]).multipath == (p,)


def test_local_pref_highest_wins() -> None:
    low, high = path(A, lp=100), path(B, lp=200)
    sel = select([low, high])
    assert sel.best is high and sel.multipath == (high,)
    assert loser_reason([low, high], low) is Reason.LOCAL_PREF


def test_missing_local_pref_uses_default() -> None:
    none, low = path(A, lp=None), path(B, lp=50)
    assert select([low, none]).best is none
    assert select([low, none], DecisionOptions(default_local_pref=10)).best is low


def test_locally_originated_beats_learned() -> None:
    local = Path(attributes=PathAttributes(origin=Origin.IGP),
                 peer=PeerInfo(name="direct:node0", source=Source.INTERFACE, asn=64600, local_as=64600))
    learned = path(A, asns=())
    assert select([learned, local]).best is local
    assert loser_reason([learned, local], learned) is Reason.LOCAL_ORIGIN


def test_shortest_as_path_set_counts_one_confed_zero() -> None:
    seq3 = path(A, asns=(1, 2, 3))
    with_set = path(B, segs=(AsPathSegment(SEQ, (1,)), AsPathSegment(SET, (5, 6, 7, 8))))
    with_confed = path(C, segs=(AsPathSegment(CONFED, (9, 9, 9, 9)), AsPathSegment(SEQ, (1, 2, 3))))
    assert as_path_length(with_set.attributes) == 2
    assert as_path_length(with_confed.attributes) == 3
    sel = select([seq3, with_set, with_confed])
    assert sel.best is with_set
    assert loser_reason([seq3, with_set], seq3) is Reason.AS_PATH
    assert neighbor_as(with_confed.attributes) == 1


def test_lowest_origin() -> None:
    igp, egp, inc = path(A, origin=Origin.IGP), path(B, origin=Origin.EGP), path(C, origin=Origin.INCOMPLETE)
    assert select([inc, egp, igp]).best is igp
    assert select([inc, egp]).best is egp
    assert loser_reason([inc, egp], inc) is Reason.ORIGIN


def test_med_compared_only_within_neighbor_as() -> None:
    a = path(A, asns=(65001,), med=50)
    b = path(B, asns=(65002,), med=10)  # other neighbor AS: MED not compared, router ID decides
    sel = select([a, b], DecisionOptions(multipath_limit=1))
    assert sel.best is a
    assert loser_reason([a, b], b, multipath_limit=1) is Reason.ROUTER_ID
    assert select([a, b], DecisionOptions(always_compare_med=True)).best is b
    assert loser_reason([a, b], a, always_compare_med=True) is Reason.MED


def test_med_missing_is_zero_by_default_or_worst() -> None:
    missing, ten = path(B, asns=(65001,), med=None), path(A, asns=(65001,), med=10)
    assert select([ten, missing]).best is missing
    assert select([ten, missing], DecisionOptions(med_missing_as_worst=True)).best is ten


def test_med_non_transitive_order_independent() -> None:
    # The classic MED cycle: a(AS1, MED 10) beats c(AS1, MED 20); b(AS2) vs others by router ID.
    a = path(C, asns=(1,), med=10)   # highest router ID
    b = path(B, asns=(2,), med=0)
    c = path(A, asns=(1,), med=20)   # lowest router ID but loses MED to a
    bests = {id(select(order, DecisionOptions(multipath_limit=1)).best)
             for order in ([a, b, c], [c, b, a], [b, a, c], [c, a, b])}
    assert bests == {id(b)}
    assert loser_reason([a, b, c], c, multipath_limit=1) is Reason.MED


def test_ebgp_over_ibgp() -> None:
    ebgp = path(peer("10.0.0.9", asn=65001), asns=(65001,))
    ibgp = path(A, asns=(65001,))
    assert select([ibgp, ebgp]).best is ebgp
    assert loser_reason([ibgp, ebgp], ibgp) is Reason.EBGP_OVER_IBGP


def test_igp_cost_when_supplied() -> None:
    a, b = path(A), path(B)
    costs = {id(a): 20, id(b): 10}
    opts = DecisionOptions(igp_cost=lambda p: costs[id(p)])
    assert select([a, b], opts).best is b
    assert select([a, b], opts).multipath == (b,)


def test_router_id_and_originator_id() -> None:
    a, b = path(peer("10.0.0.1", rid="9.9.9.9")), path(peer("10.0.0.2", rid="1.1.1.1"))
    assert select([a, b], DecisionOptions(multipath_limit=1)).best is b
    reflected = path(peer("10.0.0.3", rid="0.0.0.1"), originator="9.9.9.10")
    assert select([reflected, a], DecisionOptions(multipath_limit=1)).best is a
    assert loser_reason([reflected, a], reflected, multipath_limit=1) is Reason.ROUTER_ID


def test_shorter_cluster_list() -> None:
    a = path(peer("10.0.0.1", rid="2.2.2.2"), originator="7.7.7.7", clusters=2)
    b = path(peer("10.0.0.2", rid="3.3.3.3"), originator="7.7.7.7", clusters=1)
    assert select([a, b], DecisionOptions(multipath_limit=1)).best is b
    assert loser_reason([a, b], a, multipath_limit=1) is Reason.CLUSTER_LIST


def test_lowest_peer_address() -> None:
    a = path(peer("10.0.0.2", rid="5.5.5.5"))
    b = path(peer("10.0.0.1", rid="5.5.5.5"))
    assert select([a, b], DecisionOptions(multipath_limit=1)).best is b
    assert loser_reason([a, b], a, multipath_limit=1) is Reason.PEER_ADDRESS


def test_multipath_same_route_from_both_tors_merges() -> None:
    tor1 = path(peer("10.69.0.65", rid="10.69.0.65"), asns=(64599, 64597))
    tor2 = path(peer("10.69.0.129", rid="10.69.0.129"), asns=(64599, 64597))
    sel = select([tor2, tor1])
    assert sel.best is tor1 and sel.multipath == (tor1, tor2)
    assert [r for _, r in explain(sel)] == [Reason.BEST, Reason.MULTIPATH]


def test_multipath_requires_same_neighbor_as_unless_relaxed() -> None:
    a = path(peer("10.0.0.1", asn=65001, local_as=64600), asns=(65001,))
    b = path(peer("10.0.0.2", asn=65002, local_as=64600), asns=(65002,))
    sel = select([a, b])
    assert sel.multipath == (a,)
    assert dict((id(p), r) for p, r in explain(sel))[id(b)] is Reason.MULTIPATH_NEIGHBOR_AS
    assert select([a, b], DecisionOptions(multipath_relax=True)).multipath == (a, b)


def test_multipath_limit() -> None:
    paths = [path(peer(f"10.0.1.{i}")) for i in range(1, 21)]
    sel = select(paths)
    assert len(sel.multipath) == 16
    assert sel.multipath[0].peer.name == "10.0.1.1"
    reasons = [r for _, r in explain(sel)]
    assert reasons.count(Reason.MULTIPATH_LIMIT) == 4
    assert select(paths, DecisionOptions(multipath_limit=2)).multipath == tuple(paths[:2])


def test_unequal_paths_do_not_merge() -> None:
    a, b = path(A, med=0), path(B, med=5)
    sel = select([a, b])
    assert sel.multipath == (a,)
    assert loser_reason([a, b], b) is Reason.MED
