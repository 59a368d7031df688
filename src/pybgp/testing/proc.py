"""Processes and namespaces at the OS level: bounded commands, liveness that sees zombies, stopping.

Owns: `run_cmd` (every command bounded by a timeout, errors carrying stderr), `process_alive` and
`process_start_time` (orphaned daemons stay ``<defunct>`` here, so ``kill -0`` lies; a recorded start
time makes sure a reused pid is never killed), `stop_process` / `kill_pid` (SIGTERM, wait, SIGKILL,
reap), and `netns_list` / `netns_pids`.
Never does: create anything, or signal a process it was not handed explicitly.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class LabError(RuntimeError):
    """A lab operation failed (command error, name clash, prefix already in use)."""


def run_cmd(
    argv: Sequence[str], *, check: bool = True, timeout: float = 30.0, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion with a bounded timeout; raise `LabError` with its stderr on failure."""
    try:
        proc = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=timeout, input=input, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and proc.returncode != 0:
        raise LabError(f"{' '.join(argv)} -> rc={proc.returncode}: {proc.stderr.strip()}")
    return proc


def process_alive(pid: int) -> bool:
    """True when `pid` exists and is not a zombie (here orphaned daemons stay <defunct>, so kill -0 lies)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state letter follows the ")" closing the command name (which may contain spaces).
    state = stat.rsplit(")", 1)[-1].split()[0]
    return state not in ("Z", "X")


def stop_process(proc: subprocess.Popen[Any], timeout: float = 3.0) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL and reap: the child never stays a zombie."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=timeout)


def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), None if gone.

    Recorded with each pid so that a later cleanup never kills an unrelated process that reused it.
    """
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 overall; fields[0] is field 3 (state)
    except (IndexError, ValueError):
        return None


def kill_pid(pid: int, timeout: float = 3.0) -> None:
    """Stop a process that is not our child (left by a crashed run): SIGTERM, then SIGKILL."""
    if not process_alive(pid):
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process_alive(pid):
        time.sleep(0.05)
    if process_alive(pid):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


def netns_list() -> list[str]:
    """Names of all network namespaces on the host (`ip netns list`)."""
    out = run_cmd(["ip", "netns", "list"], check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def netns_pids(netns: str) -> list[int]:
    """Pids of every process whose network namespace is `netns`."""
    out = run_cmd(["ip", "netns", "pids", netns], check=False).stdout
    return [int(tok) for tok in out.split() if tok.isdigit()]
