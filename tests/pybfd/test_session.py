"""The sans-IO session in virtual time: every transition of RFC 5880 6.2/6.8.6 and every timer rule."""

from __future__ import annotations

import dataclasses
import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybfd.auth import BfdAuth, BfdKey
from pybfd.constants import AuthType, Diag, DropReason, State
from pybfd.engine import BfdStateChange
from pybfd.manager import SessionKey
from pybfd.packet import ControlPacket, decode_packet, encode_packet
from pybfd.session import Session, SessionConfig, StateChanged, Transmit
from pybfd.testing import VirtualPair

FAST = SessionConfig(desired_min_tx_us=50_000, required_min_rx_us=50_000, detect_mult=3)


def _changes(pair: VirtualPair, side: str) -> list[tuple[State, State, Diag]]:
    return [(e.change.old, e.change.new, e.change.diag) for e in pair.events if e.side == side]


def test_three_way_handshake() -> None:
    pair = VirtualPair(FAST)
    pair.run_until_up()
    a, b = _changes(pair, "a"), _changes(pair, "b")
    # One side sees Down -> Init -> Up, the other Down -> Up (it received Init): 6.2.
    paths = sorted([[c[1] for c in a], [c[1] for c in b]], key=len)
    assert paths == [[State.UP], [State.INIT, State.UP]]
    assert pair.a.remote_discr == pair.b.local_discr and pair.b.remote_discr == pair.a.local_discr


def test_slow_rate_while_not_up() -> None:
    """6.8.3: not Up -> DesiredMinTxInterval >= 1 s, and packets no faster than that."""
    rng = random.Random(3)
    session = Session(FAST, local_discr=1, rng=rng, now=0.0)
    times = []
    now = 0.0
    for _ in range(20):
        deadline = session.next_deadline()
        assert deadline is not None
        now = deadline
        for action in session.on_timer(now):
            if isinstance(action, Transmit):
                times.append(now)
                packet = decode_packet(action.data)
                assert packet.desired_min_tx_interval == 1_000_000
                assert packet.required_min_rx_interval == 50_000
                assert packet.your_discr == 0 and packet.state is State.DOWN
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert len(gaps) >= 15
    assert all(0.75 - 1e-9 <= g <= 1.0 + 1e-9 for g in gaps)


def test_poll_sequence_after_up_switches_to_fast_rate() -> None:
    pair = VirtualPair(FAST)
    t = pair.run_until_up()
    polls = [decode_packet(d) for d in pair.sent["a"] + pair.sent["b"]]
    assert any(p.poll for p in polls), "the switch from 1 s to 50 ms is announced with a Poll"
    assert not any(p.poll and p.final for p in polls)
    pair.run_until(t + 1)
    for s in (pair.a, pair.b):
        assert not s.poll_active
        assert s.tx_interval_us() == 50_000
        assert s.detection_time_us() == 150_000
    start = len(pair.sent["a"])
    pair.run_until(pair.now + 2)
    sent = len(pair.sent["a"]) - start
    # 2 s at 50 ms with 75-100% jitter: 40..53 packets.
    assert 40 <= sent <= 54


@pytest.mark.parametrize(("mult", "low", "high"), [(3, 0.75, 1.0), (1, 0.75, 0.9)])
def test_jitter(mult: int, low: float, high: float) -> None:
    """6.8.7: intervals are 75-100% of the negotiated one, or 75-90% with Detect Mult 1."""
    config = dataclasses.replace(FAST, detect_mult=mult)
    pair = VirtualPair(config, seed=9, delay=0.0001)
    t = pair.run_until_up()
    pair.run_until(t + 1)  # Poll done
    mark = len(pair.sent["a"])
    times: list[float] = []
    session = pair.a
    end = pair.now + 5
    while pair.now < end:
        before = len(pair.sent["a"])
        deadline = min(x for x in (session.next_deadline(), pair.b.next_deadline(), end) if x is not None)
        pair.run_until(deadline)
        if len(pair.sent["a"]) > before:
            times.append(pair.now)
    assert len(pair.sent["a"]) > mark
    gaps = [(b - a) / 0.05 for a, b in itertools.pairwise(times)]
    assert len(gaps) > 50
    assert min(gaps) >= low - 1e-6 and max(gaps) <= high + 1e-6
    assert max(gaps) - min(gaps) > (high - low) / 2, "jitter is actually random"


