"""Local discriminator allocation (RFC 5880 section 6.3, 6.8.1 bfd.LocalDiscr).

Owns: handing out nonzero 32-bit discriminators that are unique among the live sessions of one
system, drawn at random (so a restarted speaker does not reuse its old values and stale packets from
before a restart do not match), and releasing them. Never does: I/O or session state.
"""

from __future__ import annotations

import random


class DiscriminatorPool:
    """Unique, random, nonzero discriminators; `allocate` never returns one still in use."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._used: set[int] = set()

    def allocate(self) -> int:
        """6.8.1: bfd.LocalDiscr MUST be unique across all BFD sessions on this system, and nonzero."""
        for _ in range(1000):
            value = self._rng.getrandbits(32)
            if value != 0 and value not in self._used:
                self._used.add(value)
                return value
        raise RuntimeError("no free discriminator after 1000 draws")  # 2**32 values: unreachable in practice

    def release(self, value: int) -> None:
        """Forget `value` so it may be drawn again."""
        self._used.discard(value)

    def __contains__(self, value: object) -> bool:
        return value in self._used

    def __len__(self) -> int:
        return len(self._used)
