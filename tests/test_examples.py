"""Every library example runs: listen_routes.py receives what announce.py sends, over loopback."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_announce_and_listen_routes() -> None:
    port = free_port()
    listener = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "listen_routes.py"), "--listen", "127.0.0.1", "--port", str(port),
         "--peer", "127.0.0.2", "--peer-as", "64600", "--local-as", "64600", "--count", "4",
         "--duration", "30"], stdout=subprocess.PIPE, text=True)
    announcer = None
    try:
        assert listener.stdout is not None
        first = listener.stdout.readline()
        assert first.startswith("listening on 127.0.0.1:"), first
        announcer = subprocess.Popen(
            [sys.executable, str(EXAMPLES / "announce.py"), "--peer", "127.0.0.1", "--port", str(port),
             "--peer-as", "64600", "--local-as", "64600", "--local-address", "127.0.0.2", "--duration", "1",
             "10.10.0.0/16", "10.20.0.0/16"], stdout=subprocess.PIPE, text=True)
        out, _ = listener.communicate(timeout=40)
        a_out, _ = announcer.communicate(timeout=20)
    finally:
        for proc in (listener, announcer):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait()
    lines = out.splitlines()
    assert "+ 10.10.0.0/16 via 127.0.0.2 as-path [] local-pref 100" in lines
    assert "+ 10.20.0.0/16 via 127.0.0.2 as-path [] local-pref 100" in lines
    assert "- 10.10.0.0/16" in lines and "- 10.20.0.0/16" in lines
    assert listener.returncode == 0
    assert "established with 127.0.0.1 AS64600; announced 2 prefixes" in a_out and "done" in a_out
    assert announcer.returncode == 0
