"""The session's timers as absolute deadlines, and the RFC 4271 section 10 jitter.

Owns: `Timers` (ConnectRetry, Hold, Keepalive, IdleHold deadlines, and `quiet`, the KEEPALIVE brought
forward after a peer's burst of UPDATEs; one `next_deadline()`), `jitter()`,
and `ErrorBackoff` (BIRD's "error wait time min,max" with "error forget time").
Never does: read a clock or sleep. Every method takes `now`; the adapter arms one wake-up.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pybgp.fsm.events import EventType

JITTER_LOW = 0.75
"""RFC 4271 section 10: jitter multiplies ConnectRetry/Keepalive/... by a random 0.75..1.0."""


KEEPALIVE_MIN_INTERVAL = 1.0
"""RFC 4271 section 4.4: KEEPALIVE messages MUST NOT be sent more often than one per second."""

QUIET_KEEPALIVE = 0.25
"""Seconds of silence after a peer's UPDATE that bring our next KEEPALIVE forward (`Timers.quiet`)."""


def jitter(rng: random.Random, seconds: float) -> float:
    """`seconds` reduced by up to 25 %, so peers started together do not stay synchronised."""
    return seconds * rng.uniform(JITTER_LOW, 1.0)


@dataclass(slots=True)
class Timers:
    """Absolute deadlines (seconds on the caller's monotonic clock), None when stopped."""

    connect_retry: float | None = None
    hold: float | None = None
    keepalive: float | None = None
    idle_hold: float | None = None
    quiet: float | None = None
    """When the KeepaliveTimer expires early: shortly after the peer's last UPDATE (see
    `BgpSession._update_heard`). It fires the same event as `keepalive`, and sending the KEEPALIVE
    stops it."""

    def stop_all(self) -> None:
        self.connect_retry = self.hold = self.keepalive = self.idle_hold = self.quiet = None

    def next_deadline(self) -> float | None:
        """The earliest running deadline: the one wake-up the adapter needs (STYLE rule 2)."""
        running = [
            t
            for t in (self.connect_retry, self.hold, self.keepalive, self.idle_hold, self.quiet)
            if t is not None
        ]
        return min(running) if running else None

    def pop_expired(self, now: float) -> list[EventType]:
        """Stop every timer due at `now` and name the events they fire, earliest first."""
        due: list[tuple[float, EventType]] = []
        if self.hold is not None and self.hold <= now:
            due.append((self.hold, EventType.HOLD_TIMER_EXPIRES))
            self.hold = None
        if self.keepalive is not None and self.keepalive <= now:
            due.append((self.keepalive, EventType.KEEPALIVE_TIMER_EXPIRES))
            self.keepalive = self.quiet = None
        elif self.quiet is not None and self.quiet <= now:
            due.append((self.quiet, EventType.KEEPALIVE_TIMER_EXPIRES))
            self.keepalive = self.quiet = None
        if self.connect_retry is not None and self.connect_retry <= now:
            due.append((self.connect_retry, EventType.CONNECT_RETRY_TIMER_EXPIRES))
            self.connect_retry = None
        if self.idle_hold is not None and self.idle_hold <= now:
            due.append((self.idle_hold, EventType.IDLE_HOLD_TIMER_EXPIRES))
            self.idle_hold = None
        due.sort(key=lambda item: item[0])
        return [event for _, event in due]


@dataclass(slots=True)
class ErrorBackoff:
    """How long to stay Idle after an error (BIRD `error wait time 3,300`, `error forget time 300`).

    The first error of a sequence waits `minimum` (or the caller's `retry_after`, e.g. ~1 s after
    a BFD Down so a false Down costs little); each further error within `forget` seconds of the
    previous one doubles the wait, up to `maximum`. A quiet period longer than `forget` starts over.
    """

    minimum: float
    maximum: float
    forget: float
    current: float = 0.0
    last_error: float | None = None

    def next_delay(self, now: float, retry_after: float | None = None) -> float:
        in_sequence = self.last_error is not None and now - self.last_error <= self.forget
        if not in_sequence or self.current <= 0:
            delay = retry_after if retry_after is not None else self.minimum
        else:
            delay = min(self.maximum, max(self.current * 2, self.minimum))
        self.current = delay
        self.last_error = now
        return delay

    def reset(self) -> None:
        self.current = 0.0
        self.last_error = None
