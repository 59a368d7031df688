"""Listener over real TCP on loopback: IPv6, dynamic neighbors from a prefix, TCP MD5 (RFC 2385) with
the right and a wrong key, and a real connection collision (both sides connect at once)."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import replace
from typing import Any

import pytest

from pybgp.aio.listener import Listener
from pybgp.aio.peer import Peer
from pybgp.fsm.config import IPV6_UNICAST, PeerSettings
from pybgp.fsm.states import State
from pybgp.wire.messages import Notification, RouteRefresh, Update


class Quiet:
    """A PeerHandler that counts sessions coming up and going down."""

    def __init__(self) -> None:
        self.up = 0
        self.down = 0

    def on_established(self, peer: Peer) -> None:
        self.up += 1

    def on_update(self, peer: Peer, update: Update) -> None:
        pass  # these tests exchange no routes

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None:
        self.down += 1

    def on_route_refresh(self, peer: Peer, msg: RouteRefresh) -> None:
        pass  # not exercised here


def settings(local: str, remote: str, port: int, **kw: Any) -> PeerSettings:
    first = local.endswith("1")
    base: dict[str, Any] = {
        "local_as": 65001 if first else 65002,
        "remote_as": 65002 if first else 65001,
        "router_id": ipaddress.IPv4Address("10.0.0.1" if first else "10.0.0.2"),
        "hold_time": 9,
        "connect_retry_time": 1,
        "error_wait_min": 0.2,
    }
    base.update(kw)
    return PeerSettings(
        local_address=ipaddress.ip_address(local),
        remote_address=ipaddress.ip_address(remote),
        port=port,
        **base,
    )


async def test_ipv6_loopback_session() -> None:
    async with Listener(addresses=("::1",), port=0) as lst:
        a = Peer(settings("::1", "::1", lst.port, families=(IPV6_UNICAST,)), Quiet())
        b = Peer(replace(settings("::2", "::1", 0, families=(IPV6_UNICAST,)), passive=True), Quiet())
        lst.add_peer(b)
        b.start()
        a.start()
        try:
            await a.wait_state(State.ESTABLISHED, 5)
            assert a.negotiated is not None and a.negotiated.families == {IPV6_UNICAST}
        finally:
            await a.stop()
            await b.stop()


async def test_dynamic_neighbor_from_prefix() -> None:
    created: list[Peer] = []
    handler = Quiet()

    def factory(address: Any) -> Peer | None:
        if address == ipaddress.IPv4Address("127.0.0.9"):
            return None  # the factory may refuse
        peer = Peer(
            PeerSettings(
                local_as=65002,
                remote_as=None,
                router_id=ipaddress.IPv4Address("10.0.0.2"),
                remote_address=address,
                passive=True,
                hold_time=9,
            ),
            handler,
        )
        created.append(peer)
        return peer

    async with Listener(addresses=("127.0.0.1",), port=0) as lst:
        lst.add_dynamic(ipaddress.ip_network("127.0.0.0/29"), factory)
        a = Peer(settings("127.0.0.3", "127.0.0.1", lst.port, local_as=65001, remote_as=65002), Quiet())
        refused = Peer(settings("127.0.0.9", "127.0.0.1", lst.port, local_as=65001, remote_as=65002), Quiet())
        a.start()
        refused.start()
        try:
            await a.wait_state(State.ESTABLISHED, 5)
            assert [p.settings.remote_address for p in created] == [ipaddress.IPv4Address("127.0.0.3")]
            assert created[0].negotiated is not None and created[0].negotiated.remote_as == 65001
            await asyncio.sleep(0.3)
            assert refused.state is not State.ESTABLISHED
        finally:
            for p in [a, refused, *created]:
                await p.stop()


@pytest.mark.parametrize("key,works", [("s3cret", True), ("wrong", False)])
async def test_tcp_md5(key: str, works: bool) -> None:
    async with Listener(addresses=("127.0.0.1",), port=0) as lst:
        b = Peer(replace(settings("127.0.0.1", "127.0.0.2", 0), passive=True, md5_password="s3cret"), Quiet())
        lst.add_peer(b)
        a = Peer(settings("127.0.0.2", "127.0.0.1", lst.port, md5_password=key), Quiet())
        b.start()
        a.start()
        try:
            if works:
                await a.wait_state(State.ESTABLISHED, 5)
            else:
                with pytest.raises(TimeoutError):
                    await a.wait_state(State.OPENSENT, 1.5)
                assert b.state is State.ACTIVE
        finally:
            await a.stop()
            await b.stop()


async def test_real_collision_leaves_one_session() -> None:
    async with (
        Listener(addresses=("127.0.0.1",), port=0) as la,
        Listener(addresses=("127.0.0.2",), port=0) as lb,
    ):
        ha, hb = Quiet(), Quiet()
        a = Peer(settings("127.0.0.1", "127.0.0.2", lb.port), ha)
        b = Peer(settings("127.0.0.2", "127.0.0.1", la.port), hb)
        la.add_peer(a)
        lb.add_peer(b)
        a.start()
        b.start()  # both connect at once: two TCP connections, one survives (RFC 4271 6.8)
        try:
            await a.wait_state(State.ESTABLISHED, 5)
            await b.wait_state(State.ESTABLISHED, 5)
            await asyncio.sleep(0.5)
            assert (ha.up, hb.up, ha.down, hb.down) == (1, 1, 0, 0)
            assert a.local_endpoint is not None and a.local_endpoint == b.remote_endpoint
            assert a.remote_endpoint == b.local_endpoint
            # a (10.0.0.1) < b (10.0.0.2): the connection b opened survives, so b's port is ephemeral.
            assert a.local_endpoint == (ipaddress.IPv4Address("127.0.0.1"), la.port)
        finally:
            await a.stop()
            await b.stop()


async def test_port_already_in_use_is_an_error() -> None:
    async with Listener(addresses=("127.0.0.1",), port=0) as first:
        second = Listener(addresses=("127.0.0.1",), port=first.port)
        with pytest.raises(OSError):
            await second.start()
        await second.close()


@pytest.mark.parametrize("key,works", [("dyn-key", True), ("other", False)])
async def test_dynamic_neighbors_with_md5_on_the_prefix(key: str, works: bool) -> None:
    created: list[Peer] = []

    def factory(address: Any) -> Peer:
        s = PeerSettings(
            local_as=65002,
            remote_as=None,
            router_id=ipaddress.IPv4Address("10.0.0.2"),
            remote_address=address,
            passive=True,
            hold_time=9,
            md5_password="dyn-key",
        )
        created.append(Peer(s, Quiet()))
        return created[-1]

    async with Listener(addresses=("127.0.0.1",), port=0) as lst:
        lst.add_dynamic(ipaddress.ip_network("127.0.0.0/29"), factory, md5_password="dyn-key")
        a = Peer(
            settings("127.0.0.5", "127.0.0.1", lst.port, local_as=65001, remote_as=65002, md5_password=key),
            Quiet(),
        )
        a.start()
        try:
            if works:
                await a.wait_state(State.ESTABLISHED, 5)
            else:
                with pytest.raises(TimeoutError):
                    await a.wait_state(State.OPENSENT, 1.5)
                assert created == []  # the SYN never got through: no Peer was even created
        finally:
            for p in [a, *created]:
                await p.stop()
