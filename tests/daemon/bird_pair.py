"""The lab the daemon-against-BIRD tests share: node `p` (pybgpd) between two BIRD route reflectors.

`p:eth0` 10.0.1.1/24 <-> `b1` 10.0.1.2, `p:eth1` 10.0.2.1/24 <-> `b2` 10.0.2.2, iBGP AS 64600, BIRD
passive with `p` as its route-reflector client (the ToRs of TARGET.md), exporting static blackhole
routes with next-hop-self. Used by test_pybgpd_bird_lab.py and test_update_delay_lab.py.
"""

from __future__ import annotations

from collections.abc import Iterable

from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.lab import Lab, Node


def rr_client_conf(me: str, peer: str, routes: Iterable[str], *, extra: str = "") -> str:
    """BIRD at `me` reflecting `routes` (static blackholes) to its client `peer`; `extra` goes into the
    bgp protocol block (e.g. "  graceful restart off;\\n")."""
    static = "\n".join(f"  route {r} blackhole;" for r in routes)
    return f"""
log stderr all;
router id {me};
protocol device {{ scan time 10; }}
protocol static {{ ipv4;
{static}
}}
protocol bgp p {{
  local {me} as 64600;
  neighbor {peer} as 64600;
  direct;
  passive on;
  rr client;
  connect delay time 1;
  error wait time 1,5;
{extra}  ipv4 {{ import all; export all; next hop self; }};
}}
"""


def two_tors(lab: Lab, b1_conf: str, b2_conf: str) -> tuple[Node, BirdDriver, BirdDriver]:
    """Build the nodes and links in `lab`; return `p` and the two (not yet started) BIRD drivers."""
    p, n1, n2 = lab.node("p"), lab.node("b1"), lab.node("b2")
    lab.link(p, "eth0", n1, "eth0", a_addrs=["10.0.1.1/24"], b_addrs=["10.0.1.2/24"])
    lab.link(p, "eth1", n2, "eth0", a_addrs=["10.0.2.1/24"], b_addrs=["10.0.2.2/24"])
    b1 = BirdDriver(n1, b1_conf, neighbors={"10.0.1.1": "p"})
    b2 = BirdDriver(n2, b2_conf, neighbors={"10.0.2.1": "p"})
    return p, b1, b2


def pybgpd_neighbors(*, b1_extra: str = "", b2_extra: str = "") -> str:
    """pybgpd's `[[neighbor]]` tables for `b1` and `b2` (iBGP, next-hop-self, quick error wait), each
    followed by its `*_extra` TOML lines."""
    return "".join(
        f'\n[[neighbor]]\nname = "{name}"\naddress = "{address}"\ninterface = "{ifname}"\n'
        f'remote_as = "internal"\nnext_hop_self = true\nerror_wait = [1, 5]\n{extra}'
        for name, address, ifname, extra in (
            ("b1", "10.0.1.2", "eth0", b1_extra), ("b2", "10.0.2.2", "eth1", b2_extra)
        )
    )


def pybgpd_head(sock: object) -> str:
    """pybgpd's `[global]`, `[control]` (socket `sock`) and JSON `[logging]` tables of these tests."""
    return f"""
[global]
asn = 64600
router_id = "10.0.1.1"

[control]
socket = "{sock}"

[logging]
format = "json"
"""