def test_detection_time_expiry_after_silent_cut() -> None:
    pair = VirtualPair(FAST, delay=0.0005)
    t = pair.run_until_up()
    pair.run_until(t + 2)
    last_rx_a = pair.now
    pair.cut()
    pair.run_until(pair.now + 1)
    downs = [e for e in pair.events if e.change.new is State.DOWN]
    assert {e.side for e in downs} == {"a", "b"}
    for e in downs:
        assert e.change.diag is Diag.CONTROL_DETECTION_TIME_EXPIRED
        # Detected within 3 x 50 ms of the last packet (which came at most 50 ms before the cut).
        assert last_rx_a <= e.at <= last_rx_a + 0.15 + 0.001
    # 6.8.1: the remote discriminator is forgotten once Detection Time passes.
    assert pair.a.remote_discr == 0 and pair.b.remote_discr == 0
    change = BfdStateChange(
        key=SessionKey(peer=__import__("ipaddress").ip_address("192.0.2.1")),
        peer=__import__("ipaddress").ip_address("192.0.2.1"),
        old_state=downs[0].change.old,
        new_state=downs[0].change.new,
        diag=downs[0].change.diag,
        at=downs[0].at,
        remote_state=downs[0].change.remote_state,
    )
    assert change.is_failure
    pair.restore()
    pair.run_until_up(10)


def test_one_way_cut_brings_both_down() -> None:
    """Only a -> b lost: b detects, then tells a (diag 3 Neighbor Signaled Session Down)."""
    pair = VirtualPair(FAST)
    t = pair.run_until_up()
    pair.run_until(t + 1)
    pair.cut(both=False)
    pair.run_until(pair.now + 1)
    assert (State.UP, State.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED) in _changes(pair, "b")
    assert (State.UP, State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN) in _changes(pair, "a")


def test_admin_down_is_not_a_failure_and_recovers() -> None:
    pair = VirtualPair(FAST)
    t = pair.run_until_up()
    pair.run_until(t + 1)
    pair.apply("a", pair.a.admin_down(pair.now))
    pair.run_until(pair.now + 0.5)
    assert pair.states() == (State.ADMIN_DOWN, State.DOWN)
    assert pair.a.local_diag is Diag.ADMINISTRATIVELY_DOWN
    (down,) = [e for e in pair.events if e.side == "b" and e.change.new is State.DOWN]
    assert down.change.diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN
    assert down.change.remote_state is State.ADMIN_DOWN
    ip = __import__("ipaddress").ip_address("192.0.2.1")
    seen = BfdStateChange(
        key=SessionKey(peer=ip),
        peer=ip,
        old_state=State.UP,
        new_state=State.DOWN,
        diag=down.change.diag,
        at=down.at,
        remote_state=down.change.remote_state,
    )
    assert not seen.is_failure
    # AdminDown persists: a discards b's packets (6.8.6), b stays Down while a says AdminDown.
    pair.run_until(pair.now + 5)
    assert pair.states() == (State.ADMIN_DOWN, State.DOWN)
    pair.apply("a", pair.a.admin_up(pair.now))
    pair.run_until_up(10)


def test_passive_role_waits_for_the_peer() -> None:
    passive = dataclasses.replace(FAST, passive=True)
    pair = VirtualPair(passive, passive)
    pair.run_until(10)
    assert pair.sent == {"a": [], "b": []}, "6.8.7: a passive system never speaks first"
    pair = VirtualPair(FAST, passive)
    pair.run_until_up(5)


