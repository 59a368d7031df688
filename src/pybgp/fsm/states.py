"""The six states of the BGP finite state machine (RFC 4271 section 8.2.2).

Owns: `State`. Never does: transitions (that table lives in `session.py`).
"""

from __future__ import annotations

from enum import Enum


class State(Enum):
    """RFC 4271 section 8.2.2 states, valued with the RFC's spelling (used in logs and `pybgpctl`)."""

    IDLE = "Idle"
    CONNECT = "Connect"
    ACTIVE = "Active"
    OPENSENT = "OpenSent"
    OPENCONFIRM = "OpenConfirm"
    ESTABLISHED = "Established"

    def __str__(self) -> str:
        return self.value
