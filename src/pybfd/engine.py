"""BFD over UDP on an asyncio loop: sockets, ancillary data, one timer, and the `SessionManager`.

Owns: the receive sockets (one per address family and hop mode, bound to the wildcard address on
UDP 3784 single-hop / 4784 multihop, with IP_RECVTTL + IP_PKTINFO or their IPv6 twins so the TTL
check and the demultiplexing by destination address and interface are possible), one send socket
per session (source port drawn from 49152-65535 as RFC 5881 section 4 requires, TTL/Hop Limit 255,
SO_BINDTODEVICE to the session's interface), a single `loop.call_at` armed at the manager's next
deadline, and the translation of session actions into sends and `BfdStateChange` callbacks. Never
does: protocol decisions (those are `session`/`manager`), or run on a thread/process of its own
(that is `pybfd.aio.BfdService`'s choice).
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import ipaddress
import logging
import random
import socket
import struct
import time
from collections.abc import Callable

from pybfd.auth import BfdAuth
from pybfd.constants import (
    MULTIHOP_PORT,
    SINGLE_HOP_PORT,
    SINGLE_HOP_TTL,
    SOURCE_PORT_MAX,
    SOURCE_PORT_MIN,
    Diag,
    State,
)
from pybfd.manager import IPAddress, SessionKey, SessionManager
from pybfd.session import Action, SessionConfig, StateChanged, Transmit

log = logging.getLogger("pybfd")

# Linux values the socket module does not export.
_IP_PKTINFO = 8
_IP_RECVTTL = 12
_IP_TTL = 2
_IPV6_RECVHOPLIMIT = 51
_IPV6_HOPLIMIT = 52
_IPV6_RECVPKTINFO = 49
_IPV6_PKTINFO = 50
_SO_RCVBUFFORCE = 33
_IN_PKTINFO = struct.Struct("=i4s4s")
_IN6_PKTINFO = struct.Struct("=16sI")
_INT = struct.Struct("=i")
_TOS_CS6 = 0xC0  # network control, as BIRD and most routers send BFD


def _ip(value: str | IPAddress) -> IPAddress:
    return ipaddress.ip_address(value) if isinstance(value, str) else value


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BfdPeerConfig:
    """One session as the caller configures it (milliseconds; the wire uses microseconds).

    `peer`/`local` accept strings. `min_ttl` defaults to 255 single-hop and 1 multihop.
    """

    peer: IPAddress
    local: IPAddress | None = None
    interface: str | None = None
    multihop: bool = False
    desired_min_tx_ms: float = 300
    required_min_rx_ms: float = 300
    detect_mult: int = 3
    auth: BfdAuth | None = None
    passive: bool = False
    admin_down: bool = False
    min_ttl: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "peer", _ip(self.peer))
        if self.local is not None:
            object.__setattr__(self, "local", _ip(self.local))
            if self.local.version != self.peer.version:
                raise ValueError("peer and local address families differ")
        if self.min_ttl is not None and not 1 <= self.min_ttl <= 255:
            raise ValueError("min_ttl must be 1..255")
        self.session_config()  # the caller hears of bad timers here, not from the worker later

    @property
    def key(self) -> SessionKey:
        """The session's identity."""
        return SessionKey(peer=self.peer, local=self.local, interface=self.interface, multihop=self.multihop)

    def session_config(self) -> SessionConfig:
        """The sans-IO session's view of this configuration."""
        return SessionConfig(
            desired_min_tx_us=round(self.desired_min_tx_ms * 1000),
            required_min_rx_us=round(self.required_min_rx_ms * 1000),
            detect_mult=self.detect_mult,
            auth=self.auth,
            passive=self.passive,
            admin_down=self.admin_down,
        )


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BfdStateChange:
    """A session changed state. `at` is `time.monotonic()` (the same clock in every process).

    `is_failure` is what a client such as BGP should act on: a peer that says AdminDown, or our own
    administrative down, is not a path failure (RFC 5882 section 3.2).
    """

    key: SessionKey
    peer: IPAddress
    old_state: State
    new_state: State
    diag: Diag
    at: float
    remote_state: State = State.DOWN

    @property
    def is_failure(self) -> bool:
        """True when a session left Up for a reason other than administrative action."""
        if self.new_state is not State.DOWN or self.old_state is not State.UP:
            return False
        return self.remote_state is not State.ADMIN_DOWN and self.diag is not Diag.ADMINISTRATIVELY_DOWN


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class BfdSessionInfo:
    """A read-only snapshot of one session, for `sessions()` and `pybfd`/`pybgpctl` output."""

    key: SessionKey
    state: State
    remote_state: State
    local_diag: Diag
    local_discr: int
    remote_discr: int
    tx_interval_ms: float
    detection_time_ms: float
    packets_sent: int
    packets_received: int
    transitions: int


