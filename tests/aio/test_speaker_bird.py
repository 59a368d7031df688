"""Interop: the Speaker against BIRD 2 on loopback (127.0.0.x, high ports; BIRD has no kernel
protocol, so neither side touches a routing table). BIRD plays the ToR: passive iBGP route
reflector with the Speaker as client. Checks both directions, LOCAL_PREF and communities, BIRD's
ROUTE-REFRESH (`reload in`), and a Cease from BIRD flushing its routes."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pybgp.aio.speaker import Speaker
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.states import State

pytestmark = pytest.mark.lab
IP = ipaddress.IPv4Address
BIRD_ADDR = "127.0.0.9"
TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Bird:
    """BIRD as a foreground child process, stopped by pid."""

    def __init__(self, workdir: Path, port: int) -> None:
        self.dir = workdir
        self.port = port
        self.sock = workdir / "bird.ctl"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        conf = self.dir / "bird.conf"
        conf.write_text(f"""
router id 10.0.0.9;
log "{self.dir / 'bird.log'}" all;
protocol device {{}}
protocol static s4 {{
  ipv4;
  route 10.90.0.0/16 blackhole;
  route 10.92.0.0/16 blackhole {{ bgp_local_pref = 300; bgp_community.add((64600, 92)); }};
}}
protocol bgp srv {{
  local {BIRD_ADDR} port {self.port} as 64600;
  neighbor 127.0.0.1 as 64600;
  strict bind on;
  passive on;
  rr client;
  ipv4 {{ import all; export all; next hop self; }};
}}
""")
        self.proc = subprocess.Popen(["bird", "-f", "-c", str(conf), "-s", str(self.sock)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def birdc(self, *args: str) -> str:
        out = subprocess.run(["birdc", "-s", str(self.sock), *args], capture_output=True, text=True,
                             timeout=10, check=False)
        return out.stdout

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
async def bird(tmp_path: Path) -> AsyncIterator[Bird]:
    if shutil.which("bird") is None:
        pytest.skip("bird not installed")
    b = Bird(tmp_path, free_port())
    b.start()
    try:
        loop = asyncio.get_running_loop()
        end = loop.time() + 10
        while "ready" not in b.birdc("show", "status").lower():
            if loop.time() > end:
                raise AssertionError("BIRD did not start")
            await asyncio.sleep(0.1)
        yield b
    finally:
        b.stop()


async def wait_for(predicate: object, timeout: float = TIMEOUT) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)


async def test_speaker_with_bird_route_reflector(bird: Bird) -> None:
    speaker = Speaker(local_as=64600, router_id="10.0.0.1", batch_delay=0.005)
    speaker.add_neighbor(PeerSettings(local_as=64600, remote_as=64600, router_id=IP("10.0.0.1"),
                                      remote_address=IP(BIRD_ADDR), local_address=IP("127.0.0.1"),
                                      port=bird.port, name="tor", connect_retry_time=1.0, error_wait_min=0.5,
                                      error_wait_max=1.0))
    speaker.announce("10.91.0.0/16", communities=[(64600 << 16) | 7], med=5)
    await speaker.start()
    try:
        await speaker.peer("tor").wait_state(State.ESTABLISHED, TIMEOUT)
        # BIRD -> Speaker.
        await wait_for(lambda: speaker.best("10.92.0.0/16") is not None)
        await wait_for(lambda: speaker.best("10.90.0.0/16") is not None)
        best = speaker.best("10.92.0.0/16")
        assert best is not None and best.attributes.local_pref == 300
        assert (64600 << 16 | 92) in best.attributes.communities
        assert best.next_hop == IP(BIRD_ADDR) and best.peer.router_id == IP("10.0.0.9")
        # Speaker -> BIRD.
        await wait_for(lambda: "10.91.0.0/16" in bird.birdc("show", "route", "protocol", "srv"))
        detail = bird.birdc("show", "route", "10.91.0.0/16", "all")
        assert "(64600,7)" in detail and "BGP.med: 5" in detail and "BGP.next_hop: 127.0.0.1" in detail
        # BIRD asks for a route refresh: we answer with our Adj-RIB-Out, the route stays.
        counters = speaker.peer("tor").counters
        updates_out = counters.messages_out.get("Update", 0)
        bird.birdc("reload", "in", "srv")
        await wait_for(lambda: counters.messages_in.get("RouteRefresh", 0) == 1)
        await wait_for(lambda: counters.messages_out.get("Update", 0) > updates_out)
        assert speaker.peer("tor").state is State.ESTABLISHED
        assert "10.91.0.0/16" in bird.birdc("show", "route", "protocol", "srv")
        # Withdraw travels.
        speaker.withdraw("10.91.0.0/16")
        await wait_for(lambda: "10.91.0.0/16" not in bird.birdc("show", "route", "protocol", "srv"))
        # BIRD shuts the session (Cease): its routes leave our Loc-RIB at once.
        bird.birdc("disable", "srv")
        await wait_for(lambda: speaker.best("10.90.0.0/16") is None and speaker.best("10.92.0.0/16") is None)
        view = speaker.neighbors()[0]
        assert view.state != "Established" and view.accepted == 0
    finally:
        with contextlib.suppress(Exception):
            await speaker.stop()
