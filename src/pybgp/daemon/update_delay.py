"""The startup hold of kernel writes (`[kernel] update_delay`), like FRR's `bgp update-delay` but for the
kernel only.

Why: on a server both ToRs send the same table, the second session a second or so after the first, so
without a hold every prefix is written to the kernel twice: as a one-nexthop route when the first ToR's path
arrives, then as ECMP when the second's does (issue 6). Held until the table is complete, each prefix is
written once, as ECMP. The cost: at startup, routes reach the kernel only when the hold ends (stale routes
of a `keep_on_exit` restart keep forwarding meanwhile).

Owns: deciding when the hold ends (`UpdateDelay`, sans-IO: every call takes `now`) and the daemon's glue
(`KernelHold`): one timer armed when the first session reaches Established, and the check run on every
End-of-RIB, every housekeeping tick and when the timer fires. The hold ends when every counted session has
sent End-of-RIB for each of its negotiated families (RFC 4724 section 2; at least one Established session),
or `update_delay` seconds after the first session reached Established, whichever is first. Counted: the
Established sessions, plus those in the middle of their OPEN exchange (about to be Established); a
neighbor that never connects (passive, or down) is not waited for.
Never does: delay best-path selection, the Loc-RIB or advertisements to peers; hold anything per prefix
(the kernel export at the end reads the Loc-RIB as it is then: `KernelExporter.release`); or hold again
after it ended (a session reset or reconnect later is never deferred).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pybgp.daemon.logsetup import event
from pybgp.fsm.states import State

if TYPE_CHECKING:
    from pybgp.aio.speaker import Speaker
    from pybgp.daemon.kernel import KernelExporter

log = logging.getLogger("pybgp.daemon.kernel")

END_OF_RIB = "end-of-rib"
TIMEOUT = "update-delay"
_COMING_UP = (State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED)


class UpdateDelay:
    """When the hold ends. `held` from construction (when `delay` > 0) until `end`; never again."""

    __slots__ = ("delay", "ended_by", "first_established", "held")

    def __init__(self, delay: float) -> None:
        self.delay = delay
        self.held = delay > 0
        self.first_established: float | None = None
        self.ended_by: str | None = None

    def on_established(self, now: float) -> float | None:
        """A session reached Established: the deadline to arm when it is the first one during the hold."""
        if not self.held or self.first_established is not None:
            return None
        self.first_established = now
        return now + self.delay

    def due(self, sessions: Iterable[bool], now: float) -> str | None:
        """Why the hold ends now (`END_OF_RIB` or `TIMEOUT`), or None while it goes on. `sessions`: for
        each counted session, whether it has sent End-of-RIB for every negotiated family."""
        if not self.held or self.first_established is None:
            return None
        if now >= self.first_established + self.delay:
            return TIMEOUT
        done = list(sessions)
        return END_OF_RIB if done and all(done) else None

    def end(self, reason: str) -> None:
        self.held = False
        self.ended_by = reason


class KernelHold:
    """The daemon's side: reads the sessions from the speaker, arms the timer, ends the hold once."""

    def __init__(self, delay: float, speaker: Speaker, exporter: KernelExporter) -> None:
        self.state = UpdateDelay(delay if exporter.cfg.enabled else 0.0)
        self.speaker = speaker
        self.exporter = exporter
        self._timer: asyncio.TimerHandle | None = None
        if self.state.held:
            exporter.hold()

    @property
    def held(self) -> bool:
        return self.state.held

    def on_established(self) -> None:
        deadline = self.state.on_established(time.monotonic())
        if deadline is not None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(max(deadline - time.monotonic(), 0.0), self.check)

    def sessions(self) -> list[bool]:
        """For each counted session: has it sent End-of-RIB for each of its negotiated families? A session
        still in its OPEN exchange, or Established but not yet seen by the RIB, has not."""
        rib = self.speaker.rib
        done: list[bool] = []
        for view in self.speaker.neighbors():
            nb = rib.neighbors.get(view.name)
            if view.established_since is not None and nb is not None and nb.adj_in is not None:
                done.append(nb.families <= nb.adj_in.eor_received)
            elif self.speaker.peer(view.name).state in _COMING_UP:
                done.append(False)
        return done

    def describe(self) -> str:
        """For `show status`: "off", "held (...)", "releasing" or "ended (reason)"."""
        if self.state.held:
            if self.state.first_established is None:
                return "held (no session Established yet)"
            waiting = sum(1 for done in self.sessions() if not done)
            return f"held ({waiting} session(s) without End-of-RIB, at most {self.state.delay:g} s)"
        if self.exporter.releasing:
            return "releasing"
        return f"ended ({self.state.ended_by})" if self.state.ended_by else "off"

    def check(self) -> None:
        """End the hold if it is due (End-of-RIB, a session change, the housekeeping tick, the timer)."""
        if not self.state.held or self.exporter.frozen:
            return
        reason = self.state.due(self.sessions(), time.monotonic())
        if reason is None:
            return
        self.state.end(reason)
        self.cancel()
        first = self.state.first_established
        held = round(time.monotonic() - first, 3) if first is not None else 0.0
        prefixes = len(self.speaker.rib.loc)
        event(
            log,
            "kernel-hold-ended",
            f"kernel update delay over ({reason}, {held} s after the first session): "
            f"exporting {prefixes} prefixes",
            reason=reason,
            seconds=held,
            prefixes=prefixes,
        )
        self.exporter.release(self.speaker.rib.loc)

    def cancel(self) -> None:
        """Disarm the timer (the hold ended, or the daemon stops: a held export is then never written)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