def test_timer_increase_waits_for_final() -> None:
    """6.8.3: a larger DesiredMinTxInterval is used only once the Poll Sequence completes."""
    pair = VirtualPair(FAST)
    t = pair.run_until_up()
    pair.run_until(t + 1)
    pair.cut_ba = True  # b's Final cannot reach a
    pair.apply(
        "a",
        pair.a.set_parameters(pair.now, desired_min_tx_us=200_000, required_min_rx_us=50_000, detect_mult=3),
    )
    pair.run_until(pair.now + 0.1)
    assert pair.a.poll_active and pair.a.tx_interval_us() == 50_000
    sent = [decode_packet(d) for d in pair.sent["a"][-2:]]
    assert all(p.poll and p.desired_min_tx_interval == 200_000 for p in sent)
    pair.cut_ba = False
    pair.run_until(pair.now + 0.3)
    assert not pair.a.poll_active and pair.a.tx_interval_us() == 200_000
    # b's detection of a follows the new interval: 3 x 200 ms.
    assert pair.b.detection_time_us() == 600_000
    assert pair.states() == (State.UP, State.UP)


def test_rx_decrease_keeps_detection_until_final() -> None:
    pair = VirtualPair(dataclasses.replace(FAST, required_min_rx_us=100_000))
    t = pair.run_until_up()
    pair.run_until(t + 1)
    assert pair.a.detection_time_us() == 300_000
    pair.cut_ba = True
    pair.apply(
        "a",
        pair.a.set_parameters(pair.now, desired_min_tx_us=50_000, required_min_rx_us=20_000, detect_mult=3),
    )
    assert pair.a.detection_time_us() == 300_000  # old RequiredMinRx until the Poll completes
    pair.cut_ba = False
    pair.run_until(pair.now + 0.2)
    assert pair.a.detection_time_us() == 150_000  # now max(20 ms, b's 50 ms tx) x 3


def test_rx_increase_applies_at_once() -> None:
    pair = VirtualPair(FAST)
    t = pair.run_until_up()
    pair.run_until(t + 1)
    pair.apply(
        "a",
        pair.a.set_parameters(pair.now, desired_min_tx_us=50_000, required_min_rx_us=500_000, detect_mult=3),
    )
    assert pair.a.detection_time_us() == 1_500_000
    pair.run_until(pair.now + 2)
    assert pair.b.tx_interval_us() == 500_000  # b slows down to what a can receive (6.8.2)
    assert pair.states() == (State.UP, State.UP)


def test_poll_answered_at_once_with_final() -> None:
    session = Session(FAST, local_discr=5, rng=random.Random(1), now=0.0)
    poll = ControlPacket(state=State.DOWN, poll=True, my_discr=77, your_discr=0, detect_mult=3)
    raw = encode_packet(poll)
    actions = session.receive(poll, raw, 0.01)
    finals = [
        decode_packet(a.data) for a in actions if isinstance(a, Transmit) and decode_packet(a.data).final
    ]
    assert len(finals) == 1
    assert not finals[0].poll and finals[0].your_discr == 77


def test_remote_min_rx_zero_stops_periodic_transmission() -> None:
    session = Session(FAST, local_discr=5, rng=random.Random(1), now=0.0)
    quiet = ControlPacket(state=State.DOWN, my_discr=77, detect_mult=3, required_min_rx_interval=0)
    actions = session.receive(quiet, encode_packet(quiet), 0.0)
    assert session.session_state is State.INIT
    assert not [a for a in actions if isinstance(a, Transmit)], "not even the state-change packet"
    # Only the Detection Time (3 x max(50 ms, the peer's 1 s)) remains to wake us.
    assert session.next_deadline() == pytest.approx(3.0)


def test_demand_mode_refused_politely() -> None:
    """A peer setting D is recorded; we never set D and keep sending periodically."""
    pair = VirtualPair(FAST)
    t = pair.run_until_up()
    pair.run_until(t + 1)
    demand = ControlPacket(
        state=State.UP,
        demand=True,
        my_discr=pair.b.local_discr,
        your_discr=pair.a.local_discr,
        detect_mult=3,
        desired_min_tx_interval=50_000,
        required_min_rx_interval=50_000,
    )
    pair.inject("a", encode_packet(demand))
    assert pair.a.remote_demand_mode
    before = len(pair.sent["a"])
    pair.run_until(pair.now + 1)
    assert len(pair.sent["a"]) - before >= 15
    assert not any(decode_packet(d).demand for d in pair.sent["a"])


