"""`BfdService`: the public asyncio API of pybfd, with BFD isolated from the caller's load.

Owns: where the BFD engine runs and how its events reach the caller. Three isolations:

* ``"process"`` (default): a dedicated worker process (`pybfd.worker`) with its own interpreter,
  GIL and garbage collector, at realtime priority when permitted. A caller busy for seconds in
  CPU-bound Python (decoding a full table, a long GC pause) cannot delay a BFD packet. Measured in
  `benchmarks/bfd_isolation.py`.
* ``"thread"``: the engine on its own loop in a thread. It shares the GIL, so a CPU-bound caller
  delays it by up to the interpreter switch interval (5 ms) per wake-up, and by a whole GC pause;
  kept for small programs and for the comparison.
* ``"inline"``: the engine on the caller's loop (the `pybfd` command, tests).

State changes are delivered on the caller's loop, to `subscribe` callbacks and to `changes()`
iterators. A worker process that dies is replaced (its sessions are first reported Down with diag 4
and then re-created as last configured), at most `MAX_RESTARTS` times a minute.
Never does: protocol logic (see `session`, `manager`) or socket handling (`engine`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import itertools
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from multiprocessing.connection import Connection
from typing import Any, Literal

from pybfd.auth import BfdAuth, BfdKey
from pybfd.constants import AuthType, Diag, State
from pybfd.engine import BfdPeerConfig, BfdSessionInfo, BfdStateChange
from pybfd.manager import SessionKey
from pybfd.worker import Message, WorkerCore

__all__ = [
    "AuthType",
    "BfdAuth",
    "BfdKey",
    "BfdPeerConfig",
    "BfdService",
    "BfdSessionInfo",
    "BfdSessionStatus",
    "BfdStateChange",
    "Diag",
    "SessionKey",
    "State",
]

log = logging.getLogger("pybfd")
Isolation = Literal["process", "thread", "inline"]
#: A worker process that dies more often than this within a minute is not replaced again.
MAX_RESTARTS = 5


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BfdSessionStatus:
    """What the caller's side knows of a session without asking the worker (from the events)."""

    key: SessionKey
    config: BfdPeerConfig
    state: State
    remote_state: State
    diag: Diag
    since: float  # time.monotonic() of the last change (or of add_session)
    # (`remote_state` is what the peer said at that last change, not live: use `query()` for live.)


