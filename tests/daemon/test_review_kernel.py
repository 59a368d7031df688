"""Review of the kernel exporter's identity-keyed caches (`_nexthops`, `_cache`, `_selections`):
an entry keyed by `id()` must keep its objects alive, so a new object given a dead one's id never
gets a stale answer; every cache must follow dead nexthops and come back with them; and the next
hop an import policy keeps on the Path (rule 4, `Path.next_hops`) is what gets installed."""

from __future__ import annotations

import asyncio
import gc
import ipaddress

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybgp.daemon import kernel as kernel_mod
from pybgp.daemon.config import parse_config
from pybgp.daemon.kernel import KernelExporter
from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import NextHop
from pybgp.rib.route import BestChange, Path, PeerInfo
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import Origin
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
CONFIG = '[global]\nasn = 64600\nrouter_id = "10.69.0.3"\n'
PFX = Prefix.parse("10.1.0.0/24")


def tor(n: int) -> PeerInfo:
    addr = f"10.69.0.{65 if n == 1 else 129}"
    return PeerInfo(name=addr, address=IP(addr), asn=64600, local_as=64600, router_id=IP(addr),
                    interface=f"eth{n - 1}")


def change(*paths: Path) -> BestChange:
    return BestChange(prefix=PFX, best=paths[0], multipath=tuple(paths))


@pytest.mark.parametrize("limits", [(50_000, 1024), (3, 2)])
def test_recycled_ids_never_hit_a_stale_entry(monkeypatch: pytest.MonkeyPatch,
                                               limits: tuple[int, int]) -> None:
    """Fresh attribute sets, sessions and next-hop addresses per change, all dropped at once: CPython
    hands their memory (and ids) to the next ones. Every answer must be the change's own gateway;
    with tiny bounds the caches are also cleared mid-stream."""
    monkeypatch.setattr(kernel_mod, "CACHE_LIMIT", limits[0])
    monkeypatch.setattr(kernel_mod, "SELECTION_LIMIT", limits[1])
    exp = KernelExporter(MemoryFib(), parse_config(CONFIG))
    for i in range(400):
        gateway = IP(f"10.69.{i // 200}.{i % 200 + 1}")
        peer = PeerInfo(name="tor", address=IP("10.69.0.65"), asn=64600, local_as=64600,
                        router_id=IP("10.69.0.65"), interface=f"eth{i % 2}")
        attrs = PathAttributes(origin=Origin.IGP, next_hop=gateway if i % 3 else IP("10.70.0.1"), med=i)
        path = Path(attributes=attrs, peer=peer, next_hops=() if i % 3 else (gateway,))
        assert exp.hops_for(change(path)) == (NextHop(gateway, f"eth{i % 2}"),), i
        del gateway, peer, attrs, path
        if i % 50 == 0:
            gc.collect()


def test_rule_4_next_hop_on_the_path_is_installed() -> None:
    """Both ToRs' paths share the received set (NEXT_HOP outside the rack); the import policy's next
    hops ride in `next_hops`: the kernel gets the two ToRs, never the received next hop."""
    exp = KernelExporter(MemoryFib(), parse_config(CONFIG))
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100)
    one = Path(attributes=attrs, peer=tor(1), next_hops=(IP("10.69.0.65"),))
    two = Path(attributes=attrs, peer=tor(2), next_hops=(IP("10.69.0.129"),))
    assert exp.hops_for(change(one, two)) == (NextHop(IP("10.69.0.65"), "eth0"),
                                              NextHop(IP("10.69.0.129"), "eth1"))
    same = Path(attributes=attrs, peer=tor(2), next_hops=(IP("10.69.0.65"),))  # same next hop, other ToR
    assert exp.hops_for(change(one, same)) == (NextHop(IP("10.69.0.65"), "eth0"),
                                               NextHop(IP("10.69.0.65"), "eth1"))


def test_caches_follow_a_dead_nexthop_and_its_return() -> None:
    exp = KernelExporter(MemoryFib(), parse_config(CONFIG))
    attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.70.0.1"), local_pref=100)
    one = Path(attributes=attrs, peer=tor(1), next_hops=(IP("10.69.0.65"),))
    two = Path(attributes=attrs, peer=tor(2), next_hops=(IP("10.69.0.129"),))
    both = (NextHop(IP("10.69.0.65"), "eth0"), NextHop(IP("10.69.0.129"), "eth1"))
    assert exp.hops_for(change(one, two)) == both  # fills every cache
    exp.nexthop_down(both[0], "BFD Down")
    assert exp.hops_for(change(one, two)) == both[1:]
    exp.nexthop_up(both[0])
    assert exp.hops_for(change(one, two)) == both
    exp.interface_down("eth1", "carrier")
    assert exp.hops_for(change(one, two)) == both[:1]
    exp.interface_up("eth1")
    assert exp.hops_for(change(one, two)) == both