def test_authenticated_pair_and_wrong_key() -> None:
    good = BfdAuth(auth_type=AuthType.METICULOUS_KEYED_SHA1, keys=(BfdKey(key_id=1, secret=b"s3cret"),))
    bad = BfdAuth(auth_type=AuthType.METICULOUS_KEYED_SHA1, keys=(BfdKey(key_id=1, secret=b"wrong"),))
    pair = VirtualPair(dataclasses.replace(FAST, auth=good))
    t = pair.run_until_up()
    # Survives a long cut: AuthSeqKnown is reset after 2x Detection Time (6.8.1), so it comes back.
    pair.run_until(t + 1)
    pair.cut()
    pair.run_until(pair.now + 5)
    pair.restore()
    pair.run_until_up(10)
    pair = VirtualPair(dataclasses.replace(FAST, auth=good), dataclasses.replace(FAST, auth=bad))
    pair.run_until(10)
    assert pair.states() == (State.DOWN, State.DOWN)
    assert pair.drops["a"] and all(d.reason is DropReason.AUTH_FAILED for d in pair.drops["a"])
    pair = VirtualPair(dataclasses.replace(FAST, auth=good), FAST)
    pair.run_until(10)
    assert pair.states() == (State.DOWN, State.DOWN)
    assert {d.reason for d in pair.drops["a"] + pair.drops["b"]} == {DropReason.AUTH_MISMATCH}


TABLE = {
    (State.DOWN, State.ADMIN_DOWN): State.DOWN,
    (State.DOWN, State.DOWN): State.INIT,
    (State.DOWN, State.INIT): State.UP,
    (State.DOWN, State.UP): State.DOWN,
    (State.INIT, State.ADMIN_DOWN): State.DOWN,
    (State.INIT, State.DOWN): State.INIT,
    (State.INIT, State.INIT): State.UP,
    (State.INIT, State.UP): State.UP,
    (State.UP, State.ADMIN_DOWN): State.DOWN,
    (State.UP, State.DOWN): State.DOWN,
    (State.UP, State.INIT): State.UP,
    (State.UP, State.UP): State.UP,
}


@pytest.mark.parametrize(("local", "remote"), list(TABLE))
def test_transition_table(local: State, remote: State) -> None:
    """RFC 5880 6.8.6, every (bfd.SessionState, received State) pair."""
    session = Session(FAST, local_discr=5, rng=random.Random(1), now=0.0)
    session.session_state = local
    packet = ControlPacket(state=remote, my_discr=77, your_discr=5, detect_mult=3)
    actions = session.receive(packet, encode_packet(packet), 1.0)
    assert session.session_state is TABLE[(local, remote)]
    changes = [a for a in actions if isinstance(a, StateChanged)]
    assert len(changes) == (0 if local is TABLE[(local, remote)] else 1)
    if local is not State.DOWN and TABLE[(local, remote)] is State.DOWN:
        assert session.local_diag is Diag.NEIGHBOR_SIGNALED_SESSION_DOWN


@pytest.mark.parametrize("remote", list(State))
def test_admin_down_discards_everything(remote: State) -> None:
    session = Session(
        dataclasses.replace(FAST, admin_down=True), local_discr=5, rng=random.Random(1), now=0.0
    )
    packet = ControlPacket(state=remote, my_discr=77, your_discr=5, detect_mult=3)
    actions = session.receive(packet, encode_packet(packet), 1.0)
    assert session.session_state is State.ADMIN_DOWN
    assert not [a for a in actions if isinstance(a, StateChanged)]


_events = st.lists(
    st.one_of(
        st.tuples(
            st.just("rx"), st.sampled_from(State), st.booleans(), st.booleans(), st.integers(0, 300_000)
        ),
        st.tuples(st.just("timer")),
        st.tuples(st.just("admin"), st.booleans()),
        st.tuples(
            st.just("params"), st.integers(1_000, 2_000_000), st.integers(0, 2_000_000), st.integers(1, 10)
        ),
        st.tuples(st.just("wait"), st.floats(0, 3)),
    ),
    max_size=60,
)


