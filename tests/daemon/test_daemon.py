"""The daemon in-process against a library Speaker on loopback: control socket, pybgpctl (both
formats), BFD Down handling, reload by difference, metrics, and graceful stop (Cease/Administrative
Shutdown with an RFC 9003 message).

No kernel: `Daemon(kernel=False)` uses a MemoryFib and no KernelWatcher; BFD is a fake service.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pybfd.aio import BfdPeerConfig, BfdStateChange, Diag, SessionKey, State
from pybgp.aio.speaker import Speaker
from pybgp.daemon import cli
from pybgp.daemon.config import load_config
from pybgp.daemon.control import ControlClientError, request
from pybgp.daemon.daemon import Daemon
from pybgp.fib.memory import MemoryFib
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.states import State as BgpState
from pybgp.wire.constants import CeaseSubcode, NotificationCode
from pybgp.wire.nlri import Prefix

DAEMON_IP, PEER_IP = "127.0.0.1", "127.0.0.2"


def daemon_config(peer_port: int, sock: Path, extra: str = "", import_policy: str = "",
                  import_table: bool = True) -> str:
    """tor1 keeps its import table unless told: `show rib-in` reads it."""
    imp = f'import = "{import_policy}"\n' if import_policy else ""
    imp += f"import_table = {str(import_table).lower()}\n"
    return f"""
[global]
asn = 64600
router_id = "10.0.0.1"
listen = ["{DAEMON_IP}"]
port = 0
[control]
socket = "{sock}"
[origination]
static = ["10.99.0.0/24"]
[[neighbor]]
name = "tor1"
address = "{PEER_IP}"
local_address = "{DAEMON_IP}"
remote_as = "internal"
port = {peer_port}
connect_retry_time = 1
error_wait = [0.2, 1]
next_hop_self = true
{imp}bfd = {{ min_tx_ms = 100, min_rx_ms = 100, multiplier = 3 }}
[policy.lp200]
[[policy.lp200.rules]]
set.local_pref = 200
{extra}
"""


class FakeBfd:
    """The BfdService surface the daemon uses; tests fire state changes by hand."""

    def __init__(self) -> None:
        self.sessions_added: list[BfdPeerConfig] = []
        self.removed: list[SessionKey] = []
        self.callbacks: list[Callable[[BfdStateChange], None]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    def add_session(self, config: BfdPeerConfig) -> SessionKey:
        self.sessions_added.append(config)
        return config.key

    def remove_session(self, key: SessionKey) -> None:
        self.removed.append(key)

    def set_parameters(self, key: SessionKey, **kw: Any) -> None:
        return None

    def sessions(self) -> list[Any]:
        return []

    def subscribe(self, cb: Callable[[BfdStateChange], None]) -> Callable[[], None]:
        self.callbacks.append(cb)
        return lambda: None

    def fire(self, old: State, new: State) -> None:
        cfg = self.sessions_added[-1]
        change = BfdStateChange(
            key=cfg.key,
            peer=cfg.peer,
            old_state=old,
            new_state=new,
            diag=Diag.CONTROL_DETECTION_TIME_EXPIRED if new is State.DOWN else Diag.NO_DIAGNOSTIC,
            at=0.0,
        )
        for cb in self.callbacks:
            cb(change)


@dataclass
class Rig:
    daemon: Daemon
    peer: Speaker
    fib: MemoryFib
    bfd: FakeBfd
    sock: Path
    conf: Path
    import_table: bool = True


async def wait_for(pred: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    """pybgpd with one neighbor, tor1 (a Speaker on 127.0.0.2); an indirect parameter sets tor1's
    `import_table` (default true), or `(import_table, route_refresh)` also whether tor1 offers RFC 2918."""
    param = getattr(request, "param", True)
    import_table, route_refresh = param if isinstance(param, tuple) else (bool(param), True)
    peer = Speaker(local_as=64600, router_id="10.0.0.2", listen_addresses=(PEER_IP,), listen_port=0)
    await peer.start()
    assert peer.listen_port is not None
    sock = tmp_path / "pybgpd.sock"
    conf = tmp_path / "pybgpd.toml"
    conf.write_text(daemon_config(peer.listen_port, sock, import_table=import_table))
    cfg = load_config(conf)
    fib, bfd = MemoryFib(), FakeBfd()
    daemon = Daemon(cfg, config_path=str(conf), kernel=False, fib=fib, bfd_service=bfd)
    daemon._connected["lo"] = {ipaddress.ip_interface("127.0.0.0/8")}
    await daemon.start()
    peer.add_neighbor(
        PeerSettings(
            local_as=64600,
            remote_as=64600,
            router_id=ipaddress.IPv4Address("10.0.0.2"),
            remote_address=ipaddress.ip_address(DAEMON_IP),
            name="pybgpd",
            passive=True,
            local_address=ipaddress.ip_address(PEER_IP),
            route_refresh=route_refresh,
        )
    )
    try:
        yield Rig(daemon, peer, fib, bfd, sock, conf, import_table)
    finally:
        if not daemon.stopping:
            await daemon.stop("test teardown")
        await peer.stop()


def ctl(rig: Rig, *argv: str) -> tuple[int, str, str]:
    """Run pybgpctl in-process (in a thread: it uses a blocking socket), capture its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(["-s", str(rig.sock), *argv])
    return code, out.getvalue(), err.getvalue()


