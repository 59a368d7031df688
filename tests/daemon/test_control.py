"""The control socket protocol: JSON lines both ways; bad requests get an error, never a dead daemon."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from pybgp.daemon.control import CommandError, ControlClientError, ControlServer, request


async def handler(command: str, args: dict[str, Any]) -> Any:
    if command == "echo":
        return args
    if command == "refuse":
        raise CommandError("no such thing")
    raise RuntimeError("bug in a command")


async def raw(path: Path, payload: bytes) -> list[dict[str, Any]]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(payload)
    await writer.drain()
    writer.write_eof()
    lines = []
    while line := await reader.readline():
        lines.append(json.loads(line))
    writer.close()
    return lines


async def test_requests_and_errors(tmp_path: Path) -> None:
    sock = tmp_path / "c.sock"
    server = ControlServer(sock, handler, 0o600)
    await server.start()
    try:
        assert sock.stat().st_mode & 0o777 == 0o600
        replies = await raw(
            sock,
            b'{"command": "echo", "args": {"a": 1}}\nnot json\n[1]\n{"command": "refuse"}\n'
            b'{"command": "boom"}\n{"command": "echo", "args": 5}\n',
        )
        assert replies[0] == {"ok": True, "result": {"a": 1}}
        assert not replies[1]["ok"] and "not JSON" in replies[1]["error"]
        assert not replies[2]["ok"] and "expected" in replies[2]["error"]
        assert replies[3] == {"ok": False, "error": "no such thing"}
        assert not replies[4]["ok"] and "internal error" in replies[4]["error"]
        assert not replies[5]["ok"] and "args must be an object" in replies[5]["error"]
        # Still serving after all that, also through the blocking client.
        assert await asyncio.to_thread(request, sock, "echo", {"b": 2}) == {"b": 2}
        with pytest.raises(ControlClientError, match="no such thing"):
            await asyncio.to_thread(request, sock, "refuse")
        # A second daemon on the same socket refuses to start.
        with pytest.raises(RuntimeError, match="in use"):
            await ControlServer(sock, handler).start()
    finally:
        await server.stop()
    assert not sock.exists()


async def test_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    sock = tmp_path / "c.sock"
    sock.write_text("stale")
    server = ControlServer(sock, handler)
    await server.start()
    try:
        assert await asyncio.to_thread(request, sock, "echo", {}) == {}
    finally:
        await server.stop()
