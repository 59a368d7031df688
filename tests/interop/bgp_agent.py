"""A tiny pybgp speaker for interop tests, run inside a lab namespace (`python bgp_agent.py CONFIG.json`).

It runs `Peer`s and a `Listener` from pybgp.aio, announces the routes listed in the config when a
session comes up, and prints one JSON line per event on stdout (established, update, down, failed,
state) so the test process can follow it. SIGTERM stops every peer with a Cease and exits.
Not a test module: tests/interop/test_bgp_*.py start it through the lab.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pybgp.aio.listener import Listener
from pybgp.aio.peer import Peer
from pybgp.fsm import actions as act
from pybgp.fsm.config import PeerSettings
from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import AsPathSegmentType, Origin
from pybgp.wire.messages import Notification, RouteRefresh, Update
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

ADDR_FIELDS = ("remote_address", "local_address")


def emit(**kw: Any) -> None:
    sys.stdout.write(json.dumps(kw, default=str) + "\n")
    sys.stdout.flush()


def note(n: Notification | None) -> list[int] | None:
    return None if n is None else [n.code, n.subcode]


class Agent:
    """PeerHandler printing events and announcing its configured routes once Established."""

    def __init__(self, announce: dict[str, list[dict[str, Any]]]) -> None:
        self.announce = announce

    def on_established(self, peer: Peer) -> None:
        neg = peer.negotiated
        assert neg is not None
        emit(ev="established", peer=peer.name, hold=neg.hold_time, families=sorted(neg.families))
        s = peer.settings
        for route in self.announce.get(peer.name, []):
            prefix = Prefix.parse(route["prefix"])
            as_path = () if s.ibgp else (AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (s.local_as,)),)
            nh = ipaddress.ip_address(route["next_hop"])
            attrs = PathAttributes(
                origin=Origin.IGP,
                as_path=as_path,
                next_hop=nh if isinstance(nh, ipaddress.IPv4Address) else None,
                med=route.get("med"),
                local_pref=route.get("local_pref") if s.ibgp else None,
                communities=tuple((a << 16) | b for a, b in route.get("communities", [])),
            )
            msgs = encode_updates(
                neg.context,
                attributes=attrs,
                announced=[prefix],
                next_hops=() if isinstance(nh, ipaddress.IPv4Address) else (nh,),
            )
            peer.send_messages(msgs)

    def on_update(self, peer: Peer, update: Update) -> None:
        nlri = [str(p) for p in update.nlri]
        withdrawn = [str(p) for p in update.withdrawn]
        next_hops: list[str] = []
        if update.mp_reach is not None:
            nlri += [str(p) for p in update.mp_reach.nlri]
            next_hops = [str(a) for a in update.mp_reach.next_hops]
        if update.mp_unreach is not None:
            withdrawn += [str(p) for p in update.mp_unreach.nlri]
        a = update.attributes
        attrs: dict[str, Any] = {}
        if a is not None:
            attrs = {
                "as_path": [list(seg.asns) for seg in a.as_path],
                "med": a.med,
                "communities": [[c >> 16, c & 0xFFFF] for c in a.communities],
                "next_hop": str(a.next_hop) if a.next_hop else None,
                "origin": int(a.origin) if a.origin is not None else None,
            }
        emit(
            ev="update",
            peer=peer.name,
            nlri=nlri,
            withdrawn=withdrawn,
            attrs=attrs,
            next_hops=next_hops,
            fault=None if update.fault is None else update.fault.action.value,
        )

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None:
        emit(ev="down", peer=peer.name, reason=reason, note=note(notification))

    def on_route_refresh(self, peer: Peer, msg: RouteRefresh) -> None:
        emit(ev="refresh", peer=peer.name, afi=msg.afi, safi=msg.safi, subtype=msg.subtype)


def observe(peer: Peer, action: act.Action) -> None:
    if isinstance(action, act.SessionFailed):
        emit(
            ev="failed",
            peer=peer.name,
            reason=action.reason,
            note=note(action.notification),
            sent=action.sent,
        )
    elif isinstance(action, act.StateChanged):
        emit(ev="state", peer=peer.name, state=str(action.new))


def settings_from(raw: dict[str, Any]) -> PeerSettings:
    kw = {k: v for k, v in raw.items() if k != "announce"}
    for name in ADDR_FIELDS:
        if kw.get(name) is not None:
            kw[name] = ipaddress.ip_address(kw[name])
    kw["router_id"] = ipaddress.IPv4Address(kw["router_id"])
    if "families" in kw:
        kw["families"] = tuple(tuple(f) for f in kw["families"])
    return PeerSettings(**kw)


async def main(path: str) -> None:
    config = json.loads(Path(path).read_text())
    announce = {p["name"]: p.get("announce", []) for p in config["peers"]}
    agent = Agent(announce)
    listener = Listener(addresses=tuple(config.get("listen", ["::"])), port=config.get("port", 179))
    await listener.start()
    peers = [Peer(settings_from(p), agent, observer=observe) for p in config["peers"]]
    for peer in peers:
        listener.add_peer(peer)
        peer.start()
    emit(ev="ready")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    by_name = {peer.name: peer for peer in peers}
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    async def commands() -> None:
        """One JSON command per stdin line: {"cmd": "refresh", "peer": name, "afi": 1, "safi": 1}."""
        while line := await reader.readline():
            try:
                cmd = json.loads(line)
                peer = by_name[cmd["peer"]]
            except (ValueError, KeyError):
                continue
            if cmd.get("cmd") == "refresh":
                peer.send_route_refresh(cmd["afi"], cmd["safi"])
                emit(ev="sent_refresh", peer=peer.name)

    reading = asyncio.ensure_future(commands())
    await stop.wait()
    reading.cancel()
    for peer in peers:
        await peer.stop(message="agent exiting")
    await listener.close()
    emit(ev="exit")


# ---- test-side helpers (used by tests/interop/test_bgp_*.py, never by the agent process) -------------


class AgentProc:
    """The agent's process and the JSON events it printed (read by a thread)."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.events: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            with self._lock:
                self.events.append(event)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.events)

    def find(self, pred: Callable[[dict[str, Any]], bool]) -> list[dict[str, Any]]:
        return [e for e in self.snapshot() if pred(e)]

    def wait(self, pred: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            hits = self.find(pred)
            if hits:
                return hits[-1]
            assert self.proc.poll() is None, f"agent exited rc={self.proc.returncode}"
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; events: {self.snapshot()[-15:]}")

    def command(self, **cmd: Any) -> None:
        """Send one JSON command line to the agent's stdin."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()

    def stop(self) -> None:
        """SIGTERM (the agent sends Cease to its peers), then kill if it hangs; always reaped."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def wait_until(cond: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def start_agent(node: Any, config: dict[str, Any]) -> AgentProc:
    """Run this file inside lab node `node` with `config`; returns once it printed "ready"."""
    conf = node.run_dir / "agent.json"
    conf.write_text(json.dumps(config))
    proc = node.popen(
        [sys.executable, str(Path(__file__).resolve()), str(conf)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=(node.run_dir / "agent.stderr").open("w"),
        text=True,
    )
    agent = AgentProc(proc)
    try:
        agent.wait(lambda e: e["ev"] == "ready", 10, "agent ready")
    except BaseException:
        agent.stop()
        raise
    return agent


if __name__ == "__main__":
    import logging

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(main(sys.argv[1]))