class BfdService:
    """Run BFD sessions and report their state changes. Construct, `await start()`, add sessions."""

    def __init__(
        self, *, isolation: Isolation = "process", realtime: bool = True, seed: int | None = None
    ) -> None:
        self.isolation: Isolation = isolation
        self._realtime = realtime
        self._seed = seed
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callbacks: list[Callable[[BfdStateChange], None]] = []
        self._queues: set[asyncio.Queue[BfdStateChange | None]] = set()
        self._status: dict[SessionKey, BfdSessionStatus] = {}
        self._pending: dict[int, asyncio.Future[tuple[list[BfdSessionInfo], dict[str, int]]]] = {}
        self._ids = itertools.count(1)
        self._send: Callable[[Message], object] | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._inbox: Connection | None = None
        self._outbox: Connection | None = None
        self._thread: threading.Thread | None = None
        self._worker_loop: asyncio.AbstractEventLoop | None = None
        self._core: WorkerCore | None = None
        self._stopped: asyncio.Future[None] | None = None
        self.worker_pid: int | None = None
        self.errors: list[str] = []
        self.restarts = 0  # how many times a dead worker process was replaced
        self._restarts: list[float] = []
        self._restart_task: asyncio.Task[None] | None = None
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        """Start the engine (spawning the worker process or thread); returns once it is ready."""
        if self._loop is not None:
            raise RuntimeError("BfdService already started")
        self._loop = loop = asyncio.get_running_loop()
        self._stopped = loop.create_future()
        if self.isolation == "inline":
            self._core = WorkerCore(lambda m: loop.call_soon(self._dispatch, m), self._seed)
            self._send = self._core.handle
            self.worker_pid = os.getpid()
        elif self.isolation == "thread":
            await self._start_thread(loop)
        elif self.isolation == "process":
            await self._start_process(loop)
        else:
            raise ValueError(f"unknown isolation {self.isolation!r}")

    async def _start_thread(self, loop: asyncio.AbstractEventLoop) -> None:
        ready: asyncio.Future[None] = loop.create_future()

        def run() -> None:
            async def main() -> None:
                self._worker_loop = asyncio.get_running_loop()
                core = WorkerCore(lambda m: loop.call_soon_threadsafe(self._dispatch, m), self._seed)
                self._core = core
                loop.call_soon_threadsafe(ready.set_result, None)
                await core.stopped
                loop.call_soon_threadsafe(self._dispatch, ("stopped",))

            asyncio.run(main())

        self._thread = threading.Thread(target=run, name="pybfd", daemon=True)
        self._thread.start()
        await ready
        worker_loop, core = self._worker_loop, self._core
        assert worker_loop is not None and core is not None
        self._send = lambda m: worker_loop.call_soon_threadsafe(core.handle, m)
        self.worker_pid = os.getpid()

    async def _start_process(self, loop: asyncio.AbstractEventLoop) -> None:
        cmd_r, cmd_w = os.pipe()
        evt_r, evt_w = os.pipe()
        args = [sys.executable, "-m", "pybfd.worker", str(cmd_r), str(evt_w)]
        args += [
            "realtime" if self._realtime else "normal",
            "none" if self._seed is None else str(self._seed),
        ]
        # The worker must import this very pybfd, even when the caller found it through a sys.path
        # edit rather than an installation.
        env = dict(os.environ)
        here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(p for p in (here, env.get("PYTHONPATH", "")) if p)
        self._proc = subprocess.Popen(args, pass_fds=(cmd_r, evt_w), stdin=subprocess.DEVNULL, env=env)
        os.close(cmd_r)
        os.close(evt_w)
        self._outbox = Connection(cmd_w, readable=False)
        self._inbox = inbox = Connection(evt_r, writable=False)
        ready: asyncio.Future[None] = loop.create_future()
        self._ready = ready
        loop.add_reader(inbox.fileno(), self._readable)
        outbox = self._outbox
        self._send = outbox.send
        try:
            await asyncio.wait_for(ready, 30)
        except BaseException:
            await self._reap()
            raise

    def _readable(self) -> None:
        inbox = self._inbox
        assert inbox is not None and self._loop is not None
        try:
            while inbox.poll():
                self._dispatch(inbox.recv())
        except (EOFError, OSError):
            self._loop.remove_reader(inbox.fileno())
            if self._stopped is not None and not self._stopped.done() and not self._stopping:
                self._worker_died()

    def _worker_died(self) -> None:
        """The worker process vanished (killed, crashed): report its sessions Down, start a new one.

        Every session it held is gone, and the peers will time out, so Up/Init sessions are reported
        Down with diag 4 (Forwarding Plane Reset, the nearest RFC 5880 code for "our BFD engine
        restarted"); then a new worker gets every session again as last configured (timers and
        AdminDown included). More than `MAX_RESTARTS` deaths in a minute: give up and report stopped.
        """
        assert self._loop is not None
        now = time.monotonic()
        self._restarts = [t for t in self._restarts if now - t < 60.0] + [now]
        message = f"BFD worker process (pid {self.worker_pid}) exited unexpectedly"
        self.errors.append(message)
        log.error("%s; restart %d", message, len(self._restarts))
        self._send = self._refuse_while_restarting
        for key, status in list(self._status.items()):
            if status.state in (State.UP, State.INIT):
                change = BfdStateChange(
                    key=key,
                    peer=key.peer,
                    old_state=status.state,
                    new_state=State.DOWN,
                    diag=Diag.FORWARDING_PLANE_RESET,
                    at=now,
                    remote_state=status.remote_state,
                )
                self._dispatch(("change", change))
        if len(self._restarts) > MAX_RESTARTS:
            log.error("BFD worker died %d times in a minute: BFD stopped", len(self._restarts))
            self._dispatch(("stopped",))
            return
        self._restart_task = self._loop.create_task(self._restart())

    def _refuse_while_restarting(self, msg: Message) -> None:
        # Configuration changes are already recorded in `_status` and replayed by `_restart`.
        if msg[0] == "query":
            raise RuntimeError("BFD worker is restarting")

    async def _restart(self) -> None:
        assert self._loop is not None
        await self._reap()
        try:
            await self._start_process(self._loop)
        except Exception as exc:
            self.errors.append(f"BFD worker restart failed: {exc!r}")
            log.error("BFD worker restart failed: %r", exc)
            self._dispatch(("stopped",))
            return
        for status in self._status.values():
            self._command(("add", status.config))
        self.restarts += 1

    async def stop(self) -> None:
        """Tell every peer AdminDown, stop the worker, and end the `changes()` iterators."""
        if self._loop is None or self._stopped is None:
            return
        self._stopping = True
        if self._restart_task is not None and not self._restart_task.done():
            with contextlib.suppress(Exception):
                await self._restart_task
        if not self._stopped.done():
            with contextlib.suppress(OSError, RuntimeError):
                self._command(("stop",))
            if self.isolation == "inline":
                self._dispatch(("stopped",))  # the engine stopped synchronously, on this loop
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._stopped), 5)
        await self._reap()
        self._dispatch(("stopped",))

    async def _reap(self) -> None:
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 5)
        if self._proc is not None:
            try:
                await asyncio.to_thread(self._proc.wait, 5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                await asyncio.to_thread(self._proc.wait, 5)
        for conn in (self._inbox, self._outbox):
            if conn is not None and not conn.closed:
                if conn is self._inbox and self._loop is not None:
                    with contextlib.suppress(Exception):
                        self._loop.remove_reader(conn.fileno())
                conn.close()
        self._proc = None

    # ------------------------------------------------------------------ sessions
    def add_session(self, config: BfdPeerConfig) -> SessionKey:
        """Start a session; returns its key. State changes follow through the subscribers."""
        key = config.key
        if key in self._status:
            raise KeyError(f"session {key} exists")
        self._status[key] = BfdSessionStatus(
            key=key,
            config=config,
            state=State.ADMIN_DOWN if config.admin_down else State.DOWN,
            remote_state=State.DOWN,
            diag=Diag.NO_DIAGNOSTIC,
            since=time.monotonic(),
        )
        self._command(("add", config))
        return key

    def remove_session(self, key: SessionKey) -> None:
        """Stop a session (the peer is sent AdminDown, so it does not see a failure)."""
        if self._status.pop(key, None) is not None:
            self._command(("remove", key))

    def set_admin_down(self, key: SessionKey, down: bool = True) -> None:
        """Hold a session in AdminDown (down=True) or let it come up again (down=False)."""
        self._need(key)
        status = self._status[key]
        self._status[key] = dataclasses.replace(
            status, config=dataclasses.replace(status.config, admin_down=down)
        )
        self._command(("admin", key, down))

    def set_parameters(
        self, key: SessionKey, *, desired_min_tx_ms: float, required_min_rx_ms: float, detect_mult: int
    ) -> None:
        """Change timers of a running session (a Poll Sequence, RFC 5880 6.8.3)."""
        self._need(key)
        status = self._status[key]
        config = dataclasses.replace(
            status.config,
            desired_min_tx_ms=desired_min_tx_ms,
            required_min_rx_ms=required_min_rx_ms,
            detect_mult=detect_mult,
        )
        self._status[key] = dataclasses.replace(status, config=config)
        self._command(("params", key, desired_min_tx_ms, required_min_rx_ms, detect_mult))

    def sessions(self) -> list[BfdSessionStatus]:
        """Snapshot of every session as last reported (no round trip to the worker)."""
        return list(self._status.values())

    async def query(self, timeout: float = 5.0) -> tuple[list[BfdSessionInfo], dict[str, int]]:
        """Full counters from the engine: per-session details and the dropped-packet counters."""
        assert self._loop is not None
        request = next(self._ids)
        future: asyncio.Future[tuple[list[BfdSessionInfo], dict[str, int]]] = self._loop.create_future()
        self._pending[request] = future
        self._command(("query", request))
        try:
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request, None)

    # ------------------------------------------------------------------ events
    def subscribe(self, callback: Callable[[BfdStateChange], None]) -> Callable[[], None]:
        """Call `callback(change)` on the caller's loop for every state change; returns an unsubscriber."""
        self._callbacks.append(callback)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._callbacks.remove(callback)

        return unsubscribe

    async def changes(self) -> AsyncIterator[BfdStateChange]:
        """Every state change from now on, until `stop()`."""
        q: asyncio.Queue[BfdStateChange | None] = asyncio.Queue()
        self._queues.add(q)
        try:
            while (item := await q.get()) is not None:
                yield item
        finally:
            self._queues.discard(q)

    # ------------------------------------------------------------------ internals
    def _need(self, key: SessionKey) -> None:
        if key not in self._status:
            raise KeyError(f"no session {key}")

    def _command(self, msg: Message) -> None:
        if self._send is None:
            raise RuntimeError("BfdService is not started")
        self._send(msg)

    def _dispatch(self, msg: Message) -> None:
        kind = msg[0]
        if kind == "change":
            change: BfdStateChange = msg[1]
            old = self._status.get(change.key)
            if old is not None:
                self._status[change.key] = dataclasses.replace(
                    old,
                    state=change.new_state,
                    remote_state=change.remote_state,
                    diag=change.diag,
                    since=change.at,
                )
            for callback in list(self._callbacks):
                try:
                    callback(change)
                except Exception:
                    log.exception("BFD subscriber failed")
            for q in self._queues:
                q.put_nowait(change)
        elif kind == "reply":
            future = self._pending.get(msg[1])
            if future is not None and not future.done():
                future.set_result((msg[2], msg[3]))
        elif kind == "ready":
            self.worker_pid = msg[1]
            ready: asyncio.Future[None] | None = getattr(self, "_ready", None)
            if ready is not None and not ready.done():
                ready.set_result(None)
        elif kind == "error":
            self.errors.append(msg[1])
            log.error("BFD worker: %s", msg[1])
        elif kind == "stopped" and self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)
            for q in self._queues:
                q.put_nowait(None)
            for future in self._pending.values():
                if not future.done():
                    future.set_exception(RuntimeError("BFD service stopped"))

    async def __aenter__(self) -> BfdService:
        await self.start()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.stop()