# -- the exporter against a model, under interleaved changes, batches and failures ----------------

GATEWAYS = [IP("10.69.0.65"), IP("10.69.0.129"), IP("10.69.0.70"), IP("10.70.0.1")]
PREFIXES = [Prefix.parse(f"10.{i}.0.0/24") for i in range(5)]
SETS = [PathAttributes(origin=Origin.IGP, next_hop=nh, local_pref=100) for nh in GATEWAYS[2:]]
SESSIONS = [tor(1), tor(2)]


@st.composite
def a_path(draw: st.DrawFn) -> Path:
    """A ToR's path: one of few shared sets and sessions, the rule-4 next hop on the path or not."""
    session = draw(st.sampled_from(SESSIONS))
    rewritten = draw(st.sampled_from([(), (GATEWAYS[0],), (GATEWAYS[1],)]))
    return Path(attributes=draw(st.sampled_from(SETS)), peer=session, next_hops=rewritten)


step_st = st.one_of(
    st.tuples(st.just("change"), st.sampled_from(PREFIXES), st.lists(a_path(), max_size=2)),
    st.tuples(st.just("flush")),
    st.tuples(st.just("nh-down"), st.sampled_from(GATEWAYS), st.sampled_from(["eth0", "eth1"])),
    st.tuples(st.just("nh-up"), st.sampled_from(GATEWAYS), st.sampled_from(["eth0", "eth1"])),
    st.tuples(st.just("if-down"), st.sampled_from(["eth0", "eth1"])),
    st.tuples(st.just("if-up"), st.sampled_from(["eth0", "eth1"])),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(step_st, max_size=30))
async def test_exporter_matches_a_model(steps: list[tuple[object, ...]]) -> None:
    """Best-path changes batched per loop turn, with nexthops and interfaces dying and coming back
    in between: after every loop turn the kernel holds exactly what a from-scratch model says. The
    model: the last change's paths, best first; each path's nexthop (gateway = `Path.next_hop`, the
    session's interface) unless dead when computed; a nexthop dying takes it out of every route and
    of every change not yet written; deletion when nothing is left."""
    fib = MemoryFib()
    exp = KernelExporter(fib, parse_config(CONFIG))
    model: dict[Prefix, tuple[NextHop, ...]] = {}
    pending: dict[Prefix, tuple[NextHop, ...]] = {}
    dead: set[NextHop] = set()
    dead_ifs: set[str] = set()
    seen: set[NextHop] = set()  # every nexthop the exporter resolved (interface_down reaches those)

    def settle() -> None:
        for prefix, hops in pending.items():
            if hops:
                model[prefix] = hops
            else:
                model.pop(prefix, None)
        pending.clear()

    def kill(hops: set[NextHop]) -> None:
        for table in (model, pending):
            for prefix, have in list(table.items()):
                kept = tuple(h for h in have if h not in hops)
                if table is pending or kept:
                    table[prefix] = kept
                else:
                    del table[prefix]

    for step in steps:
        kind = step[0]
        if kind == "change":
            prefix, paths = step[1], step[2]
            assert isinstance(prefix, Prefix) and isinstance(paths, list)
            exp.on_best_changes([BestChange(prefix=prefix, best=paths[0] if paths else None,
                                            multipath=tuple(paths))])
            hops = {NextHop(p.next_hop, p.peer.interface or "") for p in paths}
            seen.update(hops)
            pending[prefix] = tuple(sorted(h for h in hops if h not in dead and h.ifname not in dead_ifs))
        elif kind == "flush":
            await asyncio.sleep(0)
            settle()
        elif kind == "nh-down":
            nh = NextHop(step[1], str(step[2]))  # type: ignore[arg-type]
            if nh not in dead:
                exp.nexthop_down(nh, "test")
                dead.add(nh)
                kill({nh})
        elif kind == "nh-up":
            nh = NextHop(step[1], str(step[2]))  # type: ignore[arg-type]
            exp.nexthop_up(nh)
            dead.discard(nh)
        elif kind == "if-down":
            ifname = str(step[1])
            if ifname not in dead_ifs:
                exp.interface_down(ifname, "test")
                dead_ifs.add(ifname)
                kill({h for h in seen if h.ifname == ifname})
        else:
            ifname = str(step[1])
            exp.interface_up(ifname)
            dead_ifs.discard(ifname)
            dead = {h for h in dead if h.ifname != ifname}
        if kind != "change":
            await asyncio.sleep(0)
            settle()
            assert {p: r.nexthops for p, r in fib.routes().items()} == model, step
