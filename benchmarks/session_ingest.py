"""Figure: seconds for a pybgp session to receive 100k prefixes, one prefix per UPDATE, unique attributes.

The LAB-NOTES worst case for a speaker (every UPDATE carries one prefix and its own attribute set, so
nothing is shared or interned). Two `pybgp.aio.peer.Peer`s on loopback in one process: the sender
writes the pre-encoded UPDATEs in batches, honouring `writable`/`drain()`; the receiver's handler
counts prefixes. Timed from the first write to the last prefix handed to the handler, with the
process CPU time. Anchor, same stream, same run: a bare asyncio socket whose protocol does only
`MessageFramer.feed` + `decode_message` (the codec floor, no FSM, no timers, no handler), so the
difference is what the session layer costs. (BIRD's figure for the same load, from LAB-NOTES.md,
is 2.6 s for 100k x 2 sessions; it is not re-measured here.)

A third figure feeds the same stream to a `pybgp.aio.speaker.Speaker` (the daemon's receive path:
Peer -> Speaker worker -> `Rib.receive` -> best-change callback), timed until the last prefix's
best-path change reached the callback; it includes the RIB's work, so it is the session layer's cost
in context rather than alone. `--gc daemon` runs everything with pybgpd's GC thresholds
(`pybgp.daemon.main.GC_THRESHOLDS`) instead of CPython's defaults: the young-generation threshold
decides how much the collector charges for UPDATEs held between decode and delivery.

Run: .venv/bin/python benchmarks/session_ingest.py [--prefixes N] [--gc default|daemon]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import ipaddress
import time

from pybgp.aio.listener import Listener
from pybgp.aio.peer import Peer
from pybgp.aio.speaker import Speaker
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.states import State
from pybgp.rib.policy import Policy
from pybgp.rib.route import BestChange
from pybgp.wire.attributes import AsPathSegment, PathAttributes, clear_intern_cache
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.framing import MessageFramer
from pybgp.wire.messages import Notification, RouteRefresh, Update, decode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

BATCH = 2000


def build(prefixes: int, ctx: WireContext) -> list[bytes]:
    out: list[bytes] = []
    for i in range(prefixes):
        attrs = PathAttributes(
            origin=Origin.IGP,
            as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65001, 64512 + i % 1000)),),
            next_hop=ipaddress.IPv4Address("127.0.0.2"),
            med=i,
        )
        prefix = Prefix(Afi.IPV4, (10 << 24) + (i << 8), 24)
        out.extend(encode_updates(ctx, attributes=attrs, announced=[prefix]))
    return out


class Counter:
    def __init__(self, target: int) -> None:
        self.count = 0
        self.target = target
        self.done = asyncio.Event()

    def on_established(self, peer: Peer) -> None:
        pass  # only counting prefixes

    def on_update(self, peer: Peer, update: Update) -> None:
        self.count += len(update.nlri)
        if self.count >= self.target:
            self.done.set()

    def on_down(self, peer: Peer, reason: str, notification: Notification | None) -> None:
        print("down:", reason)

    def on_route_refresh(self, peer: Peer, msg: RouteRefresh) -> None:
        pass  # not used


def sender(port: int, *, remote_as: int) -> Peer:
    """The sending side of both measurements: AS 65001 at 127.0.0.2, connecting to 127.0.0.1:`port`."""
    return Peer(
        PeerSettings(
            local_as=65001,
            remote_as=remote_as,
            router_id=ipaddress.IPv4Address("10.0.0.1"),
            remote_address=ipaddress.IPv4Address("127.0.0.1"),
            local_address=ipaddress.IPv4Address("127.0.0.2"),
            port=port,
            hold_time=90,
            connect_retry_time=1.0,
        ),
        Counter(0),
    )


async def via_peers(messages: list[bytes], prefixes: int) -> tuple[float, float]:
    async with Listener(addresses=("127.0.0.1",), port=0) as lst:
        common = {"hold_time": 90, "connect_retry_time": 1.0}
        recv = Counter(prefixes)
        b = Peer(
            PeerSettings(
                local_as=65002,
                remote_as=65001,
                router_id=ipaddress.IPv4Address("10.0.0.2"),
                remote_address=ipaddress.IPv4Address("127.0.0.2"),
                passive=True,
                **common,  # type: ignore[arg-type]
            ),
            recv,
        )
        a = sender(lst.port, remote_as=65002)
        lst.add_peer(b)
        b.start()
        a.start()
        await a.wait_state(State.ESTABLISHED, 10)
        await b.wait_state(State.ESTABLISHED, 10)
        clear_intern_cache()
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(0, len(messages), BATCH):
            a.send_messages(messages[i : i + BATCH])
            if not a.writable:
                await a.drain()
        await asyncio.wait_for(recv.done.wait(), 300)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        await a.stop()
        await b.stop()
        return elapsed, cpu


async def via_speaker(messages: list[bytes], prefixes: int) -> tuple[float, float]:
    """The same stream from a Peer into a Speaker: until every prefix's best change is delivered."""
    # AS 64000: outside the stream's AS paths (65001, 64512..65511), so no path is a loop
    speaker = Speaker(local_as=64000, router_id="10.0.0.2", listen_addresses=("127.0.0.1",), listen_port=0)
    seen = 0
    done = asyncio.Event()

    def count(batch: list[BestChange]) -> None:
        nonlocal seen
        seen += sum(1 for c in batch if c.best is not None)
        if seen >= prefixes:
            done.set()

    speaker.on_best_change(count)
    speaker.add_neighbor(
        PeerSettings(
            local_as=64000,
            remote_as=65001,
            router_id=ipaddress.IPv4Address("10.0.0.2"),
            remote_address=ipaddress.IPv4Address("127.0.0.2"),
            passive=True,
            hold_time=90,
        ),
        import_policy=Policy.accept_all(),  # eBGP: RFC 8212 would reject everything
    )
    await speaker.start()
    assert speaker.listen_port is not None
    a = sender(speaker.listen_port, remote_as=64000)
    a.start()
    await a.wait_state(State.ESTABLISHED, 10)
    await speaker.peer("127.0.0.2").wait_state(State.ESTABLISHED, 10)
    clear_intern_cache()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(messages), BATCH):
        a.send_messages(messages[i : i + BATCH])
        if not a.writable:
            await a.drain()
    await asyncio.wait_for(done.wait(), 300)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    await a.stop()
    await speaker.stop()
    return elapsed, cpu


