"""`[kernel] update_delay`: the startup hold of kernel writes, with the in-memory FIB.

The decision (`UpdateDelay`) in virtual time; the exporter's hold and one-pass release from a Loc-RIB
(dead nexthops filtered, nothing kept per prefix, stop during the release); the config key; and the
daemon in-process against a library Speaker on loopback (the hold ends at its End-of-RIB; SIGTERM during
the hold writes nothing; a session reset after the hold is not deferred).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import AsyncIterator
from ipaddress import IPv4Address
from pathlib import Path as FsPath

import pytest

from pybgp.aio.speaker import Speaker
from pybgp.daemon.commands import status
from pybgp.daemon.config import ConfigErrors, load_config, parse_config
from pybgp.daemon.daemon import Daemon
from pybgp.daemon.kernel import RELEASE_SLICE, KernelExporter
from pybgp.daemon.metrics import Metrics
from pybgp.daemon.update_delay import END_OF_RIB, TIMEOUT, UpdateDelay
from pybgp.fib.memory import MemoryFib
from pybgp.fib.model import NextHop
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.states import State as BgpState
from pybgp.rib.decision import DecisionOptions
from pybgp.rib.loc_rib import LocRib
from pybgp.rib.route import Path, PeerInfo, Source
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.nlri import Prefix

from .test_daemon import DAEMON_IP, PEER_IP, FakeBfd, daemon_config, wait_for

CFG = '[global]\nasn = 64600\nrouter_id = "10.69.0.2"\n[kernel]\nupdate_delay = 30\n'


def peer(name: str, address: str, ifname: str) -> PeerInfo:
    ip = ipaddress.ip_address(address)
    return PeerInfo(name=name, source=Source.BGP, address=ip, asn=64600, local_as=64600, router_id=ip,
                    interface=ifname)


TOR1, TOR2 = peer("tor1", "10.69.0.65", "eth0"), peer("tor2", "10.69.0.129", "eth1")
HOP1, HOP2 = NextHop(IPv4Address("10.69.0.65"), "eth0"), NextHop(IPv4Address("10.69.0.129"), "eth1")


def path(p: PeerInfo, nh: str) -> Path:
    return Path(attributes=PathAttributes(next_hop=IPv4Address(nh), local_pref=100), peer=p)


def loc_rib(count: int) -> tuple[LocRib, list[Prefix]]:
    """A Loc-RIB of `count` /32s, each with both ToRs' equal paths (a 2-way multipath set)."""
    loc = LocRib(DecisionOptions(multipath_limit=16))
    a, b = path(TOR1, "10.69.0.65"), path(TOR2, "10.69.0.129")
    prefixes = [Prefix.parse(f"10.70.{i // 256}.{i % 256}/32") for i in range(count)]
    for prefix in prefixes:
        loc.update(prefix, TOR1, a)
        loc.update(prefix, TOR2, b)
    return loc, prefixes


# --- the decision, in virtual time -------------------------------------------------------------------


def test_hold_ends_at_every_end_of_rib_or_at_the_deadline() -> None:
    off = UpdateDelay(0.0)
    assert not off.held and off.on_established(1.0) is None and off.due([True], 1.0) is None

    ud = UpdateDelay(30.0)
    assert ud.held and ud.due([], 0.0) is None  # nothing counts before the first session is up
    assert ud.on_established(10.0) == 40.0
    assert ud.on_established(11.0) is None  # the timer runs from the first session only
    assert ud.due([], 12.0) is None  # the only session went down before its End-of-RIB: wait on
    assert ud.due([True, False], 12.0) is None  # one ToR still sending (or still in its OPEN exchange)
    assert ud.due([True, True], 12.0) == END_OF_RIB
    assert ud.due([False], 39.9) is None
    assert ud.due([False], 40.0) == TIMEOUT  # a neighbor that never sends End-of-RIB is bounded
    ud.end(TIMEOUT)
    assert not ud.held and ud.ended_by == TIMEOUT
    assert ud.due([True], 50.0) is None and ud.on_established(60.0) is None  # never holds again


# --- the exporter's hold and release ------------------------------------------------------------------


