"""One TCP connection of a Peer: the asyncio protocol between a socket and the Peer's FSM.

Owns: `_Connection` (holds bytes until the FSM knows the connection, hands reads to the FSM in pieces
and in slices of loop time, tracks the write flow) and connection ids. `Peer` (pybgp.aio.peer) makes
outgoing connections and `Listener` accepts incoming ones; both use this protocol.
Never does: protocol decisions (the FSM's), or open and close sockets on its own (its Peer says when).

Fair turns: asyncio/uvloop read up to 256 KB per `recv` and up to 32 reads per readiness event, and a
read of one-prefix UPDATEs costs ~40 ms to decode. Handed over whole, a flooding neighbor made every loop
turn ~50-90 ms (feed (c): 2 x 256,000 bytes per turn), so a second neighbor's connect and OPEN
exchange, which need several turns each, took 0.2-1.2 s while timers and control requests waited as
long. So a connection hands the FSM at most `TURN_SECONDS` of work (at least one `FEED_CHUNK` piece)
per loop turn: what is left of a read waits, in order, as the connection's backlog, reading stays
paused until the backlog is gone, and the next piece goes in the loop's next turn.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import TYPE_CHECKING, cast

from pybgp.fsm import events as ev

if TYPE_CHECKING:
    from pybgp.aio.peer import Peer

_conn_ids = itertools.count(1)
"""Connection ids are unique per process, so a stale id can never be mistaken for a new one."""


def new_connection_id() -> int:
    return next(_conn_ids)


CLOSE_LINGER = 5.0
"""Seconds a closing connection may spend flushing (a NOTIFICATION) before it is aborted."""
READ_TURN_BUDGET = 256 << 10
"""Bytes a connection hands the FSM before it stops reading until the loop's next turn. libuv reads a busy
socket up to 32 times per readiness event: one turn decoded up to ~0.6 s of a ToR's table (feed (c))
while timers, the other ToR's connect, control requests and netlink link events waited."""
TURN_SECONDS = 0.002
"""Loop time a connection spends handing bytes to the FSM in one turn before the rest waits for the next
turn (checked between `FEED_CHUNK` pieces, so a turn takes this plus at most one piece: ~2-6 ms of
one-prefix UPDATEs). Above the loop's per-turn overhead (tens of microseconds) by two orders."""
FEED_CHUNK = 32 << 10
"""Largest piece of a socket read given to the FSM at once: a 256 KiB read handed over piece by piece, not
as ~4,000 decoded UPDATEs at once, costs less cache, allocator and GC work (Peer -> Peer, 100k one-prefix
UPDATEs: 0.88-0.91 -> 0.78-0.80 CPU s with pybgpd's GC settings, `benchmarks/session_ingest.py`)."""


class _Connection(asyncio.Protocol):
    """One TCP connection of a Peer. Bytes are held until the FSM knows the connection (`ready`)."""

    def __init__(self, peer: Peer | None, conn_id: int) -> None:
        self.peer = peer
        self.id = conn_id
        self.transport: asyncio.Transport | None = None
        self.ready = False
        self.closed = False
        self.pending: list[bytes] = []
        self.paused = False
        self.throttled = False  # reading stopped by `Peer.pause_reading` (the Speaker's back-pressure)
        self.yielding = False  # reading stopped until the loop's next turn (the turn's budget)
        self.unyielded = 0  # bytes handed to the FSM since this connection last yielded a turn
        self.spent = 0.0  # seconds spent handing bytes to the FSM since this connection last yielded a turn
        self.backlog = b""  # the part of a read not yet handed to the FSM, from `backlog_at` on
        self.backlog_at = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport: asyncio's, or uvloop's TCPTransport (same methods, not a subclass).
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self.peer is None or self.closed:
            return
        if not self.ready:
            self.pending.append(data)
            return
        if self.backlog:
            # Reading is paused while a backlog waits; a read that still comes in (a transport that
            # delivers what it had already read) queues behind it, so the FSM sees the bytes in order.
            self.backlog = self.backlog[self.backlog_at :] + data
            self.backlog_at = 0
            return
        self._feed(data, 0)

    def _feed(self, data: bytes, start: int) -> None:
        """Hand `data[start:]` to the FSM piece by piece until it is done or the turn's time is up; the
        rest becomes the backlog, fed from `_next_turn`. The first piece always goes (progress)."""
        peer = self.peer
        assert peer is not None
        size = len(data)
        first = start
        began = time.monotonic()
        while start < size:
            if self.closed or self.peer is None:
                return  # an earlier piece closed the connection: the rest is dropped with it
            spent = self.spent + (time.monotonic() - began)
            if start != first and spent >= TURN_SECONDS and self.transport is not None:
                self.backlog, self.backlog_at = data, start
                break
            piece = data if start == 0 and size <= FEED_CHUNK else data[start : start + FEED_CHUNK]
            peer._input(ev.DataReceived(conn=self.id, data=piece))
            start += FEED_CHUNK
        self.spent += time.monotonic() - began
        self.unyielded += min(start, size) - first
        if self.closed:
            self.backlog = b""
        elif (
            self.backlog or self.unyielded >= READ_TURN_BUDGET or self.spent >= TURN_SECONDS
        ) and not self.yielding and self.transport is not None:
            self.yielding = True  # let timers, connects and other sockets run before the next piece or read
            self.set_reading()
            asyncio.get_running_loop().call_soon(self._next_turn)

    def _next_turn(self) -> None:
        self.unyielded = 0
        self.spent = 0.0
        self.yielding = False
        backlog, at = self.backlog, self.backlog_at
        if backlog:
            self.backlog = b""
            if self.closed or self.peer is None:
                return
            self._feed(backlog, at)  # yields again while some of it is left
        self.set_reading()

    def set_reading(self) -> None:
        """Read unless the back-pressure (`throttled`) or the turn's budget (`yielding`) says stop."""
        transport = self.transport
        if transport is None or self.closed or transport.is_closing():
            return
        if self.throttled or self.yielding:
            transport.pause_reading()
        else:
            transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        was_closed, self.closed = self.closed, True
        self.backlog = b""
        if self.paused:
            self.paused = False
            if self.peer is not None:
                self.peer._flow_changed()
        if self.peer is not None:
            self.peer._connection_gone(self, was_closed, exc)

    def pause_writing(self) -> None:
        self.paused = True
        if self.peer is not None:
            self.peer._flow_changed()

    def resume_writing(self) -> None:
        self.paused = False
        if self.peer is not None:
            self.peer._flow_changed()

    def activate(self) -> None:
        """The FSM now knows this connection: deliver what arrived meanwhile."""
        self.ready = True
        pending, self.pending = self.pending, []
        for data in pending:
            if self.closed or self.peer is None:
                return
            self.peer._input(ev.DataReceived(conn=self.id, data=data))

    def close(self) -> None:
        self.closed = True
        self.backlog = b""
        transport = self.transport
        if transport is None:
            return
        transport.close()  # flushes what is queued (a NOTIFICATION) first
        if transport.get_write_buffer_size() > 0:
            # A dead or stalled peer never drains the buffer: do not let the socket linger for the
            # kernel's retransmission timeout.
            asyncio.get_running_loop().call_later(CLOSE_LINGER, transport.abort)
