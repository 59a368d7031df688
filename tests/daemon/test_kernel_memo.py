"""`KernelExporter.hops_for`'s memo without kernel policy rules: keyed by session, gateway and (with
excluded communities) communities, so unique attribute sets hit it and rule 6 still holds per path."""

from __future__ import annotations

import ipaddress

from pybgp.daemon.config import parse_config
from pybgp.daemon.kernel import KernelExporter
from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import NextHop
from pybgp.rib.route import BestChange, Path, PeerInfo
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
