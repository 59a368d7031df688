"""The control socket: a Unix stream socket speaking one JSON object per line, both ways.

Owns: the wire protocol between `pybgpd` and `pybgpctl` (and any script), the asyncio server that
dispatches requests to a handler, and the small blocking client `pybgpctl` uses.

Protocol (version 1). A request is `{"command": "show neighbors", "args": {...}}` followed by a newline;
the reply is `{"ok": true, "result": ...}` or `{"ok": false, "error": "text"}` followed by a newline.
Several requests may be sent on one connection; replies come in order. Lines are limited to 1 MiB
for requests; replies may be large (a routing table).
Never does: decide what a command means (the daemon's handler does), or expose anything over the network:
access is the socket file's owner/group/mode.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

log = logging.getLogger("pybgp.daemon.control")

PROTOCOL_VERSION = 1
MAX_REQUEST = 1 << 20

Handler = Callable[[str, dict[str, Any]], Awaitable[Any]]


class CommandError(Exception):
    """A request the daemon understood but refuses (unknown neighbor, bad prefix...): sent as `error`."""


class ControlServer:
    """Serve `handler(command, args)` on a Unix socket at `path` with permission `mode`."""

    def __init__(self, path: Path, handler: Handler, mode: int = 0o660) -> None:
        self.path = path
        self.mode = mode
        self._handler = handler
        self._server: asyncio.AbstractServer | None = None
        self._clients: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists() or self.path.is_symlink():
            if _socket_alive(self.path):
                raise RuntimeError(f"control socket {self.path} is in use: is another pybgpd running?")
            self.path.unlink()
        self._server = await asyncio.start_unix_server(self._serve, path=str(self.path), limit=MAX_REQUEST)
        os.chmod(self.path, self.mode)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for task in list(self._clients):
                task.cancel()
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._clients.add(task)
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await _reply(writer, {"ok": False, "error": "request too long"})
                    return
                if not line:
                    return
                await _reply(writer, await self._dispatch(line))
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if task is not None:
                self._clients.discard(task)
            writer.close()

    async def _dispatch(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return {"ok": False, "error": f"bad request: not JSON ({exc})"}
        if not isinstance(request, dict) or not isinstance(request.get("command"), str):
            return {"ok": False, "error": 'bad request: expected {"command": "...", "args": {...}}'}
        args = request.get("args") or {}
        if not isinstance(args, dict):
            return {"ok": False, "error": "bad request: args must be an object"}
        command = request["command"]
        try:
            result = await self._handler(command, args)
        except CommandError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # a bug in one command must never take the daemon down
            log.exception("control command %r failed", command)
            return {"ok": False, "error": f"internal error in {command!r}: {exc!r}"}
        return {"ok": True, "result": result}


async def _reply(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
    writer.write(json.dumps(obj, default=str).encode() + b"\n")
    await writer.drain()


def _socket_alive(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        try:
            s.connect(str(path))
        except OSError:
            return False
        return True


class ControlClientError(Exception):
    """The daemon could not be reached, or it answered with an error. `exit_code` suits a CLI."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def request(path: str | Path, command: str, args: dict[str, Any] | None = None, timeout: float = 10.0) -> Any:
    """Send one command and return its result; raise `ControlClientError` with a clear message."""
    p = Path(path)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(str(p))
        except FileNotFoundError:
            raise ControlClientError(f"pybgpd is not running (no control socket at {p})", 3) from None
        except PermissionError:
            raise ControlClientError(
                f"permission denied on {p}: run as root or as a member of the socket's group", 4
            ) from None
        except ConnectionRefusedError:
            raise ControlClientError(f"pybgpd is not running (stale control socket {p})", 3) from None
        except OSError as exc:
            raise ControlClientError(f"cannot connect to {p}: {exc}", 3) from None
        s.sendall(json.dumps({"command": command, "args": args or {}}).encode() + b"\n")
        chunks: list[bytes] = []
        try:
            while True:
                chunk = s.recv(1 << 16)
                if not chunk:
                    break
                chunks.append(chunk)
                if chunk.endswith(b"\n"):
                    break
        except TimeoutError:
            raise ControlClientError(f"pybgpd did not answer {command!r} within {timeout} s") from None
    data = b"".join(chunks)
    if not data:
        raise ControlClientError("pybgpd closed the control connection without answering")
    try:
        reply = json.loads(data)
    except json.JSONDecodeError as exc:
        raise ControlClientError(f"garbled reply from pybgpd: {exc}") from None
    if not reply.get("ok"):
        raise ControlClientError(str(reply.get("error", "unknown error")), 1)
    return reply.get("result")
