"""Reconnecting a neighbor the moment its path is back (BFD Up, carrier up), and again while its peer
is not ready yet.

Owns: `Reconnector.path_back`, what the daemon does when a neighbor's path is good again: connect now
instead of waiting out the error back-off, lost SYN retransmissions or ConnectRetry; then, while the
peer still turns the connection away, connect again every `QUICK_RETRY` seconds for `QUICK_RETRY_FOR`
seconds. Never does: decide that a path failed or came back (the daemon's BFD and link glue), or drive
the FSM other than through `Peer.stop` / `Peer.start`.

Why the quick retries: after a silent cut both ends' BFD go Down together, and BIRD on the ToR then
turns connections away for its `error wait time` (the lab's 1 s, doubled after repeated errors). When
the link comes back within that wait, our first connect is reset and the session would sit out
ConnectRetry (seconds) before the next one: the demo's ECMP came back up to 2.95 s after a restore. BFD
Up has proved the path, so a few cheap connects a second are worth it for a few seconds; beyond that
(BIRD's default error wait is 60 s) the ordinary retry timer takes over.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from pybgp.aio.speaker import Speaker
from pybgp.daemon.logsetup import event
from pybgp.fsm.states import State as BgpState

__all__ = ["QUICK_RETRY", "QUICK_RETRY_FOR", "Reconnector"]

log = logging.getLogger("pybgp.daemon")

QUICK_RETRY = 0.25
"""Seconds between connects while a peer turns us away after the path came back."""
QUICK_RETRY_FOR = 3.0
"""How long after the path came back the quick connects go on (then ConnectRetry rules again)."""

_WAITING = (BgpState.IDLE, BgpState.CONNECT, BgpState.ACTIVE)
"""States without a session in progress: the ones a reconnect may restart."""
_TRYING = (BgpState.OPENSENT, BgpState.OPENCONFIRM, BgpState.ESTABLISHED)
"""States of a connection that got through: the quick connects stop."""


class Reconnector:
    """Connects neighbors whose path is back; see the module docstring.

    `spawn` runs a coroutine as one of the daemon's tasks (cancelled at stop); `stopping` says the
    daemon is shutting down.
    """

    def __init__(self, speaker: Speaker, spawn: Callable[[Coroutine[Any, Any, None]], None],
                 stopping: Callable[[], bool]) -> None:
        self.speaker = speaker
        self._spawn = spawn
        self._stopping = stopping
        self._running: set[str] = set()  # neighbors with a reconnect under way (one at a time)

    def path_back(self, name: str, failed: bool, path_ok: Callable[[], bool]) -> None:
        """Neighbor `name`'s path is good again. `failed`: its session was reset for the path (BFD
        Down, carrier loss) and has not been Established since; otherwise only a session waiting out
        ConnectRetry (a server started before its ToR listens) is restarted. `path_ok` says whether the
        path is still good (BFD still Up) before each quick retry."""
        try:
            peer = self.speaker.peer(name)
        except KeyError:
            return
        if not failed and peer.state is not BgpState.ACTIVE:
            return  # a connect in flight, or a session coming up, is left alone
        if name in self._running:
            return  # a reconnect under way already does what this one would
        if not self._may_connect(name) or peer.settings.passive or peer.state not in _WAITING:
            return

        async def reconnect() -> None:
            try:
                await self._restart(name, "path is back, connecting now")
                loop = asyncio.get_running_loop()
                deadline = loop.time() + QUICK_RETRY_FOR
                while loop.time() < deadline:
                    await asyncio.sleep(QUICK_RETRY)
                    state = self._state(name)
                    if state is None or state in _TRYING or not self._may_connect(name) or not path_ok():
                        return
                    if state is BgpState.ACTIVE:  # turned away: ConnectRetry would hold the next try
                        await self._restart(name, "path is back but the peer is not ready: connecting again")
            finally:
                self._running.discard(name)

        self._running.add(name)
        self._spawn(reconnect())

    def _state(self, name: str) -> BgpState | None:
        try:
            return self.speaker.peer(name).state
        except KeyError:  # removed by a reload meanwhile
            return None

    def _may_connect(self, name: str) -> bool:
        if self._stopping():
            return False
        return any(v.name == name and v.enabled for v in self.speaker.neighbors())

    async def _restart(self, name: str, why: str) -> None:
        try:
            peer = self.speaker.peer(name)
        except KeyError:
            return
        await peer.stop()  # not connected: nothing is sent
        if self._may_connect(name):
            peer.start()
            event(log, "reconnect", f"{name}: {why}", neighbor=name)
