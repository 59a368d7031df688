"""The `pybfd` command: run BFD sessions from flags or a TOML file, print state changes as JSON lines.

Owns: argument and TOML parsing into `BfdPeerConfig`s, the JSON-lines output (one object per event,
with wall-clock and monotonic timestamps), and the signal controls (SIGUSR1: every session
AdminDown, SIGUSR2: back up, SIGINT/SIGTERM: stop, telling peers AdminDown). `pybfd decode HEX`
prints one packet's fields. Never does: protocol work itself (that is `BfdService`).

TOML layout::

    [defaults]                     # optional, any session key below
    desired_min_tx_ms = 100
    [[session]]
    peer = "192.0.2.2"
    local = "192.0.2.1"
    interface = "eth0"
    multihop = false
    auth = { type = "keyed-sha1", key_id = 1, secret = "s3cret" }
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import signal
import sys
import time
import tomllib
from collections.abc import Mapping
from typing import Any

from pybfd.aio import BfdService
from pybfd.auth import BfdAuth, BfdKey
from pybfd.constants import AuthType, diag_name
from pybfd.engine import BfdPeerConfig, BfdStateChange
from pybfd.packet import PacketError, decode_packet

AUTH_NAMES = {
    "simple": AuthType.SIMPLE_PASSWORD,
    "keyed-md5": AuthType.KEYED_MD5,
    "meticulous-keyed-md5": AuthType.METICULOUS_KEYED_MD5,
    "keyed-sha1": AuthType.KEYED_SHA1,
    "meticulous-keyed-sha1": AuthType.METICULOUS_KEYED_SHA1,
}
_FIELDS = {
    "peer",
    "local",
    "interface",
    "multihop",
    "desired_min_tx_ms",
    "required_min_rx_ms",
    "detect_mult",
    "passive",
    "admin_down",
    "min_ttl",
    "auth",
}


def parse_auth(spec: str | Mapping[str, Any] | None) -> BfdAuth | None:
    """`TYPE:KEY_ID:SECRET` (flag) or `{type, key_id, secret}` (TOML) -> `BfdAuth`."""
    if spec is None:
        return None
    if isinstance(spec, str):
        kind, key_id, secret = spec.split(":", 2)
    else:
        kind, key_id, secret = str(spec["type"]), str(spec.get("key_id", 1)), str(spec["secret"])
    if kind not in AUTH_NAMES:
        raise ValueError(f"unknown auth type {kind!r}; one of {', '.join(AUTH_NAMES)}")
    return BfdAuth(auth_type=AUTH_NAMES[kind], keys=(BfdKey(key_id=int(key_id), secret=secret.encode()),))


def session_from_mapping(values: Mapping[str, Any]) -> BfdPeerConfig:
    """One `[[session]]` table (merged with `[defaults]`) -> `BfdPeerConfig`; unknown keys are errors."""
    unknown = set(values) - _FIELDS
    if unknown:
        raise ValueError(f"unknown session keys: {', '.join(sorted(unknown))}")
    kwargs = dict(values)
    kwargs["auth"] = parse_auth(values.get("auth"))
    return BfdPeerConfig(**kwargs)


def load_toml(path: str) -> list[BfdPeerConfig]:
    """Sessions from a TOML file (see the module docstring)."""
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    defaults = data.get("defaults", {})
    return [session_from_mapping({**defaults, **s}) for s in data.get("session", [])]


def change_json(change: BfdStateChange) -> dict[str, Any]:
    """The JSON object printed for one state change."""
    key = change.key
    return {
        "event": "state",
        "time": datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds"),
        "monotonic": round(change.at, 6),
        "peer": str(key.peer),
        "local": str(key.local) if key.local else None,
        "interface": key.interface,
        "multihop": key.multihop,
        "old": change.old_state.name,
        "new": change.new_state.name,
        "diag": change.diag.name,
        "remote_state": change.remote_state.name,
        "failure": change.is_failure,
    }


def _emit(obj: Mapping[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


async def run(configs: list[BfdPeerConfig], *, duration: float | None, isolation: str) -> int:
    """Run the sessions until a signal or `duration`; print events; return the exit status."""
    service = BfdService(isolation=isolation, realtime=False)  # type: ignore[arg-type]
    await service.start()
    service.subscribe(lambda c: _emit(change_json(c)))
    keys = [service.add_session(c) for c in configs]
    _emit(
        {"event": "started", "sessions": len(keys), "pid": service.worker_pid, "monotonic": time.monotonic()}
    )
    loop = asyncio.get_running_loop()
    done = asyncio.Event()

    def admin(down: bool) -> None:
        for key in keys:
            service.set_admin_down(key, down)
        _emit({"event": "admin", "down": down, "monotonic": time.monotonic()})

    loop.add_signal_handler(signal.SIGINT, done.set)
    loop.add_signal_handler(signal.SIGTERM, done.set)
    loop.add_signal_handler(signal.SIGUSR1, admin, True)
    loop.add_signal_handler(signal.SIGUSR2, admin, False)
    try:
        await asyncio.wait_for(done.wait(), duration)
    except TimeoutError:
        pass
    infos, drops = await service.query()
    _emit(
        {
            "event": "stats",
            "sessions": [
                {
                    "peer": str(i.key.peer),
                    "state": i.state.name,
                    "sent": i.packets_sent,
                    "received": i.packets_received,
                    "detection_time_ms": i.detection_time_ms,
                }
                for i in infos
            ],
            "drops": drops,
        }
    )
    await service.stop()
    return 0


def decode(hex_text: str) -> int:
    """Print one packet's fields as JSON (or the reason it would be dropped)."""
    try:
        packet = decode_packet(bytes.fromhex(hex_text))
    except (ValueError, PacketError) as exc:
        _emit({"error": str(exc)})
        return 1
    out: dict[str, Any] = {
        "version": packet.version,
        "diag": diag_name(packet.diag),
        "state": packet.state.name,
        "poll": packet.poll,
        "final": packet.final,
        "control_plane_independent": packet.control_plane_independent,
        "demand": packet.demand,
        "detect_mult": packet.detect_mult,
        "my_discr": packet.my_discr,
        "your_discr": packet.your_discr,
        "desired_min_tx_interval_us": packet.desired_min_tx_interval,
        "required_min_rx_interval_us": packet.required_min_rx_interval,
        "required_min_echo_rx_interval_us": packet.required_min_echo_rx_interval,
    }
    if packet.auth is not None:
        out["auth"] = {
            "type": packet.auth.auth_type.name,
            "key_id": packet.auth.key_id,
            "seq": packet.auth.sequence,
        }
    _emit(out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents the flags)."""
    p = argparse.ArgumentParser(prog="pybfd", description="Run RFC 5880 BFD sessions; print JSON lines.")
    p.add_argument("--config", help="TOML file with [[session]] tables")
    p.add_argument("--peer", action="append", default=[], help="peer address (repeatable)")
    p.add_argument("--local", help="local address")
    p.add_argument("--interface", help="interface (single-hop: SO_BINDTODEVICE)")
    p.add_argument("--multihop", action="store_true", help="RFC 5883 multihop (UDP 4784)")
    p.add_argument("--tx", type=float, default=300, help="desired min TX interval, ms")
    p.add_argument("--rx", type=float, default=300, help="required min RX interval, ms")
    p.add_argument("--mult", type=int, default=3, help="detect multiplier")
    p.add_argument("--passive", action="store_true", help="wait for the peer to speak first")
    p.add_argument("--min-ttl", type=int, help="lowest received TTL accepted (multihop)")
    p.add_argument("--auth", help="TYPE:KEY_ID:SECRET, TYPE one of " + ", ".join(AUTH_NAMES))
    p.add_argument("--duration", type=float, help="stop after this many seconds")
    p.add_argument("--isolation", choices=("inline", "thread", "process"), default="inline")
    p.add_argument("decode", nargs="*", help="'decode HEX': print one packet's fields and exit")
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `pybfd` console script."""
    args = build_parser().parse_args(argv)
    if args.decode:
        if args.decode[0] != "decode" or len(args.decode) != 2:
            build_parser().error("positional use is: pybfd decode HEX")
        return decode(args.decode[1])
    configs = load_toml(args.config) if args.config else []
    for peer in args.peer:
        configs.append(
            BfdPeerConfig(
                peer=peer,
                local=args.local,
                interface=args.interface,
                multihop=args.multihop,
                desired_min_tx_ms=args.tx,
                required_min_rx_ms=args.rx,
                detect_mult=args.mult,
                passive=args.passive,
                min_ttl=args.min_ttl,
                auth=parse_auth(args.auth),
            )
        )
    if not configs:
        build_parser().error("no sessions: give --peer or --config")
    return asyncio.run(run(configs, duration=args.duration, isolation=args.isolation))


if __name__ == "__main__":
    sys.exit(main())
