"""UPDATEs handed over per socket read: `Peer` -> `on_updates` when the handler has it, `on_update`
otherwise (or with an observer); the Speaker applies a batch in order, in time slices, with
End-of-RIB hooks after the UPDATEs before them, and subclasses hooking `on_update` still see each."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from tests.aio.test_peer import until as wait_until

from pybgp.aio import speaker as speaker_mod
from pybgp.aio.connection import FEED_CHUNK, _Connection
from pybgp.aio.listener import Listener
from pybgp.aio.peer import Peer
from pybgp.aio.speaker import Speaker
from pybgp.fsm import actions as act
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.states import State
from pybgp.rib.route import BestChange, PeerInfo
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import CeaseSubcode, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Notification, RouteRefresh, Update, encode_message
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
N = 1500  # ~80 KiB: more than one FEED_CHUNK piece per read


class Batches:
    """A handler with `on_updates`; `crash` makes it raise."""

    def __init__(self, *, crash: bool = False) -> None:
        self.single: list[Update] = []
        self.batches: list[list[Update]] = []
        self.downs: list[str] = []
        self.crash = crash

    def on_established(self, peer: Peer) -> None:
        pass

    def on_update(self, peer: Peer, update: Update) -> None:
        self.single.append(update)

    def on_updates(self, peer: Peer, updates: list[Update]) -> None:
        if self.crash:
            raise RuntimeError("handler bug")
        self.batches.append(updates)

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None:
        self.downs.append(reason)

    def on_route_refresh(self, peer: Peer, msg: RouteRefresh) -> None:
        pass

    def received(self) -> list[Update]:
        return self.single + [u for batch in self.batches for u in batch]


def p24(i: int) -> Prefix:
    return Prefix.parse(f"10.{(i >> 8) & 255}.{i & 255}.0/24")


def one_prefix_updates(count: int, ctx: WireContext, start: int = 0) -> list[bytes]:
    out = []
    for i in range(start, start + count):
        attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("127.0.0.2"), med=i, as_path=())
        out.append(encode_message(Update(attributes=attrs, nlri=(p24(i),)), ctx))
    return out


async def until(cond: Any, timeout: float = 10.0) -> None:
    """`test_peer.until` with room for a loaded machine: these wait for whole tables, not one event."""
    await wait_until(cond, timeout)


async def peers(handler: Any, observer: Any = None) -> tuple[Listener, Peer, Peer]:
    lst = Listener(addresses=("127.0.0.1",), port=0)
    await lst.start()
    common: dict[str, Any] = {"hold_time": 9, "error_wait_min": 0.2, "error_wait_max": 1.0}
    b = Peer(
        PeerSettings(local_as=65002, remote_as=65001, router_id=IP("10.0.0.2"),
                     remote_address=IP("127.0.0.2"), passive=True, **common),
        handler,
        observer=observer,
    )
    a = Peer(
        PeerSettings(local_as=65001, remote_as=65002, router_id=IP("10.0.0.1"),
                     remote_address=IP("127.0.0.1"), local_address=IP("127.0.0.2"), port=lst.port,
                     connect_retry_time=1, **common),
        Batches(),
    )
    lst.add_peer(b)
    b.start()
    a.start()
    await a.wait_state(State.ESTABLISHED, 5)
    await b.wait_state(State.ESTABLISHED, 5)
    return lst, a, b


async def close(lst: Listener, *ps: Peer) -> None:
    for p in ps:
        await p.stop()
    await lst.close()


async def test_updates_of_one_read_arrive_in_one_call_in_order() -> None:
    h = Batches()
    lst, a, b = await peers(h)
    try:
        assert a.negotiated is not None
        a.send_messages(one_prefix_updates(N, a.negotiated.context))
        await until(lambda: len(h.received()) == N)
        assert h.single == []
        assert [u.nlri[0] for u in h.received()] == [p24(i) for i in range(N)]
        assert len(h.batches) < N  # at least some reads carried several UPDATEs
        assert b.counters.messages_in["Update"] == N
    finally:
        await close(lst, a, b)


async def test_an_observer_keeps_one_call_per_update() -> None:
    h = Batches()
    seen: list[act.Action] = []
    lst, a, b = await peers(h, observer=lambda peer, action: seen.append(action))
    try:
        assert a.negotiated is not None
        a.send_messages(one_prefix_updates(N, a.negotiated.context))
        await until(lambda: len(h.single) == N)
        assert h.batches == []
        delivered = [x.update for x in seen if isinstance(x, act.DeliverUpdate)]
        assert delivered == h.single
    finally:
        await close(lst, a, b)


async def test_a_crashing_on_updates_resets_only_that_peer() -> None:
    h = Batches(crash=True)
    lst, a, b = await peers(h)
    try:
        assert a.negotiated is not None
        a.send_messages(one_prefix_updates(3, a.negotiated.context))
        await until(lambda: len(h.downs) == 1)
        assert a.counters.last_notification_received is not None
        assert a.counters.last_notification_received.subcode == CeaseSubcode.OUT_OF_RESOURCES
    finally:
        await close(lst, a, b)


# -- the Speaker's side --------------------------------------------------------------------------

NAME = "10.69.0.65"
IBGP = WireContext(ibgp=True)


def tor() -> PeerInfo:
    return PeerInfo(name=NAME, address=IP(NAME), asn=64600, local_as=64600, router_id=IP(NAME))


def announce(i: int) -> Update:
    return Update(attributes=PathAttributes(origin=Origin.IGP, next_hop=IP(NAME), local_pref=100, med=i),
                  nlri=(p24(i),))


class Hooked(Speaker):
    """A subclass that hooks `on_update` only (as pybgpd did): it must still see every UPDATE."""

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.hooked: list[Update] = []

    def on_update(self, peer: Peer, update: Update) -> None:
        super().on_update(peer, update)
        self.hooked.append(update)


def speaker(cls: type[Speaker] = Speaker) -> Speaker:
    sp = cls(local_as=64600, router_id="10.69.0.3")
    sp.add_neighbor(PeerSettings(local_as=64600, remote_as=64600, router_id=IP("10.69.0.3"),
                                 remote_address=IP(NAME)))
    sp.rib.neighbor_up(NAME, tor(), IBGP, [(1, 1)], 1.0)
    return sp


async def test_a_subclass_hooking_on_update_sees_each_update_of_a_batch() -> None:
    sp = speaker(Hooked)
    assert isinstance(sp, Hooked)
    batches: list[list[BestChange]] = []
    sp.on_best_change(batches.append)
    await sp.start()
    try:
        sp.on_updates(sp.peer(NAME), [announce(i) for i in range(50)])
        assert [u.nlri[0] for u in sp.hooked] == [p24(i) for i in range(50)]
        await until(lambda: sp.rib.accepted_count(NAME) == 50)
        assert [c.prefix for b in batches for c in b] == [p24(i) for i in range(50)]
    finally:
        await sp.stop()


async def test_a_batch_is_one_queue_item_applied_in_order_across_slices_eor_after_its_updates(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(speaker_mod, "SLICE_SECONDS", 0.0)
    eor: list[int] = []

    class Eor(Speaker):
        def on_end_of_rib(self, name: str, family: Any) -> None:
            eor.append(self.rib.accepted_count(name))

    sp = speaker(Eor)
    batches: list[list[BestChange]] = []
    sp.on_best_change(batches.append)
    peer = sp.peer(NAME)
    sp.on_updates(peer, [announce(i) for i in range(20)] + [Update()] + [announce(i) for i in range(20, 30)])
    assert len(sp._events) == 1
    await sp.start()
    try:
        await until(lambda: sp.rib.accepted_count(NAME) == 30)
        assert eor == [20]
        assert [c.prefix for b in batches for c in b] == [p24(i) for i in range(30)]
    finally:
        await sp.stop()


async def test_neighbor_down_drops_the_rest_of_a_queued_batch() -> None:
    sp = speaker()
    peer = sp.peer(NAME)
    sp.on_updates(peer, [announce(i) for i in range(10)])
    sp.neighbor_down(NAME, retry_after=None)
    assert not any(e[0] == "updates" for e in sp._events)


class Inputs:
    """Stands in for the Peer: records what `_Connection` gives the FSM; closes after `close_after`."""

    def __init__(self, conn: Any, close_after: int | None = None) -> None:
        self.conn = conn
        self.got: list[bytes] = []
        self.close_after = close_after

    def _input(self, event: Any) -> None:
        self.got.append(event.data)
        if self.close_after is not None and len(self.got) >= self.close_after:
            self.conn.closed = True


def test_a_large_read_reaches_the_fsm_in_pieces_in_order() -> None:
    conn = _Connection(None, 1)
    inputs = Inputs(conn)
    conn.peer = inputs  # type: ignore[assignment]
    conn.ready = True
    data = bytes(range(256)) * 400  # 100 KiB
    conn.data_received(data)
    assert b"".join(inputs.got) == data
    assert len(inputs.got) == -(-len(data) // FEED_CHUNK) and all(len(p) <= FEED_CHUNK for p in inputs.got)
    conn.data_received(b"small")
    assert inputs.got[-1] == b"small"


def test_pieces_after_the_connection_closed_are_dropped() -> None:
    conn = _Connection(None, 1)
    inputs = Inputs(conn, close_after=1)
    conn.peer = inputs  # type: ignore[assignment]
    conn.ready = True
    conn.data_received(b"x" * (3 * FEED_CHUNK))
    assert len(inputs.got) == 1


async def test_a_failing_update_loses_only_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    sp = speaker()
    real = sp.rib.receive
    bad = announce(5)

    def receive(name: str, update: Update, now: float) -> list[BestChange]:
        if update is bad:
            raise RuntimeError("RIB bug")
        return real(name, update, now)

    monkeypatch.setattr(sp.rib, "receive", receive)
    batch = [announce(i) for i in range(5)] + [bad] + [announce(i) for i in range(6, 10)]
    sp.on_updates(sp.peer(NAME), batch)
    await sp.start()
    try:
        await until(lambda: sp.rib.accepted_count(NAME) == 9)
        assert sp.best(p24(5)) is None and sp.best(p24(9)) is not None
    finally:
        await sp.stop()
