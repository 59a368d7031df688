"""BFD timer arithmetic (RFC 5880 sections 6.8.2-6.8.4, 6.8.7): pure functions of negotiated values.

Owns: the negotiated transmit interval, the jitter rule, and the Detection Time formula. Never does:
keep state, read a clock, or draw randomness itself (the caller injects a `random.Random`).
All values are microseconds, as on the wire, except `jittered` which returns seconds for the loop.
"""

from __future__ import annotations

import random

US = 1_000_000


def tx_interval_us(desired_min_tx: int, remote_min_rx: int) -> int:
    """6.8.7: the interval between periodic packets is the larger of bfd.DesiredMinTxInterval and
    bfd.RemoteMinRxInterval. 0 means "do not transmit periodically" (the remote asked for none)."""
    if remote_min_rx == 0:
        return 0
    return max(desired_min_tx, remote_min_rx)


def jittered_s(interval_us: int, detect_mult: int, rng: random.Random) -> float:
    """6.8.7: reduce the interval by a random 0-25% (75-100% of it); with bfd.DetectMult 1 the interval
    MUST be no more than 90% and no less than 75% of the negotiated one."""
    high = 0.9 if detect_mult == 1 else 1.0
    return interval_us * rng.uniform(0.75, high) / US


def detection_time_us(remote_detect_mult: int, required_min_rx: int, remote_desired_min_tx: int) -> int:
    """6.8.4, asynchronous mode: the remote's Detect Mult times the larger of our
    bfd.RequiredMinRxInterval and the last received Desired Min TX Interval."""
    return remote_detect_mult * max(required_min_rx, remote_desired_min_tx)
