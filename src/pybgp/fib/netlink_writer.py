"""The netlink writer thread: route writes sent by a second thread while the event loop goes on (issue 6).

Why: rtnetlink is synchronous, the kernel does each route's work (~2.7 us of the ~4.5 us a route write
costs) inside our sendmsg(2), and a blocking syscall releases the GIL. With the sends on their own thread
the kernel installs one chunk of routes while the loop thread decodes UPDATEs and plans the next chunk.

Owns: one thread, one FIFO of pre-encoded chunks (strict order: one queue, one writer), the bound on what
may wait in it (`depth` chunks of at most `CHUNK_ROUTES` routes: a nexthop removal, which waits for the
queue to empty first, is never starved behind a long batch), and handing each finished chunk back with its
failures (by seq) or the exception that stopped it. Never does: plan routes or touch `GroupTable` (the loop
thread builds chunks and settles their results, see `NetlinkFib`), asyncio (the owner's `notify` callback
wakes its loop), or let an exception in the thread pass silently (it is returned with its chunk, and a dead
thread makes every later call raise).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from pybgp.fib.netlink_msgs import NlError
from pybgp.fib.netlink_socket import NetlinkChannel
from pybgp.wire.nlri import Prefix

log = logging.getLogger("pybgp.fib")

CHUNK_ROUTES = 512
"""Route requests per chunk (one sendmsg): ~30 KB, ~1.5 ms of kernel work at ~2.7 us a route. Small enough
that a nexthop removal waiting for the queue waits a few ms at most, large enough to amortise the syscall."""
QUEUE_DEPTH = 6
"""Chunks that may wait behind the one being sent; the loop thread blocks (backpressure) beyond that."""

@dataclass(slots=True, eq=False)
class Chunk:
    """Route requests with consecutive seqs `base`, `base + 1`, ... then a NOOP ack with seq `sentinel`:
    either `moves` (prefix -> the group it now points at) or `deletes`, and each route's group before
    (`olds`, None when it had none), for the owner to settle with `failures` or `error`."""

    payload: bytes
    base: int
    sentinel: int
    moves: list[tuple[Prefix, int]]
    deletes: list[Prefix]
    olds: list[int | None]
    failures: dict[int, NlError] = field(default_factory=dict)
    error: BaseException | None = None

    @property
    def size(self) -> int:
        return len(self.olds)


class NetlinkWriter:
    """Sends `Chunk`s on `chan`'s socket from one daemon thread, in submission order.

    The owner (one thread: the event loop's) must not use `chan` itself while `busy`: call `drain()` first
    (every synchronous request, dump and group write of `NetlinkFib` does). `notify` is called from the
    writer thread when a chunk failed (some request refused, or the send raised) or the queue ran empty,
    so the owner can collect `finished()` soon (the daemon passes `loop.call_soon_threadsafe(...)`).
    """

    def __init__(
        self, chan: NetlinkChannel, notify: Callable[[], None] | None = None, depth: int | None = None
    ) -> None:
        self._chan = chan
        self._notify = notify
        self._depth = max(QUEUE_DEPTH if depth is None else depth, 1)
        self._cond = threading.Condition()
        self._queue: deque[Chunk | None] = deque()
        self._done: deque[Chunk] = deque()
        self._unfinished = 0  # submitted and not yet in `_done`
        self._fatal: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="pybgp-netlink-writer", daemon=True)
        self._thread.start()

    @property
    def busy(self) -> bool:
        """Chunks submitted and not yet finished."""
        return self._unfinished > 0

    @property
    def has_finished(self) -> bool:
        """Finished chunks wait for `finished()`."""
        return bool(self._done)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def submit(self, chunk: Chunk) -> None:
        """Queue `chunk` after every earlier one; blocks (GIL released) while `depth` chunks wait."""
        with self._cond:
            self._check()
            while len(self._queue) >= self._depth:
                self._cond.wait(1.0)
                self._check()
            self._queue.append(chunk)
            self._unfinished += 1
            self._cond.notify_all()

    def finished(self) -> list[Chunk]:
        """Chunks the thread has finished since the last call, in submission order."""
        if not self._done:
            return []
        with self._cond:
            out = list(self._done)
            self._done.clear()
        return out

    def drain(self, timeout: float = 60.0) -> None:
        """Wait until every submitted chunk was sent and answered (then `chan` is the caller's again)."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._unfinished == 0 or self._fatal is not None, timeout):
                raise TimeoutError(f"netlink writer: {self._unfinished} chunks unfinished after {timeout} s")
            self._check()

    def close(self, timeout: float = 60.0) -> None:
        """Send what is queued, then stop the thread and wait for it (no thread is left behind)."""
        with self._cond:
            self._queue.append(None)
            self._cond.notify_all()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("netlink writer thread did not stop within %s s", timeout)

    def _check(self) -> None:
        if self._fatal is not None:
            raise RuntimeError("netlink writer thread died") from self._fatal

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while not self._queue:
                        self._cond.wait()
                    chunk = self._queue.popleft()
                    self._cond.notify_all()  # room for a blocked `submit`
                if chunk is None:
                    return
                try:
                    self._chan.send_chunk_to(chunk.payload, chunk.sentinel, chunk.failures)
                except BaseException as exc:  # handed back with the chunk: the owner logs and settles it
                    chunk.error = exc
                chunk.payload = b""  # sent: the bytes are not needed any more
                with self._cond:
                    self._done.append(chunk)
                    self._unfinished -= 1
                    idle = self._unfinished == 0
                    self._cond.notify_all()
                if (idle or chunk.failures or chunk.error is not None) and self._notify is not None:
                    try:
                        self._notify()
                    except Exception:  # e.g. the loop is closed at exit: the owner drains anyway
                        log.debug("netlink writer: notify failed", exc_info=True)
        except BaseException as exc:  # a bug in this loop: make every later call raise, never hang
            log.exception("netlink writer thread died")
            with self._cond:
                self._fatal = exc
                self._cond.notify_all()
