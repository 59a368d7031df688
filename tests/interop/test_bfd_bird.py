"""pybfd against BIRD 2's `bfd` protocol in network namespaces (RFC 5880/5881/5883 interop).

Topology (prefix "bfdb<pid>"): a (pybfd) and b (BIRD) share a direct link eth0 (IPv4 + IPv6) for
single-hop sessions, and reach each other through router r over eth1 for a multihop session.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

lab_mod = pytest.importorskip("pybgp.testing.lab")
bird_mod = pytest.importorskip("pybgp.testing.drivers.bird")
from pybfd.labtools import (  # noqa: E402
    PybfdProcess,
    bird_bfd_config,
    bird_bfd_states,
    bird_state_changes,
    scratch_lab,
    wall_minus_monotonic,
)

A4, B4 = "10.99.0.1", "10.99.0.2"
A6, B6 = "fd00:99::1", "fd00:99::2"
AM, BM = "10.98.1.1", "10.98.2.2"


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    with scratch_lab("bfdb") as lab:
        a, b, r = lab.node("a"), lab.node("b"), lab.node("r", router=True)
        lab.link(a, "eth0", b, "eth0", a_addrs=[f"{A4}/24", f"{A6}/64"], b_addrs=[f"{B4}/24", f"{B6}/64"])
        lab.link(a, "eth1", r, "eth0", a_addrs=[f"{AM}/24"], b_addrs=["10.98.1.254/24"])
        lab.link(r, "eth1", b, "eth1", a_addrs=["10.98.2.254/24"], b_addrs=[f"{BM}/24"])
        a.ip("route", "add", "10.98.2.0/24", "via", "10.98.1.254")
        b.ip("route", "add", "10.98.1.0/24", "via", "10.98.2.254")
        yield lab


@pytest.fixture
def start_bird(lab: Any) -> Iterator[Callable[..., Any]]:
    drivers: list[Any] = []
    b = lab.nodes["b"]

    def start(**kwargs: Any) -> Any:
        log = b.run_dir / f"bird-{len(drivers)}-{time.monotonic_ns()}.log"
        config = bird_bfd_config(router_id=B4, log_path=log, **kwargs)
        driver = bird_mod.BirdDriver(b, config)
        driver.log = log
        driver.start()
        drivers.append(driver)
        return driver

    yield start
    for driver in drivers:
        driver.stop()


@pytest.fixture
def start_pybfd(lab: Any, tmp_path: Path) -> Iterator[Callable[..., PybfdProcess]]:
    procs: list[PybfdProcess] = []

    def start(*args: str, isolation: str = "inline") -> PybfdProcess:
        proc = PybfdProcess(lab.nodes["a"], args, isolation=isolation)
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        proc.stop()


def _up(peer: str) -> Callable[[dict[str, Any]], bool]:
    return lambda e: e.get("event") == "state" and e["peer"] == peer and e["new"] == "UP"


def _bird_state(bird: Any, peer: str) -> str | None:
    return bird_bfd_states(bird.birdc("show bfd sessions").stdout).get(peer)


def _wait(pred: Callable[[], bool], timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.05)
    return pred()


def test_single_hop_v4_v6_and_multihop_come_up(
    start_bird: Callable[..., Any], start_pybfd: Callable[..., PybfdProcess], tmp_path: Path
) -> None:
    bird = start_bird(
        neighbors=[f'{A4} dev "eth0" local {B4}', f'{A6} dev "eth0" local {B6}', f"{AM} local {BM} multihop"]
    )
    conf = tmp_path / "pybfd.toml"
    conf.write_text(
        f"""