def test_changes_during_the_hold_are_dropped_and_the_release_writes_each_prefix_once_as_ecmp() -> None:
    fib = MemoryFib()
    k = KernelExporter(fib, parse_config(CFG))
    loc, prefixes = loc_rib(RELEASE_SLICE + 5)  # more than one slice
    k.hold()
    a = path(TOR1, "10.69.0.65")
    k.on_best_changes(loc.update(Prefix.parse("10.71.0.0/24"), TOR1, a) or ())  # held: not written
    assert fib.routes() == {} and k._pending == {}  # nothing kept per prefix during the hold
    k.reconcile(())  # a reload's re-evaluation during the hold changes nothing either
    k.release(loc)
    assert not k.held and not k.releasing
    routes = fib.routes()
    assert len(routes) == len(prefixes) + 1
    assert routes[prefixes[0]].nexthops == (HOP1, HOP2) and routes[prefixes[-1]].nexthops == (HOP1, HOP2)
    assert fib.stats.replaced == len(prefixes) + 1  # one write per prefix: no one-nexthop route first
    k.release(loc)  # ending twice is a no-op
    assert fib.stats.replaced == len(prefixes) + 1


def test_a_nexthop_that_died_during_the_hold_is_not_installed_by_the_release() -> None:
    fib = MemoryFib()
    k = KernelExporter(fib, parse_config(CFG))
    loc, _ = loc_rib(10)
    k.hold()
    k.interface_down("eth1", "BFD Down during the hold")
    k.release(loc)
    assert {r.nexthops for r in fib.routes().values()} == {(HOP1,)}


async def test_release_runs_in_slices_on_the_loop_and_stops_with_the_daemon() -> None:
    fib = MemoryFib()
    k = KernelExporter(fib, parse_config(CFG))
    loc, prefixes = loc_rib(2 * RELEASE_SLICE + 10)
    k.hold()
    k.release(loc)
    assert k.releasing and len(fib.routes()) == RELEASE_SLICE  # the first slice at once, the rest later
    # a change after the release is written as it comes, and a later slice does not undo it
    last = prefixes[-1]
    k.on_best_changes([c for c in [loc.update(last, TOR2, None)] if c is not None])
    await wait_for(lambda: not k.releasing)
    assert len(fib.routes()) == len(prefixes) and fib.routes()[last].nexthops == (HOP1,)

    fib = MemoryFib()
    k = KernelExporter(fib, parse_config(CFG))
    k.hold()
    k.release(loc)
    k.frozen = True  # SIGTERM while releasing: the rest is never written
    await asyncio.sleep(0.01)
    assert not k.releasing and len(fib.routes()) == RELEASE_SLICE


async def test_the_release_gives_its_prefix_list_back_slice_by_slice() -> None:
    """The release holds a reference per prefix still to write, not per prefix of the table: each slice
    is cut off the end of its list (issue 6, session 5: the release runs on top of the complete RIB, so
    what it holds is the daemon's peak), and the slices still go in the Loc-RIB's order."""
    fib = MemoryFib()
    k = KernelExporter(fib, parse_config(CFG))
    loc, prefixes = loc_rib(2 * RELEASE_SLICE + 10)
    k.hold()
    k.release(loc)
    assert len(k._release_prefixes) == RELEASE_SLICE + 10
    assert set(fib.routes()) == set(prefixes[:RELEASE_SLICE])
    await asyncio.sleep(0)
    assert len(k._release_prefixes) == 10 and set(fib.routes()) == set(prefixes[: 2 * RELEASE_SLICE])
    await wait_for(lambda: not k.releasing)
    assert k._release_prefixes == [] and set(fib.routes()) == set(prefixes)


async def test_the_hold_is_a_prometheus_gauge_until_the_release_has_written_everything() -> None:
    metrics = Metrics()
    k = KernelExporter(MemoryFib(), parse_config(CFG), metrics)
    assert _gauge(metrics, "pybgp_kernel_hold") == 0.0
    k.hold()
    assert _gauge(metrics, "pybgp_kernel_hold") == 1.0
    loc, _ = loc_rib(RELEASE_SLICE + 10)
    k.release(loc)
    assert k.releasing and _gauge(metrics, "pybgp_kernel_hold") == 1.0  # slices still to write
    await wait_for(lambda: not k.releasing)
    assert _gauge(metrics, "pybgp_kernel_hold") == 0.0
    empty = KernelExporter(MemoryFib(), parse_config(CFG), metrics)
    empty.hold()
    empty.release(LocRib())  # nothing to write: the gauge still drops
    assert _gauge(metrics, "pybgp_kernel_hold") == 0.0


def _gauge(metrics: Metrics, name: str) -> float | None:
    value = metrics.registry.get_sample_value(name)
    return None if value is None else float(value)


