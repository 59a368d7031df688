"""One BFD session as a sans-IO state machine (RFC 5880 section 6).

Owns: the state variables of RFC 5880 section 6.8.1 under their RFC names, the three-way handshake
(6.2), the reception procedure after the packet-only checks (6.8.6), Poll/Final for parameter
changes (6.5, 6.8.3), Detection Time (6.8.4), periodic transmission with jitter and the 1 s slow rate
while not Up (6.8.3, 6.8.7), diagnostics and administrative down (6.8.16). Events go in with an
injected `now` (seconds, any monotonic origin); actions come out; `next_deadline()` is the one
absolute time the caller must wake the session at. Never does: I/O, reading a clock, or drawing
randomness from anything but the injected `random.Random`.

Demand mode is refused politely: we never set the D bit, so a peer never stops sending to us; a
peer that sets D is recorded in `remote_demand_mode` and keeps receiving our periodic packets,
which RFC 5880 allows (6.6: Demand mode is negotiated per direction and each side may decline).
"""

from __future__ import annotations

import dataclasses
import random

from pybfd.auth import AuthState, BfdAuth, sign, verify
from pybfd.constants import SLOW_TX_INTERVAL_US, AuthType, Diag, DropReason, State
from pybfd.packet import ControlPacket, encode_packet
from pybfd.timers import US, detection_time_us, jittered_s, tx_interval_us


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionConfig:
    """Local parameters of one session (microseconds, as RFC 5880 counts them)."""

    desired_min_tx_us: int = 300_000
    required_min_rx_us: int = 300_000
    detect_mult: int = 3
    auth: BfdAuth | None = None
    passive: bool = False  # 6.1: Passive role, send nothing until the peer is heard
    admin_down: bool = False  # start in AdminDown

    def __post_init__(self) -> None:
        if not 1 <= self.detect_mult <= 255:
            raise ValueError("detect_mult must be 1..255")
        if self.desired_min_tx_us <= 0 or self.required_min_rx_us < 0:
            raise ValueError("desired_min_tx_us must be > 0 and required_min_rx_us >= 0")


@dataclasses.dataclass(frozen=True, slots=True)
class Transmit:
    """Send these bytes to the peer now."""

    data: bytes


@dataclasses.dataclass(frozen=True, slots=True)
class StateChanged:
    """bfd.SessionState changed; `remote_state` is what the peer last said (AdminDown is not a failure)."""

    old: State
    new: State
    diag: Diag
    remote_state: State


@dataclasses.dataclass(frozen=True, slots=True)
class Dropped:
    """A received packet was discarded by a session-level check."""

    reason: DropReason


Action = Transmit | StateChanged | Dropped


