"""pybgp sessions against BIRD 2 in network namespaces (lab prefix "fsm").

One lab for the module: node `a` runs the pybgp agent (tests/interop/bgp_agent.py), node `b` runs
BIRD, node `r` routes between them for the GTSM case. Sessions, one per behaviour:
main4/main6 (IPv4 and IPv6 routes both ways, attributes checked through birdc), md5ok/md5bad
(RFC 2385), badas (wrong remote AS -> OPEN error 2/2), gtsm_ok/gtsm_far (RFC 5082 through one
router), raw (a scripted peer sending a malformed UPDATE). The BIRD restart test runs last.
"""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bgp_agent", HERE / "bgp_agent.py")
assert _spec is not None and _spec.loader is not None
agent_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(agent_mod)
AgentProc = agent_mod.AgentProc
wait_until = agent_mod.wait_until
A_AS, B_AS = 65001, 65002

BIRD_CONF = """
log stderr all;
router id 10.0.0.2;
protocol device { scan time 10; }
protocol static s4 { ipv4; route 10.20.0.0/16 blackhole; }
protocol static s6 { ipv6; route 2001:db8:20::/48 blackhole; }
filter out_attrs { bgp_med = 50; bgp_community.add((65002,7)); accept; }
template bgp common {
  local as 65002;
  connect delay time 1; connect retry time 1; error wait time 1,5; hold time 9;
}
protocol bgp main4 from common {
  local 10.0.0.2; neighbor 10.0.0.1 as 65001;
  ipv4 { import all; export filter out_attrs; };
}
protocol bgp main6 from common {
  local fd00::2; neighbor fd00::1 as 65001;
  ipv6 { import all; export filter out_attrs; };
}
protocol bgp ll6 from common {
  local fe80::2 as 65002; neighbor fe80::1 as 65001; interface "eth2";
  ipv6 { import all; export filter out_attrs; };
}
protocol bgp holdcut from common {
  local 10.3.0.2; neighbor 10.3.0.1 as 65001; hold time 3;
  ipv4 { import none; export none; };
}
protocol bgp md5ok from common {
  local 10.0.0.12; neighbor 10.0.0.11 as 65001; password "s3cret";
  ipv4 { import none; export none; };
}
protocol bgp md5bad from common {
  local 10.0.0.22; neighbor 10.0.0.21 as 65001; password "s3cret";
  ipv4 { import none; export none; };
}
protocol bgp badas from common {
  local 10.0.0.32; neighbor 10.0.0.31 as 65001;
  ipv4 { import none; export none; };
}
protocol bgp gtsm_ok from common {
  local 10.9.1.2; neighbor 10.9.0.1 as 65001; multihop 2; ttl security on;
  ipv4 { import none; export none; };
}
protocol bgp gtsm_far from common {
  local 10.9.1.6; neighbor 10.9.0.5 as 65001; multihop 2; ttl security on;
  ipv4 { import none; export none; };
}
"""


def peer(name: str, local: str, remote: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "name": name,
        "local_as": A_AS,
        "remote_as": B_AS,
        "router_id": "10.0.0.1",
        "local_address": local,
        "remote_address": remote,
        "hold_time": 9,
        "connect_retry_time": 1,
        "error_wait_min": 1,
        "error_wait_max": 5,
    }
    base.update(kw)
    return base


AGENT_CONF = {
    "listen": ["::"],
    "peers": [
        peer(
            "main4",
            "10.0.0.1",
            "10.0.0.2",
            interface="eth0",  # SO_BINDTODEVICE on the connecting socket
            enhanced_route_refresh=True,
            announce=[
                {"prefix": "10.30.0.0/16", "next_hop": "10.0.0.1", "med": 77, "communities": [[65001, 5]]}
            ],
        ),
        peer(
            "main6",
            "fd00::1",
            "fd00::2",
            families=[[2, 1]],
            announce=[{"prefix": "2001:db8:30::/48", "next_hop": "fd00::1", "communities": [[65001, 6]]}],
        ),
        peer("ll6", "fe80::1", "fe80::2", families=[[2, 1]], interface="eth2"),
        peer("holdcut", "10.3.0.1", "10.3.0.2", hold_time=3),
        peer("md5ok", "10.0.0.11", "10.0.0.12", md5_password="s3cret"),
        peer("md5bad", "10.0.0.21", "10.0.0.22", md5_password="wrong"),
        peer("badas", "10.0.0.31", "10.0.0.32", remote_as=65099),
        peer("gtsm_ok", "10.9.0.1", "10.9.1.2", ttl_security=2),
        peer("gtsm_far", "10.9.0.5", "10.9.1.6", ttl_security=1),
        peer("raw", "10.0.0.41", "10.0.0.42", remote_as=65004, passive=True),
    ],
}

