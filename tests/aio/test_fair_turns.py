"""Fair loop turns (`pybgp.aio.connection`): a connection hands the FSM at most `TURN_SECONDS` of a read per
loop turn; the rest waits, in order, while reading stays paused, so a flooding neighbor leaves room in
every turn for timers, connects and the other neighbors (issue 6, session 4: a ToR's connect and OPEN
exchange took 0.2-1.2 s behind the other ToR's flood).

The sans-socket tests run the FSM's cost on a fake clock (each piece "costs" a fixed time), so they are
exact; the loopback test floods a real receiving Peer and checks that a timer keeps its promise."""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from typing import Any

import pytest
from tests.aio.fakes import FakeTransport
from tests.aio.test_update_batches import Batches, close, one_prefix_updates, peers, until

from pybgp.aio import connection as connection_mod
from pybgp.aio.connection import FEED_CHUNK, TURN_SECONDS, _Connection


class _Clock:
    """Stands in for `time` in `pybgp.aio.connection`: advanced only by the FSM stub below."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now


class _CostlyInputs:
    """Stands in for the Peer: records every piece and charges `cost` seconds of the fake clock for it;
    `close_after` pieces close the connection (as an FSM error would)."""

    def __init__(self, conn: _Connection, clock: _Clock, cost: float, close_after: int | None = None) -> None:
        self.conn = conn
        self.clock = clock
        self.cost = cost
        self.close_after = close_after
        self.got: list[bytes] = []
        self.gone = False

    def _input(self, event: Any) -> None:
        self.got.append(event.data)
        self.clock.now += self.cost
        if self.close_after is not None and len(self.got) >= self.close_after:
            self.conn.closed = True

    def _connection_gone(self, conn: _Connection, closed_by_us: bool, exc: Exception | None) -> None:
        self.gone = True


def _connection(
    monkeypatch: pytest.MonkeyPatch, cost: float, close_after: int | None = None
) -> tuple[_Connection, _CostlyInputs, FakeTransport]:
    clock = _Clock()
    monkeypatch.setattr(connection_mod, "time", clock)
    conn = _Connection(None, 1)
    inputs = _CostlyInputs(conn, clock, cost, close_after)
    conn.peer = inputs  # type: ignore[assignment]
    conn.ready = True
    transport = FakeTransport()
    conn.transport = transport  # type: ignore[assignment]
    return conn, inputs, transport


async def test_a_costly_read_is_handed_over_across_turns_in_order_while_reading_is_paused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cost = TURN_SECONDS * 0.75  # two pieces per turn: the first goes, the second reaches the budget
    conn, inputs, transport = _connection(monkeypatch, cost)
    data = bytes(range(256)) * (10 * FEED_CHUNK // 256)  # 10 pieces
    conn.data_received(data)
    assert len(inputs.got) == 2 and not transport.reading and conn.backlog
    turns = 0
    others: list[int] = []
    while conn.backlog or conn.yielding:
        asyncio.get_running_loop().call_soon(others.append, len(inputs.got))  # someone else's callback
        await asyncio.sleep(0)
        turns += 1
        assert turns < 20
        assert transport.reading == (not conn.yielding)  # paused exactly while the connection yields
    assert b"".join(inputs.got) == data  # every byte, in order, each piece at most FEED_CHUNK
    assert all(len(p) <= FEED_CHUNK for p in inputs.got)
    assert turns >= 4 and len(set(others)) >= 4  # other callbacks ran between the slices
    assert transport.reading


async def test_the_first_piece_of_every_turn_goes_even_when_one_piece_costs_more_than_a_turn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn, inputs, transport = _connection(monkeypatch, TURN_SECONDS * 3)
    conn.data_received(b"x" * (3 * FEED_CHUNK))
    assert len(inputs.got) == 1 and not transport.reading
    await asyncio.sleep(0)
    assert len(inputs.got) == 2
    await asyncio.sleep(0)
    assert len(inputs.got) == 3 and not conn.backlog
    await asyncio.sleep(0)
    assert transport.reading


async def test_a_read_arriving_behind_a_backlog_queues_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    conn, inputs, _ = _connection(monkeypatch, TURN_SECONDS)
    first, late = b"a" * (2 * FEED_CHUNK), b"b" * 100
    conn.data_received(first)
    conn.data_received(late)  # a transport may deliver what it had read before the pause took effect
    assert inputs.got == [first[:FEED_CHUNK]]
    for _ in range(5):
        await asyncio.sleep(0)
    assert b"".join(inputs.got) == first + late


async def test_a_connection_closed_by_a_piece_drops_its_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    conn, inputs, _ = _connection(monkeypatch, TURN_SECONDS, close_after=2)
    conn.data_received(b"x" * (5 * FEED_CHUNK))
    assert len(inputs.got) == 1
    await asyncio.sleep(0)
    assert len(inputs.got) == 2 and not conn.backlog  # the second piece closed it
    for _ in range(3):
        await asyncio.sleep(0)
    assert len(inputs.got) == 2


async def test_close_and_connection_lost_drop_the_backlog(monkeypatch: pytest.MonkeyPatch) -> None:
    for end in ("close", "lost"):
        conn, inputs, transport = _connection(monkeypatch, TURN_SECONDS)
        conn.data_received(b"x" * (4 * FEED_CHUNK))
        assert conn.backlog
        if end == "close":
            conn.close()  # the FSM closed it (or the Peer stopped)
            assert transport.closing
        else:
            conn.connection_lost(None)  # the peer closed it
            assert inputs.gone
        assert not conn.backlog
        for _ in range(3):
            await asyncio.sleep(0)
        assert len(inputs.got) == 1


async def test_the_throttle_holds_after_the_backlog_is_fed(monkeypatch: pytest.MonkeyPatch) -> None:
    conn, inputs, transport = _connection(monkeypatch, TURN_SECONDS)
    conn.data_received(b"x" * (3 * FEED_CHUNK))
    conn.throttled = True  # the Speaker's back-pressure arrives while a backlog waits
    conn.set_reading()
    for _ in range(5):
        await asyncio.sleep(0)
    assert len(inputs.got) == 3 and not conn.backlog  # read bytes are all handed over...
    assert not transport.reading  # ...but the socket stays paused until the throttle lifts
    conn.throttled = False
    conn.set_reading()
    assert transport.reading


async def test_a_timer_keeps_its_promise_while_a_neighbor_floods() -> None:
    """Loopback: 30k one-prefix UPDATEs arrive in reads of up to 256 KiB (tens of ms of decoding each);
    a 5 ms timer re-armed all along fires within a few pieces' time, not after whole reads. The sender
    (same loop) writes in small batches so that its own turns stay short."""
    h = Batches()
    lst, a, b = await peers(h)
    loop = asyncio.get_running_loop()
    total = 30_000
    try:
        assert a.negotiated is not None
        messages = one_prefix_updates(total, a.negotiated.context)
        lateness: list[float] = []

        def received() -> int:
            return sum(map(len, h.batches))

        def timer(armed: float) -> None:
            lateness.append(time.monotonic() - armed - 0.005)
            if received() < total:
                loop.call_later(0.005, timer, time.monotonic())

        gc.disable()  # a full collection over 30k kept UPDATEs is a pause of its own, not a turn's
        loop.call_later(0.005, timer, time.monotonic())
        for start in range(0, total, 200):
            a.send_messages(messages[start : start + 200])
            await a.drain()
        await until(lambda: received() >= total, timeout=60)
        gc.enable()
        typical = statistics.median(lateness)
        # Whole reads: a median of ~23 ms here (~40-80 ms per turn in the daemon); slices: ~5 ms.
        assert typical < 0.015, f"timer late by {typical * 1000:.1f} ms (median of {len(lateness)})"
    finally:
        gc.enable()
        await close(lst, a, b)
