"""Kernel export (TARGET.md rules 5 and 6) and origination (rules 1 and 7) with MemoryFib and fake events."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Address, IPv4Interface

from pybgp.daemon.config import parse_config
from pybgp.daemon.kernel import KernelExporter
from pybgp.daemon.metrics import Metrics
from pybgp.daemon.origination import Origination
from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import NextHop
from pybgp.fib.watch import AddressEvent, KernelSnapshot, LinkEvent, Overflow, RouteEvent
from pybgp.rib.route import BestChange, Path, PeerInfo, Source
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.nlri import Prefix

CFG = """
[global]
asn = 64600
router_id = "10.69.0.2"
[origination]
interfaces = ["node0"]
static = ["10.99.0.0/24"]
kernel = [{ table = 119, protocol = 30 }]
[kernel]
exclude_community = ["64698:64699"]
"""
LB = (64698 << 16) | 64699


def peer(name: str, address: str, ifname: str | None, source: Source = Source.BGP) -> PeerInfo:
    return PeerInfo(
        name=name,
        source=source,
        address=ipaddress.ip_address(address),
        asn=64600,
        local_as=64600,
        interface=ifname,
    )


TOR1 = peer("tor1", "10.69.0.65", "eth0")
TOR2 = peer("tor2", "10.69.0.129", "eth1")


def path(p: PeerInfo, nh: str, communities: tuple[int, ...] = ()) -> Path:
    return Path(attributes=PathAttributes(next_hop=IPv4Address(nh), communities=communities), peer=p)


def exporter(fib: MemoryFib, extra: str = "") -> KernelExporter:
    return KernelExporter(fib, parse_config(CFG + extra), Metrics())


def test_ecmp_route_with_both_tors() -> None:
    fib = MemoryFib()
    k = exporter(fib)
    pfx = Prefix.parse("10.69.1.2/32")
    a, b = path(TOR1, "10.69.0.65"), path(TOR2, "10.69.0.129")
    k.on_best_change(BestChange(prefix=pfx, best=a, multipath=(a, b)))
    route = fib.routes()[pfx]
    assert route.nexthops == (
        NextHop(IPv4Address("10.69.0.65"), "eth0"),
        NextHop(IPv4Address("10.69.0.129"), "eth1"),
    )
    assert k.view(pfx) == [
        {
            "prefix": "10.69.1.2/32",
            "nexthops": [
                {"gateway": "10.69.0.65", "ifname": "eth0"},
                {"gateway": "10.69.0.129", "ifname": "eth1"},
            ],
        }
    ]
    k.on_best_change(BestChange(prefix=pfx, best=None))
    assert pfx not in fib.routes()


def test_rule6_filters() -> None:
    fib = MemoryFib()
    k = exporter(fib)
    own = Path(attributes=PathAttributes(), peer=PeerInfo(name="interface:node0", source=Source.INTERFACE))
    pod = Path(attributes=PathAttributes(), peer=PeerInfo(name="kernel:119", source=Source.KERNEL, table=119))
    lb = path(TOR1, "10.69.0.65", (LB,))
    for pfx, p in (("10.69.0.2/32", own), ("10.224.0.0/30", pod), ("10.100.0.1/32", lb)):
        k.on_best_change(BestChange(prefix=Prefix.parse(pfx), best=p, multipath=(p,)))
    assert fib.routes() == {}


def test_kernel_export_policy_and_disabled() -> None:
    fib = MemoryFib()
    k = exporter(fib, '[policy.only-default]\n[[policy.only-default.rules]]\nmatch.prefix = "0.0.0.0/0"\n')
    # Not referenced by [kernel] export: everything non-filtered goes in.
    p = path(TOR1, "10.69.0.65")
    k.on_best_change(BestChange(prefix=Prefix.parse("10.1.0.0/16"), best=p, multipath=(p,)))
    assert Prefix.parse("10.1.0.0/16") in fib.routes()
    cfg2 = parse_config(
        CFG.replace("[kernel]\n", '[kernel]\nexport = "only-default"\n')
        + '[policy.only-default]\n[[policy.only-default.rules]]\nmatch.prefix = "0.0.0.0/0"\n'
    )
    fib2 = MemoryFib()
    k2 = KernelExporter(fib2, cfg2)
    for pfx in ("10.1.0.0/16", "0.0.0.0/0"):
        k2.on_best_change(BestChange(prefix=Prefix.parse(pfx), best=p, multipath=(p,)))
    assert list(fib2.routes()) == [Prefix.parse("0.0.0.0/0")]


def test_nexthop_down_and_reconcile() -> None:
    fib = MemoryFib()
    k = exporter(fib)
    a, b = path(TOR1, "10.69.0.65"), path(TOR2, "10.69.0.129")
    changes = [BestChange(prefix=Prefix.parse(f"10.70.{i}.0/24"), best=a, multipath=(a, b)) for i in range(5)]
    for c in changes:
        k.on_best_change(c)
    k.interface_down("eth0", "carrier lost")
    assert all(r.nexthops == (NextHop(IPv4Address("10.69.0.129"), "eth1"),) for r in fib.routes().values())
    assert len(fib.routes()) == 5
    # While eth0's nexthop is known dead, a late BGP change does not put it back.
    k.on_best_change(changes[0])
    assert fib.routes()[changes[0].prefix].nexthops == (NextHop(IPv4Address("10.69.0.129"), "eth1"),)
    k.interface_up("eth0")
    k.reconcile(changes[:2])
    assert len(fib.routes()) == 2 and len(fib.routes()[changes[0].prefix].nexthops) == 2
    k.shutdown()
    assert fib.routes() == {}


def test_keep_on_exit() -> None:
    fib = MemoryFib()
    cfg = parse_config(CFG.replace("[kernel]\n", "[kernel]\nkeep_on_exit = true\n"))
    k = KernelExporter(fib, cfg)
    a = path(TOR1, "10.69.0.65")
    k.on_best_change(BestChange(prefix=Prefix.parse("10.9.0.0/16"), best=a, multipath=(a,)))
    k.shutdown()
    assert Prefix.parse("10.9.0.0/16") in fib.routes()


class Recorder:
    def __init__(self) -> None:
        self.live: dict[Prefix, str] = {}
        self.log: list[tuple[str, str, str]] = []

    def announce(self, origin: str, prefix: Prefix) -> None:
        self.live[prefix] = origin
        self.log.append(("+", origin, str(prefix)))

    def withdraw(self, origin: str, prefix: Prefix) -> None:
        del self.live[prefix]
        self.log.append(("-", origin, str(prefix)))


def addr(ifname: str, cidr: str, added: bool = True) -> AddressEvent:
    return AddressEvent(ifname=ifname, ifindex=3, address=IPv4Interface(cidr), added=added, at=0.0)


def pod(cidr: str, added: bool = True, table: int = 119, protocol: int = 30) -> RouteEvent:
    return RouteEvent(
        prefix=Prefix.parse(cidr),
        table=table,
        protocol=protocol,
        route_type=1,
        nexthops=(),
        added=added,
        at=0.0,
    )


def test_origination_live_events_and_resync() -> None:
    rec = Recorder()
    resyncs: list[int] = []
    o = Origination(parse_config(CFG).origination, rec.announce, rec.withdraw, lambda: resyncs.append(1))
    snap = KernelSnapshot(
        links={
            "node0": LinkEvent(ifname="node0", ifindex=3, carrier=True, admin_up=True, oper_state="up", at=0)
        },
        addresses=[addr("node0", "10.69.0.2/32"), addr("eth0", "10.69.0.66/26")],
        routes={
            Prefix.parse("10.224.0.0/30"): pod("10.224.0.0/30"),
            Prefix.parse("10.225.0.0/30"): pod("10.225.0.0/30", protocol=4),
        },
    )
    o.load_snapshot(snap)
    assert rec.live == {
        Prefix.parse("10.99.0.0/24"): "static",
        Prefix.parse("10.69.0.2/32"): "interface:node0",
        Prefix.parse("10.224.0.0/30"): "kernel:119",
    }
    o.on_event(pod("10.224.0.4/30"))
    assert rec.live[Prefix.parse("10.224.0.4/30")] == "kernel:119"
    o.on_event(pod("10.224.0.0/30", added=False))
    assert Prefix.parse("10.224.0.0/30") not in rec.live
    o.on_event(pod("10.224.0.8/30", table=254))  # other tables are ignored
    assert Prefix.parse("10.224.0.8/30") not in rec.live
    o.on_event(LinkEvent(ifname="node0", ifindex=3, carrier=False, admin_up=True, oper_state="down", at=1))
    assert Prefix.parse("10.69.0.2/32") not in rec.live
    o.on_event(LinkEvent(ifname="node0", ifindex=3, carrier=True, admin_up=True, oper_state="up", at=2))
    assert Prefix.parse("10.69.0.2/32") in rec.live
    o.on_event(Overflow(at=3))
    assert resyncs == [1]
    # A resync that misses a route withdraws it; announcing twice never happens.
    o.load_snapshot(KernelSnapshot(links=snap.links, addresses=snap.addresses, routes={}))
    assert Prefix.parse("10.224.0.4/30") not in rec.live
    assert len([e for e in rec.log if e[0] == "+" and e[2] == "10.99.0.0/24"]) == 1