RAW_PEER = r"""
import socket, struct, sys, time
s = socket.create_connection(("10.0.0.41", 179), timeout=8, source_address=("10.0.0.42", 0))
M = b"\xff" * 16
def msg(t, body): return M + struct.pack("!HB", 19 + len(body), t) + body
s.sendall(msg(1, struct.pack("!BHH4sB", 4, 65004, 9, socket.inet_aton("10.0.0.42"), 0)))
buf = b""
def read():
    global buf
    while True:
        if len(buf) >= 19:
            n = struct.unpack("!H", buf[16:18])[0]
            if len(buf) >= n:
                m, buf = buf[:n], buf[n:]
                return m
        d = s.recv(4096)
        if not d:
            return None
        buf += d
kinds = [read()[18], read()[18]]
s.sendall(msg(4, b""))
time.sleep(0.5)
s.sendall(msg(2, struct.pack("!H", 50) + b"\x00\x00"))  # withdrawn length overruns: RFC 7606 reset
while True:
    m = read()
    if m is None:
        print("closed", kinds); break
    if m[18] == 3:
        print("NOTIFICATION", m[19], m[20], kinds); break
"""


@pytest.fixture(scope="module")
def fabric() -> Iterator[tuple[Any, Any, Any, Any, Any]]:
    from pybgp.testing.drivers.bird import BirdDriver
    from pybgp.testing.lab import Lab

    with Lab("fsm") as lab:
        a, b, r = lab.node("a"), lab.node("b"), lab.node("r", router=True)
        lab.link(
            a,
            "eth0",
            b,
            "eth0",
            a_addrs=[f"10.0.0.{n}/24" for n in (1, 11, 21, 31, 41)] + ["fd00::1/64"],
            b_addrs=[f"10.0.0.{n}/24" for n in (2, 12, 22, 32, 42)] + ["fd00::2/64"],
        )
        lab.link(a, "eth1", r, "eth0", a_addrs=["10.9.0.1/24", "10.9.0.5/24"], b_addrs=["10.9.0.254/24"])
        lab.link(b, "eth1", r, "eth1", a_addrs=["10.9.1.2/24", "10.9.1.6/24"], b_addrs=["10.9.1.254/24"])
        lab.link(a, "eth2", b, "eth2", a_addrs=["fe80::1/64"], b_addrs=["fe80::2/64"])
        lab.link(a, "eth3", b, "eth3", a_addrs=["10.3.0.1/24"], b_addrs=["10.3.0.2/24"])
        a.ip("route", "add", "10.9.1.0/24", "via", "10.9.0.254")
        b.ip("route", "add", "10.9.0.0/24", "via", "10.9.1.254")
        bird = BirdDriver(b, BIRD_CONF)
        bird.start()
        agent = agent_mod.start_agent(a, AGENT_CONF)
        try:
            yield lab, bird, agent, b, lab.find_link("a", "eth3")
        finally:
            agent.stop()
            bird.stop()


def established(agent: AgentProc, name: str, timeout: float = 20) -> dict[str, Any]:
    return agent.wait(
        lambda e: e["ev"] == "established" and e.get("peer") == name, timeout, f"{name} Established"
    )


