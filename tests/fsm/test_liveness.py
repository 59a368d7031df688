"""Liveness of two FSMs back to back: whatever faults happen (silent cuts, refused connects, resets,
BFD Downs, stops of the peer), once the network heals both sessions reach Established by themselves
within the backoff bounds, and no state is ever left without a way out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybgp.fsm import events as ev
from pybgp.fsm.states import State
from pybgp.wire.constants import CeaseSubcode

MakePair = Callable[..., Any]

faults = st.lists(
    st.tuples(
        st.sampled_from(["cut", "heal", "refuse", "accept", "reset_a", "reset_b", "bfd_a", "advance"]),
        st.floats(0.0, 40.0),
    ),
    max_size=20,
)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(faults, st.booleans())
def test_sessions_always_come_back_after_healing(
    make_pair: MakePair, steps: list[Any], b_active: bool
) -> None:
    timers = {"hold_time": 9, "connect_retry_time": 5, "error_wait_min": 1, "error_wait_max": 20}
    p = make_pair(a_kw=dict(timers), b_kw={**timers, "passive": not b_active})
    p.start()
    for what, dt in steps:
        if what == "cut":
            p.cut = True
        elif what == "heal":
            p.heal()
        elif what == "refuse":
            p.refuse = True
        elif what == "accept":
            p.refuse = False
        elif what == "reset_a":
            p.feed(p.a, ev.AutomaticStop())
        elif what == "reset_b":
            p.feed(p.b, ev.AutomaticStop(subcode=CeaseSubcode.OTHER_CONFIGURATION_CHANGE))
        elif what == "bfd_a":
            p.feed(p.a, ev.AutomaticStop(subcode=CeaseSubcode.BFD_DOWN, retry_after=1.0))
        p.advance(dt)
    p.heal()
    p.refuse = False
    # Bound: error wait max (20) + connect retry (5) + hold (9) of a half-dead session, with slack.
    p.advance(60)
    assert p.a.state is State.ESTABLISHED and p.b.state is State.ESTABLISHED, (p.a.state, p.b.state)
    assert p.a.session.connection == p.b.session.connection
