"""Where the asyncio shell gets `now` from, so the sans-IO core never reads a clock itself.

Owns: `Clock` (the protocol the adapters use) and `LoopClock` (the running loop's monotonic time).
Never does: sleep or schedule; a fake clock for tests lives in `pybgp.testing`.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """Monotonic seconds. The FSM's deadlines are on this scale."""

    def now(self) -> float: ...


class LoopClock:
    """`loop.time()`: monotonic, and the same scale `loop.call_at` uses, so one deadline arms one call."""

    def __init__(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._loop = loop

    def now(self) -> float:
        loop = self._loop
        if loop is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return time.monotonic()
        return loop.time()