async def actl(rig: Rig, *argv: str) -> tuple[int, str, str]:
    return await asyncio.to_thread(ctl, rig, *argv)


async def established(rig: Rig) -> None:
    await rig.peer.peer("pybgpd").wait_state(BgpState.ESTABLISHED, 15)
    await wait_for(lambda: rig.daemon.speaker.peer("tor1").state is BgpState.ESTABLISHED)


async def test_routes_reach_kernel_and_pybgpctl_both_formats(rig: Rig) -> None:
    await established(rig)
    rig.peer.announce("10.1.0.0/24", next_hop=PEER_IP)
    pfx = Prefix.parse("10.1.0.0/24")
    await wait_for(lambda: pfx in rig.fib.routes())
    assert [str(nh) for nh in rig.fib.routes()[pfx].nexthops] == [f"via {PEER_IP} dev lo"]
    # The static origination went to the peer with next-hop-self and never into our kernel (rule 6).
    await wait_for(lambda: rig.peer.best("10.99.0.0/24") is not None)
    assert Prefix.parse("10.99.0.0/24") not in rig.fib.routes()

    code, out, _ = await actl(rig, "--json", "show", "neighbors")
    assert code == 0
    (row,) = json.loads(out)
    assert row["name"] == "tor1" and row["state"] == "established" and row["prefixes_accepted"] == 1
    assert row["prefixes_installed"] == 1
    code, out, _ = await actl(rig, "show", "neighbors")
    assert code == 0 and "tor1" in out and "established" in out and "BGP neighbors" in out
    code, out, _ = await actl(rig, "--json", "show", "routes", "--all")
    routes = {r["prefix"]: r for r in json.loads(out)}
    assert routes["10.1.0.0/24"]["best"] and routes["10.1.0.0/24"]["from"] == "tor1"
    code, out, _ = await actl(rig, "show", "routes", "10.1.0.0/24")
    assert code == 0 and "10.1.0.0/24" in out and PEER_IP in out
    code, out, _ = await actl(rig, "--json", "show", "kernel")
    assert json.loads(out) == [{"prefix": "10.1.0.0/24", "nexthops": [{"gateway": PEER_IP, "ifname": "lo"}]}]
    code, out, _ = await actl(rig, "--json", "show", "rib-in", "tor1")
    assert [r["prefix"] for r in json.loads(out)] == ["10.1.0.0/24"]
    code, out, _ = await actl(rig, "--json", "show", "rib-out", PEER_IP)  # by address works too
    assert [r["prefix"] for r in json.loads(out)] == ["10.99.0.0/24"]
    code, out, _ = await actl(rig, "show", "neighbor", "tor1")
    assert code == 0 and "remote_router_id" in out and "10.0.0.2" in out
    code, out, _ = await actl(rig, "--json", "show", "originated")
    assert json.loads(out) == [{"origin": "static", "prefix": "10.99.0.0/24"}]
    code, out, _ = await actl(rig, "show", "status")
    assert code == 0 and "loc_rib_prefixes" in out
    code, out, _ = await actl(rig, "--json", "show", "bfd")
    assert json.loads(out)[0]["neighbor"] == "tor1"
    code, out, _ = await actl(rig, "wait", "route", "10.1.0.0/24", "--timeout", "5")
    assert code == 0
    code, _, err = await actl(rig, "wait", "route", "10.2.0.0/24", "--timeout", "0.3")
    assert code == 5 and "not in the kernel" in err
    code, _, err = await actl(rig, "show", "neighbor", "nosuch")
    assert code == 1 and "no neighbor 'nosuch'" in err
    code, _, err = await actl(rig, "show", "routes", "10.1.0.1/24")
    assert code == 1 and "invalid prefix" in err
    metrics = rig.daemon.metrics.render().decode()
    assert 'pybgp_session_established{neighbor="tor1"} 1.0' in metrics
    assert "pybgp_kernel_install_seconds_count" in metrics


