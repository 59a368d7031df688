"""The per-UPDATE fast path in `BgpSession._on_data` equals the table-driven path it short-cuts.

Two sessions, identical but for `fast_updates`, get the same random inputs (UPDATEs valid, malformed,
treat-as-withdraw or session-resetting, split across reads; KEEPALIVEs, OPENs, NOTIFICATIONs, garbage,
timeouts, a second connection, max-prefix on or off) and must return the same actions and end in the
same state, with the same counters, deadlines and prefix counts.
"""

from __future__ import annotations

import ipaddress
import random
import struct
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.fsm import events as ev
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.events import EventType
from pybgp.fsm.session import BgpSession
from pybgp.fsm.states import State
from pybgp.fsm.transitions import TRANSITIONS, _update_in_established
from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import DEFAULT_CONTEXT
from pybgp.wire.messages import Keepalive, Notification, Open, RouteRefresh, Update, encode_message
from pybgp.wire.nlri import Prefix

PEER_OPEN = Open(my_as=65002, hold_time=90, bgp_id=ipaddress.IPv4Address("10.0.0.2"))
MARKER = b"\xff" * 16


def _session(*, fast: bool, max_prefix: int | None, seed: int) -> BgpSession:
    s = PeerSettings(
        local_as=65001,
        remote_as=65002,
        router_id=ipaddress.IPv4Address("10.0.0.1"),
        remote_address=ipaddress.IPv4Address("192.0.2.2"),
        max_prefix=max_prefix,
        max_prefix_restart=None if seed % 2 else 30.0,
    )
    sess = BgpSession(s, rng=random.Random(seed))
    sess.fast_updates = fast
    sess.handle(ev.ManualStart(), 0.0)
    sess.handle(ev.TcpCrAcked(conn=1), 0.0)
    sess.handle(ev.DataReceived(conn=1, data=encode_message(PEER_OPEN, DEFAULT_CONTEXT)), 0.0)
    sess.handle(ev.DataReceived(conn=1, data=encode_message(Keepalive(), DEFAULT_CONTEXT)), 0.0)
    assert sess.state is State.ESTABLISHED
    return sess


def _raw(mtype: int, body: bytes) -> bytes:
    return MARKER + struct.pack("!HB", 19 + len(body), mtype) + body


def _announce(i: int) -> bytes:
    attrs = PathAttributes(
        origin=Origin.IGP,
        as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65002, 64512 + i)),),
        next_hop=ipaddress.IPv4Address("192.0.2.2"),
        med=i,
    )
    prefix = Prefix(Afi.IPV4, (10 << 24) + (i << 8), 24)
    return encode_message(Update(attributes=attrs, nlri=(prefix,)), DEFAULT_CONTEXT)


def _withdraw(i: int) -> bytes:
    return encode_message(Update(withdrawn=(Prefix(Afi.IPV4, (10 << 24) + (i << 8), 24),)), DEFAULT_CONTEXT)


_BAD_ORIGIN = bytes([0x40, 1, 1, 9]) + bytes([0x40, 2, 0]) + bytes([0x40, 3, 4, 192, 0, 2, 1])
MESSAGES: list[bytes] = [
    *(_announce(i) for i in range(6)),
    *(_withdraw(i) for i in range(3)),
    encode_message(Update(), DEFAULT_CONTEXT),  # End-of-RIB
    _raw(2, struct.pack("!HH", 0, len(_BAD_ORIGIN)) + _BAD_ORIGIN + bytes([8, 10])),  # treat-as-withdraw
    _raw(2, struct.pack("!H", 50) + b"\x00\x00"),  # withdrawn routes overrun: session reset
    _raw(2, b"\x00"),  # too short for an UPDATE
    encode_message(Keepalive(), DEFAULT_CONTEXT),
    encode_message(RouteRefresh(afi=1, safi=1), DEFAULT_CONTEXT),
    encode_message(PEER_OPEN, DEFAULT_CONTEXT),  # FSM error in Established
    encode_message(Notification(code=6, subcode=4), DEFAULT_CONTEXT),
    b"\x00" * 19,  # bad marker
]

inputs = st.one_of(
    st.builds(
        lambda msgs, cut, conn: ev.DataReceived(conn=conn, data=b"".join(msgs)[cut:] or b"\x00"),
        st.lists(st.sampled_from(MESSAGES), min_size=1, max_size=8),
        st.sampled_from([0, 0, 0, 1, 7, 30]),
        st.sampled_from([1, 1, 1, 2]),
    ),
    st.builds(ev.Timeout),
    st.builds(ev.TcpConnectionConfirmed, conn=st.just(2)),
    st.builds(ev.TcpConnectionFails, conn=st.just(2)),
)


def test_the_table_names_the_handler_the_fast_path_shares() -> None:
    assert TRANSITIONS[(State.ESTABLISHED, EventType.UPDATE_MSG)] is _update_in_established


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(inputs, st.floats(0, 100)), max_size=25),
    st.sampled_from([None, 1, 3, 100]),
    st.integers(0, 1000),
)
def test_fast_path_equals_table_path(
    steps: list[tuple[Any, float]], max_prefix: int | None, seed: int
) -> None:
    fast = _session(fast=True, max_prefix=max_prefix, seed=seed)
    table = _session(fast=False, max_prefix=max_prefix, seed=seed)
    now = 0.0
    for event, dt in steps:
        now += dt
        assert fast.handle(event, now) == table.handle(event, now)
        assert fast.state is table.state
        assert fast.counters == table.counters
        assert fast.next_deadline() == table.next_deadline()
        assert fast.prefix_count() == table.prefix_count()
        assert fast.negotiated == table.negotiated


def test_fast_path_restarts_the_hold_timer_and_counts() -> None:
    sess = _session(fast=True, max_prefix=None, seed=1)
    out = sess.handle(ev.DataReceived(conn=1, data=_announce(1) + _announce(2)), 50.0)
    assert [type(a).__name__ for a in out] == ["DeliverUpdate", "DeliverUpdate"]
    assert sess.counters.messages_in["Update"] == 2
    assert sess._timers.hold == 50.0 + 90