def test_ipv4_and_ipv6_sessions_exchange_routes_with_attributes(fabric: Any) -> None:
    _, bird, agent, _, _ = fabric
    e4 = established(agent, "main4")
    e6 = established(agent, "main6")
    assert e4["hold"] == 9 and e4["families"] == [[1, 1]]
    assert e6["families"] == [[2, 1]]
    wait_until(lambda: bird.established("main4") and bird.established("main6"), 10, "BIRD Established")
    # BIRD -> pybgp, with its export filter's attributes.
    # Each wait names its session: BIRD exports the same routes over `ll6` too, with a link-local next hop.
    u4 = agent.wait(
        lambda e: e["ev"] == "update" and e.get("peer") == "main4" and "10.20.0.0/16" in e["nlri"],
        10,
        "10.20/16 from BIRD",
    )
    assert u4["attrs"]["as_path"] == [[B_AS]]
    assert u4["attrs"]["med"] == 50 and [65002, 7] in u4["attrs"]["communities"]
    assert u4["attrs"]["next_hop"] == "10.0.0.2"
    u6 = agent.wait(
        lambda e: e["ev"] == "update" and e.get("peer") == "main6" and "2001:db8:20::/48" in e["nlri"],
        10,
        "v6 route from BIRD",
    )
    assert u6["attrs"]["as_path"] == [[B_AS]] and "fd00::2" in u6["next_hops"]

    # pybgp -> BIRD, checked on BIRD's side.
    def bird_route(table: str, prefix: str) -> str:
        return str(bird.birdc(f"show route all table {table} for {prefix}").stdout)

    wait_until(lambda: "main4" in bird_route("master4", "10.30.0.0/16"), 10, "10.30/16 in BIRD")
    text4 = bird_route("master4", "10.30.0.0/16")
    assert "BGP.as_path: 65001" in text4 and "BGP.med: 77" in text4
    assert "(65001,5)" in text4 and "BGP.next_hop: 10.0.0.1" in text4
    wait_until(lambda: "main6" in bird_route("master6", "2001:db8:30::/48"), 10, "v6 route in BIRD")
    text6 = bird_route("master6", "2001:db8:30::/48")
    assert "BGP.as_path: 65001" in text6 and "(65001,6)" in text6 and "fd00::1" in text6


def test_ipv6_link_local_session_on_an_interface(fabric: Any) -> None:
    _, bird, agent, _, _ = fabric
    up = established(agent, "ll6")
    assert up["families"] == [[2, 1]]
    wait_until(lambda: bird.established("ll6"), 10, "BIRD ll6 Established")
    got = agent.wait(
        lambda e: e["ev"] == "update" and e.get("peer") == "ll6" and "2001:db8:20::/48" in e["nlri"],
        10,
        "v6 route",
    )
    assert got["attrs"]["as_path"] == [[B_AS]] and got["next_hops"]


def test_hold_timer_expiry_on_a_silent_cut_and_recovery(fabric: Any) -> None:
    _, bird, agent, _, link = fabric
    established(agent, "holdcut")
    wait_until(lambda: bird.established("holdcut"), 10, "BIRD holdcut Established")
    ups = len(agent.find(lambda e: e["ev"] == "established" and e.get("peer") == "holdcut"))
    t0 = time.monotonic()
    link.cut()  # nftables drop both ways: carrier stays up, only the hold timer can tell
    try:
        down = agent.wait(lambda e: e["ev"] == "down" and e.get("peer") == "holdcut", 10, "hold expiry")
        took = time.monotonic() - t0
    finally:
        link.restore()
    assert down["note"] == [4, 0], down  # RFC 4271 6.5: Hold Timer Expired, sent by us
    assert 2.0 <= took <= 8.0, took  # hold time 3 s (the last KEEPALIVE may be up to 1 s old)
    wait_until(
        lambda: len(agent.find(lambda e: e["ev"] == "established" and e.get("peer") == "holdcut")) > ups,
        20,
        "holdcut back after the cut",
    )
    wait_until(lambda: bird.established("holdcut"), 10, "BIRD holdcut Established again")


def test_route_refresh_both_ways(fabric: Any) -> None:
    _, bird, agent, _, _ = fabric
    established(agent, "main4")

    def n_routes() -> int:
        return len(
            agent.find(
                lambda e: e["ev"] == "update" and e.get("peer") == "main4" and "10.20.0.0/16" in e["nlri"]
            )
        )

    def refreshes(subtype: int) -> list[dict[str, Any]]:
        return agent.find(
            lambda e: e["ev"] == "refresh" and e.get("peer") == "main4" and e["subtype"] == subtype
        )

    before = n_routes()
    agent.command(cmd="refresh", peer="main4", afi=1, safi=1)  # we ask BIRD (RFC 2918)
    wait_until(lambda: n_routes() > before, 10, "BIRD re-sent its routes after our ROUTE-REFRESH")
    # Enhanced route refresh negotiated (RFC 7313): BIRD brackets the re-sent routes with BoRR / EoRR.
    wait_until(lambda: bool(refreshes(1) and refreshes(2)), 10, "BoRR and EoRR from BIRD")
    bird.birdc("reload in main4")  # BIRD asks us
    wait_until(lambda: bool(refreshes(0)), 10, "ROUTE-REFRESH from BIRD")
    assert (refreshes(0)[0]["afi"], refreshes(0)[0]["safi"]) == (1, 1)
    assert bird.established("main4")


