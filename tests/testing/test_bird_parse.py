"""Parsing BIRD 2's `show route` output into DaemonRoute records."""

from __future__ import annotations

import ipaddress

from pybgp.testing.drivers.bird import parse_show_route

SAMPLE = """BIRD 2.0.12 ready.
Table master4:
10.69.1.2/32         unicast [tor1 05:01:02.123] * (100) [AS64599i]
\tvia 10.69.0.65 on eth0
                     unicast [tor2 05:01:02.456] (100) [AS64599i]
\tvia 10.69.0.129 on eth1
10.224.0.0/30        unicast [kernel_pods 05:01:00.001] * (10)
\tdev lo
10.69.0.2/32         unicast [node_direct 05:00:59.999] * (240)
\tdev node0
10.99.0.0/24         unreachable [static1 05:00:59.999] * (200)
garbage line that is not a route
"""


def test_parse_show_route() -> None:
    routes = parse_show_route(SAMPLE)
    assert len(routes) == 5
    first, second = routes[0], routes[1]
    assert first.prefix == ipaddress.ip_network("10.69.1.2/32") == second.prefix
    assert first.best and not second.best
    assert first.source == "tor1" and second.source == "tor2"
    assert first.nexthops == (ipaddress.ip_address("10.69.0.65"),) and first.interfaces == ("eth0",)
    assert second.nexthops == (ipaddress.ip_address("10.69.0.129"),)
    pods = routes[2]
    assert pods.source == "kernel_pods" and pods.nexthops == () and pods.interfaces == ("lo",)
    assert routes[4].kind == "unreachable"


def test_parse_show_route_tolerates_empty_and_junk() -> None:
    assert parse_show_route("") == []
    assert parse_show_route("BIRD 2.0.12 ready.\nTable master4:\n\tvia 1.2.3.4 on eth0\nnonsense\n") == []
