"""Back-to-back FSM harness (h11's ConnectionPair idea): two sans-IO sessions wired in memory.

`Pair` carries out each side's actions against the other side in virtual time: a Connect becomes a
TcpCrAcked on one side and a TcpConnectionConfirmed on the other, a Send becomes DataReceived, a Close
becomes TcpConnectionFails. `advance(seconds)` steps the fake clock through every deadline on the way.
"""

from __future__ import annotations

import ipaddress
import random
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.session import BgpSession
from pybgp.wire.context import DEFAULT_CONTEXT
from pybgp.wire.framing import MessageFramer
from pybgp.wire.messages import Message, decode_message


def settings(**kw: Any) -> PeerSettings:
    base = PeerSettings(
        local_as=65001,
        remote_as=65002,
        router_id=ipaddress.IPv4Address("10.0.0.1"),
        remote_address=ipaddress.IPv4Address("192.0.2.2"),
        error_wait_min=3,
        error_wait_max=300,
    )
    return replace(base, **kw)


class Side:
    """One end: the session, its recorded actions, and the connections it owns."""

    def __init__(self, name: str, s: PeerSettings, seed: int) -> None:
        self.name = name
        self.session = BgpSession(s, rng=random.Random(seed))
        self.log: list[act.Action] = []
        self.open_conns: set[int] = set()

    @property
    def state(self) -> Any:
        return self.session.state

    def sent_messages(self) -> list[Message]:
        """Decoded messages this side sent, in order (pre-encoded UPDATEs decoded too)."""
        out: list[Message] = []
        for a in self.log:
            if isinstance(a, act.Send):
                if a.message is not None:
                    out.append(a.message)
                else:
                    out.extend(decode_message(f, DEFAULT_CONTEXT) for f in MessageFramer().feed(a.data))
        return out

    def of(self, kind: type) -> list[Any]:
        return [a for a in self.log if isinstance(a, kind)]


class Pair:
    """Two sessions wired back to back. `a` connects out by default; `b` is passive."""

    def __init__(self, a: PeerSettings, b: PeerSettings, *, start: float = 1000.0) -> None:
        self.now = start
        self.a = Side("a", a, 1)
        self.b = Side("b", b, 2)
        self.queue: deque[tuple[Side, ev.Input]] = deque()
        self.next_conn = 1
        self.cut = False  # silent link failure: new connects fail, bytes wait (TCP retransmits them)
        self.refuse = False  # when True, Connect attempts fail (nobody listening)
        self.in_flight: list[tuple[Side, int, bytes | None]] = []  # None: a FIN held by the cut

    def heal(self) -> None:
        """End a cut: TCP delivers what it kept retransmitting, on connections still open."""
        self.cut = False
        held, self.in_flight = self.in_flight, []
        for target, conn, data in held:
            if conn not in target.open_conns:
                continue
            if data is None:
                target.open_conns.discard(conn)
                self.feed(target, ev.TcpConnectionFails(conn=conn, reason="closed by peer"))
            else:
                self.feed(target, ev.DataReceived(conn=conn, data=data))

    def other(self, side: Side) -> Side:
        return self.b if side is self.a else self.a

    def feed(self, side: Side, event: ev.Input) -> list[act.Action]:
        """Give one input to `side`, run its actions, and everything they cause, to quiescence."""
        self.queue.append((side, event))
        first: list[act.Action] = []
        started = False
        while self.queue:
            target, e = self.queue.popleft()
            actions = target.session.handle(e, self.now)
            if not started:
                first, started = actions, True
            target.log.extend(actions)
            for a in actions:
                self._carry_out(target, a)
        return first

    def _carry_out(self, side: Side, a: act.Action) -> None:
        peer = self.other(side)
        if isinstance(a, act.Connect):
            if self.refuse or self.cut:
                self.queue.append((side, ev.TcpConnectionFails(conn=None, reason="refused")))
                return
            conn = self.next_conn
            self.next_conn += 1
            side.open_conns.add(conn)
            peer.open_conns.add(conn)
            # The passive side sees the SYN first; the connecting side learns of it just after.
            self.queue.append((peer, ev.TcpConnectionConfirmed(conn=conn)))
            self.queue.append((side, ev.TcpCrAcked(conn=conn)))
        elif isinstance(a, act.Send):
            if self.cut:
                self.in_flight.append((peer, a.conn, a.data))
            elif a.conn in peer.open_conns:
                self.queue.append((peer, ev.DataReceived(conn=a.conn, data=a.data)))
            elif a.conn in side.open_conns:  # the other end is gone: its TCP answers with a RST
                side.open_conns.discard(a.conn)
                self.queue.append((side, ev.TcpConnectionFails(conn=a.conn, reason="reset by peer")))
        elif isinstance(a, act.Close):
            side.open_conns.discard(a.conn)
            if self.cut:
                self.in_flight.append((peer, a.conn, None))
            elif a.conn in peer.open_conns:
                peer.open_conns.discard(a.conn)
                self.queue.append((peer, ev.TcpConnectionFails(conn=a.conn, reason="closed by peer")))

    def deadline(self) -> float | None:
        ds = [d for d in (self.a.session.next_deadline(), self.b.session.next_deadline()) if d is not None]
        return min(ds) if ds else None

    def advance(self, seconds: float) -> None:
        """Step virtual time by `seconds`, firing every deadline on the way in order."""
        end = self.now + seconds
        for _ in range(100_000):
            d = self.deadline()
            if d is None or d > end:
                break
            self.now = max(self.now, d)
            for side in (self.a, self.b):
                sd = side.session.next_deadline()
                if sd is not None and sd <= self.now:
                    self.feed(side, ev.Timeout())
        self.now = end

    def start(self) -> None:
        self.feed(self.b, ev.ManualStart(passive=True))
        self.feed(self.a, ev.ManualStart())


@pytest.fixture
def make_settings() -> Callable[..., PeerSettings]:
    return settings


@pytest.fixture
def make_pair() -> Callable[..., Pair]:
    """`make_pair(a_kw, b_kw)`: a is AS 65001 / 10.0.0.1, b is AS 65002 / 10.0.0.2 by default."""

    def build(a_kw: dict[str, Any] | None = None, b_kw: dict[str, Any] | None = None, **kw: Any) -> Pair:
        a = settings(**(a_kw or {}))
        b = settings(
            local_as=65002,
            remote_as=65001,
            router_id=ipaddress.IPv4Address("10.0.0.2"),
            remote_address=ipaddress.IPv4Address("192.0.2.1"),
            passive=True,
        )
        b = replace(b, **(b_kw or {}))
        return Pair(a, b, **kw)

    return build


@pytest.fixture
def framer() -> MessageFramer:
    return MessageFramer()
