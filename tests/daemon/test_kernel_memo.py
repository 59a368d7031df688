"""`KernelExporter.hops_for`'s memo without kernel policy rules: keyed by session, gateway and (with
excluded communities) communities, so unique attribute sets hit it and rule 6 still holds per path; and
the batch loop that looks the memo up inline (`kernel_memo.record_by_session`) records what `hops_for`
gives."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.daemon.config import parse_config
from pybgp.daemon.kernel import KernelExporter
from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import NextHop
from pybgp.rib.route import BestChange, Path, PeerInfo, Source
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

BASE = '[global]\nasn = 64600\nrouter_id = "10.69.0.2"\n'
LB = (64698 << 16) | 64699

TORS = [
    PeerInfo(name=f"tor{i}", address=ipaddress.IPv4Address(gw), asn=64600, local_as=64600, interface=dev)
    for i, (gw, dev) in enumerate((("10.69.0.65", "eth0"), ("10.69.0.129", "eth1")), start=1)
]
ETH0 = NextHop(ipaddress.IPv4Address("10.69.0.65"), "eth0")
ETH1 = NextHop(ipaddress.IPv4Address("10.69.0.129"), "eth1")


def change(i: int, communities: tuple[int, ...] = (), both: bool = True) -> BestChange:
    paths = tuple(
        Path(attributes=PathAttributes(next_hop=p.address, med=i, communities=communities), peer=p)  # type: ignore[arg-type]
        for p in (TORS if both else TORS[:1])
    )
    return BestChange(prefix=Prefix(Afi.IPV4, (10 << 24) + (i << 8), 24), best=paths[0], multipath=paths)


def test_unique_attribute_sets_share_one_memo_entry() -> None:
    exporter = KernelExporter(MemoryFib(), parse_config(BASE))
    answers = {exporter.hops_for(change(i)) for i in range(100)}
    assert answers == {(ETH0, ETH1)}
    assert len(exporter._selections) == 1
    assert exporter.hops_for(change(100, both=False)) == (ETH0,)
    assert len(exporter._selections) == 2


def test_excluded_community_is_still_looked_at_per_path() -> None:
    config = parse_config(BASE + '[kernel]\nexclude_community = ["64698:64699"]\n')
    exporter = KernelExporter(MemoryFib(), config)
    plain, lb = (65000 << 16) | 1, LB
    assert exporter.hops_for(change(1, (plain,))) == (ETH0, ETH1)
    assert exporter.hops_for(change(2, (lb,))) == ()  # the best path carries it: nothing installed
    assert exporter.hops_for(change(3, (plain,))) == (ETH0, ETH1)
    assert exporter.hops_for(change(4, (plain, lb))) == ()
    assert exporter.hops_for(change(5, ())) == (ETH0, ETH1)


COMMUNITIES = [(), ((65000 << 16) | 1,), (LB,)]
LOCAL = PeerInfo(name="static", source=Source.STATIC, interface="eth2")
GATEWAYS = [ipaddress.IPv4Address("10.69.0.65"), ipaddress.IPv4Address("10.69.0.129"),
            ipaddress.IPv4Address("10.69.0.70")]
# a shape of a best-path change: (peer, gateway, communities, own next hop) per path; () removes
path_st = st.tuples(st.sampled_from([*TORS, LOCAL]), st.integers(0, 2), st.integers(0, 2), st.booleans())


Shape = list[tuple[PeerInfo, int, int, bool]]


def build_change(i: int, shape: Shape, best_first: bool, path_id: int) -> BestChange:
    paths = tuple(
        Path(attributes=PathAttributes(next_hop=GATEWAYS[gw], med=i, communities=COMMUNITIES[c]), peer=peer,
             next_hops=(GATEWAYS[(gw + 1) % 3],) if own else ())
        for peer, gw, c, own in shape
    )
    prefix = Prefix(Afi.IPV4, (10 << 24) + ((i % 7) << 8), 24, path_id)
    if not paths:
        return BestChange(prefix=prefix, best=None, multipath=())
    best = paths[0] if best_first or len(paths) == 1 else paths[1]
    return BestChange(prefix=prefix, best=best, multipath=paths)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.lists(path_st, max_size=3), st.booleans(), st.integers(0, 1)), max_size=30),
       st.sampled_from(
           ["", '[kernel]\nexclude_community = ["64698:64699"]\n', "[kernel]\nmerge_paths = 1\n"]))
def test_batch_loop_is_hops_for_per_change(steps: list[tuple[Shape, bool, int]], kernel: str) -> None:
    """`on_best_changes` under the default kernel policy (`kernel_memo.record_by_session`: the memo
    looked up inline, a repeated key skipped) records what `hops_for` gives change by change, in one
    batch and across batches (the memo then already holds the keys)."""
    config = parse_config(BASE + kernel)
    batch = [build_change(i, shape, first, path_id) for i, (shape, first, path_id) in enumerate(steps)]
    reference = KernelExporter(MemoryFib(), config)
    expected = {c.prefix.without_path_id(): reference.hops_for(c) for c in batch}
    for rounds in (1, 2):
        exporter = KernelExporter(MemoryFib(), config)
        exporter._scheduled = True  # no loop: keep the batch pending to read it
        for _ in range(rounds):
            exporter.on_best_changes(batch)
        assert exporter._pending == expected


def test_batch_loop_tells_communities_apart() -> None:
    """In one batch, consecutive changes of the same sessions and gateways whose communities differ
    are not one memo key when communities are excluded (a load balancer's route must stay out)."""
    config = parse_config(BASE + '[kernel]\nexclude_community = ["64698:64699"]\n')
    exporter = KernelExporter(MemoryFib(), config)
    exporter._scheduled = True  # no loop: keep the batch pending to read it
    batch = [change(1, ((65000 << 16) | 1,)), change(2, (LB,)), change(3, ()), change(4, (LB,), both=False)]
    exporter.on_best_changes(batch)
    assert list(exporter._pending.values()) == [(ETH0, ETH1), (), (ETH0, ETH1), ()]
