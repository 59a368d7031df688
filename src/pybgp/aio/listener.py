"""Accepting BGP connections and handing each to its Peer (configured, or dynamic from a prefix range).

Owns: `Listener`: the listening sockets (IPv4 and/or IPv6, any port), the per-peer TCP MD5 keys
installed on them (RFC 2385: the key must be on the listening socket before the SYN arrives), and the
lookup remote address -> Peer. Connections from unknown addresses are closed at once.
Never does: protocol work; the accepted connection goes to `Peer.incoming()` and the FSM decides
(collision, refusal in Idle).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
from collections.abc import Callable, Sequence

from pybgp.aio import sockopts
from pybgp.aio.connection import _Connection, new_connection_id
from pybgp.aio.peer import Peer
from pybgp.wire.constants import BGP_PORT

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
DynamicFactory = Callable[[IPAddress], Peer | None]
"""Builds (and may refuse with None) a Peer for an address inside a dynamic-neighbor range."""


def _key(address: IPAddress) -> IPAddress:
    """The lookup key: IPv4-mapped addresses unmapped, IPv6 scope dropped."""
    address = sockopts.unmap(address)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).partition("%")[0])
    return address


class _Accepting(_Connection):
    """The protocol for a just-accepted connection: finds its Peer on `connection_made`."""

    def __init__(self, listener: Listener) -> None:
        super().__init__(None, 0)
        self.listener = listener

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.listener._accepted(self, transport)


class Listener:
    """Listen on `addresses` (default: dual-stack "::" and, if that fails, "0.0.0.0") at `port`.

    `port=0` picks a free port (see `.port`), for tests.
    """

    def __init__(
        self, *, addresses: Sequence[str] = ("::",), port: int = BGP_PORT, backlog: int = 64
    ) -> None:
        self.addresses = tuple(addresses)
        self.requested_port = port
        self.backlog = backlog
        self._peers: dict[IPAddress, Peer] = {}
        self._dynamic: list[tuple[IPNetwork, DynamicFactory]] = []
        self._servers: list[asyncio.Server] = []
        self._sockets: list[socket.socket] = []
        self._gtsm_addresses: set[IPAddress] = set()
        self._dynamic_md5: list[tuple[IPNetwork, str]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._started = False

    @property
    def port(self) -> int:
        """The bound port (useful with port 0)."""
        if not self._sockets:
            return self.requested_port
        return int(self._sockets[0].getsockname()[1])

    def add_peer(self, peer: Peer) -> None:
        """Route connections from the peer's address to it, and install its MD5 key on our sockets."""
        self._peers[_key(peer.settings.remote_address)] = peer
        if peer.settings.md5_password:
            for sock in self._sockets:
                self._set_md5(sock, peer.settings.remote_address, peer.settings.md5_password)
        if self._started and peer.settings.minimum_ttl() is not None:
            task = asyncio.get_running_loop().create_task(self._gtsm_listener(peer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def remove_peer(self, peer: Peer) -> None:
        key = _key(peer.settings.remote_address)
        if self._peers.get(key) is peer:
            del self._peers[key]
            if peer.settings.md5_password:
                for sock in self._sockets:
                    self._set_md5(sock, peer.settings.remote_address, None)

    def add_dynamic(
        self, network: IPNetwork, factory: DynamicFactory, md5_password: str | None = None
    ) -> None:
        """Accept connections from any address in `network`; `factory` makes their Peer (passive).

        `md5_password` keys the whole prefix on the listening sockets (TCP_MD5SIG_EXT); the factory's
        Peer should carry the same password."""
        self._dynamic.append((network, factory))
        if md5_password:
            self._dynamic_md5.append((network, md5_password))
            for sock in self._sockets:
                self._set_md5_prefix(sock, network, md5_password)

    def peer_for(self, address: IPAddress) -> Peer | None:
        return self._peers.get(_key(address))

    async def start(self) -> None:
        port = self.requested_port
        for host in self.addresses:
            try:
                sock = self._listen_socket(host, port, None)
            except OSError as exc:
                if host != "::" or exc.errno not in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL):
                    raise
                log.warning("no IPv6 here (%s): listening on 0.0.0.0 only", exc)
                sock = self._listen_socket("0.0.0.0", port, None)
            if port == 0:
                port = int(sock.getsockname()[1])  # the other families share the chosen port
            await self._serve(sock)
        self._started = True
        for peer in list(self._peers.values()):
            await self._gtsm_listener(peer)

    def _listen_socket(self, host: str, port: int, min_ttl: int | None) -> socket.socket:
        address = ipaddress.ip_address(host)
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        if min_ttl is None and port != 0:
            self._probe(family, host, port, address.is_unspecified)
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            # SO_REUSEPORT lets a per-address GTSM listener coexist with the wildcard one; the kernel
            # still hands a SYN to the most specific bound listener.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                # Dual stack when listening on "::": IPv4 peers arrive IPv4-mapped.
                v6only = 0 if address.is_unspecified else 1
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
            if min_ttl is not None:
                sockopts.set_min_ttl(sock, min_ttl)
            sock.bind((host, port))
            sock.listen(self.backlog)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        for peer in self._peers.values():
            if peer.settings.md5_password:
                self._set_md5(sock, peer.settings.remote_address, peer.settings.md5_password)
        for network, key in self._dynamic_md5:
            self._set_md5_prefix(sock, network, key)
        return sock

    @staticmethod
    def _probe(family: int, host: str, port: int, dual_stack: bool) -> None:
        """Fail loudly (EADDRINUSE) when another process already listens on the port. Our sockets use
        SO_REUSEPORT, which would otherwise let a second daemon silently share incoming connections."""
        probe = socket.socket(family, socket.SOCK_STREAM)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack else 1)
            probe.bind((host, port))
        finally:
            probe.close()

    async def _serve(self, sock: socket.socket) -> None:
        server = await asyncio.get_running_loop().create_server(lambda: _Accepting(self), sock=sock)
        self._servers.append(server)
        self._sockets.append(sock)
        log.info("listening on %s", sock.getsockname())

    async def _gtsm_listener(self, peer: Peer) -> None:
        """GTSM must drop the peer's SYN, not just later segments: a dedicated listening socket bound
        to the session's local address carries IP_MINTTL (the kernel prefers it over the wildcard
        listener and accepted sockets inherit the option). Without a local address only the accepted
        socket gets IP_MINTTL, and what the peer sent before that (its OPEN) has passed unchecked."""
        s = peer.settings
        min_ttl = s.minimum_ttl()
        if min_ttl is None or s.local_address is None or not self._started:
            return
        key = _key(s.local_address)
        if key in self._gtsm_addresses:
            return
        self._gtsm_addresses.add(key)
        try:
            sock = self._listen_socket(str(key), self.port, min_ttl)
        except OSError as exc:
            log.error("GTSM listener on %s failed: %s", key, exc)
            return
        await self._serve(sock)

    async def close(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        self._servers.clear()
        self._sockets.clear()
        self._gtsm_addresses.clear()
        self._started = False

    async def __aenter__(self) -> Listener:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- internals ----------------------------------------------------------------------------

    @staticmethod
    def _set_md5(sock: sockopts.SocketLike, address: IPAddress, key: str | None) -> None:
        if sock.family == socket.AF_INET and isinstance(address, ipaddress.IPv6Address):
            return
        try:
            sockopts.set_md5(sock, address, key)
        except OSError as exc:
            log.error("cannot set TCP MD5 key for %s: %s", address, exc)

    @staticmethod
    def _set_md5_prefix(sock: sockopts.SocketLike, network: IPNetwork, key: str) -> None:
        if sock.family == socket.AF_INET and network.version == 6:
            return
        try:
            sockopts.set_md5_prefix(sock, network, key)
        except OSError as exc:
            log.error("cannot set TCP MD5 key for %s: %s", network, exc)

    def _find(self, address: IPAddress) -> Peer | None:
        key = _key(address)
        peer = self._peers.get(key)
        if peer is not None:
            return peer
        for network, factory in self._dynamic:
            if key.version == network.version and key in network:
                try:
                    peer = factory(key)
                except Exception:
                    log.exception("dynamic neighbor factory failed for %s", key)
                    return None
                if peer is None:
                    return None
                self._peers[key] = peer
                if not peer.started:
                    peer.start(passive=True)
                return peer
        return None

    def _accepted(self, conn: _Accepting, transport: asyncio.BaseTransport) -> None:
        peername = transport.get_extra_info("peername")
        sock = transport.get_extra_info("socket")
        try:
            address = ipaddress.ip_address(peername[0])
        except (TypeError, ValueError, IndexError):
            transport.close()
            return
        peer = self._find(address)
        if peer is None:
            log.info("refusing connection from unknown %s", address)
            transport.close()
            return
        conn.id = new_connection_id()
        try:
            peer.incoming(conn, sock)
        except Exception:
            log.exception("%s: incoming connection failed", peer.name)
            transport.close()