[defaults]
desired_min_tx_ms = 100
required_min_rx_ms = 100
[[session]]
peer = "{B4}"
local = "{A4}"
interface = "eth0"
[[session]]
peer = "{B6}"
local = "{A6}"
interface = "eth0"
[[session]]
peer = "{BM}"
local = "{AM}"
multihop = true
min_ttl = 63  # BIRD sends multihop with TTL 64; one router (r) in between
"""
    )
    ours = start_pybfd("--config", str(conf))
    for peer in (B4, B6, BM):
        assert ours.wait_for(_up(peer), 10), f"pybfd: {peer} not Up; events {ours.events}"
    assert _wait(lambda: all(_bird_state(bird, p) == "Up" for p in (A4, A6, AM)), 5), bird.birdc(
        "show bfd sessions"
    ).stdout
    # Stay Up (no flaps) for a while at 100 ms.
    time.sleep(1.5)
    events = ours.stop()
    downs = [e for e in events if e.get("event") == "state" and e["old"] == "UP"]
    assert downs == []
    (stats,) = [e for e in events if e.get("event") == "stats"]
    assert all(s["state"] == "UP" and s["detection_time_ms"] == 300.0 for s in stats["sessions"])
    # We said AdminDown on exit: BIRD saw the sessions go Down without a timeout.
    assert _wait(lambda: all(_bird_state(bird, p) == "Down" for p in (A4, A6, AM)), 3)


def _link_local(node: Any, ifname: str) -> str:
    out = node.ip("-6", "-j", "addr", "show", "dev", ifname, "scope", "link").stdout
    for entry in json.loads(out):
        for info in entry.get("addr_info", []):
            if str(info.get("local", "")).startswith("fe80:"):
                return str(info["local"])
    raise AssertionError(f"no link-local address on {node.name}:{ifname}")


def test_ipv6_link_local_single_hop(
    lab: Any, start_bird: Callable[..., Any], start_pybfd: Callable[..., PybfdProcess]
) -> None:
    """The usual IPv6 BGP case: link-local addresses, scope from the interface (SO_BINDTODEVICE)."""
    a_ll = _link_local(lab.nodes["a"], "eth0")
    b_ll = _link_local(lab.nodes["b"], "eth0")
    bird = start_bird(neighbors=[f'{a_ll} dev "eth0" local {b_ll}'])
    ours = start_pybfd("--peer", b_ll, "--local", a_ll, "--interface", "eth0", "--tx", "100", "--rx", "100")
    assert ours.wait_for(_up(b_ll), 10), ours.events
    assert _wait(lambda: _bird_state(bird, a_ll) == "Up", 5), bird.birdc("show bfd sessions").stdout


@pytest.mark.parametrize("interval", [100, 20])
def test_silent_cut_is_detected(
    lab: Any, start_bird: Callable[..., Any], start_pybfd: Callable[..., PybfdProcess], interval: int
) -> None:
    bird = start_bird(neighbors=[f'{A4} dev "eth0" local {B4}'], tx_ms=interval, rx_ms=interval)
    ours = start_pybfd(
        "--peer", B4, "--local", A4, "--interface", "eth0", "--tx", str(interval), "--rx", str(interval)
    )
    assert ours.wait_for(_up(B4), 10)
    assert _wait(lambda: _bird_state(bird, A4) == "Up", 5)
    time.sleep(1.0)  # settle at the fast rate (Poll done)
    link = lab.find_link("a", "eth0")
    mark = len(ours.events)
    offset = wall_minus_monotonic()
    before = time.monotonic()
    link.cut()
    after = time.monotonic()
    cut_at = (before + after) / 2
    try:
        down = ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "DOWN", 5, start=mark)
        assert _wait(lambda: _bird_state(bird, A4) == "Down", 5)
    finally:
        link.restore()
    assert down is not None, "pybfd did not notice the silent cut"
    assert down["diag"] == "CONTROL_DETECTION_TIME_EXPIRED" and down["failure"] is True
    detection = 3 * interval / 1000
    ours_latency = down["monotonic"] - cut_at
    bird_downs = [
        t - offset for t, peer, _o, new in bird_state_changes(bird.log) if peer == A4 and new == "Down"
    ]
    assert bird_downs, "BIRD logged no Down"
    bird_latency = bird_downs[-1] - cut_at
    # Honest bounds on a shared 2-core machine: at most one detection time plus scheduling noise.
    slack = (after - before) / 2 + 0.15
    assert 0 < ours_latency <= detection + slack, (ours_latency, bird_latency)
    assert ours_latency > (3 - 1) * interval / 1000 * 0.75 - (after - before), "Down before the timers allow"
    flaps = [e for e in ours.events[:mark] if e.get("event") == "state" and e["old"] == "UP"]
    assert flaps == [], "no false Down before the cut"
    # And the session recovers once packets flow again.
    assert ours.wait_for(_up(B4), 10, start=mark)


def test_admin_down_both_ways(
    start_bird: Callable[..., Any], start_pybfd: Callable[..., PybfdProcess]
) -> None:
    bird = start_bird(neighbors=[f'{A4} dev "eth0" local {B4}'])
    ours = start_pybfd("--peer", B4, "--local", A4, "--interface", "eth0", "--tx", "100", "--rx", "100")
    assert ours.wait_for(_up(B4), 10)
    assert _wait(lambda: _bird_state(bird, A4) == "Up", 5)
    # Our side administratively down: BIRD goes Down at once (not after a detection timeout).
    mark = len(ours.events)
    ours.send_signal(signal.SIGUSR1)
    admin = ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "ADMIN_DOWN", 5, start=mark)
    assert admin is not None and admin["diag"] == "ADMINISTRATIVELY_DOWN" and admin["failure"] is False
    assert _wait(lambda: _bird_state(bird, A4) == "Down", 3)
    time.sleep(1.0)
    assert _bird_state(bird, A4) == "Down", "BIRD stays Down while we hold AdminDown"
    mark = len(ours.events)
    ours.send_signal(signal.SIGUSR2)
    assert ours.wait_for(_up(B4), 10, start=mark)
    assert _wait(lambda: _bird_state(bird, A4) == "Up", 5)


def test_bird_removing_a_session_is_silent(
    start_bird: Callable[..., Any], start_pybfd: Callable[..., PybfdProcess]
) -> None:
    """BIRD 2.0.12 never sends AdminDown: disabling `bfd` or deleting a neighbor just stops its
    packets, so a peer (we) must and does see a detection timeout, i.e. a failure. Recorded here
    because it decides what pybgpd can expect from BIRD ToRs during maintenance."""
    bird = start_bird(neighbors=[f'{A4} dev "eth0" local {B4}'])
    ours = start_pybfd("--peer", B4, "--local", A4, "--interface", "eth0", "--tx", "100", "--rx", "100")
    assert ours.wait_for(_up(B4), 10)
    mark = len(ours.events)
    bird.birdc("disable bfd1")
    down = ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "DOWN", 5, start=mark)
    assert down is not None
    assert down["diag"] == "CONTROL_DETECTION_TIME_EXPIRED" and down["remote_state"] == "UP"


def test_peer_admin_down_is_not_a_failure(lab: Any, start_pybfd: Callable[..., PybfdProcess]) -> None:
    """A peer that says AdminDown (here pybfd in b, as BIRD cannot) is reported as Down with
    remote_state ADMIN_DOWN and failure false (RFC 5882 section 3.2), and recovers when it returns."""
    ours = start_pybfd("--peer", B4, "--local", A4, "--interface", "eth0", "--tx", "100", "--rx", "100")
    theirs = PybfdProcess(
        lab.nodes["b"], ["--peer", A4, "--local", B4, "--interface", "eth0", "--tx", "100", "--rx", "100"]
    )
    try:
        assert ours.wait_for(_up(B4), 10) and theirs.wait_for(_up(A4), 10)
        mark = len(ours.events)
        theirs.send_signal(signal.SIGUSR1)
        down = ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "DOWN", 5, start=mark)
        assert down is not None
        assert down["remote_state"] == "ADMIN_DOWN" and down["diag"] == "NEIGHBOR_SIGNALED_SESSION_DOWN"
        assert down["failure"] is False
        time.sleep(1.0)
        assert ours.state_of(B4) == "DOWN", "held Down while the peer stays AdminDown"
        theirs.send_signal(signal.SIGUSR2)
        assert ours.wait_for(_up(B4), 10, start=mark)
    finally:
        theirs.stop()


@pytest.mark.parametrize("kind", ["simple", "keyed-md5", "meticulous-keyed-sha1"])
def test_authentication(
    start_bird: Callable[..., Any], start_pybfd: Callable[..., PybfdProcess], kind: str
) -> None:
    start_bird(neighbors=[f'{A4} dev "eth0" local {B4}'], auth=(kind, 3, "s3cret"))
    good = start_pybfd(
        "--peer",
        B4,
        "--local",
        A4,
        "--interface",
        "eth0",
        "--tx",
        "100",
        "--rx",
        "100",
        "--auth",
        f"{kind}:3:s3cret",
    )
    assert good.wait_for(_up(B4), 10), good.events
    good.stop()


def test_wrong_key_keeps_the_session_down(
    start_bird: Callable[..., Any], start_pybfd: Callable[..., PybfdProcess]
) -> None:
    bird = start_bird(neighbors=[f'{A4} dev "eth0" local {B4}'], auth=("keyed-sha1", 3, "s3cret"))
    bad = start_pybfd(
        "--peer",
        B4,
        "--local",
        A4,
        "--interface",
        "eth0",
        "--tx",
        "100",
        "--rx",
        "100",
        "--auth",
        "keyed-sha1:3:wrong",
    )
    assert bad.wait_for(_up(B4), 4) is None
    assert bad.wait_for(lambda e: e.get("event") == "state" and e["new"] in ("INIT", "UP"), 0.1) is None
    assert _bird_state(bird, A4) == "Down"
    (stats,) = [e for e in bad.stop() if e.get("event") == "stats"]
    assert stats["drops"].get("auth_failed", 0) >= 2
