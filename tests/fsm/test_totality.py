"""The transition table is total: every (state, RFC event) pair is handled without an exception and
leaves a consistent session; random input sequences (including garbage bytes) never crash it."""

from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.events import EventType
from pybgp.fsm.session import BgpSession
from pybgp.fsm.states import State
from pybgp.fsm.transitions import TRANSITIONS, Conn, Fired
from pybgp.wire.constants import NotificationCode
from pybgp.wire.context import DEFAULT_CONTEXT
from pybgp.wire.errors import NotificationError
from pybgp.wire.framing import MessageFramer
from pybgp.wire.messages import Keepalive, Notification, Open, RouteRefresh, Update, encode_message

PEER_OPEN = Open(my_as=65002, hold_time=90, bgp_id=ipaddress.IPv4Address("10.0.0.2"))
MakeSettings = Callable[..., PeerSettings]


def session_in(state: State, s: PeerSettings) -> BgpSession:
    """Drive a fresh session into `state` through public inputs only."""
    sess = BgpSession(s, rng=random.Random(0))
    if state is State.IDLE:
        return sess
    if state is State.ACTIVE:
        sess.handle(ev.ManualStart(passive=True), 0.0)
        return sess
    sess.handle(ev.ManualStart(), 0.0)
    if state is State.CONNECT:
        return sess
    sess.handle(ev.TcpCrAcked(conn=1), 0.0)
    if state is State.OPENSENT:
        return sess
    sess.handle(ev.DataReceived(conn=1, data=encode_message(PEER_OPEN, DEFAULT_CONTEXT)), 0.0)
    if state is State.OPENCONFIRM:
        return sess
    sess.handle(ev.DataReceived(conn=1, data=encode_message(Keepalive(), DEFAULT_CONTEXT)), 0.0)
    assert sess.state is State.ESTABLISHED
    return sess


def payload(kind: EventType, sess: BgpSession, new_conn: bool) -> Fired:
    primary = sess._conn
    conn = primary
    if kind in (EventType.TCP_CR_ACKED, EventType.TCP_CONNECTION_CONFIRMED) or (new_conn and primary is None):
        conn = Conn(id=50, outgoing=kind is EventType.TCP_CR_ACKED, framer=MessageFramer())
    fired = Fired(type=kind, conn=conn, reason="test")
    if kind is EventType.BGP_OPEN:
        fired.message = PEER_OPEN
    elif kind is EventType.UPDATE_MSG:
        fired.message = Update()
    elif kind in (EventType.NOTIF_MSG, EventType.NOTIF_MSG_VER_ERR):
        fired.message = Notification(code=6, subcode=2)
    elif kind is EventType.KEEPALIVE_MSG:
        fired.message = Keepalive()
    elif kind is EventType.ROUTE_REFRESH_MSG:
        fired.message = RouteRefresh(afi=1, safi=1)
    elif kind in (EventType.BGP_HEADER_ERR, EventType.BGP_OPEN_MSG_ERR, EventType.UPDATE_MSG_ERR):
        fired.error = NotificationError(NotificationCode.UPDATE_MESSAGE_ERROR, 1)
    elif kind is EventType.MANUAL_STOP:
        fired.stop = ev.ManualStop(message="bye")
    elif kind is EventType.AUTOMATIC_STOP:
        fired.stop = ev.AutomaticStop(retry_after=1.0)
    return fired


def check_consistent(sess: BgpSession) -> None:
    if sess.state in (State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED):
        assert sess.connection is not None
    if sess.state is State.ESTABLISHED:
        assert sess.negotiated is not None
    if sess.state in (State.IDLE, State.CONNECT, State.ACTIVE):
        assert sess.connection is None
        assert sess.negotiated is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(list(State)), st.sampled_from(list(EventType)), st.booleans(), st.floats(0, 1e5))
def test_every_state_event_pair_is_handled(
    make_settings: MakeSettings, state: State, kind: EventType, new_conn: bool, now: float
) -> None:
    sess = session_in(state, make_settings())
    sess._out = []
    sess._fire(payload(kind, sess, new_conn), now)
    check_consistent(sess)
    allowed = (act.Connect, act.AbortConnect, act.Send, act.Close, act.StateChanged, act.SessionEstablished)
    allowed += (act.SessionDown, act.SessionFailed, act.DeliverUpdate, act.DeliverRouteRefresh)
    for a in sess._out:
        assert isinstance(a, allowed)


def test_table_covers_rfc_pairs_explicitly() -> None:
    """The pairs the RFC spells out for each state are in the table (the rest use the state default)."""
    for state in State:
        for kind in (EventType.MANUAL_START, EventType.MANUAL_STOP, EventType.AUTOMATIC_STOP):
            assert (state, kind) in TRANSITIONS
    for state in (State.OPENSENT, State.OPENCONFIRM, State.ESTABLISHED):
        for kind in (EventType.HOLD_TIMER_EXPIRES, EventType.NOTIF_MSG, EventType.BGP_HEADER_ERR):
            assert (state, kind) in TRANSITIONS


MESSAGES = [
    encode_message(m, DEFAULT_CONTEXT)
    for m in (PEER_OPEN, Keepalive(), Update(), Notification(code=6, subcode=4), RouteRefresh(afi=1, safi=1))
]

inputs = st.one_of(
    st.builds(ev.ManualStart, passive=st.none() | st.booleans()),
    st.builds(ev.AutomaticStart),
    st.builds(ev.ManualStop),
    st.builds(ev.AutomaticStop, retry_after=st.none() | st.floats(0, 10)),
    st.builds(ev.TcpCrAcked, conn=st.integers(1, 4)),
    st.builds(ev.TcpConnectionConfirmed, conn=st.integers(1, 4)),
    st.builds(ev.TcpConnectionFails, conn=st.none() | st.integers(1, 4)),
    st.builds(ev.DataReceived, conn=st.integers(1, 4), data=st.sampled_from(MESSAGES)),
    st.builds(ev.DataReceived, conn=st.integers(1, 4), data=st.binary(max_size=64)),
    st.builds(ev.Timeout),
    st.builds(ev.SendUpdates, messages=st.just((encode_message(Update(), DEFAULT_CONTEXT),))),
    st.builds(ev.SendRouteRefresh, afi=st.integers(0, 3), safi=st.integers(0, 3)),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(inputs, st.floats(0, 500)), max_size=30), st.integers(0, 1000))
def test_random_input_sequences_never_crash(
    make_settings: MakeSettings, steps: list[tuple[Any, float]], seed: int
) -> None:
    sess = BgpSession(make_settings(hold_time=30), rng=random.Random(seed))
    now = 0.0
    for event, dt in steps:
        now += dt
        # Like the adapter: deliver the expired deadline first; expiry never livelocks.
        for _ in range(10):
            deadline = sess.next_deadline()
            if deadline is None or deadline > now:
                break
            sess.handle(ev.Timeout(), now)
            check_consistent(sess)
        else:
            raise AssertionError("timers keep expiring at the same instant")
        sess.handle(event, now)
        check_consistent(sess)
        deadline = sess.next_deadline()
        assert deadline is None or deadline >= now