@given(_events, st.booleans())
@settings(max_examples=300, deadline=None)
def test_any_event_sequence_is_safe(events: list[tuple[object, ...]], passive: bool) -> None:
    """Totality: whatever arrives in whatever order, the session neither raises nor breaks an invariant."""
    session = Session(
        dataclasses.replace(FAST, passive=passive), local_discr=5, rng=random.Random(2), now=0.0
    )
    now = 0.0
    for event in events:
        match event:
            case ("rx", state, poll, final, rx):
                packet = ControlPacket(
                    state=state,  # type: ignore[arg-type]
                    poll=bool(poll),
                    final=bool(final) and not poll,
                    my_discr=77,
                    your_discr=5 if state not in (State.DOWN, State.ADMIN_DOWN) else 0,
                    detect_mult=3,
                    required_min_rx_interval=rx,  # type: ignore[arg-type]
                )
                actions = session.receive(packet, encode_packet(packet), now)
            case ("timer",):
                deadline = session.next_deadline()
                if deadline is not None:
                    now = max(now, deadline)
                actions = session.on_timer(now)
            case ("admin", down):
                actions = session.admin_down(now) if down else session.admin_up(now)
            case ("params", tx, rx, mult):
                actions = session.set_parameters(
                    now, desired_min_tx_us=tx, required_min_rx_us=rx, detect_mult=mult
                )  # type: ignore[arg-type]
            case ("wait", dt):
                now += dt  # type: ignore[operator]
                actions = []
            case _:
                raise AssertionError(event)
        for action in actions:
            if isinstance(action, Transmit):
                sent = decode_packet(action.data)
                assert not (sent.poll and sent.final)
                assert not sent.demand
                if session.session_state is not State.UP:
                    assert sent.desired_min_tx_interval >= 1_000_000 or sent.state is State.UP
        if session.session_state is not State.UP:
            assert session.desired_min_tx_interval >= 1_000_000
        if event[0] == "timer":
            # After being woken, the session never asks to be woken again at the same instant
            # (no busy loop), whatever state it is in.
            deadline = session.next_deadline()
            assert deadline is None or deadline > now


_pair_ops = st.lists(
    st.one_of(
        st.tuples(st.just("cut"), st.booleans()),
        st.tuples(st.just("restore")),
        st.tuples(st.just("admin"), st.sampled_from("ab"), st.booleans()),
        st.tuples(
            st.just("params"),
            st.sampled_from("ab"),
            st.integers(10_000, 2_000_000),
            st.integers(10_000, 2_000_000),
            st.integers(1, 5),
        ),
        st.tuples(st.just("run"), st.floats(0.0, 4.0)),
    ),
    max_size=25,
)


@given(_pair_ops, st.integers(0, 2**16))
@settings(max_examples=150, deadline=None)
def test_pair_always_recovers(ops: list[tuple[object, ...]], seed: int) -> None:
    """Liveness: after any mix of cuts, admin actions and timer changes, once the link is whole and
    both sides are enabled again, the pair comes back Up; and no packet ever carries P and F together."""
    pair = VirtualPair(FAST, seed=seed)
    for op in ops:
        match op:
            case ("cut", both):
                pair.cut(bool(both))
            case ("restore",):
                pair.restore()
            case ("admin", side, down):
                s = pair.session(str(side))
                pair.apply(str(side), s.admin_down(pair.now) if down else s.admin_up(pair.now))
            case ("params", side, tx, rx, mult):
                s = pair.session(str(side))
                pair.apply(
                    str(side),
                    s.set_parameters(pair.now, desired_min_tx_us=tx, required_min_rx_us=rx, detect_mult=mult),  # type: ignore[arg-type]
                )
            case ("run", dt):
                pair.run_until(pair.now + float(dt))  # type: ignore[arg-type]
    pair.restore()
    for side in "ab":
        pair.apply(side, pair.session(side).admin_up(pair.now))
    pair.run_until_up(limit=40)
    for side in "ab":
        assert not any(decode_packet(d).poll and decode_packet(d).final for d in pair.sent[side])