class _Tx:
    """The send socket of one session, opened lazily and reopened after an error."""

    __slots__ = ("config", "dest", "errors", "sock")

    def __init__(self, config: BfdPeerConfig) -> None:
        self.config = config
        self.sock: socket.socket | None = None
        self.errors = 0
        self.dest: tuple[str, int] | tuple[str, int, int, int] | None = None

    def _destination(self) -> tuple[str, int] | tuple[str, int, int, int]:
        # Resolved when first needed: the interface of a link-local peer may appear after add_session.
        cfg = self.config
        port = MULTIHOP_PORT if cfg.multihop else SINGLE_HOP_PORT
        if cfg.peer.version == 6:
            scope = socket.if_nametoindex(cfg.interface) if cfg.interface and cfg.peer.is_link_local else 0
            return (str(cfg.peer), port, 0, scope)
        return (str(cfg.peer), port)

    def _open(self, rng: random.Random) -> socket.socket:
        cfg = self.config
        v6 = cfg.peer.version == 6
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)
            if cfg.interface:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, cfg.interface.encode())
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, SINGLE_HOP_TTL)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, _TOS_CS6)
            else:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, SINGLE_HOP_TTL)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, _TOS_CS6)
            local = str(cfg.local) if cfg.local is not None else ("::" if v6 else "0.0.0.0")
            # RFC 5881 section 4: source port in 49152-65535, the same for the session's lifetime.
            for _ in range(64):
                port = rng.randint(SOURCE_PORT_MIN, SOURCE_PORT_MAX)
                try:
                    if v6 and cfg.local is not None and cfg.local.is_link_local and cfg.interface:
                        sock.bind((local, port, 0, socket.if_nametoindex(cfg.interface)))
                    else:
                        sock.bind((local, port))
                    break
                except OSError as exc:
                    if exc.errno != errno.EADDRINUSE:
                        raise
            else:
                raise OSError(errno.EADDRINUSE, "no free BFD source port")
        except BaseException:
            sock.close()
            raise
        return sock

    def send(self, data: bytes, rng: random.Random) -> None:
        try:
            if self.sock is None:
                self.dest = self._destination()
                self.sock = self._open(rng)
            assert self.dest is not None
            self.sock.sendto(data, self.dest)
        except OSError as exc:
            self.errors += 1
            if self.errors in (1, 10, 100) or self.errors % 1000 == 0:
                log.warning("BFD send to %s failed (%d times): %s", self.config.peer, self.errors, exc)
            if self.sock is not None and exc.errno not in (errno.EAGAIN, errno.ENOBUFS, errno.ENETUNREACH):
                self.sock.close()
                self.sock = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None


