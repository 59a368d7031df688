"""A fake monotonic clock for virtual-time tests of the sans-IO cores.

Owns: `FakeClock`, which satisfies `pybgp.aio.clock.Clock` (``now() -> float``) and moves only when a
test says so, plus a tiny timer wheel (`call_at`/`cancel`) so a test can drive "one absolute deadline
per session" adapters: `advance(dt)` fires every due callback in deadline order, each seeing `now()`
equal to its own deadline, exactly as a real loop would call it on time.
Never does: read the wall clock, sleep, or run anything on a thread.

Usage::

    clock = FakeClock(start=1000.0)
    clock.call_at(session.next_deadline(), lambda: actions.extend(session.handle(Tick(), clock.now())))
    clock.advance(90)          # every deadline up to now+90 fires, in order
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(order=True, slots=True)
class _Timer:
    when: float
    seq: int
    callback: Callable[[], object] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)


class TimerHandle:
    """Returned by `FakeClock.call_at`; `cancel()` stops the callback from firing."""

    __slots__ = ("_timer",)

    def __init__(self, timer: _Timer) -> None:
        self._timer = timer

    @property
    def when(self) -> float:
        return self._timer.when

    def cancel(self) -> None:
        self._timer.cancelled = True

    def cancelled(self) -> bool:
        return self._timer.cancelled


class FakeClock:
    """Monotonic seconds under the test's control (`pybgp.aio.clock.Clock`)."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = float(start)
        self._timers: list[_Timer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def time(self) -> float:
        """Alias of `now()`, shaped like `asyncio.AbstractEventLoop.time`."""
        return self._now

    def call_at(self, when: float, callback: Callable[[], object]) -> TimerHandle:
        """Run `callback` when the clock reaches `when` (at once on the next `advance` if already due)."""
        timer = _Timer(float(when), next(self._seq), callback)
        heapq.heappush(self._timers, timer)
        return TimerHandle(timer)

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return self.call_at(self._now + delay, callback)

    def next_deadline(self) -> float | None:
        """The earliest pending (not cancelled) deadline, or None."""
        while self._timers and self._timers[0].cancelled:
            heapq.heappop(self._timers)
        return self._timers[0].when if self._timers else None

    def advance(self, seconds: float, *, max_callbacks: int = 1_000_000) -> int:
        """Move time forward by `seconds`, firing due callbacks in order; returns how many fired.

        Callbacks may schedule new timers; those due before the end fire in the same call. The bound
        `max_callbacks` turns a callback that keeps re-arming at the same instant into an error
        instead of a hang.
        """
        if seconds < 0:
            raise ValueError("a monotonic clock never goes back")
        end = self._now + seconds
        fired = 0
        while True:
            deadline = self.next_deadline()
            if deadline is None or deadline > end:
                break
            timer = heapq.heappop(self._timers)
            self._now = max(self._now, timer.when)
            timer.callback()
            fired += 1
            if fired >= max_callbacks:
                raise RuntimeError(f"more than {max_callbacks} timer callbacks in one advance()")
        self._now = end
        return fired

    def set(self, when: float) -> int:
        """Advance to the absolute time `when` (not backwards)."""
        return self.advance(when - self._now)
