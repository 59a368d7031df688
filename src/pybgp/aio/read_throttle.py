"""Read back-pressure for the Speaker: stop reading neighbors while many decoded UPDATEs wait.

Owns: `ReadThrottle`, which counts what the Speaker's worker queue holds (in prefixes) and pauses the
neighbor whose read took it over `pause_at` (`Peer.pause_reading`), resuming every paused neighbor
once the worker has taken the queue down to `resume_at`. TCP flow control then keeps the rest of a
table in the kernel's socket buffers and the peer's process, where it costs this process nothing.
Never does: decode, apply or drop anything; a paused neighbor's bytes are all read later, in order.

Why: without it the loop decodes a packed table far ahead of the RIB (feed (b), 300k x 2: 417k
decoded prefixes queued, ~47 MB), which set the daemon's peak RSS (docs/performance.md, issue 6, third
pass). Counted in prefixes, but a read of one-prefix UPDATEs counts a quarter per UPDATE: pausing the
ToRs of feed (c) (100k such UPDATEs each) cost 0.2-0.7 s of its 2.3-2.6 s to RIB at the same CPU, so
there the queue stays deep and is bounded only for much larger feeds.
"""

from __future__ import annotations

import operator
from typing import TYPE_CHECKING

from pybgp.wire.messages import Update

if TYPE_CHECKING:
    from pybgp.aio.peer import Peer

PAUSE_AT = 65_536
RESUME_AT = 16_384
_NLRI = operator.attrgetter("nlri")


def weight(updates: list[Update]) -> int:
    """What one queued read counts: its IPv4 NLRI prefixes when its UPDATEs carry more than one each
    on average, else a quarter per UPDATE (one-prefix UPDATEs, End-of-RIB, MP_REACH or withdrawals
    only). C-level loops: this runs for every socket read."""
    prefixes, count = sum(map(len, map(_NLRI, updates))), len(updates)
    return prefixes if prefixes > count else (count + 3) // 4


class ReadThrottle:
    """The queue's weight and the neighbors paused because of it. No neighbor stays paused: the
    Speaker's worker runs whenever reads are queued (`on_updates` wakes it) and calls `drained()`
    each time it has emptied the queue, also when a reset or removal dropped the reads."""

    __slots__ = ("_paused", "pause_at", "queued", "resume_at")

    def __init__(self, pause_at: int = PAUSE_AT, resume_at: int = RESUME_AT) -> None:
        self.pause_at = pause_at
        self.resume_at = resume_at
        self.queued = 0
        self._paused: dict[str, Peer] = {}

    def added(self, peer: Peer, updates: list[Update]) -> None:
        """`updates` (one read of `peer`) joined the queue: pause `peer` when the queue is over the mark."""
        self.queued += weight(updates)
        if self.queued > self.pause_at and peer.name not in self._paused:
            self._paused[peer.name] = peer
            peer.pause_reading()

    def taken(self, updates: list[Update]) -> None:
        """The worker took `updates` off the queue (a remainder it puts back comes in by `added_back`)."""
        self.queued -= weight(updates)

    def added_back(self, updates: list[Update]) -> None:
        self.queued += weight(updates)

    def drained(self) -> None:
        """The queue is empty (the worker emptied it, or a reset or removal dropped reads)."""
        self.queued = 0
        self.resume()

    def resume(self) -> None:
        """Read the paused neighbors again if the queue is down to `resume_at`."""
        if self._paused and self.queued <= self.resume_at:
            for peer in self._paused.values():
                peer.pause_reading(False)
            self._paused = {}
