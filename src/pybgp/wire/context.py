"""The negotiated facts a session's codec needs, as one explicit object (STYLE rule 6).

Owns: `WireContext`, built by the FSM from both OPENs (see `pybgp.fsm.negotiate`) and passed to
every decode/encode call. Never does: negotiation itself, or hold mutable per-session state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pybgp.wire.constants import MAX_EXTENDED_MESSAGE_LEN, MAX_MESSAGE_LEN

Family = tuple[int, int]
"""An (AFI, SAFI) pair."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WireContext:
    """How to read and write messages on one session.

    `addpath_rx` lists the families whose NLRI *we receive* with path identifiers, `addpath_tx` those we
    send with them (RFC 7911 section 4). `ibgp` decides RFC 7606 treatment of LOCAL_PREF and friends.
    The default is the pre-OPEN context: 2-octet AS fields are read as RFC 4271 wrote them only
    when `as4` is False, so the FSM builds a context with `as4=False` if the peer lacks the capability.
    """

    as4: bool = True
    extended_message: bool = False
    ibgp: bool = False
    addpath_rx: frozenset[Family] = field(default_factory=frozenset)
    addpath_tx: frozenset[Family] = field(default_factory=frozenset)
    extended_nexthop: frozenset[Family] = field(default_factory=frozenset)

    @property
    def max_message_len(self) -> int:
        return MAX_EXTENDED_MESSAGE_LEN if self.extended_message else MAX_MESSAGE_LEN


DEFAULT_CONTEXT = WireContext()
