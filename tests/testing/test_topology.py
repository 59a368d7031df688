"""Unit tests for the lab's pure parts: the seed topology, its dict/TOML form, and BIRD config text."""

from __future__ import annotations

import ipaddress
import shutil
import subprocess
from pathlib import Path

import pytest

from pybgp.testing.birdconf import server_config, spine_config, tor_config
from pybgp.testing.drivers import load_server_driver, wait_until
from pybgp.testing.topology import BfdTimers, LinkSpec, NodeSpec, Topology, seed_topology


def test_seed_topology_shape_and_addresses() -> None:
    topo = seed_topology()
    roles = sorted(n.role for n in topo.nodes)
    assert roles.count("server") == 4 and roles.count("tor") == 4 and roles.count("spine") == 1
    srv = topo.server("r0srv1")
    assert srv.asn == 64600 and srv.node_address == "10.69.0.2/32"
    assert [u.ifname for u in srv.uplinks] == ["eth0", "eth1"]
    assert [u.tor_address for u in srv.uplinks] == ["10.69.0.65", "10.69.0.129"]
    for up in srv.uplinks:
        # The server's address and its ToR's address share the ToR's /26 (TARGET.md).
        net = ipaddress.ip_network(up.subnet)
        assert ipaddress.ip_address(up.local_ip) in net and ipaddress.ip_address(up.tor_address) in net
    r1 = topo.server("r1srv2")
    assert r1.asn == 64601 and r1.node_ip == "10.69.1.3" and r1.uplinks[1].address == "10.69.1.131/26"
    assert {s.pod_routes[0] for s in topo.servers} == {f"10.224.{k}.0/30" for k in range(4)}
    tor = next(t for t in topo.tors if t.name == "r1tor2")
    assert tor.asn == 64601 and all(nb.passive and nb.rr_client for nb in tor.servers)
    assert [nb.remote_as for nb in tor.spines] == [64599]
    spine = topo.spines[0]
    assert {nb.remote_as for nb in spine.tors} == {64600, 64601} and len(spine.tors) == 4


def test_seed_topology_two_spines_and_unique_interfaces() -> None:
    topo = seed_topology(racks=2, servers_per_rack=3, spines=2)
    assert len(topo.spines) == 2 and all(len(s.tors) == 4 for s in topo.spines)
    ends = [(lk.a, lk.a_if) for lk in topo.links] + [(lk.b, lk.b_if) for lk in topo.links]
    assert len(ends) == len(set(ends))
    addrs = [a.split("/")[0] for lk in topo.links for a in (*lk.a_addrs, *lk.b_addrs)]
    assert len(addrs) == len(set(addrs))
    for bad in ({"racks": 0}, {"spines": 3}, {"servers_per_rack": 61}):
        with pytest.raises(ValueError):
            seed_topology(**bad)


def test_description_round_trip_and_toml(tmp_path: Path) -> None:
    toml = tmp_path / "lab.toml"
    toml.write_text(
        '[nodes.a]\nrole = "host"\nrouter = true\n[nodes.b]\n'
        '[[links]]\na = "a"\na_if = "eth0"\na_addrs = ["10.0.0.1/30"]\nb = "b"\nb_if = "eth0"\n'
        'b_addrs = ["10.0.0.2/30", "fd00::2/64"]\n'
        '[[address_devices]]\nnode = "b"\nname = "node0"\naddrs = ["10.9.9.9/32"]\n'
    )
    topo = Topology.load_toml(toml)
    assert topo.node("a").router and not topo.node("b").router
    assert topo.links[0].b_addrs == ("10.0.0.2/30", "fd00::2/64")
    assert Topology.from_dict({**topo.to_dict(), "nodes": topo.to_dict()["nodes"]}) == topo


@pytest.mark.parametrize(
    "links",
    [
        (LinkSpec(a="a", a_if="eth0", b="zz", b_if="eth0"),),  # unknown node
        (LinkSpec(a="a", a_if="eth0", b="b", b_if="eth0"), LinkSpec(a="a", a_if="eth0", b="b", b_if="eth1")),
        (LinkSpec(a="a", a_if="eth0", b="b", b_if="eth0", a_addrs=("10.0.0.300/24",)),),
    ],
)
def test_validate_rejects_bad_descriptions(links: tuple[LinkSpec, ...]) -> None:
    topo = Topology(nodes=(NodeSpec(name="a"), NodeSpec(name="b")), links=links)
    with pytest.raises(ValueError):
        topo.validate()


def test_server_config_follows_target_rules() -> None:
    topo = seed_topology(bfd=BfdTimers(tx_ms=50, rx_ms=50, multiplier=3))
    conf = server_config(topo.server("r0srv2"))
    assert 'interface "node0"' in conf  # rule 1
    assert "neighbor 10.69.0.65 as 64600" in conf and "neighbor 10.69.0.129 as 64600" in conf  # rule 2
    assert "bfd on" in conf and "min tx interval 50 ms" in conf  # rules 2 and 9
    assert "error wait time 1,5" in conf
    assert "next hop self" in conf  # rule 3
    assert "if bgp_next_hop ~ 10.69.0.64/26 then gw = bgp_next_hop; else gw = 10.69.0.65;" in conf  # rule 4
    assert "if bgp_next_hop ~ 10.69.0.128/26 then gw = bgp_next_hop; else gw = 10.69.0.129;" in conf
    assert "merge paths on" in conf  # rule 5
    assert "(64698,64699) ~ bgp_community then reject" in conf  # rule 6
    assert "kernel table 119" in conf and "krt_source = 30" in conf and "scan time 1" in conf  # rule 7
    assert "local 127.0.0.1 as 64699" in conf and "neighbor 127.0.0.1 as 64698" in conf  # rule 8
    assert "source address 10.69.0.67" in conf and "router id 10.69.0.3" in conf


def test_tor_and_spine_configs() -> None:
    topo = seed_topology()
    tor = tor_config(next(t for t in topo.tors if t.name == "r0tor1"))
    assert tor.count("rr client") == 2 and tor.count("passive on") == 2
    assert "neighbor 10.68.1.0 as 64599" in tor and "merge paths on" in tor
    spine = spine_config(topo.spines[0])
    assert spine.count("next hop self") == 4 and "neighbor 10.68.1.7 as 64601" in spine
    assert "0.0.0.0/0" not in spine
    assert "route 0.0.0.0/0 unreachable" in spine_config(seed_topology(default_route=True).spines[0])


@pytest.mark.skipif(shutil.which("bird") is None, reason="bird not installed (Debian package bird2)")
def test_generated_configs_parse_with_bird(tmp_path: Path) -> None:
    """`bird -p` (parse only, no sockets, no root) accepts every generated config."""
    topo = seed_topology(spines=2, default_route=True)
    texts = [server_config(s) for s in topo.servers]
    texts += [tor_config(t) for t in topo.tors] + [spine_config(s) for s in topo.spines]
    for i, text in enumerate(texts):
        path = tmp_path / f"bird{i}.conf"
        path.write_text(text)
        proc = subprocess.run(["bird", "-p", "-c", str(path)], capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, f"{path}: {proc.stderr}\n{text}"


def test_load_server_driver_and_wait_until() -> None:
    from pybgp.testing.drivers import bird

    assert load_server_driver("bird") is bird.for_server
    with pytest.raises(ModuleNotFoundError):
        load_server_driver("nosuchdaemon")
    calls: list[int] = []
    assert not wait_until(lambda: bool(calls.append(1)), timeout=0.05, interval=0.01)
    assert len(calls) >= 2
    assert wait_until(lambda: True, timeout=0)
