"""Read back-pressure (`pybgp.aio.read_throttle`): the Speaker stops reading a neighbor while many
decoded prefixes wait for its worker and reads it again once the queue is short, so a full table is
not decoded far ahead of the RIB (issue 6: that queue set the daemon's peak RSS).
`Peer.pause_reading` stops and restarts delivery on a real loopback session, and nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from tests.aio.fakes import FakeTransport
from tests.aio.test_update_batches import (
    IBGP,
    IP,
    NAME,
    Batches,
    Inputs,
    N,
    announce,
    close,
    one_prefix_updates,
    p24,
    peers,
    speaker,
    until,
)

from pybgp.aio.connection import READ_TURN_BUDGET, _Connection
from pybgp.aio.peer import Peer
from pybgp.aio.read_throttle import ReadThrottle, weight
from pybgp.fsm.config import PeerSettings
from pybgp.rib.route import PeerInfo
from pybgp.wire.messages import Update


async def test_a_paused_peer_delivers_nothing_until_resumed_and_loses_nothing() -> None:
    h = Batches()
    lst, a, b = await peers(h)
    try:
        assert a.negotiated is not None
        b.pause_reading()
        b.pause_reading()  # idempotent
        a.send_messages(one_prefix_updates(N, a.negotiated.context))
        await asyncio.sleep(0.3)
        assert h.received() == []
        b.pause_reading(False)
        await until(lambda: len(h.received()) == N)
        assert [u.nlri[0] for u in h.received()] == [p24(i) for i in range(N)]
    finally:
        await close(lst, a, b)


async def test_the_speaker_pauses_a_neighbor_over_the_mark_and_resumes_it_when_drained() -> None:
    sp = speaker()
    sp._throttle = ReadThrottle(pause_at=95, resume_at=20)  # 10 prefixes per read below
    peer = sp.peer(NAME)
    packed = [Update(attributes=announce(0).attributes, nlri=tuple(p24(r * 10 + i) for i in range(10)))
              for r in range(12)]
    calls: list[bool] = []

    def record(paused: bool = True) -> None:
        calls.append(paused)
        Peer.pause_reading(peer, paused)

    peer.pause_reading = record  # type: ignore[method-assign]
    reads = 12
    for r in range(reads):  # the worker is not running yet: every read stays queued
        sp.on_updates(peer, [packed[r]])
        assert calls == ([True] if (r + 1) * 10 > 95 else [])
    await sp.start()
    try:
        await until(lambda: sp.rib.accepted_count(NAME) == reads * 10)
        assert calls == [True, False]
        assert sp._throttle.queued == 0
        assert sorted(sp.rib.loc.prefixes()) == sorted(p24(i) for i in range(reads * 10))
        sp.on_updates(peer, [announce(10_000)])  # a short queue never pauses
        await until(lambda: sp.rib.accepted_count(NAME) == reads * 10 + 1)
        assert calls == [True, False]
    finally:
        await sp.stop()


async def test_dropping_a_neighbors_queued_reads_resumes_the_others() -> None:
    sp = speaker()
    sp._throttle = ReadThrottle(pause_at=95, resume_at=20)
    other_ip = IP("10.69.0.66")
    sp.add_neighbor(PeerSettings(local_as=64600, remote_as=64600, router_id=IP("10.69.0.3"),
                                 remote_address=other_ip))
    other_name = str(other_ip)
    sp.rib.neighbor_up(other_name, PeerInfo(name=other_name, address=other_ip, asn=64600, local_as=64600,
                                            router_id=other_ip), IBGP, [(1, 1)], 1.0)
    calls: list[tuple[str, bool]] = []

    def recorder(name: str) -> Callable[[bool], None]:
        def record(paused: bool = True) -> None:
            calls.append((name, paused))
        return record

    for name in (NAME, other_name):
        sp.peer(name).pause_reading = recorder(name)  # type: ignore[method-assign]
    for r in range(12):
        sp.on_updates(sp.peer(other_name), [Update(attributes=announce(0).attributes,
                                                   nlri=tuple(p24(r * 10 + i) for i in range(10)))])
    sp.on_updates(sp.peer(NAME), [announce(5000)])
    assert calls == [(other_name, True), (NAME, True)]
    await sp.start()
    try:
        await sp.remove_neighbor(other_name)
        await until(lambda: (NAME, False) in calls)
        await until(lambda: sp.rib.accepted_count(NAME) == 1)
        assert sp._throttle.queued == 0
    finally:
        await sp.stop()


def test_a_read_weighs_its_prefixes_or_a_quarter_per_one_prefix_update() -> None:
    packed = Update(attributes=announce(0).attributes, nlri=tuple(p24(i) for i in range(7)))
    assert weight([packed, announce(1)]) == 8
    assert weight([announce(i) for i in range(500)]) == 125  # feed (c): one prefix per UPDATE
    assert weight([Update(), Update()]) == 1  # End-of-RIB, or prefixes only in MP_REACH / withdrawn


async def test_a_failed_worker_slice_does_not_leave_a_neighbor_paused() -> None:
    """The worker's last queued read raises (a bug path): the Speaker logs it and goes on, and the
    neighbor paused for that queue is read again -- it must not wait for a hold-timer expiry."""
    sp = speaker()
    sp._throttle = ReadThrottle(pause_at=5, resume_at=0)
    peer = sp.peer(NAME)
    calls: list[bool] = []

    def record(paused: bool = True) -> None:
        calls.append(paused)

    peer.pause_reading = record  # type: ignore[method-assign]

    def broken(name: str, updates: list[Update], *args: object) -> None:
        raise RuntimeError("worker bug")

    sp._receive_updates = broken  # type: ignore[method-assign, assignment]
    sp.on_updates(peer, [Update(attributes=announce(0).attributes, nlri=tuple(p24(i) for i in range(10)))])
    assert calls == [True]
    await sp.start()
    try:
        await until(lambda: calls == [True, False])
        assert sp._throttle.queued == 0
    finally:
        await sp.stop()


async def test_a_connection_yields_a_loop_turn_after_its_read_budget_and_keeps_a_throttle() -> None:
    conn = _Connection(None, 1)
    inputs = Inputs(conn)
    conn.peer = inputs  # type: ignore[assignment]
    conn.ready = True
    transport = FakeTransport()
    conn.transport = transport  # type: ignore[assignment]
    sent = [b"a" * (READ_TURN_BUDGET - 1), b"b", b"c" * READ_TURN_BUDGET]
    conn.data_received(sent[0])
    assert transport.reading  # under the budget
    conn.data_received(sent[1])
    assert not transport.reading and conn.yielding  # over it: no more reads this turn
    await asyncio.sleep(0)
    assert transport.reading and not conn.yielding  # the next turn reads again
    conn.data_received(sent[2])
    assert not transport.reading
    conn.throttled = True  # the Speaker's back-pressure arrives while the connection yields
    conn.set_reading()
    await asyncio.sleep(0)
    assert not transport.reading  # the end of the turn does not undo the throttle
    conn.throttled = False
    conn.set_reading()
    assert transport.reading
    assert b"".join(inputs.got) == b"".join(sent)  # every byte reached the FSM, in order