class BfdEngine:
    """Sessions on the running loop. All methods must be called on that loop's thread."""

    def __init__(
        self,
        on_change: Callable[[BfdStateChange], None],
        *,
        rng: random.Random | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._loop = loop or asyncio.get_running_loop()
        self._rng = rng or random.Random()
        self._on_change = on_change
        self.manager = SessionManager(self._rng)
        self._tx: dict[SessionKey, _Tx] = {}
        self._rx: dict[tuple[int, bool], socket.socket] = {}
        self._timer: asyncio.TimerHandle | None = None
        self._armed: float | None = None
        self._ifnames: dict[int, str | None] = {}
        self._addresses: dict[str | bytes, IPAddress] = {}
        self.closed = False

    # ------------------------------------------------------------------ public
    def add_session(self, config: BfdPeerConfig) -> SessionKey:
        """Start a session (opening the shared receive socket for its family and hop mode if needed)."""
        key = config.key
        self._open_rx(config.peer.version, config.multihop)
        self.manager.add(key, config.session_config(), self._loop.time(), min_ttl=config.min_ttl)
        self._tx[key] = _Tx(config)
        self._rearm()
        return key

    def remove_session(self, key: SessionKey) -> None:
        """Stop a session; the peer gets one AdminDown packet."""
        self._run(self.manager.remove(key, self._loop.time()))
        tx = self._tx.pop(key, None)
        if tx is not None:
            tx.close()
        self._rearm()

    def admin(self, key: SessionKey, down: bool) -> None:
        """Administratively disable (AdminDown) or re-enable a session."""
        self._run(self.manager.admin(key, down, self._loop.time()))
        self._rearm()

    def set_parameters(
        self, key: SessionKey, *, desired_min_tx_ms: float, required_min_rx_ms: float, detect_mult: int
    ) -> None:
        """Change a session's timers at run time (Poll Sequence)."""
        self._run(
            self.manager.set_parameters(
                key,
                self._loop.time(),
                desired_min_tx_us=round(desired_min_tx_ms * 1000),
                required_min_rx_us=round(required_min_rx_ms * 1000),
                detect_mult=detect_mult,
            )
        )
        self._rearm()

    def snapshot(self) -> list[BfdSessionInfo]:
        """Every session's state and counters."""
        out = []
        for key, s in self.manager.items():
            out.append(
                BfdSessionInfo(
                    key=key,
                    state=s.session_state,
                    remote_state=s.remote_session_state,
                    local_diag=s.local_diag,
                    local_discr=s.local_discr,
                    remote_discr=s.remote_discr,
                    tx_interval_ms=s.tx_interval_us() / 1000,
                    detection_time_ms=s.detection_time_us() / 1000,
                    packets_sent=s.packets_sent,
                    packets_received=s.packets_received,
                    transitions=s.transitions,
                )
            )
        return out

    def drop_counters(self) -> dict[str, int]:
        """Discarded packets by reason (RFC 5880 6.8.6 checks and the TTL/address rules)."""
        return {reason.value: n for reason, n in self.manager.drops.items()}

    def close(self) -> None:
        """Close every socket and cancel the timer (sessions are not told; use remove_session first)."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for sock in self._rx.values():
            self._loop.remove_reader(sock.fileno())
            sock.close()
        self._rx.clear()
        for tx in self._tx.values():
            tx.close()
        self._tx.clear()

    # ------------------------------------------------------------------ internals
    def _open_rx(self, version: int, multihop: bool) -> None:
        if (version, multihop) in self._rx:
            return
        port = MULTIHOP_PORT if multihop else SINGLE_HOP_PORT
        v6 = version == 6
        sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # Thousands of sessions share this socket and their packets come in bursts: a small
            # buffer overflows silently and looks like packet loss. SO_RCVBUFFORCE passes
            # net.core.rmem_max when we may (root); else take what SO_RCVBUF allows.
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_RCVBUFFORCE, 8 << 20)
            except OSError:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            if v6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVHOPLIMIT, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, _IPV6_RECVPKTINFO, 1)
                sock.bind(("::", port))
            else:
                sock.setsockopt(socket.IPPROTO_IP, _IP_RECVTTL, 1)
                sock.setsockopt(socket.IPPROTO_IP, _IP_PKTINFO, 1)
                sock.bind(("0.0.0.0", port))
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        self._rx[(version, multihop)] = sock
        self._loop.add_reader(sock.fileno(), self._readable, sock, multihop)

    def _ifname(self, index: int) -> str | None:
        if index not in self._ifnames:
            try:
                self._ifnames[index] = socket.if_indextoname(index)
            except OSError:
                return None
        return self._ifnames[index]

    def _address(self, raw: str | bytes) -> IPAddress | None:
        """Packed or textual address -> ip_address, memoised (a few thousand peers at most)."""
        cache = self._addresses
        found = cache.get(raw)
        if found is not None:
            return found
        try:
            if isinstance(raw, bytes):
                value: IPAddress = ipaddress.ip_address(raw)
            else:
                value = ipaddress.ip_address(raw.split("%", 1)[0])
        except ValueError:
            return None
        if isinstance(value, ipaddress.IPv6Address) and value.ipv4_mapped is not None:
            value = value.ipv4_mapped
        if len(cache) > 65536:
            cache.clear()
        cache[raw] = value
        return value

    def _readable(self, sock: socket.socket, multihop: bool) -> None:
        manager = self.manager
        for _ in range(256):  # bounded so a flood cannot starve the timer
            try:
                data, ancdata, _flags, addr = sock.recvmsg(256, 64)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.warning("BFD receive error: %s", exc)
                break
            ttl: int | None = None
            dst: IPAddress | None = None
            ifindex = 0
            for level, kind, payload in ancdata:
                if level == socket.IPPROTO_IP and kind == _IP_TTL and len(payload) >= 4:
                    ttl = _INT.unpack_from(payload)[0]
                elif level == socket.IPPROTO_IP and kind == _IP_PKTINFO and len(payload) >= _IN_PKTINFO.size:
                    ifindex, _spec, header_dst = _IN_PKTINFO.unpack_from(payload)
                    dst = self._address(header_dst)
                elif level == socket.IPPROTO_IPV6 and kind == _IPV6_HOPLIMIT and len(payload) >= 4:
                    ttl = _INT.unpack_from(payload)[0]
                elif (
                    level == socket.IPPROTO_IPV6
                    and kind == _IPV6_PKTINFO
                    and len(payload) >= _IN6_PKTINFO.size
                ):
                    raw_dst, ifindex = _IN6_PKTINFO.unpack_from(payload)
                    dst = self._address(raw_dst)
            src = self._address(addr[0])
            if src is None:
                continue
            actions = manager.receive(
                data,
                src=src,
                dst=dst,
                ifname=self._ifname(ifindex) if ifindex else None,
                ttl=ttl,
                multihop=multihop,
                now=self._loop.time(),
            )
            if actions:
                self._run(actions)
        self._rearm()

    def _run(self, actions: list[tuple[SessionKey, Action]]) -> None:
        for key, action in actions:
            if isinstance(action, Transmit):
                tx = self._tx.get(key)
                if tx is not None:
                    tx.send(action.data, self._rng)
            elif isinstance(action, StateChanged):
                change = BfdStateChange(
                    key=key,
                    peer=key.peer,
                    old_state=action.old,
                    new_state=action.new,
                    diag=action.diag,
                    at=time.monotonic(),
                    remote_state=action.remote_state,
                )
                try:
                    self._on_change(change)
                except Exception:
                    log.exception("BFD state change callback failed")

    def _fire(self) -> None:
        self._timer = None
        self._armed = None
        self._run(self.manager.on_timer(self._loop.time()))
        self._rearm()

    def _rearm(self) -> None:
        if self.closed:
            return
        deadline = self.manager.next_deadline()
        if deadline == self._armed:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed = deadline
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._fire)
