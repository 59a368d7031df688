"""Many BFD sessions behind one demultiplexer and one timer (sans-IO).

Owns: the session table, demultiplexing of received packets (RFC 5880 6.8.6: by Your Discriminator
when nonzero, otherwise by source/destination address, interface and hop mode, as RFC 5881 section 3
and RFC 5883 section 3 say), the TTL rules of RFC 5881 section 5 and RFC 5883 section 2, drop
counters by `DropReason`, and a heap of session deadlines so thousands of sessions cost one wake-up
per due event rather than one timer each. Never does: I/O or reading a clock (`now` is injected).
"""

from __future__ import annotations

import dataclasses
import heapq
import ipaddress
import random
from collections import Counter
from collections.abc import Iterator

from pybfd.constants import SINGLE_HOP_TTL, Diag, DropReason
from pybfd.discriminators import DiscriminatorPool
from pybfd.packet import PacketError, decode_packet
from pybfd.session import Action, Dropped, Session, SessionConfig, Transmit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class SessionKey:
    """What identifies a session to its owner: the peer, our address, the interface, the hop mode."""

    peer: IPAddress
    local: IPAddress | None = None
    interface: str | None = None
    multihop: bool = False

    def __str__(self) -> str:
        via = f"%{self.interface}" if self.interface else ""
        mode = "multihop" if self.multihop else "single-hop"
        return f"{self.peer}{via} from {self.local or '*'} ({mode})"


@dataclasses.dataclass(slots=True)
class _Entry:
    key: SessionKey
    session: Session
    min_ttl: int
    scheduled: float | None = None