def test_md5_right_key_establishes_wrong_key_never(fabric: Any) -> None:
    _, bird, agent, _, _ = fabric
    established(agent, "md5ok")
    wait_until(lambda: bird.established("md5ok"), 10, "BIRD md5ok Established")
    time.sleep(3)  # several connect attempts of both sides have happened by now
    assert not agent.find(lambda e: e.get("peer") == "md5bad" and e["ev"] in ("established", "update"))
    assert not agent.find(lambda e: e.get("peer") == "md5bad" and e.get("state") == "OpenConfirm")
    assert not bird.established("md5bad")


def test_gtsm_accepts_one_hop_more_only_when_configured(fabric: Any) -> None:
    _, bird, agent, _, _ = fabric
    established(agent, "gtsm_ok")
    wait_until(lambda: bird.established("gtsm_ok"), 10, "BIRD gtsm_ok Established")
    time.sleep(2)
    assert not agent.find(
        lambda e: e.get("peer") == "gtsm_far" and e.get("state") in ("OpenConfirm", "Established")
    )
    assert not bird.established("gtsm_far")


def test_wrong_remote_as_gets_bad_peer_as(fabric: Any) -> None:
    _, bird, agent, _, _ = fabric
    failed = agent.wait(
        lambda e: e["ev"] == "failed" and e.get("peer") == "badas" and e.get("note") is not None,
        15,
        "badas failure",
    )
    assert failed["note"] == [2, 2] and failed["sent"]
    info = bird.birdc("show protocols all badas").stdout
    assert "Bad peer AS" in info, info
    assert not bird.established("badas")


def test_malformed_update_resets_only_that_session(fabric: Any) -> None:
    _, bird, agent, b, _ = fabric
    established(agent, "main4")
    downs_before = len(agent.find(lambda e: e["ev"] == "down" and e.get("peer") == "main4"))
    out = b.run([sys.executable, "-c", RAW_PEER], timeout=20).stdout.strip()
    assert out.startswith("NOTIFICATION 3 1"), out  # RFC 4271 6.3 / RFC 7606: malformed attribute list
    agent.wait(lambda e: e["ev"] == "down" and e.get("peer") == "raw", 5, "raw session down")
    assert agent.proc.poll() is None
    time.sleep(0.5)
    assert len(agent.find(lambda e: e["ev"] == "down" and e.get("peer") == "main4")) == downs_before
    assert bird.established("main4")
    routes = bird.birdc("show route table master4 for 10.30.0.0/16").stdout
    assert "10.30.0.0/16" in routes


def test_bird_restart_is_survived(fabric: Any) -> None:
    _, bird, agent, _, _ = fabric
    established(agent, "main4")

    def count(pred: Callable[[dict[str, Any]], bool]) -> int:
        return len(agent.find(pred))

    def is_up(e: dict[str, Any]) -> bool:
        return e["ev"] == "established" and e.get("peer") == "main4"

    def got_route(e: dict[str, Any]) -> bool:
        return e["ev"] == "update" and e.get("peer") == "main4" and "10.20.0.0/16" in e["nlri"]

    ups, routes = count(is_up), count(got_route)
    bird.stop()
    agent.wait(lambda e: e["ev"] == "down" and e.get("peer") == "main4", 10, "main4 down after BIRD stop")
    time.sleep(1.5)  # BIRD stays down a while: our reconnects are refused meanwhile
    bird.start()
    t0 = time.monotonic()
    wait_until(lambda: count(is_up) > ups, 30, "main4 back after BIRD restart")
    took = time.monotonic() - t0
    wait_until(lambda: count(got_route) > routes, 10, "BIRD's route learned again")
    wait_until(lambda: bird.established("main4"), 10, "BIRD main4 Established again")
    assert agent.proc.poll() is None
    assert took < 15, f"session took {took:.1f}s to come back"
