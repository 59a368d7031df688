"""The BFD worker: a `BfdEngine` on its own event loop, driven by command messages.

Owns: the command protocol between `pybfd.aio.BfdService` and the engine (tuples: add, remove,
admin, params, query, stop; replies: ready, change, reply), its execution on the worker's loop, and
the entry point of the isolated worker process (`python -m pybfd.worker READ_FD WRITE_FD`), which
runs at realtime priority when allowed and dies with its parent. Never does: protocol logic, or call
back into the caller's code (it only sends messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import queue
import signal
import sys
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from pybfd.engine import BfdEngine, BfdStateChange

log = logging.getLogger("pybfd")

Message = tuple[Any, ...]


class WorkerCore:
    """Executes commands against an engine; `send` carries events and replies back to the service."""

    def __init__(self, send: Callable[[Message], object], seed: int | None = None) -> None:
        import random

        self._send = send
        self.engine = BfdEngine(self._changed, rng=random.Random(seed))
        self.stopped = asyncio.get_running_loop().create_future()

    def _changed(self, change: BfdStateChange) -> None:
        self._send(("change", change))

    def handle(self, msg: Message) -> None:
        """Run one command; errors go back as ("error", text) rather than killing the worker."""
        engine = self.engine
        try:
            match msg:
                case ("add", config):
                    engine.add_session(config)
                case ("remove", key):
                    engine.remove_session(key)
                case ("admin", key, down):
                    engine.admin(key, down)
                case ("params", key, tx, rx, mult):
                    engine.set_parameters(key, desired_min_tx_ms=tx, required_min_rx_ms=rx, detect_mult=mult)
                case ("query", request_id):
                    self._send(("reply", request_id, engine.snapshot(), engine.drop_counters()))
                case ("stop",):
                    self.shutdown()
                case _:
                    self._send(("error", f"unknown command {msg[0]!r}"))
        except Exception as exc:
            log.exception("BFD worker command %r failed", msg[0])
            self._send(("error", f"{msg[0]}: {exc}"))

    def shutdown(self) -> None:
        """Tell every peer AdminDown, close sockets, and finish."""
        engine = self.engine
        if not engine.closed:
            for key, _ in list(engine.manager.items()):
                engine.remove_session(key)
            engine.close()
        if not self.stopped.done():
            self.stopped.set_result(None)


def _die_with_parent() -> None:
    """PR_SET_PDEATHSIG: the kernel sends SIGTERM when the parent exits, so no orphan keeps sending."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _realtime() -> None:
    """SCHED_RR priority 50, as the target deployment runs BIRD; ignored when not permitted."""
    with contextlib.suppress(Exception):
        os.sched_setscheduler(0, os.SCHED_RR, os.sched_param(50))


async def _serve(inbox: Connection, outbox: Connection, seed: int | None) -> None:
    outq: queue.SimpleQueue[Message | None] = queue.SimpleQueue()

    def sender() -> None:
        # A separate thread writes to the pipe, so a parent too busy to read never blocks our timers.
        while (item := outq.get()) is not None:
            try:
                outbox.send(item)
            except OSError:
                return

    thread = threading.Thread(target=sender, name="pybfd-sender", daemon=True)
    thread.start()
    core = WorkerCore(outq.put, seed)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            while inbox.poll():
                core.handle(inbox.recv())
        except (EOFError, OSError):
            core.shutdown()  # the service (our parent) is gone

    loop.add_reader(inbox.fileno(), readable)
    loop.add_signal_handler(signal.SIGTERM, core.shutdown)
    outq.put(("ready", os.getpid()))
    gc.freeze()  # the few long-lived objects made so far are never scanned again
    await core.stopped
    loop.remove_reader(inbox.fileno())
    outq.put(("stopped",))
    outq.put(None)
    await asyncio.to_thread(thread.join, 2.0)


def main(argv: list[str] | None = None) -> None:
    """Entry of the worker process: `python -m pybfd.worker READ_FD WRITE_FD [realtime] [seed]`."""
    args = sys.argv[1:] if argv is None else argv
    inbox, outbox = Connection(int(args[0]), writable=False), Connection(int(args[1]), readable=False)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the parent, which stops us cleanly
    _die_with_parent()
    if len(args) > 2 and args[2] == "realtime":
        _realtime()
    seed = int(args[3]) if len(args) > 3 and args[3] != "none" else None
    logging.basicConfig(level=logging.WARNING, format="pybfd-worker %(levelname)s %(message)s")
    asyncio.run(_serve(inbox, outbox, seed))


if __name__ == "__main__":
    main()