class SessionManager:
    """Session table + demultiplexer + deadline heap. Every method returns `(key, action)` pairs."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._pool = DiscriminatorPool(rng)
        self._by_key: dict[SessionKey, _Entry] = {}
        self._by_discr: dict[int, _Entry] = {}
        self._heap: list[tuple[float, int, int]] = []  # (deadline, seq, local_discr)
        self._seq = 0
        self.drops: Counter[DropReason] = Counter()
        self.received = 0

    # ------------------------------------------------------------------ table
    def add(
        self, key: SessionKey, config: SessionConfig, now: float, *, min_ttl: int | None = None
    ) -> Session:
        """Create a session. `min_ttl` defaults to 255 single-hop (RFC 5881) and 1 multihop (RFC 5883:
        the check is configuration; 254 or so is usual for one router in between)."""
        if key in self._by_key:
            raise KeyError(f"session {key} exists")
        discr = self._pool.allocate()
        session = Session(config, local_discr=discr, rng=self._rng, now=now)
        ttl = min_ttl if min_ttl is not None else (1 if key.multihop else SINGLE_HOP_TTL)
        entry = _Entry(key, session, ttl)
        self._by_key[key] = entry
        self._by_discr[discr] = entry
        self._schedule(entry)
        return session

    def remove(self, key: SessionKey, now: float) -> list[tuple[SessionKey, Action]]:
        """Delete a session, first telling the peer AdminDown so it does not count this as a failure."""
        entry = self._by_key.pop(key, None)
        if entry is None:
            return []
        del self._by_discr[entry.session.local_discr]
        self._pool.release(entry.session.local_discr)
        actions = entry.session.admin_down(now, Diag.ADMINISTRATIVELY_DOWN)
        return [(key, a) for a in actions if isinstance(a, Transmit)]

    def get(self, key: SessionKey) -> Session | None:
        """The session for `key`, if any."""
        entry = self._by_key.get(key)
        return entry.session if entry is not None else None

    def items(self) -> Iterator[tuple[SessionKey, Session]]:
        """All sessions."""
        for key, entry in self._by_key.items():
            yield key, entry.session

    def __len__(self) -> int:
        return len(self._by_key)

    # ------------------------------------------------------------------ events
    def admin(self, key: SessionKey, down: bool, now: float) -> list[tuple[SessionKey, Action]]:
        """Put one session in or out of AdminDown."""
        entry = self._by_key[key]
        actions = entry.session.admin_down(now) if down else entry.session.admin_up(now)
        self._schedule(entry)
        return [(key, a) for a in actions]

    def set_parameters(
        self,
        key: SessionKey,
        now: float,
        *,
        desired_min_tx_us: int,
        required_min_rx_us: int,
        detect_mult: int,
    ) -> list[tuple[SessionKey, Action]]:
        """Change one session's timers (a Poll Sequence follows)."""
        entry = self._by_key[key]
        actions = entry.session.set_parameters(
            now,
            desired_min_tx_us=desired_min_tx_us,
            required_min_rx_us=required_min_rx_us,
            detect_mult=detect_mult,
        )
        self._schedule(entry)
        return [(key, a) for a in actions]

    def receive(
        self,
        data: bytes,
        *,
        src: IPAddress,
        dst: IPAddress | None,
        ifname: str | None,
        ttl: int | None,
        multihop: bool,
        now: float,
    ) -> list[tuple[SessionKey, Action]]:
        """One received datagram: decode, check, demultiplex, hand to the session."""
        self.received += 1
        try:
            packet = decode_packet(data)
        except PacketError as exc:
            self.drops[exc.reason] += 1
            return []
        if packet.your_discr != 0:
            entry = self._by_discr.get(packet.your_discr)
            if entry is None:
                # 6.8.6: Your Discriminator nonzero: select the session by it; none: discard.
                self.drops[DropReason.UNKNOWN_YOUR_DISCR] += 1
                return []
            key = entry.key
            if (
                key.peer != src
                or key.multihop != multihop
                or (key.local is not None and dst is not None and key.local != dst)
            ):
                self.drops[DropReason.ADDRESS_MISMATCH] += 1
                return []
        else:
            found = self._lookup(src, dst, ifname, multihop)
            if found is None:
                # 6.8.6: Your Discriminator zero: select by addresses; none matches: discard.
                self.drops[DropReason.NO_SESSION] += 1
                return []
            entry = found
        # RFC 5881 section 5: single-hop packets MUST arrive with TTL/Hop Limit 255 (GTSM); RFC 5883
        # section 2: multihop packets below the configured minimum TTL are discarded.
        if ttl is not None and ttl < entry.min_ttl:
            self.drops[DropReason.BAD_TTL] += 1
            return []
        actions = entry.session.receive(packet, data, now)
        for action in actions:
            if isinstance(action, Dropped):
                self.drops[action.reason] += 1
        self._schedule(entry)
        return [(entry.key, a) for a in actions if not isinstance(a, Dropped)]

    def _lookup(
        self, src: IPAddress, dst: IPAddress | None, ifname: str | None, multihop: bool
    ) -> _Entry | None:
        table = self._by_key
        for local in (dst, None):
            for dev in (ifname, None):
                entry = table.get(SessionKey(peer=src, local=local, interface=dev, multihop=multihop))
                if entry is not None:
                    return entry
        return None

    def next_deadline(self) -> float | None:
        """The earliest deadline over all sessions (stale heap entries are dropped lazily)."""
        heap = self._heap
        while heap:
            deadline, _, discr = heap[0]
            entry = self._by_discr.get(discr)
            if entry is not None and entry.scheduled == deadline:
                return deadline
            heapq.heappop(heap)
        return None

    def on_timer(self, now: float) -> list[tuple[SessionKey, Action]]:
        """Run every session whose deadline is at or before `now`."""
        out: list[tuple[SessionKey, Action]] = []
        heap = self._heap
        while heap and heap[0][0] <= now:
            deadline, _, discr = heapq.heappop(heap)
            entry = self._by_discr.get(discr)
            if entry is None or entry.scheduled != deadline:
                continue
            entry.scheduled = None
            for action in entry.session.on_timer(now):
                out.append((entry.key, action))
            self._schedule(entry)
        return out

    def _schedule(self, entry: _Entry) -> None:
        deadline = entry.session.next_deadline()
        if deadline == entry.scheduled:
            return
        entry.scheduled = deadline
        if deadline is None:
            return
        self._seq += 1
        heapq.heappush(self._heap, (deadline, self._seq, entry.session.local_discr))
