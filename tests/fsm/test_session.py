"""Every FSM transition and timer of RFC 4271 section 8, in virtual time, one side alone or two
sessions back to back (`Pair` in conftest.py)."""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Callable
from typing import Any

from pybgp.fsm import actions as act
from pybgp.fsm import events as ev
from pybgp.fsm.config import IPV4_UNICAST, IPV6_UNICAST, PeerSettings
from pybgp.fsm.session import BgpSession
from pybgp.fsm.states import State
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import (
    MARKER,
    CeaseSubcode,
    FsmSubcode,
    NotificationCode,
    OpenSubcode,
    Origin,
    UpdateSubcode,
)
from pybgp.wire.context import DEFAULT_CONTEXT
from pybgp.wire.messages import Keepalive, Notification, Open, RouteRefresh, encode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.notification import parse_shutdown
from pybgp.wire.packing import encode_updates

MakePair = Callable[..., Any]
MakeSettings = Callable[..., PeerSettings]
ATTRS = PathAttributes(origin=Origin.IGP, next_hop=ipaddress.IPv4Address("192.0.2.1"))


def notes(side: Any) -> list[Notification]:
    return [m for m in side.sent_messages() if isinstance(m, Notification)]


def established(make_pair: MakePair, **kw: Any) -> Any:
    p = make_pair(**kw)
    p.start()
    assert p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED
    return p


def wire(msg: Any) -> bytes:
    return encode_message(msg, DEFAULT_CONTEXT)


def peer_open(**kw: Any) -> bytes:
    base: dict[str, Any] = {"my_as": 65002, "hold_time": 90, "bgp_id": ipaddress.IPv4Address("10.0.0.2")}
    base.update(kw)
    return wire(Open(**base))


def to_opensent(make_settings: MakeSettings, **kw: Any) -> tuple[BgpSession, float]:
    s = BgpSession(make_settings(**kw))
    s.handle(ev.ManualStart(), 0.0)
    s.handle(ev.TcpCrAcked(conn=7), 0.0)
    assert s.state is State.OPENSENT
    return s, 0.0


def sent_notes(actions: list[act.Action]) -> list[Notification]:
    return [a.message for a in actions if isinstance(a, act.Send) and isinstance(a.message, Notification)]


# ---- Idle / Connect / Active ---------------------------------------------------------------------


def test_start_connects_and_arms_connect_retry(make_settings: MakeSettings) -> None:
    s = BgpSession(make_settings(connect_retry_time=120))
    out = s.handle(ev.ManualStart(), 10.0)
    assert any(isinstance(a, act.Connect) for a in out)
    assert s.state is State.CONNECT
    deadline = s.next_deadline()
    assert deadline is not None and 10 + 90 <= deadline <= 10 + 120  # jittered 0.75..1
    # ConnectRetryTimer_Expires (9) in Connect: abort, reconnect, stay in Connect.
    out = s.handle(ev.Timeout(), deadline)
    assert [type(a) for a in out][:2] == [act.AbortConnect, act.Connect]
    assert s.state is State.CONNECT


def test_connect_failure_goes_active_then_retries(make_settings: MakeSettings) -> None:
    s = BgpSession(make_settings(connect_retry_time=5))
    s.handle(ev.ManualStart(), 0.0)
    s.handle(ev.TcpConnectionFails(reason="refused"), 0.1)
    assert s.state is State.ACTIVE
    deadline = s.next_deadline()
    assert deadline is not None
    out = s.handle(ev.Timeout(), deadline)
    assert any(isinstance(a, act.Connect) for a in out) and s.state is State.CONNECT
    assert s.counters.connect_attempts == 2


def test_connect_delay_listens_first(make_settings: MakeSettings) -> None:
    s = BgpSession(make_settings(connect_delay_time=1))
    out = s.handle(ev.ManualStart(), 0.0)
    assert s.state is State.ACTIVE and not any(isinstance(a, act.Connect) for a in out)
    out = s.handle(ev.Timeout(), s.next_deadline() or 0)
    assert any(isinstance(a, act.Connect) for a in out) and s.state is State.CONNECT


def test_passive_never_connects(make_settings: MakeSettings) -> None:
    s = BgpSession(make_settings(passive=True))
    out = s.handle(ev.ManualStart(), 0.0)
    assert s.state is State.ACTIVE and s.next_deadline() is None
    assert not any(isinstance(a, act.Connect) for a in out)
    out = s.handle(ev.TcpConnectionConfirmed(conn=3), 1.0)
    assert s.state is State.OPENSENT
    assert isinstance(out[0], act.Send) and isinstance(out[0].message, Open)


