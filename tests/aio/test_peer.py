"""Peer and Listener over real TCP on loopback: establish, exchange UPDATEs, route refresh, stop,
handler crashes, back-pressure, and restart after the peer goes away."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field
from typing import Any

import pytest

from pybgp.aio.listener import Listener
from pybgp.aio.peer import Peer
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.states import State
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import Afi, CeaseSubcode, NotificationCode, Origin, Safi
from pybgp.wire.messages import Notification, RouteRefresh, Update
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

A_ADDR = ipaddress.IPv4Address("127.0.0.2")
B_ADDR = ipaddress.IPv4Address("127.0.0.1")


@dataclass
class Recorder:
    """A PeerHandler that records what it is told; `crash_on_update` makes it raise."""

    established: int = 0
    updates: list[Update] = field(default_factory=list)
    downs: list[tuple[str, Notification | None]] = field(default_factory=list)
    refreshes: list[RouteRefresh] = field(default_factory=list)
    crash_on_update: bool = False
    event: asyncio.Event = field(default_factory=asyncio.Event)

    def on_established(self, peer: Peer) -> None:
        self.established += 1
        self.event.set()

    def on_update(self, peer: Peer, update: Update) -> None:
        if self.crash_on_update:
            raise RuntimeError("handler bug")
        self.updates.append(update)
        self.event.set()

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None:
        self.downs.append((reason, notification))
        self.event.set()

    def on_route_refresh(self, peer: Peer, msg: RouteRefresh) -> None:
        self.refreshes.append(msg)
        self.event.set()


def pair_settings(port: int, **a_kw: Any) -> tuple[PeerSettings, PeerSettings]:
    a = PeerSettings(
        local_as=65001,
        remote_as=65002,
        router_id=ipaddress.IPv4Address("10.0.0.1"),
        remote_address=B_ADDR,
        local_address=A_ADDR,
        port=port,
        hold_time=9,
        connect_retry_time=1,
        error_wait_min=0.2,
        error_wait_max=1,
        **a_kw,
    )
    b = PeerSettings(
        local_as=65002,
        remote_as=65001,
        router_id=ipaddress.IPv4Address("10.0.0.2"),
        remote_address=A_ADDR,
        passive=True,
        hold_time=9,
        error_wait_min=0.2,
        error_wait_max=1,
    )
    return a, b


async def until(cond: Any, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def listener() -> Any:
    lst = Listener(addresses=("127.0.0.1",), port=0)
    await lst.start()
    yield lst
    await lst.close()


async def test_establish_exchange_refresh_and_stop(listener: Listener) -> None:
    a_set, b_set = pair_settings(listener.port)
    ha, hb = Recorder(), Recorder()
    a, b = Peer(a_set, ha), Peer(b_set, hb)
    listener.add_peer(b)
    b.start()
    a.start()
    try:
        await a.wait_state(State.ESTABLISHED, 5)
        await b.wait_state(State.ESTABLISHED, 5)
        assert a.negotiated is not None and a.negotiated.remote_as == 65002
        assert a.negotiated.hold_time == 9
        attrs = PathAttributes(
            origin=Origin.IGP, next_hop=ipaddress.IPv4Address("192.0.2.1"), communities=(0xFDE90001,)
        )
        prefixes = [Prefix.parse(f"10.{i}.0.0/16") for i in range(50)]
        a.send_messages(encode_updates(a.negotiated.context, attributes=attrs, announced=prefixes))
        await until(lambda: sum(len(u.nlri) for u in hb.updates) == 50)
        assert hb.updates[0].attributes is not None
        assert hb.updates[0].attributes.communities == (0xFDE90001,)
        b.send_route_refresh(Afi.IPV4, Safi.UNICAST)
        await until(lambda: len(ha.refreshes) == 1)
        assert (ha.refreshes[0].afi, ha.refreshes[0].safi) == (Afi.IPV4, Safi.UNICAST)
        await a.stop(message="maintenance")
        await until(lambda: len(hb.downs) == 1)
        reason, note = hb.downs[0]
        assert note is not None and note.code == NotificationCode.CEASE
        assert note.subcode == CeaseSubcode.ADMINISTRATIVE_SHUTDOWN
        assert "maintenance" in reason
        assert a.state is State.IDLE
    finally:
        await a.stop()
        await b.stop()


async def test_handler_crash_resets_only_that_peer(listener: Listener) -> None:
    a_set, b_set = pair_settings(listener.port)
    ha, hb = Recorder(), Recorder(crash_on_update=True)
    a, b = Peer(a_set, ha), Peer(b_set, hb)
    listener.add_peer(b)
    b.start()
    a.start()
    try:
        await b.wait_state(State.ESTABLISHED, 5)
        await a.wait_state(State.ESTABLISHED, 5)
        assert a.negotiated is not None
        attrs = PathAttributes(origin=Origin.IGP, next_hop=ipaddress.IPv4Address("192.0.2.1"))
        a.send_messages(
            encode_updates(a.negotiated.context, attributes=attrs, announced=[Prefix.parse("10.0.0.0/8")])
        )
        await until(lambda: len(ha.downs) == 1)
        assert ha.downs[0][1] is not None and ha.downs[0][1].subcode == CeaseSubcode.OUT_OF_RESOURCES
        # Both come back by themselves after the error wait.
        await until(lambda: ha.established == 2 and hb.established == 2, timeout=10)
    finally:
        await a.stop()
        await b.stop()


async def test_unknown_address_refused_and_passive_peer_waits(listener: Listener) -> None:
    a_set, _ = pair_settings(listener.port)
    ha = Recorder()
    a = Peer(a_set, ha)  # nobody configured for 127.0.0.2 on the listener: refused at once
    a.start()
    try:
        await asyncio.sleep(0.5)
        assert a.state in (State.ACTIVE, State.CONNECT, State.IDLE)
        assert ha.established == 0
        assert a.counters.connect_attempts >= 1
    finally:
        await a.stop()


async def test_back_pressure_blocks_producer(listener: Listener) -> None:
    """A peer that stops reading fills the buffers; `writable` goes False and `drain()` waits."""
    a_set, b_set = pair_settings(listener.port)
    ha, hb = Recorder(), Recorder()
    a = Peer(a_set, ha, high_water=64 << 10, low_water=16 << 10)
    b = Peer(b_set, hb)
    listener.add_peer(b)
    b.start()
    a.start()
    try:
        await a.wait_state(State.ESTABLISHED, 5)
        await b.wait_state(State.ESTABLISHED, 5)
        conn = b._primary()
        assert conn is not None and conn.transport is not None
        conn.transport.pause_reading()  # b stops reading: a slow peer
        assert a.negotiated is not None
        attrs = PathAttributes(origin=Origin.IGP, next_hop=ipaddress.IPv4Address("192.0.2.1"))
        batch = encode_updates(
            a.negotiated.context,
            attributes=attrs,
            announced=[Prefix(Afi.IPV4, i << 8, 24) for i in range(4000)],
        )
        sent = 0
        for _ in range(400):  # bounded
            if not a.writable:
                break
            a.send_messages(batch)
            sent += 1
            await asyncio.sleep(0)
        assert not a.writable, "write buffer never reached the high-water mark"
        assert a.write_buffer_size < 64 * 1024 + sum(map(len, batch)) * 2
        drain = asyncio.ensure_future(a.drain())
        await asyncio.sleep(0.1)
        assert not drain.done()
        conn.transport.resume_reading()
        await asyncio.wait_for(drain, 5)
        await until(lambda: sum(len(u.nlri) for u in hb.updates) == 4000 * sent, timeout=10)
    finally:
        await a.stop()
        await b.stop()


class ResetOnFirstUpdate(Recorder):
    """Resets its peer from inside on_update (as a max-prefix policy in the Speaker might)."""

    order: list[str]

    def on_update(self, peer: Peer, update: Update) -> None:
        self.order.append("update")
        if len(self.order) == 1:
            peer.reset(message="policy")

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None:
        self.order.append("down")
        super().on_down(peer, reason, notification)


async def test_no_update_delivered_after_a_reset_from_the_handler(listener: Listener) -> None:
    a_set, b_set = pair_settings(listener.port)
    hb = ResetOnFirstUpdate()
    hb.order = []
    a, b = Peer(a_set, Recorder()), Peer(b_set, hb)
    listener.add_peer(b)
    b.start()
    a.start()
    try:
        await a.wait_state(State.ESTABLISHED, 5)
        await b.wait_state(State.ESTABLISHED, 5)
        assert a.negotiated is not None
        ctx = a.negotiated.context
        msgs = []
        for i in range(3):  # three UPDATEs in one write: decoded from one read on b
            attrs = PathAttributes(origin=Origin.IGP, next_hop=ipaddress.IPv4Address("192.0.2.1"), med=i)
            msgs += encode_updates(ctx, attributes=attrs, announced=[Prefix.parse(f"10.{i}.0.0/16")])
        a.send_messages(msgs)
        await until(lambda: "down" in hb.order)
        await asyncio.sleep(0.1)
        assert hb.order == ["update", "down"]  # the 2nd and 3rd UPDATE belonged to the ended session
    finally:
        await a.stop()
        await b.stop()