@pytest.mark.parametrize("rig", [(False, False)], indirect=True)
async def test_no_import_table_reload_without_route_refresh_resets(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    """tor1 keeps no import table and offers no route refresh: a new import policy resets the session
    (Cease/Administrative Reset, as BIRD), logged, and the routes come back under it. `show rib-in`
    still lists the accepted routes (post-policy, from the Loc-RIB)."""
    await established(rig)
    neg = rig.daemon.speaker.peer("tor1").negotiated
    assert neg is not None and not neg.route_refresh
    rig.peer.announce("10.1.0.0/24", next_hop=PEER_IP)
    await wait_for(lambda: rig.daemon.speaker.best("10.1.0.0/24") is not None)
    code, out, _ = await actl(rig, "--json", "show", "rib-in", "tor1")
    assert code == 0 and [r["prefix"] for r in json.loads(out)] == ["10.1.0.0/24"], out
    transitions = rig.peer.peer("pybgpd").counters.established_transitions
    assert rig.peer.listen_port is not None
    rig.conf.write_text(daemon_config(rig.peer.listen_port, rig.sock, import_policy="lp200",
                                      import_table=False))
    with caplog.at_level(logging.INFO, logger="pybgp.daemon.reload"):
        code, out, _ = await actl(rig, "--json", "reload")
    assert code == 0, out
    assert any(getattr(r, "event", None) == "import-policy-reset" and "tor1" in r.getMessage()
               for r in caplog.records)
    await wait_for(lambda: rig.peer.peer("pybgpd").counters.last_notification_received is not None)
    note = rig.peer.peer("pybgpd").counters.last_notification_received
    assert note is not None and (note.code, note.subcode) == (NotificationCode.CEASE,
                                                            CeaseSubcode.ADMINISTRATIVE_RESET)

    def lp200() -> bool:
        best = rig.daemon.speaker.best("10.1.0.0/24")
        return best is not None and best.attributes.local_pref == 200

    await wait_for(lp200, 15)
    assert rig.peer.peer("pybgpd").counters.established_transitions > transitions


async def test_bfd_down_flushes_and_resets(rig: Rig) -> None:
    await established(rig)
    rig.peer.announce("10.1.0.0/24", next_hop=PEER_IP)
    pfx = Prefix.parse("10.1.0.0/24")
    await wait_for(lambda: pfx in rig.fib.routes())
    transitions = rig.peer.peer("pybgpd").counters.established_transitions
    rig.bfd.fire(State.DOWN, State.UP)
    rig.bfd.fire(State.UP, State.DOWN)
    assert pfx not in rig.fib.routes()  # synchronous: before the loop runs again
    await wait_for(lambda: rig.peer.peer("pybgpd").counters.last_notification_received is not None)
    note = rig.peer.peer("pybgpd").counters.last_notification_received
    assert note is not None and (note.code, note.subcode) == (NotificationCode.CEASE, CeaseSubcode.BFD_DOWN)
    # Quick retry: the session and the route come back.
    await wait_for(lambda: rig.peer.peer("pybgpd").counters.established_transitions > transitions, 15)
    await wait_for(lambda: pfx in rig.fib.routes(), 10)
    assert 'pybgp_bfd_down_total{neighbor="tor1"} 1.0' in rig.daemon.metrics.render().decode()


@pytest.mark.parametrize("rig", [True, False], indirect=True, ids=["import_table", "no_import_table"])
async def test_reload_policy_change_keeps_session(rig: Rig) -> None:
    """With the import table the new policy is re-run over it; without, tor1 (which offered route
    refresh) is sent ROUTE-REFRESH and its resent routes meet the policy: no reset either way."""
    await established(rig)
    rig.peer.announce("10.1.0.0/24", next_hop=PEER_IP)
    await wait_for(lambda: rig.daemon.speaker.best("10.1.0.0/24") is not None)
    transitions = rig.peer.peer("pybgpd").counters.established_transitions
    assert rig.peer.listen_port is not None
    refreshes = rig.peer.peer("pybgpd").counters.messages_in.get("RouteRefresh", 0)
    rig.conf.write_text(daemon_config(rig.peer.listen_port, rig.sock, import_policy="lp200",
                                      import_table=rig.import_table))
    code, out, _ = await actl(rig, "--json", "reload")
    assert code == 0, out
    result = json.loads(out)
    assert result["import_policy"] == ["tor1"] and not result["recreated"]

    def lp200() -> bool:
        best = rig.daemon.speaker.best("10.1.0.0/24")
        return best is not None and best.attributes.local_pref == 200

    await wait_for(lp200)
    refreshed = rig.peer.peer("pybgpd").counters.messages_in.get("RouteRefresh", 0) - refreshes
    assert refreshed == (0 if rig.import_table else 1)
    # A broken config is refused and changes nothing.
    rig.conf.write_text(daemon_config(rig.peer.listen_port, rig.sock, import_policy="missing",
                                      import_table=rig.import_table))
    code, _, err = await actl(rig, "reload")
    assert code == 1 and "policy 'missing' is not defined" in err
    assert rig.daemon.cfg.neighbors[0].import_policy == "lp200"
    assert rig.peer.peer("pybgpd").counters.established_transitions == transitions
    assert rig.peer.peer("pybgpd").state is BgpState.ESTABLISHED


async def test_stop_sends_cease_with_shutdown_message(rig: Rig) -> None:
    await established(rig)
    await rig.daemon.stop("maintenance: reboot")
    await wait_for(lambda: rig.peer.peer("pybgpd").counters.last_notification_received is not None)
    note = rig.peer.peer("pybgpd").counters.last_notification_received
    assert note is not None
    assert (note.code, note.subcode) == (NotificationCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
    assert b"maintenance: reboot" in note.data
    assert rig.fib.routes() == {}
    assert not rig.sock.exists()


def test_ctl_without_daemon(tmp_path: Path) -> None:
    with pytest.raises(ControlClientError) as info:
        request(tmp_path / "none.sock", "show status")
    assert info.value.exit_code == 3 and "not running" in str(info.value)
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        assert cli.main(["-s", str(tmp_path / "none.sock"), "show", "neighbors"]) == 3
    assert "pybgpd is not running" in err.getvalue()


async def test_kernel_failure_never_takes_the_daemon_down(rig: Rig) -> None:
    await established(rig)

    def broken(*args: Any, **kwargs: Any) -> None:
        raise OSError("netlink socket gone")

    rig.fib.apply = broken  # type: ignore[method-assign]
    rig.peer.announce("10.1.0.0/24", next_hop=PEER_IP)
    await wait_for(lambda: rig.daemon.speaker.best("10.1.0.0/24") is not None)
    await asyncio.sleep(0.1)
    code, out, _ = await actl(rig, "--json", "show", "status")
    assert code == 0 and json.loads(out)["established"] == 1
    assert rig.daemon.speaker.peer("tor1").state is BgpState.ESTABLISHED


async def test_dynamic_neighbor_range(tmp_path: Path) -> None:
    sock = tmp_path / "d.sock"
    conf = tmp_path / "d.toml"
    conf.write_text(f"""
[global]
asn = 64600
router_id = "10.0.0.1"
listen = ["{DAEMON_IP}"]
port = 0
[control]
socket = "{sock}"
[[dynamic_neighbor]]
name = "lbs"
prefix = "127.0.0.0/29"
max_sessions = 1
remote_as = 64698
import = "accept"
""")
    daemon = Daemon(
        load_config(conf), config_path=str(conf), kernel=False, fib=MemoryFib(), bfd_service=FakeBfd()
    )
    await daemon.start()
    peers = []
    try:
        port = daemon.speaker.listen_port
        assert port is not None
        for i, ip in enumerate(("127.0.0.3", "127.0.0.4")):
            sp = Speaker(local_as=64698, router_id=f"10.0.0.{3 + i}")
            await sp.start()
            sp.add_neighbor(
                PeerSettings(
                    local_as=64698,
                    remote_as=64600,
                    router_id=ipaddress.IPv4Address(f"10.0.0.{3 + i}"),
                    remote_address=ipaddress.ip_address(DAEMON_IP),
                    port=port,
                    name="d",
                    local_address=ipaddress.ip_address(ip),
                    connect_retry_time=1,
                    multihop_ttl=2,
                )
            )
            peers.append(sp)
        await peers[0].peer("d").wait_state(BgpState.ESTABLISHED, 15)
        names = [v.name for v in daemon.speaker.neighbors()]
        assert names == ["lbs:127.0.0.3"]  # the second one is over max_sessions and refused
        await asyncio.sleep(0.5)
        assert peers[1].peer("d").state is not BgpState.ESTABLISHED
    finally:
        await daemon.stop()
        for sp in peers:
            await sp.stop()


async def test_strict_bfd_holds_the_session_until_bfd_is_up(tmp_path: Path) -> None:
    peer = Speaker(local_as=64600, router_id="10.0.0.2", listen_addresses=(PEER_IP,), listen_port=0)
    await peer.start()
    assert peer.listen_port is not None
    conf = tmp_path / "s.toml"
    conf.write_text(
        daemon_config(peer.listen_port, tmp_path / "s.sock").replace(
            "multiplier = 3 }", "multiplier = 3, strict = true }"
        )
    )
    bfd = FakeBfd()
    daemon = Daemon(load_config(conf), config_path=str(conf), kernel=False, fib=MemoryFib(), bfd_service=bfd)
    await daemon.start()
    peer.add_neighbor(
        PeerSettings(
            local_as=64600,
            remote_as=64600,
            router_id=ipaddress.IPv4Address("10.0.0.2"),
            remote_address=ipaddress.ip_address(DAEMON_IP),
            name="pybgpd",
            passive=True,
            local_address=ipaddress.ip_address(PEER_IP),
        )
    )
    try:
        await asyncio.sleep(1.0)
        assert daemon.speaker.peer("tor1").state is BgpState.IDLE  # no BFD, no BGP
        bfd.fire(State.DOWN, State.UP)
        await peer.peer("pybgpd").wait_state(BgpState.ESTABLISHED, 10)
        bfd.fire(State.UP, State.DOWN)
        await wait_for(lambda: daemon.speaker.peer("tor1").state is BgpState.IDLE)
        await asyncio.sleep(1.5)  # past the quick retry: strict mode keeps it down while BFD is down
        assert daemon.speaker.peer("tor1").state is BgpState.IDLE
        bfd.fire(State.DOWN, State.UP)
        await wait_for(lambda: daemon.speaker.peer("tor1").state is BgpState.ESTABLISHED, 10)
    finally:
        await daemon.stop()
        await peer.stop()


async def test_bfd_up_keeps_connecting_while_the_peer_turns_us_away(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """BIRD on the ToR turns connections away for its error wait after the BFD Down both ends saw; a
    link back within that wait gets our first connect refused. The daemon connects again every
    QUICK_RETRY seconds instead of sitting out ConnectRetry (30 s here), stops when BFD goes Down, and
    is Established soon after the peer listens."""
    probe = socket.socket()
    probe.bind((PEER_IP, 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there yet: every connect is refused
    conf = tmp_path / "r.toml"
    config = daemon_config(port, tmp_path / "r.sock")
    conf.write_text(config.replace("connect_retry_time = 1", "connect_retry_time = 30"))
    bfd = FakeBfd()
    daemon = Daemon(load_config(conf), config_path=str(conf), kernel=False, fib=MemoryFib(), bfd_service=bfd)

    def again() -> int:
        return sum("connecting again" in r.getMessage() for r in caplog.records)

    caplog.set_level(logging.INFO, logger="pybgp.daemon")
    await daemon.start()
    peer = Speaker(local_as=64600, router_id="10.0.0.2", listen_addresses=(PEER_IP,), listen_port=port)
    try:
        await wait_for(lambda: daemon.speaker.peer("tor1").state is BgpState.ACTIVE)  # refused, waiting
        bfd.fire(State.DOWN, State.UP)  # the path is back, but the peer does not listen yet
        await asyncio.sleep(0.9)
        assert again() >= 2  # refused again and again, not left to ConnectRetry
        bfd.fire(State.UP, State.DOWN)  # the path is gone again: the quick connects stop
        await asyncio.sleep(0.3)
        stopped = again()
        await asyncio.sleep(0.8)
        assert again() == stopped
        await peer.start()
        peer.add_neighbor(PeerSettings(
            local_as=64600, remote_as=64600, router_id=ipaddress.IPv4Address("10.0.0.2"),
            remote_address=ipaddress.ip_address(DAEMON_IP), name="pybgpd", passive=True,
            local_address=ipaddress.ip_address(PEER_IP),
        ))
        bfd.fire(State.DOWN, State.UP)
        await wait_for(lambda: daemon.speaker.peer("tor1").state is BgpState.ESTABLISHED, 1.5)
    finally:
        await daemon.stop()
        await peer.stop()


async def test_bfd_up_connects_at_once_a_session_waiting_out_connect_retry(tmp_path: Path) -> None:
    """A server started before its ToR accepts: the first connect is refused and ConnectRetry (30 s
    here) would hold the next one back; BFD Up proves the path, so the daemon connects at once."""
    probe = socket.socket()
    probe.bind((PEER_IP, 0))
    port = probe.getsockname()[1]
    probe.close()  # nobody listens there yet: the daemon's first connect is refused
    conf = tmp_path / "r.toml"
    config = daemon_config(port, tmp_path / "r.sock")
    conf.write_text(config.replace("connect_retry_time = 1", "connect_retry_time = 30"))
    bfd = FakeBfd()
    daemon = Daemon(load_config(conf), config_path=str(conf), kernel=False, fib=MemoryFib(), bfd_service=bfd)
    await daemon.start()
    peer = Speaker(local_as=64600, router_id="10.0.0.2", listen_addresses=(PEER_IP,), listen_port=port)
    try:
        await wait_for(lambda: daemon.speaker.peer("tor1").state is BgpState.ACTIVE)  # refused, waiting
        await peer.start()
        peer.add_neighbor(PeerSettings(
            local_as=64600, remote_as=64600, router_id=ipaddress.IPv4Address("10.0.0.2"),
            remote_address=ipaddress.ip_address(DAEMON_IP), name="pybgpd", passive=True,
            local_address=ipaddress.ip_address(PEER_IP),
        ))
        await asyncio.sleep(0.5)
        assert daemon.speaker.peer("tor1").state is BgpState.ACTIVE  # ConnectRetry still runs
        bfd.fire(State.DOWN, State.UP)
        await wait_for(lambda: daemon.speaker.peer("tor1").state is BgpState.ESTABLISHED, 5)
    finally:
        await daemon.stop()
        await peer.stop()
