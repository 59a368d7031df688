"""Timer bookkeeping, jitter (RFC 4271 10) and BIRD-style error backoff, in virtual time."""

from __future__ import annotations

import ipaddress
import random

from hypothesis import given
from hypothesis import strategies as st

from pybgp.fsm.collision import keep_locally_initiated
from pybgp.fsm.events import EventType
from pybgp.fsm.timers import ErrorBackoff, Timers, jitter


@given(st.floats(min_value=0.001, max_value=1e6), st.integers(0, 2**32))
def test_jitter_within_rfc_range(seconds: float, seed: int) -> None:
    value = jitter(random.Random(seed), seconds)
    assert 0.75 * seconds - 1e-9 <= value <= seconds


def test_timers_single_deadline_and_order() -> None:
    t = Timers(connect_retry=30.0, hold=10.0, keepalive=5.0)
    assert t.next_deadline() == 5.0
    assert t.pop_expired(4.9) == []
    assert t.pop_expired(10.0) == [EventType.KEEPALIVE_TIMER_EXPIRES, EventType.HOLD_TIMER_EXPIRES]
    assert t.next_deadline() == 30.0
    t.stop_all()
    assert t.next_deadline() is None


def test_error_backoff_bird_semantics() -> None:
    b = ErrorBackoff(minimum=3, maximum=300, forget=300)
    delays = [b.next_delay(now) for now in (0, 10, 20, 30, 40, 50, 60, 70, 80)]
    assert delays == [3, 6, 12, 24, 48, 96, 192, 300, 300]
    # A quiet period longer than the forget time starts again at the minimum.
    assert b.next_delay(80 + 301) == 3


def test_error_backoff_quick_first_retry_then_backs_off() -> None:
    b = ErrorBackoff(minimum=3, maximum=300, forget=300)
    assert b.next_delay(0, retry_after=1.0) == 1.0  # BFD Down: retry fast
    assert b.next_delay(5, retry_after=1.0) == 3  # then back off
    assert b.next_delay(10, retry_after=1.0) == 6


def test_collision_rule() -> None:
    hi, lo = ipaddress.IPv4Address("10.0.0.9"), ipaddress.IPv4Address("10.0.0.1")
    assert keep_locally_initiated(hi, lo, 1, 2)
    assert not keep_locally_initiated(lo, hi, 1, 2)
    # RFC 6286: equal identifiers, the larger AS's connection survives.
    assert keep_locally_initiated(hi, hi, 3, 2)
    assert not keep_locally_initiated(hi, hi, 2, 3)
