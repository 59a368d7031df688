"""Figure: CPU microseconds per received UPDATE on the loop thread, without sockets or the RIB.

What a loaded iBGP session costs pybgpd per UPDATE before the RIB sees it, in two stages, each timed
with `time.process_time` in one process (pin it: `taskset -c 1`), with pybgpd's GC thresholds
(`pybgp.daemon.main.GC_THRESHOLDS`) and every received attribute set kept alive, as the Adj-RIB-In
keeps them (so the intern tables and the collector see what they see in the daemon):
  decode   `decode_message` per whole message (the codec alone);
  session  an Established sans-IO `BgpSession` (iBGP, 4-octet AS, as a server's session to its ToR)
           fed the byte stream in 32 KiB pieces (`Peer.FEED_CHUNK`), the way `Peer` feeds it: framing,
           decode, the FSM's per-UPDATE work and its `DeliverUpdate` actions.
Two streams:
  unique   feed (c) of `feed_server.py`: 100k /24s, one prefix per UPDATE, each with its own set, the
           attributes BIRD sends for it (ORIGIN IGP, AS_PATH 65010, NEXT_HOP, MED = index + 1,
           LOCAL_PREF 100), so no set is interned and the template cache misses on every UPDATE;
  real     the 89,679 UPDATEs of the 2015 full table (`decode_table.extract_updates`; ~6.4 prefixes
           per UPDATE), the input of `decode_table.py`'s like-for-like figure.
Each figure is the best of `--repeat` runs (cold codec caches each run).

Run: taskset -c 1 .venv/bin/python benchmarks/receive_cpu.py [--streams unique,real] [--repeat 3]
"""

from __future__ import annotations

import argparse
import gc
import ipaddress
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pybgp.daemon.main import GC_THRESHOLDS
from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.negotiate import build_open
from pybgp.fsm.session import BgpSession
from pybgp.fsm.states import State
from pybgp.wire.attributes import AsPathSegment, PathAttributes, clear_intern_cache
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Keepalive, Update, decode_message, encode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode_table import FULL_TABLE, _split, extract_updates

CHUNK = 32 << 10
CTX = WireContext(as4=True, ibgp=True)


def unique_stream(count: int) -> list[bytes]:
    """Feed (c) as BIRD sends it to the server: one prefix and one attribute set per UPDATE."""
    out: list[bytes] = []
    base = int(ipaddress.IPv4Address("48.0.0.0"))
    hop = ipaddress.IPv4Address("10.69.0.65")
    path = (AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65010,)),)
    for i in range(count):
        attrs = PathAttributes(origin=Origin.IGP, as_path=path, next_hop=hop, med=i + 1, local_pref=100)
        out.extend(encode_updates(CTX, attributes=attrs, announced=[Prefix(Afi.IPV4, base + (i << 8), 24)]))
    return out


def real_stream() -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        blob = Path(tmp) / "updates.bin"
        extract_updates(FULL_TABLE, 0, blob)
        return _split(blob.read_bytes())


def run_decode(messages: list[bytes]) -> tuple[float, int]:
    kept: list[object] = []
    keep = kept.append
    c0 = time.process_time()
    for raw in messages:
        msg = decode_message(raw, CTX)
        keep(msg.attributes if isinstance(msg, Update) else None)
    return time.process_time() - c0, len(kept)


def established_session() -> BgpSession:
    """A server's iBGP session to its ToR, Established in memory (the ToR's OPEN and KEEPALIVE fed)."""
    mine = PeerSettings(
        local_as=64600,
        remote_as=64600,
        router_id=ipaddress.IPv4Address("10.69.0.70"),
        remote_address=ipaddress.IPv4Address("10.69.0.65"),
        hold_time=90,
    )
    theirs = PeerSettings(
        local_as=64600,
        remote_as=64600,
        router_id=ipaddress.IPv4Address("10.69.0.65"),
        remote_address=ipaddress.IPv4Address("10.69.0.70"),
        hold_time=90,
    )
    session = BgpSession(mine)
    session.handle(ev.ManualStart(), 0.0)
    session.handle(ev.TcpCrAcked(conn=1), 0.0)
    hello = encode_message(build_open(theirs), CTX) + encode_message(Keepalive(), CTX)
    session.handle(ev.DataReceived(conn=1, data=hello), 0.0)
    assert session.state is State.ESTABLISHED, session.state
    return session


def run_session(messages: list[bytes]) -> tuple[float, int]:
    session = established_session()
    stream = b"".join(messages)
    pieces = [stream[i : i + CHUNK] for i in range(0, len(stream), CHUNK)]
    kept: list[object] = []
    keep = kept.append
    deliver = act.DeliverUpdate
    handle = session.handle
    c0 = time.process_time()
    for n, piece in enumerate(pieces):
        for action in handle(ev.DataReceived(conn=1, data=piece), 1.0 + n * 1e-4):
            if type(action) is deliver:
                keep(action.update.attributes)
    seconds = time.process_time() - c0
    assert session.state is State.ESTABLISHED
    return seconds, len(kept)


def best(repeat: int, work: Callable[[list[bytes]], tuple[float, int]], messages: list[bytes]) -> float:
    times = []
    for _ in range(repeat):
        clear_intern_cache()
        gc.collect()
        seconds, got = work(messages)
        assert got == len(messages), (got, len(messages))
        times.append(seconds)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", default="unique,real")
    parser.add_argument("--count", type=int, default=100_000, help="UPDATEs of the unique stream")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    gc.set_threshold(*GC_THRESHOLDS)
    for name in args.streams.split(","):
        messages = unique_stream(args.count) if name == "unique" else real_stream()
        n = len(messages)
        dec = best(args.repeat, run_decode, messages)
        ses = best(args.repeat, run_session, messages)
        print(
            f"{name}: {n:,} UPDATEs; decode {dec:.3f} CPU s = {1e6 * dec / n:.2f} us/UPDATE; "
            f"session (framing + decode + FSM) {ses:.3f} CPU s = {1e6 * ses / n:.2f} us/UPDATE"
        )


if __name__ == "__main__":
    main()