class _Floor(asyncio.Protocol):
    def __init__(self, ctx: WireContext, target: int, done: asyncio.Event) -> None:
        self.framer = MessageFramer()
        self.ctx = ctx
        self.count = 0
        self.target = target
        self.done = done

    def data_received(self, data: bytes) -> None:
        for frame in self.framer.feed(data):
            msg = decode_message(frame, self.ctx)
            if isinstance(msg, Update):
                self.count += len(msg.nlri)
        if self.count >= self.target:
            self.done.set()


async def floor(messages: list[bytes], prefixes: int, ctx: WireContext) -> tuple[float, float]:
    loop = asyncio.get_running_loop()
    done = asyncio.Event()
    server = await loop.create_server(lambda: _Floor(ctx, prefixes, done), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    clear_intern_cache()
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(0, len(messages), BATCH):
        writer.write(b"".join(messages[i : i + BATCH]))
        await writer.drain()
    await asyncio.wait_for(done.wait(), 300)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    writer.close()
    server.close()
    return elapsed, cpu


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--prefixes", type=int, default=100_000)
    parser.add_argument("--gc", choices=("default", "daemon"), default="default")
    args = parser.parse_args()
    if args.gc == "daemon":
        from pybgp.daemon.main import GC_THRESHOLDS

        gc.set_threshold(*GC_THRESHOLDS)
    print(f"GC thresholds {gc.get_threshold()} ({args.gc})")
    ctx = WireContext(as4=True, ibgp=False)
    messages = build(args.prefixes, ctx)
    size = sum(map(len, messages))
    print(
        f"{args.prefixes:,} prefixes, one per UPDATE, unique attributes: "
        f"{len(messages):,} messages, {size:,} bytes"
    )
    el, cpu = await via_peers(messages, args.prefixes)
    print(
        f"pybgp Peer -> Peer (FSM, hold timer, handler): {el:.2f} s, CPU {cpu:.2f} s, "
        f"{args.prefixes / el:,.0f} prefixes/s"
    )
    el2, cpu2 = await floor(messages, args.prefixes, ctx)
    print(
        f"anchor: bare socket + MessageFramer + decode_message: {el2:.2f} s, CPU {cpu2:.2f} s, "
        f"{args.prefixes / el2:,.0f} prefixes/s"
    )
    print(f"session layer overhead: {100 * (el / el2 - 1):.0f} % wall time")
    el3, cpu3 = await via_speaker(messages, args.prefixes)
    print(
        f"pybgp Peer -> Speaker (FSM, worker, Rib.receive, best-change callback): {el3:.2f} s, "
        f"CPU {cpu3:.2f} s, {args.prefixes / el3:,.0f} prefixes/s"
    )


if __name__ == "__main__":
    asyncio.run(main())