def test_idle_refuses_connections_and_ignores_stray_events(make_settings: MakeSettings) -> None:
    s = BgpSession(make_settings())
    out = s.handle(ev.TcpConnectionConfirmed(conn=4), 0.0)
    assert out == [act.Close(conn=4, reason="refused in Idle")]
    assert s.handle(ev.DataReceived(conn=4, data=wire(Keepalive())), 0.0) == []
    assert s.handle(ev.Timeout(), 0.0) == []
    assert s.state is State.IDLE


def test_manual_stop_in_connect_no_restart(make_settings: MakeSettings) -> None:
    s = BgpSession(make_settings())
    s.handle(ev.ManualStart(), 0.0)
    out = s.handle(ev.ManualStop(), 1.0)
    assert any(isinstance(a, act.AbortConnect) for a in out)
    assert s.state is State.IDLE and s.next_deadline() is None


# ---- OpenSent ---------------------------------------------------------------------------------------


def test_opensent_large_hold_timer_expires(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    assert s.next_deadline() == 240  # RFC 4271 8.2.2: "large value", 4 minutes
    out = s.handle(ev.Timeout(), 240.0)
    assert sent_notes(out) == [Notification(code=NotificationCode.HOLD_TIMER_EXPIRED, subcode=0)]
    assert act.Close(conn=7, reason="hold timer expired") in out
    assert s.state is State.IDLE
    assert s.next_deadline() == 240 + 3  # error wait 3 s, then automatic restart
    s.handle(ev.Timeout(), 243.0)
    assert s.state is State.CONNECT


def test_opensent_unexpected_keepalive_is_fsm_error_1(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    out = s.handle(ev.DataReceived(conn=7, data=wire(Keepalive())), 1.0)
    assert sent_notes(out) == [Notification(code=NotificationCode.FSM_ERROR, subcode=1)]
    assert s.state is State.IDLE


def test_opensent_tcp_fails_goes_active(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    s.handle(ev.TcpConnectionFails(conn=7, reason="reset"), 1.0)
    assert s.state is State.ACTIVE
    assert s.next_deadline() is not None  # ConnectRetryTimer restarted


def test_open_errors_send_exact_subcodes(make_settings: MakeSettings) -> None:
    cases = [
        (peer_open(version=3), OpenSubcode.UNSUPPORTED_VERSION_NUMBER),
        (peer_open(my_as=65077), OpenSubcode.BAD_PEER_AS),
        (peer_open(bgp_id=ipaddress.IPv4Address("0.0.0.0")), OpenSubcode.BAD_BGP_IDENTIFIER),
        (peer_open(hold_time=2), OpenSubcode.UNACCEPTABLE_HOLD_TIME),
    ]
    for data, subcode in cases:
        s, _ = to_opensent(make_settings)
        out = s.handle(ev.DataReceived(conn=7, data=data), 1.0)
        got = sent_notes(out)
        assert len(got) == 1 and (got[0].code, got[0].subcode) == (2, subcode), (subcode, got)
        assert s.state is State.IDLE
        assert any(isinstance(a, act.SessionFailed) for a in out)


def test_bad_header_is_message_header_error(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    bad = b"\x00" * 16 + struct.pack("!HB", 19, 4)
    out = s.handle(ev.DataReceived(conn=7, data=bad), 1.0)
    got = sent_notes(out)
    assert got and got[0].code == NotificationCode.MESSAGE_HEADER_ERROR
    assert s.state is State.IDLE


def test_bytes_split_anywhere_are_framed(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    data = peer_open() + wire(Keepalive())
    for i in range(len(data)):
        s.handle(ev.DataReceived(conn=7, data=data[i : i + 1]), 1.0)
    assert s.state is State.ESTABLISHED


# ---- OpenConfirm / Established ----------------------------------------------------------------------


def test_openconfirm_unexpected_update_is_fsm_error_2(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    s.handle(ev.DataReceived(conn=7, data=peer_open()), 1.0)
    assert s.state is State.OPENCONFIRM
    upd = encode_updates(DEFAULT_CONTEXT, attributes=ATTRS, announced=[Prefix.parse("10.0.0.0/8")])[0]
    out = s.handle(ev.DataReceived(conn=7, data=upd), 2.0)
    assert sent_notes(out) == [Notification(code=NotificationCode.FSM_ERROR, subcode=2)]


def test_openconfirm_keepalive_timer_and_hold_timer(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    s.handle(ev.DataReceived(conn=7, data=peer_open(hold_time=90)), 0.0)
    deadline = s.next_deadline()
    assert deadline is not None and 22.5 <= deadline <= 30  # keepalive = 90/3, jittered
    out = s.handle(ev.Timeout(), deadline)
    assert any(isinstance(a, act.Send) and isinstance(a.message, Keepalive) for a in out)
    out = s.handle(ev.Timeout(), 90.0)
    if s.state is not State.IDLE:  # a keepalive may fire first at <= 60 s
        out = s.handle(ev.Timeout(), 90.0)
    assert s.state is State.IDLE
    assert any(n.code == NotificationCode.HOLD_TIMER_EXPIRED for n in sent_notes(out))


def test_open_in_established_is_fsm_error_3(make_pair: MakePair) -> None:
    p = established(make_pair)
    p.feed(
        p.b, ev.DataReceived(conn=1, data=peer_open(my_as=65001, bgp_id=ipaddress.IPv4Address("10.0.0.1")))
    )
    assert notes(p.b)[-1] == Notification(code=NotificationCode.FSM_ERROR, subcode=FsmSubcode(3))
    assert p.b.state is State.IDLE and p.a.state is State.IDLE
    assert p.a.of(act.SessionDown) and p.b.of(act.SessionDown)


def test_keepalives_keep_the_session_up_for_an_hour(make_pair: MakePair) -> None:
    p = established(make_pair, a_kw={"hold_time": 9}, b_kw={"hold_time": 9})
    p.advance(3600)
    assert p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED
    ka = [m for m in p.a.sent_messages() if isinstance(m, Keepalive)]
    assert 3600 / 3 <= len(ka) <= 3600 / (3 * 0.75) + 2


def test_hold_timer_expires_when_peer_goes_silent(make_pair: MakePair) -> None:
    p = established(make_pair, a_kw={"hold_time": 9}, b_kw={"hold_time": 9})
    p.cut = True
    p.advance(8.9)
    assert p.a.state is State.ESTABLISHED
    p.advance(0.2)
    assert p.a.state is State.IDLE and p.b.state is State.IDLE
    down = p.a.of(act.SessionDown)[0]
    assert (
        down.notification == Notification(code=NotificationCode.HOLD_TIMER_EXPIRED, subcode=0) and down.sent
    )


def test_hold_time_zero_means_no_keepalives_and_no_expiry(make_pair: MakePair) -> None:
    p = established(make_pair, a_kw={"hold_time": 0})
    assert p.a.session.negotiated is not None and p.a.session.negotiated.hold_time == 0
    assert p.a.session.next_deadline() is None and p.b.session.next_deadline() is None
    p.cut = True
    p.advance(100_000)
    assert p.a.state is State.ESTABLISHED


def test_updates_flow_and_restart_keepalive(make_pair: MakePair) -> None:
    p = established(make_pair)
    ctx = p.a.session.context
    msgs = encode_updates(ctx, attributes=ATTRS, announced=[Prefix.parse("10.1.0.0/16")])
    p.feed(p.a, ev.SendUpdates(messages=tuple(msgs)))
    got = p.b.of(act.DeliverUpdate)
    assert len(got) == 1 and got[0].update.nlri == (Prefix.parse("10.1.0.0/16"),)
    assert got[0].update.attributes is not None and got[0].update.attributes.origin == Origin.IGP


def test_updates_dropped_when_not_established(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    assert s.handle(ev.SendUpdates(messages=(b"x",)), 1.0) == []


def test_malformed_update_gets_update_error_and_reset(make_pair: MakePair) -> None:
    p = established(make_pair)
    body = struct.pack("!H", 50) + b"\x00\x00"  # withdrawn routes overrun the message: RFC 7606 3 (reset)
    raw = MARKER + struct.pack("!HB", 19 + len(body), 2) + body
    p.feed(p.b, ev.DataReceived(conn=1, data=raw))
    sent = notes(p.b)
    assert sent and sent[-1].code == NotificationCode.UPDATE_MESSAGE_ERROR
    assert sent[-1].subcode == UpdateSubcode.MALFORMED_ATTRIBUTE_LIST
    assert p.b.state is State.IDLE and p.a.state is State.IDLE
    assert p.a.of(act.SessionDown)[0].notification == sent[-1]


def test_treat_as_withdraw_is_passed_up(make_pair: MakePair) -> None:
    p = established(make_pair)
    # ORIGIN with an invalid value: RFC 7606 7.1 treat-as-withdraw, session stays up.
    attrs = bytes([0x40, 1, 1, 9]) + bytes([0x40, 2, 0]) + bytes([0x40, 3, 4, 192, 0, 2, 1])
    nlri = bytes([8, 10])
    body = struct.pack("!H", 0) + struct.pack("!H", len(attrs)) + attrs + nlri
    raw = MARKER + struct.pack("!HB", 19 + len(body), 2) + body
    p.feed(p.b, ev.DataReceived(conn=1, data=raw))
    assert p.b.state is State.ESTABLISHED
    got = p.b.of(act.DeliverUpdate)
    assert len(got) == 1 and got[0].update.fault is not None


def test_route_refresh_both_ways_and_unknown_family_ignored(make_pair: MakePair) -> None:
    p = established(make_pair)
    p.feed(p.a, ev.SendRouteRefresh(afi=1, safi=1))
    assert p.b.of(act.DeliverRouteRefresh)[0].message == RouteRefresh(afi=1, safi=1)
    p.feed(p.b, ev.SendRouteRefresh(afi=2, safi=1))  # IPv6 was not negotiated: ignored
    assert p.a.of(act.DeliverRouteRefresh) == []
    assert p.a.state is State.ESTABLISHED


def test_enhanced_route_refresh_negotiated(make_pair: MakePair) -> None:
    kw = {"enhanced_route_refresh": True, "families": (IPV4_UNICAST, IPV6_UNICAST)}
    p = established(make_pair, a_kw=kw, b_kw=kw)
    assert p.a.session.negotiated is not None and p.a.session.negotiated.enhanced_route_refresh
    p.feed(p.a, ev.SendRouteRefresh(afi=2, safi=1, subtype=1))
    assert p.b.of(act.DeliverRouteRefresh)[0].message == RouteRefresh(afi=2, safi=1, subtype=1)


def test_manual_stop_sends_shutdown_communication(make_pair: MakePair) -> None:
    p = established(make_pair)
    p.feed(p.a, ev.ManualStop(message="upgrade to 2.1"))
    sent = notes(p.a)[-1]
    assert (sent.code, sent.subcode) == (NotificationCode.CEASE, CeaseSubcode.ADMINISTRATIVE_SHUTDOWN)
    assert parse_shutdown(sent.data) == "upgrade to 2.1"
    assert "upgrade to 2.1" in p.b.of(act.SessionDown)[0].reason
    assert p.a.state is State.IDLE and p.a.session.next_deadline() is None  # no restart
    p.advance(1000)
    assert p.a.state is State.IDLE


def test_bfd_down_reset_retries_quickly_then_backs_off(make_pair: MakePair) -> None:
    p = established(make_pair, a_kw={"connect_retry_time": 2})
    p.feed(p.a, ev.AutomaticStop(subcode=CeaseSubcode.BFD_DOWN, retry_after=1.0))
    assert notes(p.a)[-1] == Notification(code=NotificationCode.CEASE, subcode=CeaseSubcode.BFD_DOWN)
    assert p.a.session.next_deadline() == p.now + 1.0
    assert p.b.session.next_deadline() == p.now + 1.0  # the peer told of it retries fast too
    p.advance(3.5)
    assert p.a.state is State.ESTABLISHED  # back within a few seconds, not after 3 s + backoff
    p.advance(0.5)
    t0 = p.now
    p.feed(p.a, ev.AutomaticStop(subcode=CeaseSubcode.BFD_DOWN, retry_after=1.0))
    assert p.a.session.next_deadline() == t0 + 3.0  # a second Down soon after: back off


def test_repeated_errors_back_off_exponentially(make_settings: MakeSettings) -> None:
    s = BgpSession(make_settings())
    now = 0.0
    s.handle(ev.ManualStart(), now)
    waits = []
    for _ in range(5):
        s.handle(ev.TcpCrAcked(conn=1), now)
        s.handle(ev.DataReceived(conn=1, data=peer_open(my_as=1)), now)  # bad AS: error
        assert s.state is State.IDLE
        deadline = s.next_deadline()
        assert deadline is not None
        waits.append(deadline - now)
        now = deadline
        s.handle(ev.Timeout(), now)
        assert s.state is State.CONNECT
    assert waits == [3, 6, 12, 24, 48]


def test_notification_received_goes_idle(make_pair: MakePair) -> None:
    p = established(make_pair)
    p.feed(p.a, ev.DataReceived(conn=1, data=wire(Notification(code=6, subcode=4))))
    assert p.a.state is State.IDLE
    down = p.a.of(act.SessionDown)[0]
    assert down.notification == Notification(code=6, subcode=4) and not down.sent


def test_max_prefix_cease_with_data_and_restart(make_pair: MakePair) -> None:
    p = established(
        make_pair, a_kw={"connect_retry_time": 5}, b_kw={"max_prefix": 3, "max_prefix_restart": 30.0}
    )
    ctx = p.a.session.context
    prefixes = [Prefix.parse(f"10.{i}.0.0/16") for i in range(3)]
    p.feed(p.a, ev.SendUpdates(messages=tuple(encode_updates(ctx, attributes=ATTRS, announced=prefixes))))
    assert p.b.state is State.ESTABLISHED and p.b.session.prefix_count() == 3
    # Re-announcing and withdrawing does not count twice.
    p.feed(p.a, ev.SendUpdates(messages=tuple(encode_updates(ctx, attributes=ATTRS, announced=prefixes[:1]))))
    p.feed(p.a, ev.SendUpdates(messages=tuple(encode_updates(ctx, attributes=None, withdrawn=prefixes[:1]))))
    assert p.b.session.prefix_count() == 2
    more = [Prefix.parse("10.8.0.0/16"), Prefix.parse("10.9.0.0/16")]
    p.feed(p.a, ev.SendUpdates(messages=tuple(encode_updates(ctx, attributes=ATTRS, announced=more))))
    sent = notes(p.b)[-1]
    assert (sent.code, sent.subcode) == (NotificationCode.CEASE, CeaseSubcode.MAX_PREFIXES_REACHED)
    assert sent.data == struct.pack("!HBI", 1, 1, 3)
    assert p.b.state is State.IDLE
    assert p.b.session.next_deadline() == p.now + 30.0
    p.advance(29.0)
    assert p.b.state is State.IDLE  # refuses a's reconnects until its restart timer runs out
    p.advance(6.0)
    assert p.b.state is State.ESTABLISHED


def test_max_prefix_without_restart_stays_down(make_pair: MakePair) -> None:
    p = established(make_pair, b_kw={"max_prefix": 1})
    ctx = p.a.session.context
    two = [Prefix.parse("10.1.0.0/16"), Prefix.parse("10.2.0.0/16")]
    p.feed(p.a, ev.SendUpdates(messages=tuple(encode_updates(ctx, attributes=ATTRS, announced=two))))
    assert p.b.state is State.IDLE and p.b.session.next_deadline() is None


def test_restart_comes_back_by_itself_after_peer_reset(make_pair: MakePair) -> None:
    p = established(make_pair, a_kw={"connect_retry_time": 5})
    p.feed(p.b, ev.AutomaticStop())  # the peer resets (like a BIRD restart)
    assert p.a.state in (State.IDLE, State.ACTIVE, State.CONNECT)
    p.advance(20)
    assert p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED


# ---- collisions (RFC 4271 6.8) ------------------------------------------------------------------------


def _collide(make_pair: MakePair, a_id: str, b_id: str) -> Any:
    p = make_pair(
        a_kw={"router_id": ipaddress.IPv4Address(a_id)},
        b_kw={"router_id": ipaddress.IPv4Address(b_id), "passive": False},
    )
    # Both sides start at the same instant and connect to each other: two connections.
    p.queue.append((p.a, ev.ManualStart()))
    p.queue.append((p.b, ev.ManualStart()))
    p.feed(p.a, ev.Timeout())
    return p


def test_collision_resolution_both_orders(make_pair: MakePair) -> None:
    for a_id, b_id in (("10.0.0.1", "10.0.0.2"), ("10.0.0.9", "10.0.0.2")):
        p = _collide(make_pair, a_id, b_id)
        assert p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED, (a_id, b_id)
        assert p.a.session.connection == p.b.session.connection
        # The surviving connection was opened by the side with the higher identifier.
        winner_is_a = int(ipaddress.IPv4Address(a_id)) > int(ipaddress.IPv4Address(b_id))
        survivor = p.a.session.connection
        a_opened = [a for a in p.a.log if isinstance(a, act.Connect)]
        assert a_opened
        assert (survivor == 1) == winner_is_a  # conn 1 is a's outgoing one (a connected first)
        # Each side may detect the collision and send Cease 7, but only on the losing connection.
        ceases = [
            a
            for side in (p.a, p.b)
            for a in side.of(act.Send)
            if isinstance(a.message, Notification)
            and a.message.subcode == CeaseSubcode.CONNECTION_COLLISION_RESOLUTION
        ]
        assert 1 <= len(ceases) <= 2
        assert {a.conn for a in ceases} == {1, 2} - {survivor}
        assert len(p.a.of(act.SessionEstablished)) == 1 and len(p.b.of(act.SessionEstablished)) == 1


def test_collision_with_established_closes_new_connection(make_pair: MakePair) -> None:
    p = established(make_pair)
    out = p.feed(p.a, ev.TcpConnectionConfirmed(conn=99))
    assert act.Close(conn=99, reason="collision with Established session") in out
    assert p.a.state is State.ESTABLISHED


def test_second_connection_in_opensent_loses_to_existing_one(make_settings: MakeSettings) -> None:
    # We are 10.0.0.1, peer 10.0.0.2: the peer's (incoming) connection must survive.
    s, _ = to_opensent(make_settings)  # conn 7 is ours, outgoing
    out = s.handle(ev.TcpConnectionConfirmed(conn=8), 1.0)
    assert isinstance(out[0], act.Send) and isinstance(out[0].message, Open) and out[0].conn == 8
    out = s.handle(ev.DataReceived(conn=8, data=peer_open()), 1.5)
    assert act.Close(conn=7, reason="connection collision resolution") in out
    assert s.connection == 8 and s.state is State.OPENCONFIRM
    s.handle(ev.DataReceived(conn=8, data=wire(Keepalive())), 2.0)
    assert s.state is State.ESTABLISHED
    # Bytes from the dropped connection are ignored.
    assert s.handle(ev.DataReceived(conn=7, data=wire(Keepalive())), 2.0) == []


def test_automatic_start_reconnects_at_once_when_bfd_comes_back(make_pair: MakePair) -> None:
    p = established(make_pair, a_kw={"connect_retry_time": 120})
    p.refuse = True  # the path is down: connects fail
    p.feed(p.a, ev.AutomaticStop(subcode=CeaseSubcode.BFD_DOWN, retry_after=1.0))
    p.advance(2.0)
    assert p.a.state is State.ACTIVE  # tried once at +1 s, now waiting ~90-120 s for ConnectRetry
    p.refuse = False
    p.advance(1.0)
    assert p.a.state is State.ACTIVE
    p.feed(p.a, ev.AutomaticStart())  # BFD Up
    assert p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED


def test_automatic_start_cuts_idle_hold_short_but_not_after_manual_stop(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)
    s.handle(ev.DataReceived(conn=7, data=peer_open(my_as=1)), 1.0)  # error: idle hold 3 s
    assert s.state is State.IDLE and s.next_deadline() == 4.0
    out = s.handle(ev.AutomaticStart(), 1.5)
    assert s.state is State.CONNECT and any(isinstance(a, act.Connect) for a in out)
    s.handle(ev.ManualStop(), 2.0)
    assert s.handle(ev.AutomaticStart(), 2.5) == [] and s.state is State.IDLE


def test_collision_connection_carries_on_when_the_first_one_fails(make_settings: MakeSettings) -> None:
    s, _ = to_opensent(make_settings)  # conn 7 ours
    s.handle(ev.TcpConnectionConfirmed(conn=8), 10.0)  # the peer's, waiting for its OPEN
    s.handle(ev.TcpConnectionFails(conn=7, reason="reset"), 11.0)
    assert s.state is State.OPENSENT and s.connection == 8
    assert s.next_deadline() == 11.0 + 240  # still guarded by the OpenSent hold timer
    s.handle(ev.DataReceived(conn=8, data=peer_open() + wire(Keepalive())), 12.0)
    assert s.state is State.ESTABLISHED
