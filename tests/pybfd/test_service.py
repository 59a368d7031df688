"""`BfdService` over real UDP sockets in a namespace's loopback, in each isolation mode.

The test process enters a fresh network namespace in a child (via `ip netns exec`) so that UDP
3784 is ours alone; the child script drives the public API and reports JSON.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest

pytestmark = pytest.mark.lab

NS = f"bfd-svc{os.getpid()}"  # per process: concurrent runs of this file never collide

SCRIPT = textwrap.dedent(
    """
    import asyncio, json, sys
    from pybfd.aio import BfdService, BfdPeerConfig, State

    async def main(isolation):
        out = {}
        svc = BfdService(isolation=isolation, seed=7)
        await svc.start()
        seen = []
        unsubscribe = svc.subscribe(seen.append)
        stream = []

        async def consume():
            async for change in svc.changes():
                stream.append(change)

        consumer = asyncio.create_task(consume())
        a = svc.add_session(BfdPeerConfig(peer="127.0.0.2", local="127.0.0.1", interface="lo",
                                          desired_min_tx_ms=50, required_min_rx_ms=50))
        b = svc.add_session(BfdPeerConfig(peer="127.0.0.1", local="127.0.0.2", interface="lo",
                                          desired_min_tx_ms=50, required_min_rx_ms=50))
        for _ in range(100):
            if all(s.state is State.UP for s in svc.sessions()):
                break
            await asyncio.sleep(0.05)
        out["up"] = [s.state.name for s in svc.sessions()]
        svc.set_parameters(a, desired_min_tx_ms=100, required_min_rx_ms=100, detect_mult=4)
        await asyncio.sleep(1.0)
        infos, drops = await svc.query()
        out["detection_ms"] = sorted(i.detection_time_ms for i in infos)
        out["tx_ms"] = sorted(i.tx_interval_ms for i in infos)
        svc.set_admin_down(a)
        await asyncio.sleep(0.5)
        out["admin"] = {str(s.key.peer): [s.state.name, s.remote_state.name] for s in svc.sessions()}
        svc.set_admin_down(a, False)
        await asyncio.sleep(2.5)
        out["again"] = [s.state.name for s in svc.sessions()]
        svc.remove_session(b)
        await asyncio.sleep(0.5)
        out["after_remove"] = [[s.state.name, s.remote_state.name] for s in svc.sessions()]
        out["failures"] = sum(c.is_failure for c in seen)
        if isolation == "process":
            # Kill the worker: its sessions are reported Down (diag 4), a new worker takes them over.
            import os, signal
            old_pid = svc.worker_pid
            svc.add_session(BfdPeerConfig(peer="127.0.0.1", local="127.0.0.3", interface="lo",
                                          desired_min_tx_ms=50, required_min_rx_ms=50))
            svc.add_session(BfdPeerConfig(peer="127.0.0.3", local="127.0.0.1", interface="lo",
                                          desired_min_tx_ms=50, required_min_rx_ms=50))
            for _ in range(100):
                if sum(s.state is State.UP for s in svc.sessions()) == 2:
                    break
                await asyncio.sleep(0.05)
            mark = len(seen)
            os.kill(old_pid, signal.SIGKILL)
            for _ in range(200):
                await asyncio.sleep(0.05)
                if svc.restarts == 1 and sum(s.state is State.UP for s in svc.sessions()) == 2:
                    break
            out["restart"] = {
                "restarts": svc.restarts,
                "new_pid": svc.worker_pid != old_pid,
                "resets": sorted(c.diag.name for c in seen[mark:] if c.new_state is State.DOWN),
                "states": sorted(s.state.name for s in svc.sessions()),
                "errors": len(svc.errors),
            }
            infos, _ = await svc.query()
            out["restart"]["detection_ms"] = sorted(i.detection_time_ms for i in infos)
        out["callbacks"] = len(seen)
        unsubscribe()
        await svc.stop()
        await asyncio.wait_for(consumer, 5)
        out["stream"] = len(stream)
        out["drops"] = drops
        out["pid_differs"] = svc.worker_pid
        print(json.dumps(out))

    asyncio.run(main(sys.argv[1]))
    """
)


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    subprocess.run(["ip", "netns", "del", NS], check=False, capture_output=True)
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        subprocess.run(["ip", "-n", NS, "link", "set", "lo", "up"], check=True)
        yield NS
    finally:
        subprocess.run(["ip", "netns", "del", NS], check=False)


@pytest.mark.parametrize("isolation", ["process", "thread", "inline"])
def test_service_api(netns: str, isolation: str) -> None:
    proc = subprocess.run(
        ["ip", "netns", "exec", netns, sys.executable, "-c", SCRIPT, isolation],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["up"] == ["UP", "UP"]
    # After the Poll, Detection Time uses the *remote* multiplier and intervals (6.8.4).
    assert out["detection_ms"] == [300.0, 400.0]  # b: 4 x 100 (a's new mult/tx); a: 3 x 100 (b tx vs a rx)
    assert out["tx_ms"] == [100.0, 100.0]  # both now limited by a's 100 ms Required Min RX / Desired Min TX
    # (remote_state is as of each side's last change: a went AdminDown while b still said Up.)
    assert out["admin"] == {"127.0.0.2": ["ADMIN_DOWN", "UP"], "127.0.0.1": ["DOWN", "ADMIN_DOWN"]}
    assert out["again"] == ["UP", "UP"]
    # b removed: it said AdminDown on the way out, so a is Down but not failed.
    assert out["after_remove"] == [["DOWN", "ADMIN_DOWN"]]
    assert out["failures"] == 0
    assert out["stream"] == out["callbacks"] >= 6
    assert out["drops"] == {}
    if isolation == "process":
        restart = out["restart"]
        assert restart["restarts"] == 1 and restart["new_pid"] and restart["errors"] == 1
        # The two Up sessions were reported Down by the service (not a silent gap), then came back.
        assert restart["resets"] == ["FORWARDING_PLANE_RESET", "FORWARDING_PLANE_RESET"]
        assert restart["states"] == ["DOWN", "UP", "UP"]  # (a stays Down: b was removed earlier)
        assert restart["detection_ms"] == [0.0, 150.0, 150.0]  # the new pair at 3 x 50 ms; a hears no one