class Session:
    """RFC 5880 session. All times are floats in seconds from the caller's clock."""

    def __init__(self, config: SessionConfig, *, local_discr: int, rng: random.Random, now: float) -> None:
        self.config = config
        self._rng = rng
        # RFC 5880 6.8.1 state variables.
        self.session_state = State.ADMIN_DOWN if config.admin_down else State.DOWN
        self.remote_session_state = State.DOWN
        self.local_discr = local_discr
        self.remote_discr = 0
        self.local_diag = Diag.ADMINISTRATIVELY_DOWN if config.admin_down else Diag.NO_DIAGNOSTIC
        self.desired_min_tx_interval = max(config.desired_min_tx_us, SLOW_TX_INTERVAL_US)
        self.required_min_rx_interval = config.required_min_rx_us
        self.remote_min_rx_interval = 1
        self.demand_mode = False
        self.remote_demand_mode = False
        self.detect_mult = config.detect_mult
        self.auth_type = config.auth.auth_type if config.auth is not None else AuthType.RESERVED
        self.auth_state = AuthState.initial(rng)
        # What the last received packet said (needed for 6.8.4).
        self.remote_detect_mult = 0
        self.remote_desired_min_tx = 0
        # Values in force for our own timers while a Poll Sequence is pending (6.8.3).
        self._tx_in_use = self.desired_min_tx_interval
        self._rx_in_use = self.required_min_rx_interval
        self._advertised_tx = self.desired_min_tx_interval
        self._advertised_rx = self.required_min_rx_interval
        self.poll_active = False
        self._repoll = False
        self._last_rx: float | None = None
        self._last_tx: float | None = None
        self._next_tx: float | None = now + rng.uniform(0.0, 0.05)
        self._detect_deadline: float | None = None
        self.packets_sent = 0
        self.packets_received = 0
        self.drops: dict[DropReason, int] = {}
        self.transitions = 0

    # ------------------------------------------------------------------ queries
    def next_deadline(self) -> float | None:
        """The absolute time at which `on_timer` must be called, or None when nothing is pending."""
        tx, det = self._next_tx, self._detect_deadline
        if tx is None:
            return det
        if det is None:
            return tx
        return tx if tx < det else det

    def detection_time_us(self) -> int:
        """Current Detection Time (6.8.4), 0 before the peer has been heard."""
        if self.remote_detect_mult == 0:
            return 0
        return detection_time_us(self.remote_detect_mult, self._rx_in_use, self.remote_desired_min_tx)

    def tx_interval_us(self) -> int:
        """Current negotiated periodic transmit interval before jitter (0: not transmitting)."""
        return tx_interval_us(self._tx_in_use, self.remote_min_rx_interval)

    # ------------------------------------------------------------------ events
    def receive(self, packet: ControlPacket, raw: bytes, now: float) -> list[Action]:
        """A packet that passed `decode_packet` and was demultiplexed to this session (6.8.6 onward)."""
        actions: list[Action] = []
        # 6.8.1: bfd.AuthSeqKnown goes back to 0 after 2x Detection Time without a packet.
        if self._last_rx is not None and now - self._last_rx > 2 * self.detection_time_us() / US:
            self.auth_state.auth_seq_known = False
        reason = verify(raw, packet, self.config.auth, self.auth_state)
        if reason is not None:
            self.drops[reason] = self.drops.get(reason, 0) + 1
            return [Dropped(reason)]
        self.packets_received += 1
        # 6.8.6: set bfd.RemoteDiscr, bfd.RemoteState, bfd.RemoteDemandMode, bfd.RemoteMinRxInterval.
        self.remote_discr = packet.my_discr
        self.remote_session_state = packet.state
        self.remote_demand_mode = packet.demand
        old_remote_rx = self.remote_min_rx_interval
        self.remote_min_rx_interval = packet.required_min_rx_interval
        self.remote_detect_mult = packet.detect_mult
        self.remote_desired_min_tx = packet.desired_min_tx_interval
        # 6.8.6: If the Final (F) bit is set and the local system has a Poll Sequence in progress, it
        # MUST terminate the Poll Sequence.
        if packet.final and self.poll_active:
            self._finish_poll(now)
        # 6.8.2 / 6.8.4: the new remote values change our transmit interval and Detection Time.
        self._last_rx = now
        self._detect_deadline = now + self.detection_time_us() / US
        if self.remote_min_rx_interval != old_remote_rx:
            self._reschedule_tx(now)
        # 6.8.6: If bfd.SessionState is AdminDown, discard the packet.
        if self.session_state is State.ADMIN_DOWN:
            return actions
        match (self.session_state, packet.state):
            case (State.DOWN, State.ADMIN_DOWN):
                pass
            case (_, State.ADMIN_DOWN):
                # 6.8.6: received AdminDown: if not Down, bfd.LocalDiag = 3, state Down.
                self._set_state(State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, now, actions)
            case (State.DOWN, State.DOWN):
                self._set_state(State.INIT, self.local_diag, now, actions)
            case (State.DOWN, State.INIT) | (State.INIT, State.INIT | State.UP):
                self._set_state(State.UP, self.local_diag, now, actions)
            case (State.UP, State.DOWN):
                self._set_state(State.DOWN, Diag.NEIGHBOR_SIGNALED_SESSION_DOWN, now, actions)
            case _:
                pass  # (Down, Up), (Init, Down), (Up, Init|Up): no change (6.2 state diagram)
        # 6.8.7: a Poll is answered with a packet carrying F (and not P) as soon as practicable.
        if packet.poll:
            actions.append(Transmit(self._build(now, final=True)))
        return actions

    def on_timer(self, now: float) -> list[Action]:
        """Wake-up at or after `next_deadline()`: Detection Time expiry and periodic transmission."""
        actions: list[Action] = []
        if self._detect_deadline is not None and now >= self._detect_deadline:
            self._detect_deadline = None
            # 6.8.4: Detection Time passed in Init or Up: Down with diag 1.
            if self.session_state in (State.INIT, State.UP):
                self._set_state(State.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED, now, actions)
            # 6.8.1: bfd.RemoteDiscr MUST be set to zero if Detection Time passes without a packet.
            self.remote_discr = 0
            self.remote_session_state = State.DOWN
            self.remote_min_rx_interval = 1
        if self._next_tx is not None and now >= self._next_tx:
            if self._may_transmit():
                actions.append(Transmit(self._build(now, final=False)))
            interval = self.tx_interval_us()
            self._next_tx = now + jittered_s(interval, self.detect_mult, self._rng) if interval else None
        return actions

    def admin_down(self, now: float, diag: Diag = Diag.ADMINISTRATIVELY_DOWN) -> list[Action]:
        """6.8.16: hold the session in AdminDown; the peer is told (state AdminDown) at once."""
        actions: list[Action] = []
        if self.session_state is State.ADMIN_DOWN:
            return actions
        self._set_state(State.ADMIN_DOWN, diag, now, actions)
        self._detect_deadline = None
        return actions

    def admin_up(self, now: float) -> list[Action]:
        """Leave AdminDown for Down; the handshake starts again."""
        actions: list[Action] = []
        if self.session_state is State.ADMIN_DOWN:
            self._set_state(State.DOWN, Diag.NO_DIAGNOSTIC, now, actions)
        return actions

    def set_parameters(
        self, now: float, *, desired_min_tx_us: int, required_min_rx_us: int, detect_mult: int
    ) -> list[Action]:
        """Change timers at run time (6.8.3): a Poll Sequence carries the new values to the peer."""
        self.config = dataclasses.replace(
            self.config,
            desired_min_tx_us=desired_min_tx_us,
            required_min_rx_us=required_min_rx_us,
            detect_mult=detect_mult,
        )
        self.detect_mult = detect_mult
        self.required_min_rx_interval = required_min_rx_us
        self.desired_min_tx_interval = self._wanted_tx()
        self._parameters_changed(now)
        return []

    # ------------------------------------------------------------------ internals
    def _wanted_tx(self) -> int:
        # 6.8.3: while not Up, bfd.DesiredMinTxInterval MUST be at least one second.
        if self.session_state is State.UP:
            return self.config.desired_min_tx_us
        return max(self.config.desired_min_tx_us, SLOW_TX_INTERVAL_US)

    def _may_transmit(self) -> bool:
        # 6.8.7: a Passive system MUST NOT transmit while bfd.RemoteDiscr is zero.
        return not (self.config.passive and self.remote_discr == 0)

    def _set_state(self, new: State, diag: Diag, now: float, actions: list[Action]) -> None:
        old = self.session_state
        self.session_state = new
        self.local_diag = diag
        self.transitions += 1
        actions.append(StateChanged(old, new, diag, self.remote_session_state))
        # Up <-> not Up moves bfd.DesiredMinTxInterval between the configured value and >= 1 s, and
        # leaving Up must also drop any value still waiting behind a Poll (6.8.3).
        self.desired_min_tx_interval = self._wanted_tx()
        self._parameters_changed(now)
        # Tell the peer at once rather than at the next periodic slot: halves handshake time.
        # (6.8.7: not when the peer asked for no packets at all.)
        if self._may_transmit() and self.tx_interval_us() != 0:
            actions.append(Transmit(self._build(now, final=False)))
            self._reschedule_tx(now)

    def _parameters_changed(self, now: float) -> None:
        """6.8.3: start a Poll Sequence for new interval values, honouring the in-use rules."""
        up = self.session_state is State.UP
        if self.poll_active and up:
            self._repoll = True  # a new Poll Sequence waits for the current one (6.8.3)
            return
        # (Not Up: nothing depends on the old values, so the new ones are advertised at once, even
        # in the middle of a Poll Sequence; 6.8.3's 1 s floor must hold in every packet.)
        tx, rx = self.desired_min_tx_interval, self.required_min_rx_interval
        if tx == self._advertised_tx and rx == self._advertised_rx:
            return
        self._advertised_tx, self._advertised_rx = tx, rx
        self._repoll = False
        # 6.8.3: an increased DesiredMinTxInterval MUST NOT be used until the Poll completes (when Up);
        # a decrease is safe at once. A reduced RequiredMinRxInterval MUST NOT shorten the Detection
        # Time until the Poll completes; an increase applies at once (the peer may slow down now).
        if not up or tx < self._tx_in_use:
            self._tx_in_use = tx
        if not up or rx > self._rx_in_use:
            self._rx_in_use = rx
        self.poll_active = True
        self._reschedule_tx(now, soon=True)
        self._refresh_detection()

    def _finish_poll(self, now: float) -> None:
        self.poll_active = False
        self._tx_in_use = self._advertised_tx
        self._rx_in_use = self._advertised_rx
        if self._repoll:
            self._repoll = False
            self._parameters_changed(now)

    def _refresh_detection(self) -> None:
        if self._last_rx is not None and self._detect_deadline is not None:
            self._detect_deadline = self._last_rx + self.detection_time_us() / US

    def _reschedule_tx(self, now: float, soon: bool = False) -> None:
        interval = self.tx_interval_us()
        if interval == 0:
            # 6.8.7: the peer asked for no packets (Required Min RX Interval 0).
            self._next_tx = None
            return
        if soon:
            self._next_tx = now
            return
        base = self._last_tx if self._last_tx is not None else now
        self._next_tx = max(now, base + jittered_s(interval, self.detect_mult, self._rng))

    def _build(self, now: float, *, final: bool) -> bytes:
        packet = ControlPacket(
            diag=self.local_diag,
            state=self.session_state,
            poll=self.poll_active and not final,
            final=final,
            demand=False,
            detect_mult=self.detect_mult,
            my_discr=self.local_discr,
            your_discr=self.remote_discr,
            desired_min_tx_interval=self._advertised_tx,
            required_min_rx_interval=self._advertised_rx,
            required_min_echo_rx_interval=0,
        )
        self.packets_sent += 1
        self._last_tx = now
        if self.config.auth is None:
            return encode_packet(packet)
        return sign(packet, self.config.auth, self.auth_state)
