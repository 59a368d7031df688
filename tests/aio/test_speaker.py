"""Two Speakers back to back on loopback: sessions, route exchange both ways, policies, multipath,
BFD-style neighbor_down, route refresh, views. Real sockets on 127.0.0.x only."""

from __future__ import annotations

import asyncio
import ipaddress

import pytest

from pybgp.aio.speaker import Speaker
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.states import State
from pybgp.rib.decision import Reason
from pybgp.rib.policy import Policy
from pybgp.rib.route import BestChange, Source
from pybgp.wire.messages import Update
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
TIMEOUT = 15.0


async def wait_for(predicate: object, timeout: float = TIMEOUT) -> None:
    assert callable(predicate)
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not predicate():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


def settings(local_as: int, remote_as: int, rid: str, remote: str, local: str, **kw: object) -> PeerSettings:
    return PeerSettings(
        local_as=local_as,
        remote_as=remote_as,
        router_id=IP(rid),
        remote_address=IP(remote),
        local_address=IP(local),
        connect_retry_time=1.0,
        error_wait_min=0.2,
        error_wait_max=1.0,
        **kw,
    )  # type: ignore[arg-type]


async def pair(a_as: int = 64600, b_as: int = 64600, b_import_table: bool = True,
               **policies: Policy) -> tuple[Speaker, Speaker]:
    """A listens on 127.0.0.1 (passive), B connects from 127.0.0.2 (keeping an import table for A
    unless `b_import_table` is False)."""
    a = Speaker(
        local_as=a_as, router_id="10.0.0.1", listen_addresses=("127.0.0.1",), listen_port=0, batch_delay=0.005
    )
    await a.start()
    a.add_neighbor(
        settings(a_as, b_as, "10.0.0.1", "127.0.0.2", "127.0.0.1", passive=True, name="b"),
        import_policy=policies.get("a_import"),
        export_policy=policies.get("a_export"),
    )
    b = Speaker(local_as=b_as, router_id="10.0.0.2", batch_delay=0.005)
    b.add_neighbor(
        settings(b_as, a_as, "10.0.0.2", "127.0.0.1", "127.0.0.2", port=a.listen_port, name="a"),
        import_policy=policies.get("b_import"),
        export_policy=policies.get("b_export"),
        import_table=b_import_table,
    )
    await b.start()
    await b.peer("a").wait_state(State.ESTABLISHED, TIMEOUT)
    await a.peer("b").wait_state(State.ESTABLISHED, TIMEOUT)
    return a, b


async def test_ibgp_exchange_both_ways_and_views() -> None:
    a, b = await pair()
    try:
        batches: list[list[BestChange]] = []
        b.on_best_change(batches.append)
        a.announce("10.10.0.0/16", local_pref=200, communities=[(64600 << 16) | 1])
        b.announce("10.20.0.0/16")
        await wait_for(lambda: b.best("10.10.0.0/16") is not None and a.best("10.20.0.0/16") is not None)
        got = b.best("10.10.0.0/16")
        assert got is not None and got.next_hop == IP("127.0.0.1") and got.attributes.local_pref == 200
        assert got.peer.ibgp and got.peer.router_id == IP("10.0.0.1")
        assert any(c.prefix == Prefix.parse("10.10.0.0/16") for batch in batches for c in batch)
        # Views for pybgpctl.
        [nv] = b.neighbors()
        assert nv.state == "Established" and nv.received == 1 and nv.accepted == 1 and nv.advertised == 1
        assert [r.reason for r in b.routes(Prefix.parse("10.10.0.0/16"), all_paths=True)] == [Reason.BEST]
        assert Prefix.parse("10.20.0.0/16") in b.rib_out("a")
        # Withdraw travels too.
        a.withdraw("10.10.0.0/16")
        await wait_for(lambda: b.best("10.10.0.0/16") is None)
        assert batches[-1][-1].best is None
    finally:
        await b.stop()
        await a.stop()


async def test_changes_stream_and_refresh() -> None:
    a, b = await pair()
    try:
        a.announce("10.30.0.0/24")
        stream = b.changes()
        change = await asyncio.wait_for(anext(stream), TIMEOUT)
        assert change.prefix == Prefix.parse("10.30.0.0/24") and change.best is not None
        sent_before = b.neighbors()[0].received
        assert b.refresh_neighbor("a")
        await asyncio.sleep(0.3)
        assert b.neighbors()[0].received == sent_before  # same routes again: no duplicates
        assert b.best("10.30.0.0/24") is not None
        await stream.aclose()
    finally:
        await b.stop()
        await a.stop()


