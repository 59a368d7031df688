"""Test helpers: two BFD sessions wired back to back in virtual time (like h11's ConnectionPair).

Owns: `VirtualPair`, a deterministic in-memory link between two `Session`s with a fake clock, a
configurable one-way delay, and a switch to drop packets silently in either direction (a silent
cut), recording every state change with its virtual time. Never does: sockets or wall-clock time.
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import random

from pybfd.constants import State
from pybfd.packet import decode_packet
from pybfd.session import Action, Dropped, Session, SessionConfig, StateChanged, Transmit


@dataclasses.dataclass(frozen=True, slots=True)
class Event:
    """A state change seen at virtual time `at` on side `side` ("a" or "b")."""

    at: float
    side: str
    change: StateChanged


class VirtualPair:
    """Sessions `a` and `b` exchanging packets through a fake wire; `run_until(t)` advances time."""

    def __init__(
        self,
        config_a: SessionConfig,
        config_b: SessionConfig | None = None,
        *,
        seed: int = 1,
        delay: float = 0.001,
        start: float = 0.0,
    ) -> None:
        self.rng = random.Random(seed)
        self.now = start
        self.delay = delay
        self.a = Session(config_a, local_discr=0x1111, rng=self.rng, now=start)
        self.b = Session(config_b or config_a, local_discr=0x2222, rng=self.rng, now=start)
        self.cut_ab = False  # drop packets a -> b
        self.cut_ba = False  # drop packets b -> a
        self.events: list[Event] = []
        self.sent: dict[str, list[bytes]] = {"a": [], "b": []}
        self.drops: dict[str, list[Dropped]] = {"a": [], "b": []}
        self._wire: list[tuple[float, int, str, bytes]] = []
        self._seq = itertools.count()

    def session(self, side: str) -> Session:
        """The session on `side`."""
        return self.a if side == "a" else self.b

    def cut(self, both: bool = True) -> None:
        """Silently drop everything (both ways by default, or only a -> b)."""
        self.cut_ab = True
        self.cut_ba = both

    def restore(self) -> None:
        """Undo `cut`."""
        self.cut_ab = self.cut_ba = False

    def apply(self, side: str, actions: list[Action]) -> None:
        """Carry out a session's actions: put packets on the wire, record changes and drops."""
        for action in actions:
            if isinstance(action, Transmit):
                self.sent[side].append(action.data)
                blocked = self.cut_ab if side == "a" else self.cut_ba
                if not blocked:
                    heapq.heappush(self._wire, (self.now + self.delay, next(self._seq), side, action.data))
            elif isinstance(action, StateChanged):
                self.events.append(Event(self.now, side, action))
            else:
                self.drops[side].append(action)

    def inject(self, side: str, data: bytes) -> None:
        """Deliver raw bytes to `side` now (for forged or malformed packets)."""
        session = self.session(side)
        self.apply(side, session.receive(decode_packet(data), data, self.now))

    def run_until(self, until: float) -> None:
        """Advance virtual time to `until`, delivering packets and firing timers in time order."""
        for _ in range(10_000_000):
            candidates: list[float] = []
            if self._wire:
                candidates.append(self._wire[0][0])
            for s in (self.a, self.b):
                d = s.next_deadline()
                if d is not None:
                    candidates.append(d)
            nxt = min(candidates) if candidates else until
            if nxt > until:
                break
            self.now = max(self.now, nxt)
            while self._wire and self._wire[0][0] <= self.now:
                _, _, side, data = heapq.heappop(self._wire)
                dest = "b" if side == "a" else "a"
                self.apply(dest, self.session(dest).receive(decode_packet(data), data, self.now))
            for side in ("a", "b"):
                s = self.session(side)
                d = s.next_deadline()
                if d is not None and d <= self.now:
                    self.apply(side, s.on_timer(self.now))
        self.now = until

    def run_until_up(self, limit: float = 30.0) -> float:
        """Advance until both sides are Up (or `limit` seconds); returns the virtual time."""
        step = 0.01
        end = self.now + limit
        while self.now < end:
            if self.a.session_state is State.UP and self.b.session_state is State.UP:
                return self.now
            self.run_until(self.now + step)
        raise AssertionError(
            f"not Up after {limit}s: a={self.a.session_state.name} b={self.b.session_state.name}"
        )

    def states(self) -> tuple[State, State]:
        """(a's state, b's state)."""
        return self.a.session_state, self.b.session_state
