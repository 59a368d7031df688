"""pybfd against FRR 8.4's bfdd in network namespaces: handshake, AdminDown both ways, silent cut.

FRR matters because, unlike BIRD 2.0.12, its bfdd sends AdminDown when a peer is shut down, so the
"peer AdminDown is not a failure" rule (RFC 5880 6.8.6, RFC 5882 3.2) is checked against a third party.
bfdd runs standalone (no zebra), as user frr, controlled through its own vty socket with vtysh.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

pytestmark = pytest.mark.lab

lab_mod = pytest.importorskip("pybgp.testing.lab")
from pybfd.labtools import PybfdProcess, scratch_lab  # noqa: E402

BFDD = "/usr/lib/frr/bfdd"
A, B = "10.94.0.1", "10.94.0.2"


@pytest.fixture(scope="module")
def frr() -> Iterator[tuple[Any, Any]]:
    if not os.path.exists(BFDD) or shutil.which("vtysh") is None:
        pytest.skip("FRR bfdd/vtysh not installed (Debian package frr)")
    with scratch_lab("bfdf") as lab:
        a, b = lab.node("a"), lab.node("b")
        lab.link(a, "eth0", b, "eth0", a_addrs=[f"{A}/24"], b_addrs=[f"{B}/24"])
        run = b.run_dir
        os.chmod(run, 0o777)  # bfdd drops to user frr and writes its sockets here
        conf = run / "bfdd.conf"
        conf.write_text(
            f"bfd\n peer {A} local-address {B}\n  receive-interval 50\n  transmit-interval 50\n !\n!\n"
        )
        out = (run / "bfdd.out").open("w")
        b.popen(
            [
                BFDD,
                "-u",
                "frr",
                "-g",
                "frr",
                "-f",
                str(conf),
                "--vty_socket",
                str(run),
                "-i",
                str(run / "bfdd.pid"),
                "--bfdctl",
                str(run / "bfdd.sock"),
                "-z",
                str(run / "zserv.api"),
                "--log",
                "stdout",
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        yield lab, b
        out.close()


def _vtysh(b: Any, *commands: str) -> str:
    argv = ["vtysh", "--vty_socket", str(b.run_dir)]
    for command in commands:
        argv += ["-c", command]
    return str(b.run(argv, check=False).stdout)


def _frr_peer(b: Any) -> dict[str, Any]:
    for _ in range(20):
        text = _vtysh(b, "show bfd peers json")
        try:
            peers = json.loads(text)
        except ValueError:
            time.sleep(0.2)
            continue
        for peer in peers:
            if peer.get("peer") == A:
                return dict(peer)
        time.sleep(0.2)
    raise AssertionError(f"FRR has no peer {A}: {text!r}")


def _wait(pred: Any, timeout: float) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.1)
    return bool(pred())


def _shutdown(b: Any, down: bool) -> None:
    _vtysh(
        b, "configure terminal", "bfd", f"peer {A} local-address {B}", "shutdown" if down else "no shutdown"
    )


def test_admin_down_both_ways_with_frr(frr: tuple[Any, Any]) -> None:
    lab, b = frr
    ours = PybfdProcess(
        lab.nodes["a"], ["--peer", B, "--local", A, "--interface", "eth0", "--tx", "50", "--rx", "50"]
    )
    try:
        up = ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "UP", 10)
        assert up is not None, ours.events
        assert _wait(lambda: _frr_peer(b)["status"] == "up", 5)
        # FRR shuts the peer down: it sends AdminDown; we go Down without calling it a failure.
        mark = len(ours.events)
        _shutdown(b, True)
        down = ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "DOWN", 5, start=mark)
        assert down is not None, ours.events[mark:]
        assert down["remote_state"] == "ADMIN_DOWN" and down["diag"] == "NEIGHBOR_SIGNALED_SESSION_DOWN"
        assert down["failure"] is False
        mark = len(ours.events)
        _shutdown(b, False)
        assert ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "UP", 10, start=mark)
        assert _wait(lambda: _frr_peer(b)["status"] == "up", 5)
        # We go AdminDown: FRR reports the peer down with the remote diagnostic "administratively down".
        ours.send_signal(signal.SIGUSR1)
        assert _wait(lambda: _frr_peer(b)["status"] == "down", 5)
        peer = _frr_peer(b)
        assert "administratively" in str(peer.get("remote-diagnostic", "")).lower(), peer
        ours.send_signal(signal.SIGUSR2)
        assert _wait(lambda: _frr_peer(b)["status"] == "up", 10)
    finally:
        ours.stop()


def test_silent_cut_with_frr(frr: tuple[Any, Any]) -> None:
    lab, b = frr
    ours = PybfdProcess(
        lab.nodes["a"], ["--peer", B, "--local", A, "--interface", "eth0", "--tx", "50", "--rx", "50"]
    )
    try:
        assert ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "UP", 10)
        time.sleep(1.0)
        link = lab.find_link("a", "eth0")
        mark = len(ours.events)
        before = time.monotonic()
        link.cut()
        try:
            down = ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "DOWN", 5, start=mark)
            assert _wait(lambda: _frr_peer(b)["status"] == "down", 5)
        finally:
            link.restore()
        assert down is not None and down["diag"] == "CONTROL_DETECTION_TIME_EXPIRED" and down["failure"]
        assert down["monotonic"] - before <= 0.150 + 0.2  # 3 x 50 ms plus scheduling noise and the nft call
        assert ours.wait_for(lambda e: e.get("event") == "state" and e["new"] == "UP", 10, start=mark)
    finally:
        ours.stop()
