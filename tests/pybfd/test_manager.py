"""The session manager: demultiplexing (6.8.6), TTL rules (RFC 5881/5883), drop counters, the heap."""

from __future__ import annotations

import ipaddress
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from pybfd.constants import DropReason, State
from pybfd.manager import SessionKey, SessionManager
from pybfd.packet import ControlPacket, decode_packet, encode_packet
from pybfd.session import SessionConfig, StateChanged, Transmit

A = ipaddress.ip_address("192.0.2.1")
B = ipaddress.ip_address("192.0.2.2")
C = ipaddress.ip_address("192.0.2.3")
CFG = SessionConfig(desired_min_tx_us=100_000, required_min_rx_us=100_000)


def _pair() -> tuple[SessionManager, SessionManager, SessionKey, SessionKey]:
    left, right = SessionManager(random.Random(1)), SessionManager(random.Random(2))
    ka = SessionKey(peer=B, local=A, interface="eth0")
    kb = SessionKey(peer=A, local=B, interface="eth0")
    left.add(ka, CFG, 0.0)
    right.add(kb, CFG, 0.0)
    return left, right, ka, kb


def _pump(left: SessionManager, right: SessionManager, until: float) -> list[StateChanged]:
    """Run both managers in virtual time, delivering packets instantly; return the state changes."""
    changes: list[StateChanged] = []
    now = 0.0
    inbox: list[tuple[str, bytes]] = []
    while now <= until:
        deadlines = [d for d in (left.next_deadline(), right.next_deadline()) if d is not None]
        if not deadlines:
            break
        now = min(deadlines)
        outs = [("l", left.on_timer(now)), ("r", right.on_timer(now))]
        while outs:
            side, actions = outs.pop()
            for _key, action in actions:
                if isinstance(action, Transmit):
                    inbox.append((side, action.data))
                elif isinstance(action, StateChanged):
                    changes.append(action)
            while inbox:
                src, data = inbox.pop(0)
                if src == "l":
                    outs.append(
                        (
                            "r",
                            right.receive(
                                data, src=A, dst=B, ifname="eth0", ttl=255, multihop=False, now=now
                            ),
                        )
                    )
                else:
                    outs.append(
                        (
                            "l",
                            left.receive(data, src=B, dst=A, ifname="eth0", ttl=255, multihop=False, now=now),
                        )
                    )
    return changes


def test_pair_comes_up_through_the_manager() -> None:
    left, right, ka, kb = _pair()
    _pump(left, right, 5.0)
    sa, sb = left.get(ka), right.get(kb)
    assert sa is not None and sb is not None
    assert sa.session_state is State.UP and sb.session_state is State.UP
    assert not left.drops and not right.drops


def test_demultiplexing_and_drop_reasons() -> None:
    manager = SessionManager(random.Random(1))
    key = SessionKey(peer=B, local=A, interface="eth0")
    session = manager.add(key, CFG, 0.0)
    mine = session.local_discr
    down = encode_packet(ControlPacket(state=State.DOWN, my_discr=9, your_discr=0))

    def rx(data: bytes, **kw: object) -> None:
        args: dict[str, object] = {
            "src": B,
            "dst": A,
            "ifname": "eth0",
            "ttl": 255,
            "multihop": False,
            "now": 1.0,
        }
        args.update(kw)
        manager.receive(data, **args)  # type: ignore[arg-type]

    rx(down, src=C)  # nobody configured for C
    assert manager.drops[DropReason.NO_SESSION] == 1
    rx(down, ifname="eth1")  # the session is bound to eth0
    assert manager.drops[DropReason.NO_SESSION] == 2
    rx(down, multihop=True)
    assert manager.drops[DropReason.NO_SESSION] == 3
    rx(down, ttl=254)  # RFC 5881 section 5: GTSM
    assert manager.drops[DropReason.BAD_TTL] == 1
    rx(down)
    assert session.session_state is State.INIT and session.remote_discr == 9
    up = encode_packet(
        ControlPacket(state=State.UP, my_discr=9, your_discr=mine + 1 if mine < 2**32 - 1 else 1)
    )
    rx(up)
    assert manager.drops[DropReason.UNKNOWN_YOUR_DISCR] == 1
    up = encode_packet(ControlPacket(state=State.UP, my_discr=9, your_discr=mine))
    rx(up, src=C)  # right discriminator, wrong source
    assert manager.drops[DropReason.ADDRESS_MISMATCH] == 1
    rx(b"\x00" * 5)
    assert manager.drops[DropReason.TOO_SHORT] == 1
    rx(up)
    assert session.session_state is State.UP
    assert manager.received == 9


def test_wildcard_sessions_and_multihop_ttl() -> None:
    manager = SessionManager(random.Random(1))
    any_local = manager.add(SessionKey(peer=B), CFG, 0.0)
    multihop = manager.add(SessionKey(peer=C, local=A, multihop=True), CFG, 0.0, min_ttl=250)
    down = encode_packet(ControlPacket(state=State.DOWN, my_discr=9))
    manager.receive(down, src=B, dst=A, ifname="eth7", ttl=255, multihop=False, now=0.1)
    assert any_local.session_state is State.INIT
    manager.receive(down, src=C, dst=A, ifname="eth7", ttl=249, multihop=True, now=0.1)
    assert manager.drops[DropReason.BAD_TTL] == 1 and multihop.session_state is State.DOWN
    manager.receive(down, src=C, dst=A, ifname="eth7", ttl=250, multihop=True, now=0.1)
    assert multihop.session_state is State.INIT


def test_remove_sends_admin_down_and_frees_the_discriminator() -> None:
    manager = SessionManager(random.Random(1))
    key = SessionKey(peer=B)
    session = manager.add(key, CFG, 0.0)
    out = manager.remove(key, 1.0)
    (sent,) = [decode_packet(a.data) for _, a in out if isinstance(a, Transmit)]
    assert sent.state is State.ADMIN_DOWN
    assert manager.get(key) is None and len(manager) == 0
    assert manager.next_deadline() is None
    down = encode_packet(ControlPacket(state=State.UP, my_discr=9, your_discr=session.local_discr))
    manager.receive(down, src=B, dst=None, ifname=None, ttl=None, multihop=False, now=2.0)
    assert manager.drops[DropReason.UNKNOWN_YOUR_DISCR] == 1


def test_many_sessions_one_heap() -> None:
    manager = SessionManager(random.Random(1))
    for i in range(2000):
        manager.add(SessionKey(peer=ipaddress.ip_address(f"10.{i // 250}.{i % 250}.1")), CFG, 0.0)
    transmits = 0
    now = 0.0
    while True:
        deadline = manager.next_deadline()
        assert deadline is not None
        if deadline > 3.0:
            break
        now = deadline
        transmits += sum(isinstance(a, Transmit) for _, a in manager.on_timer(now))
    # Down sessions transmit once per 0.75-1 s: about 3 each in 3 s, not one per heap entry.
    assert 2000 * 3 <= transmits <= 2000 * 4 + 1


@given(st.binary(max_size=64), st.integers(0, 255))
@settings(max_examples=500, deadline=None)
def test_garbage_is_counted_never_raised(data: bytes, ttl: int) -> None:
    manager = SessionManager(random.Random(1))
    manager.add(SessionKey(peer=B), CFG, 0.0)
    manager.receive(data, src=B, dst=A, ifname="eth0", ttl=ttl, multihop=False, now=1.0)
    assert manager.received == 1
