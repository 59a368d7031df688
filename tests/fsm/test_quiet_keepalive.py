"""The KEEPALIVE brought forward after a peer's burst of UPDATEs (`BgpSession._update_heard`).

BIRD 2.0 sometimes holds the last few kB of a table it sends until its main loop's 3 s poll timeout;
any message from us wakes it. Pinned here, in virtual time: one KEEPALIVE `QUIET_KEEPALIVE` after
the last UPDATE of a burst, never sooner than one second after our previous KEEPALIVE (RFC 4271
section 4.4), none while UPDATEs keep coming closer together than that, none with a zero hold time,
none when we sent UPDATEs ourselves meanwhile; and the regular KeepaliveTimer runs on after it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.config import PeerSettings
from pybgp.fsm.session import BgpSession
from pybgp.fsm.states import State
from pybgp.fsm.timers import KEEPALIVE_MIN_INTERVAL, QUIET_KEEPALIVE
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import Origin
from pybgp.wire.context import DEFAULT_CONTEXT
from pybgp.wire.messages import Keepalive, Open, encode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

MakeSettings = Callable[..., PeerSettings]
ATTRS = PathAttributes(origin=Origin.IGP, next_hop=ipaddress.IPv4Address("192.0.2.1"))


def established(make_settings: MakeSettings, hold_time: int = 90) -> BgpSession:
    """A session Established at t=0, its OPEN-confirming KEEPALIVE sent at t=0."""
    s = BgpSession(make_settings())
    s.handle(ev.ManualStart(), 0.0)
    s.handle(ev.TcpCrAcked(conn=7), 0.0)
    peer = Open(my_as=65002, hold_time=hold_time, bgp_id=ipaddress.IPv4Address("10.0.0.2"))
    s.handle(ev.DataReceived(conn=7, data=encode_message(peer, DEFAULT_CONTEXT)), 0.0)
    s.handle(ev.DataReceived(conn=7, data=encode_message(Keepalive(), DEFAULT_CONTEXT)), 0.0)
    assert s.state is State.ESTABLISHED
    return s


def update(s: BgpSession, n: int = 0) -> ev.DataReceived:
    data = encode_updates(s.context, attributes=ATTRS, announced=[Prefix.parse(f"10.{n % 256}.0.0/16")])[0]
    return ev.DataReceived(conn=7, data=data)


def keepalives(actions: list[act.Action]) -> int:
    return sum(isinstance(a, act.Send) and isinstance(a.message, Keepalive) for a in actions)


def test_one_keepalive_after_a_burst_goes_quiet(make_settings: MakeSettings) -> None:
    s = established(make_settings)
    for i, t in enumerate((2.0, 2.1, 2.2)):
        s.handle(update(s, i), t)
    assert s.next_deadline() == 2.2 + QUIET_KEEPALIVE
    assert keepalives(s.handle(ev.Timeout(), 2.3)) == 0
    assert keepalives(s.handle(ev.Timeout(), 2.2 + QUIET_KEEPALIVE)) == 1
    regular = s.next_deadline()
    assert regular is not None and regular >= 2.45 + 0.75 * 30  # the KeepaliveTimer runs on as before
    assert keepalives(s.handle(ev.Timeout(), regular - 0.01)) == 0


def test_never_sooner_than_a_second_after_our_last_keepalive(make_settings: MakeSettings) -> None:
    s = established(make_settings)  # KEEPALIVE sent at 0
    s.handle(update(s), 0.1)
    assert s.next_deadline() == KEEPALIVE_MIN_INTERVAL
    assert keepalives(s.handle(ev.Timeout(), 0.35)) == 0
    assert keepalives(s.handle(ev.Timeout(), 1.0)) == 1


def test_a_steady_stream_gets_no_keepalive_and_at_most_one_per_second(make_settings: MakeSettings) -> None:
    s = established(make_settings)
    sent: list[float] = []
    t = 2.0
    for i in range(200):  # UPDATEs 0.1 s apart for 20 s, every due deadline fired on the way
        deadline = s.next_deadline()
        while deadline is not None and deadline <= t:
            sent += [deadline] * keepalives(s.handle(ev.Timeout(), deadline))
            deadline = s.next_deadline()
        s.handle(update(s, i), t)
        t = round(t + 0.1, 3)
    assert sent == []
    assert keepalives(s.handle(ev.Timeout(), t - 0.1 + QUIET_KEEPALIVE)) == 1


def test_no_keepalive_at_all_with_a_zero_hold_time(make_settings: MakeSettings) -> None:
    s = established(make_settings, hold_time=0)
    s.handle(update(s), 2.0)
    assert s.next_deadline() is None


def test_our_own_updates_wake_the_peer_instead(make_settings: MakeSettings) -> None:
    s = established(make_settings)
    s.handle(update(s), 2.0)
    ours = encode_updates(s.context, attributes=ATTRS, announced=[Prefix.parse("192.0.2.0/24")])
    s.handle(ev.SendUpdates(messages=tuple(ours)), 2.1)
    deadline = s.next_deadline()
    assert deadline is not None and deadline >= 2.1 + 0.75 * 30
