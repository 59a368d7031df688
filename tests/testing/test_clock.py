"""FakeClock: virtual time that only moves when the test says, firing deadlines in order."""

from __future__ import annotations

import pytest

from pybgp.aio.clock import Clock
from pybgp.testing.clock import FakeClock


def test_fake_clock_is_a_clock_and_fires_in_order() -> None:
    clock = FakeClock(start=100.0)
    as_protocol: Clock = clock
    assert as_protocol.now() == 100.0
    seen: list[tuple[str, float]] = []
    clock.call_at(105.0, lambda: seen.append(("b", clock.now())))
    clock.call_at(102.0, lambda: seen.append(("a", clock.now())))
    late = clock.call_later(50.0, lambda: seen.append(("never", clock.now())))
    cancelled = clock.call_at(103.0, lambda: seen.append(("cancelled", clock.now())))
    cancelled.cancel()
    assert cancelled.cancelled() and clock.next_deadline() == 102.0
    assert clock.advance(10) == 2
    assert seen == [("a", 102.0), ("b", 105.0)] and clock.now() == 110.0
    assert clock.next_deadline() == late.when == 150.0


def test_rearming_callbacks_fire_within_the_same_advance() -> None:
    clock = FakeClock()
    ticks: list[float] = []

    def tick() -> None:
        ticks.append(clock.now())
        clock.call_later(1.0, tick)

    clock.call_at(0.5, tick)
    clock.advance(3.0)
    assert ticks == [0.5, 1.5, 2.5]
    assert clock.set(10.0) == 7 and clock.now() == 10.0


def test_fake_clock_refuses_to_go_back_or_spin() -> None:
    clock = FakeClock(start=5.0)
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        clock.set(4.0)

    def spin() -> None:
        clock.call_at(clock.now(), spin)

    clock.call_at(6.0, spin)
    with pytest.raises(RuntimeError):
        clock.advance(1.0, max_callbacks=100)


def test_fake_clock_fixture(fake_clock: FakeClock) -> None:
    assert fake_clock.now() == 1000.0