# --- the config key ------------------------------------------------------------------------------------


def test_update_delay_is_read_and_validated(tmp_path: FsPath) -> None:
    assert parse_config('[global]\nasn = 1\nrouter_id = "1.1.1.1"\n').kernel.update_delay == 0.0
    assert parse_config(CFG).kernel.update_delay == 30.0
    conf = tmp_path / "bad.toml"
    conf.write_text('[global]\nasn = 1\nrouter_id = "1.1.1.1"\n[kernel]\nupdate_delay = -1\n')
    with pytest.raises(ConfigErrors) as err:
        load_config(conf)
    assert ":5" in str(err.value.errors[0]) and "update_delay" in str(err.value.errors[0])
    conf.write_text('[global]\nasn = 1\nrouter_id = "1.1.1.1"\n[kernel]\nupdate_delay = inf\n')
    with pytest.raises(ConfigErrors) as err:
        load_config(conf)
    assert "finite" in str(err.value.errors[0])


# --- the daemon against a library Speaker --------------------------------------------------------------


@pytest.fixture
async def held(tmp_path: FsPath) -> AsyncIterator[tuple[Daemon, Speaker, MemoryFib]]:
    """The daemon with `update_delay = 30` and a peer that announced 10.1.0.0/24 before the session."""
    peer_sp = Speaker(local_as=64600, router_id="10.0.0.2", listen_addresses=(PEER_IP,), listen_port=0)
    await peer_sp.start()
    peer_sp.announce("10.1.0.0/24", next_hop=PEER_IP)
    assert peer_sp.listen_port is not None
    conf = tmp_path / "pybgpd.toml"
    extra = "[kernel]\nupdate_delay = 30\n"
    conf.write_text(daemon_config(peer_sp.listen_port, tmp_path / "s.sock", extra=extra))
    fib = MemoryFib()
    daemon = Daemon(load_config(conf), config_path=str(conf), kernel=False, fib=fib, bfd_service=FakeBfd())
    daemon._connected["lo"] = {ipaddress.ip_interface("127.0.0.0/8")}
    settings = PeerSettings(local_as=64600, remote_as=64600, router_id=IPv4Address("10.0.0.2"),
                            remote_address=ipaddress.ip_address(DAEMON_IP), name="pybgpd", passive=True,
                            local_address=ipaddress.ip_address(PEER_IP))
    peer_sp.add_neighbor(settings)
    try:
        yield daemon, peer_sp, fib
    finally:
        if not daemon.stopping:
            await daemon.stop("test teardown")
        await peer_sp.stop()


async def test_daemon_holds_until_end_of_rib_then_resets_are_not_deferred(
    held: tuple[Daemon, Speaker, MemoryFib],
) -> None:
    daemon, peer_sp, fib = held
    pfx = Prefix.parse("10.1.0.0/24")
    assert daemon.kernel_hold.held and daemon.exporter.held
    assert status(daemon)["kernel_hold"] == "held (no session Established yet)"
    await daemon.start()
    await wait_for(lambda: pfx in fib.routes())  # well before 30 s: the peer's End-of-RIB ended the hold
    assert daemon.kernel_hold.state.ended_by == END_OF_RIB
    assert status(daemon)["kernel_hold"] == f"ended ({END_OF_RIB})"
    assert fib.stats.log.count(("replace", pfx)) == 1
    # the static origination reached the peer during the hold: advertisements are never held
    assert peer_sp.best("10.99.0.0/24") is not None
    # after the hold: a session reset and its routes go to the kernel at once
    daemon.speaker.neighbor_down("tor1", "test reset", retry_after=0.2)
    await wait_for(lambda: pfx not in fib.routes())
    await wait_for(lambda: pfx in fib.routes())
    assert not daemon.exporter.held


async def test_sigterm_during_the_hold_writes_nothing(held: tuple[Daemon, Speaker, MemoryFib]) -> None:
    daemon, peer_sp, fib = held
    # a peer that never sends End-of-RIB, in effect: the hold's check is switched off for this test
    daemon.kernel_hold.check = lambda: None  # type: ignore[method-assign]
    await daemon.start()
    await peer_sp.peer("pybgpd").wait_state(BgpState.ESTABLISHED, 15)
    await wait_for(lambda: daemon.speaker.best(Prefix.parse("10.1.0.0/24")) is not None)
    await daemon.stop("SIGTERM during the hold")
    assert fib.routes() == {} and fib.stats.replaced == 0