async def test_ebgp_rfc8212_then_policy_change() -> None:
    a, b = await pair(a_as=64600, b_as=64601, a_export=Policy.accept_all())
    try:
        a.announce("10.40.0.0/16")
        await wait_for(lambda: b.neighbors()[0].received == 1)
        assert b.best("10.40.0.0/16") is None  # eBGP without import policy: rejected (RFC 8212)
        lp150 = Policy.from_dict({"rules": [{"set": {"local_pref": 150}}], "default": "accept"})
        b.set_import_policy("a", lp150)
        await wait_for(lambda: b.best("10.40.0.0/16") is not None)
        best = b.best("10.40.0.0/16")
        assert best is not None and best.attributes.as_path[0].asns == (64600,)
        assert best.attributes.local_pref == 150
    finally:
        await b.stop()
        await a.stop()


async def test_policy_change_without_import_table_asks_for_a_refresh() -> None:
    """B keeps no import table for A: a new import policy cannot be re-run locally, so B sends
    ROUTE-REFRESH (A offered it) and A's resent routes meet the policy; the session stays up."""
    a, b = await pair(a_as=64600, b_as=64601, b_import_table=False, a_export=Policy.accept_all())
    try:
        a.announce("10.40.0.0/16")
        await wait_for(lambda: a.neighbors()[0].advertised == 1)
        await asyncio.sleep(0.1)
        assert b.best("10.40.0.0/16") is None and b.neighbors()[0].received == 0  # rejected: not kept
        with pytest.raises(ValueError, match="import_table = false"):
            b.rib_in("a", post_policy=False)
        transitions = b.peer("a").counters.established_transitions
        lp150 = Policy.from_dict({"rules": [{"set": {"local_pref": 150}}], "default": "accept"})
        assert b.set_import_policy("a", lp150) == "refresh"
        await wait_for(lambda: b.best("10.40.0.0/16") is not None)
        best = b.best("10.40.0.0/16")
        assert best is not None and best.attributes.local_pref == 150
        assert b.rib_in("a") == {Prefix.parse("10.40.0.0/16"): best}
        assert b.neighbors()[0].accepted == 1
        assert b.peer("a").counters.established_transitions == transitions
    finally:
        await b.stop()
        await a.stop()


async def test_neighbor_down_flushes_in_one_batch() -> None:
    a, b = await pair()
    try:
        for i in range(50):
            a.announce(f"10.50.{i}.0/24")
        await wait_for(lambda: len(b.rib.loc) == 50)
        batches: list[list[BestChange]] = []
        b.on_best_change(batches.append)
        b.neighbor_down("a", "BFD down", retry_after=0.2)
        assert len(batches) == 1 and len(batches[0]) == 50 and all(c.best is None for c in batches[0])
        assert len(b.rib.loc) == 0
        # The session comes back by itself and the routes return.
        await wait_for(lambda: len(b.rib.loc) == 50)
    finally:
        await b.stop()
        await a.stop()


async def test_kernel_view_filters_local_routes() -> None:
    a, b = await pair()
    try:
        kernel: dict[Prefix, int] = {}

        def fib(batch: list[BestChange]) -> None:
            for c in batch:
                if c.best is None:
                    kernel.pop(c.prefix, None)
                else:
                    kernel[c.prefix] = len(c.multipath)

        b.on_best_change(
            fib,
            policy=Policy.from_dict(
                {
                    "rules": [
                        {"match": {"source": "interface"}, "action": "reject"},
                        {"match": {"community": "64698:64699"}, "action": "reject"},
                    ],
                    "default": "accept",
                }
            ),
        )
        node = b.local_origin("direct:node0", Source.INTERFACE, interface="node0")
        b.announce("10.69.0.3/32", source=node)
        a.announce("10.60.0.0/16")
        a.announce("192.0.2.10/32", communities=[(64698 << 16) | 64699])
        await wait_for(lambda: Prefix.parse("10.60.0.0/16") in kernel)
        await asyncio.sleep(0.1)
        assert set(kernel) == {Prefix.parse("10.60.0.0/16")}
        assert b.best("192.0.2.10/32") is not None  # in the RIB, not in the kernel
        assert Prefix.parse("10.69.0.3/32") in a.rib_in("b")  # own /32 advertised to the peer
    finally:
        await b.stop()
        await a.stop()


