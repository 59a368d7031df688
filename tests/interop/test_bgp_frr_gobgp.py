"""pybgp sessions against FRR 8 and GoBGP 3 (lab prefix "fsmx"); each part skips with the reason
when that daemon is not installed. Both daemons start together so their slow session setup
(FRR ~6 s, GoBGP 6-9 s, LAB-NOTES.md) overlaps."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

HERE = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bgp_agent", HERE / "bgp_agent.py")
assert _spec is not None and _spec.loader is not None
agent_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(agent_mod)
wait_until = agent_mod.wait_until


def agent_peer(name: str, local: str, remote: str, remote_as: int, route: str) -> dict[str, Any]:
    return {
        "name": name,
        "local_as": 65001,
        "remote_as": remote_as,
        "router_id": "10.0.0.1",
        "local_address": local,
        "remote_address": remote,
        "hold_time": 9,
        "connect_retry_time": 1,
        "error_wait_min": 1,
        "error_wait_max": 5,
        "announce": [{"prefix": route, "next_hop": local, "med": 5, "communities": [[65001, 9]]}],
    }


@pytest.fixture(scope="module")
def fabric() -> Iterator[dict[str, Any]]:
    from pybgp.testing.drivers.frr import FrrDriver, frr_available, frr_bgp_config
    from pybgp.testing.drivers.gobgp import GobgpDriver, gobgp_available, gobgp_config
    from pybgp.testing.lab import Lab
    from pybgp.testing.topology import Neighbor

    missing = {"frr": frr_available(), "gobgp": gobgp_available()}
    if all(missing.values()):
        pytest.skip(f"neither FRR nor GoBGP available: {missing}")
    with Lab("fsmx") as lab:
        a = lab.node("a")
        peers: list[dict[str, Any]] = []
        out: dict[str, Any] = {"missing": missing}
        if missing["frr"] is None:
            f = lab.node("f")
            lab.link(a, "eth0", f, "eth0", a_addrs=["10.1.0.1/24"], b_addrs=["10.1.0.2/24"])
            nb = Neighbor(
                name="a",
                address="10.1.0.1",
                local_address="10.1.0.2",
                remote_as=65001,
                interface="eth0",
                bfd=False,
            )
            conf = frr_bgp_config(asn=65003, router_id="10.1.0.2", neighbors=[nb], networks=["10.60.0.0/16"])
            out["frr"] = FrrDriver(f, conf, neighbors={"10.1.0.1": "a"})
            peers.append(agent_peer("frr", "10.1.0.1", "10.1.0.2", 65003, "10.41.0.0/16"))
        if missing["gobgp"] is None:
            g = lab.node("g")
            lab.link(a, "eth1", g, "eth0", a_addrs=["10.2.0.1/24"], b_addrs=["10.2.0.2/24"])
            nb = Neighbor(
                name="a",
                address="10.2.0.1",
                local_address="10.2.0.2",
                remote_as=65001,
                interface="eth0",
                bfd=False,
            )
            conf = gobgp_config(asn=65005, router_id="10.2.0.2", neighbors=[nb])
            out["gobgp"] = GobgpDriver(g, conf, neighbors={"10.2.0.1": "a"}, announce=["10.70.0.0/16"])
            peers.append(agent_peer("gobgp", "10.2.0.1", "10.2.0.2", 65005, "10.42.0.0/16"))
        for key in ("frr", "gobgp"):
            if key in out:
                out[key].start()
        agent = agent_mod.start_agent(a, {"listen": ["::"], "peers": peers})
        out["agent"] = agent
        try:
            yield out
        finally:
            agent.stop()
            for key in ("frr", "gobgp"):
                if key in out:
                    out[key].stop()


def _check(
    fabric: dict[str, Any], key: str, own_route: str, their_route: str, their_as: int, our_address: str
) -> None:
    if fabric["missing"][key] is not None:
        pytest.skip(str(fabric["missing"][key]))
    agent, daemon = fabric["agent"], fabric[key]
    agent.wait(lambda e: e["ev"] == "established" and e.get("peer") == key, 30, f"{key} Established")
    wait_until(lambda: daemon.established("a"), 15, f"{key} sees the session Established")
    got = agent.wait(
        lambda e: e["ev"] == "update" and e.get("peer") == key and their_route in e["nlri"], 15, their_route
    )
    assert got["attrs"]["as_path"] == [[their_as]]

    def has_ours() -> bool:
        return any(str(r.prefix) == own_route for r in daemon.routes())

    wait_until(has_ours, 15, f"{own_route} in {key}")
    route = next(r for r in daemon.routes() if str(r.prefix) == own_route)
    assert [str(n) for n in route.nexthops] == [our_address]


def test_frr_session_and_routes_both_ways(fabric: dict[str, Any]) -> None:
    _check(fabric, "frr", "10.41.0.0/16", "10.60.0.0/16", 65003, "10.1.0.1")


def test_gobgp_session_and_routes_both_ways(fabric: dict[str, Any]) -> None:
    _check(fabric, "gobgp", "10.42.0.0/16", "10.70.0.0/16", 65005, "10.2.0.1")
