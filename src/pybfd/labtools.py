"""Lab aids for interop tests and benchmarks: `pybfd` and BIRD's `bfd` protocol in namespaces.

Owns: running the `pybfd` command inside a `pybgp.testing` node and collecting its JSON lines with
receive timestamps (`PybfdProcess`), writing a BIRD 2 config with a `bfd` protocol
(`bird_bfd_config`), and reading BIRD's view (`bird_bfd_states`, `bird_state_changes` from its
trace log with microsecond timestamps). Never does: create namespaces or links itself (that is
`pybgp.testing.Lab`), or run outside a lab: it is a test helper, imported by tests and benchmarks.
"""

from __future__ import annotations

import contextlib
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from pybgp.testing.lab import Lab, Node, stop_process

_BIRD_AUTH = {
    "simple": "simple",
    "keyed-md5": "keyed md5",
    "meticulous-keyed-md5": "meticulous keyed md5",
    "keyed-sha1": "keyed sha1",
    "meticulous-keyed-sha1": "meticulous keyed sha1",
}


class PybfdProcess:
    """`python -m pybfd ...` in `node`, its stdout JSON lines gathered by a reader thread."""

    def __init__(self, node: Node, args: Iterable[str], *, isolation: str = "inline") -> None:
        argv = [sys.executable, "-m", "pybfd", "--isolation", isolation, *args]
        self.node = node
        self.proc = node.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                with self._cond:
                    self.events.append(event)
                    self._cond.notify_all()

    def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float, start: int = 0
    ) -> dict[str, Any] | None:
        """The first event (from index `start`) satisfying `predicate`, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for event in self.events[start:]:
                    if predicate(event):
                        return event
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return None
                self._cond.wait(min(left, 0.2))

    def state_of(self, peer: str) -> str | None:
        """The last state reported for `peer` (None before any change)."""
        with self._cond:
            for event in reversed(self.events):
                if event.get("event") == "state" and event.get("peer") == peer:
                    return str(event["new"])
        return None

    def send_signal(self, sig: int) -> None:
        """Signal the pybfd process (SIGUSR1: all AdminDown, SIGUSR2: all up)."""
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10.0) -> list[dict[str, Any]]:
        """SIGTERM (peers are told AdminDown), reap, and return every event seen."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                stop_process(self.proc, 1.0)
        self._thread.join(2.0)
        return list(self.events)

    def stderr(self) -> str:
        """Whatever the process wrote to stderr (after `stop`)."""
        if self.proc.stderr is None or self.proc.poll() is None:
            return ""
        return str(self.proc.stderr.read())


def bird_bfd_config(
    *,
    router_id: str,
    log_path: Path,
    neighbors: Iterable[str],
    tx_ms: float = 100,
    rx_ms: float = 100,
    mult: int = 3,
    interface: str = "*",
    auth: tuple[str, int, str] | None = None,
) -> str:
    """A BIRD 2 config with one `bfd` protocol named `bfd1` and the given `neighbor ...` lines.

    `auth` is (pybfd auth name, key id, secret). The trace log has microsecond timestamps so cut-to-
    Down latencies can be measured against our own clock.
    """
    opts = f"min rx interval {rx_ms:g} ms; min tx interval {tx_ms:g} ms; multiplier {mult};"
    if auth is not None:
        kind, key_id, secret = auth
        opts += f' authentication {_BIRD_AUTH[kind]}; password "{secret}" {{ id {key_id}; }};'
    lines = "\n".join(f"  neighbor {n};" for n in neighbors)
    return f"""
log "{log_path}" all;
timeformat log "%F %T.%6f";
router id {router_id};
protocol device {{}}
protocol bfd bfd1 {{
  debug {{ states, events }};
  interface "{interface}" {{ {opts} }};
  multihop {{ {opts} }};
{lines}
}}
"""


def bird_bfd_states(birdc_output: str) -> dict[str, str]:
    """`show bfd sessions` text -> {neighbor IP: state}."""
    out: dict[str, str] = {}
    for line in birdc_output.splitlines():
        parts = line.split()
        if len(parts) >= 3 and (":" in parts[0] or parts[0].count(".") == 3) and not parts[0].endswith(":"):
            state = parts[2] if parts[2] in ("Up", "Down", "Init", "AdminDown") else parts[1]
            out[parts[0]] = state
    return out


_CHANGE = re.compile(r"^(\S+ \S+) <TRACE> \S+: Session to (\S+) changed state from (\w+) to (\w+)")


def bird_state_changes(log_path: Path) -> list[tuple[float, str, str, str]]:
    """(wall-clock epoch seconds, neighbor, old, new) for every session change in BIRD's log."""
    out: list[tuple[float, str, str, str]] = []
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return out
    for line in text.splitlines():
        m = _CHANGE.match(line)
        if m:
            stamp = datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S.%f").astimezone()
            out.append((stamp.timestamp(), m.group(2), m.group(3), m.group(4)))
    return out


def wall_minus_monotonic() -> float:
    """time.time() - time.monotonic(), to put BIRD's wall-clock log and our monotonic events on one axis."""
    return time.time() - time.monotonic()


@contextlib.contextmanager
def scratch_lab(stem: str) -> Iterator[Lab]:
    """A `Lab` whose prefix is `stem` plus this process's pid (so concurrent runs of the same test
    never collide) and whose run directory (configs, logs) is deleted after teardown."""
    lab = Lab(f"{stem}{os.getpid() % 100000}")
    try:
        with lab:
            yield lab
    finally:
        shutil.rmtree(lab.run_dir, ignore_errors=True)