@pytest.mark.parametrize("n", [2000])
async def test_full_sync_is_packed_and_ends_with_eor(n: int) -> None:
    a = Speaker(local_as=64600, router_id="10.0.0.1", listen_addresses=("127.0.0.1",), listen_port=0)
    await a.start()
    for i in range(n):
        a.announce(Prefix(1, (11 << 24) | (i << 8), 24))
    a.add_neighbor(settings(64600, 64600, "10.0.0.1", "127.0.0.2", "127.0.0.1", passive=True, name="b"))
    b = Speaker(local_as=64600, router_id="10.0.0.2")
    b.add_neighbor(settings(64600, 64600, "10.0.0.2", "127.0.0.1", "127.0.0.2", port=a.listen_port, name="a"))
    await b.start()
    try:
        await wait_for(lambda: len(b.rib.loc) == n)
        adj = b.rib.neighbors["a"].adj_in
        await wait_for(lambda: adj is not None and (1, 1) in adj.eor_received)
        assert b.rib.neighbors["a"].received_updates < n // 50  # many prefixes per UPDATE
    finally:
        await b.stop()
        await a.stop()


async def test_enhanced_route_refresh_between_speakers() -> None:
    a = Speaker(
        local_as=64600,
        router_id="10.0.0.1",
        listen_addresses=("127.0.0.1",),
        listen_port=0,
        batch_delay=0.005,
    )
    await a.start()
    a.add_neighbor(
        settings(
            64600,
            64600,
            "10.0.0.1",
            "127.0.0.2",
            "127.0.0.1",
            passive=True,
            name="b",
            enhanced_route_refresh=True,
        )
    )
    b = Speaker(local_as=64600, router_id="10.0.0.2", batch_delay=0.005)
    b.add_neighbor(
        settings(
            64600,
            64600,
            "10.0.0.2",
            "127.0.0.1",
            "127.0.0.2",
            port=a.listen_port,
            name="a",
            enhanced_route_refresh=True,
        )
    )
    await b.start()
    try:
        await b.peer("a").wait_state(State.ESTABLISHED, TIMEOUT)
        a.announce("10.70.0.0/16")
        await wait_for(lambda: b.best("10.70.0.0/16") is not None)
        neg = b.peer("a").negotiated
        assert neg is not None and neg.enhanced_route_refresh
        # A route b holds from a that a no longer advertises (as if an UPDATE had been lost): the
        # enhanced refresh (BoRR, Adj-RIB-Out, EoRR) must remove it and keep the real one.
        ghost = Prefix.parse("10.71.0.0/16")
        best = b.best("10.70.0.0/16")
        assert best is not None
        b.rib.receive("a", Update(attributes=best.attributes, nlri=(ghost,)), 0.0)
        assert b.best(ghost) is not None
        assert b.refresh_neighbor("a")
        await wait_for(lambda: b.best(ghost) is None)
        assert b.best("10.70.0.0/16") is not None
    finally:
        await b.stop()
        await a.stop()


async def test_graceful_restart_helper_keeps_routes_until_end_of_rib() -> None:
    a = Speaker(local_as=64600, router_id="10.0.0.1", listen_addresses=("127.0.0.1",), listen_port=0,
                batch_delay=0.005)
    await a.start()
    a.add_neighbor(settings(64600, 64600, "10.0.0.1", "127.0.0.2", "127.0.0.1", passive=True, name="b",
                            graceful_restart_time=30))
    b = Speaker(local_as=64600, router_id="10.0.0.2", batch_delay=0.005)
    b.add_neighbor(settings(64600, 64600, "10.0.0.2", "127.0.0.1", "127.0.0.2", port=a.listen_port, name="a",
                            graceful_restart_time=30))
    await b.start()
    try:
        await b.peer("a").wait_state(State.ESTABLISHED, TIMEOUT)
        a.announce("10.80.0.0/16")
        a.announce("10.81.0.0/16")
        await wait_for(lambda: b.best("10.81.0.0/16") is not None)
        batches: list[list[BestChange]] = []
        b.on_best_change(batches.append)
        # A "restarts": its transport vanishes without a NOTIFICATION, and it forgot 10.81/16.
        a.withdraw("10.81.0.0/16")  # queued, never sent: the connection dies first
        conn = a.peer("b")._primary()
        assert conn is not None and conn.transport is not None
        conn.transport.abort()
        await wait_for(lambda: b.neighbors()[0].stale == 2)
        best = b.best("10.80.0.0/16")
        assert best is not None and best.stale and b.best("10.81.0.0/16") is not None
        assert all(c.best is not None for batch in batches for c in batch)  # forwarding untouched
        # Back up: A's End-of-RIB sweeps what it did not re-advertise.
        await wait_for(lambda: b.best("10.81.0.0/16") is None)
        fresh = b.best("10.80.0.0/16")
        assert fresh is not None and not fresh.stale
    finally:
        await b.stop()
        await a.stop()
