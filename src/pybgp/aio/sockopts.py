"""Linux socket options a BGP transport needs: TCP MD5, GTSM/TTL, bind to device, TCP_NODELAY.

Owns: small typed helpers over `setsockopt` with the kernel's structure layouts written down.
Never does: connect, listen or read; `peer.py` and `listener.py` call these on their sockets.

Choices: TCP_NODELAY is set because BGP messages are written whole and KEEPALIVEs must not wait for
Nagle; SO_KEEPALIVE is left off because the BGP hold timer (and BFD) is the liveness check.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Protocol


class SocketLike(Protocol):
    """A socket, or the `TransportSocket` asyncio hands out for an accepted connection."""

    @property
    def family(self) -> int: ...

    def setsockopt(self, level: int, optname: int, value: int | bytes, /) -> None: ...


TCP_MD5SIG = 14
"""linux/tcp.h. `struct tcp_md5sig` is: sockaddr_storage tcpm_addr (128 bytes), u8 tcpm_flags,
u8 tcpm_prefixlen, u16 tcpm_keylen, int tcpm_ifindex, u8 tcpm_key[80] (216 bytes in all)."""
TCP_MD5SIG_MAXKEYLEN = 80
TCP_MD5SIG_EXT = 32  # linux/tcp.h: same struct, honours tcpm_flags / tcpm_prefixlen
TCP_MD5SIG_FLAG_PREFIX = 1
IP_MINTTL = 21  # linux/in.h
IPV6_MINHOPCOUNT = 73  # linux/in6.h
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def _sockaddr_storage(address: IPAddress) -> bytes:
    """A `struct sockaddr_storage` holding `address` (port 0), padded to 128 bytes."""
    if isinstance(address, ipaddress.IPv4Address):
        raw = struct.pack("=H", socket.AF_INET) + struct.pack("!H", 0) + address.packed
    else:
        raw = (
            struct.pack("=H", socket.AF_INET6)
            + struct.pack("!HI", 0, 0)
            + address.packed
            + struct.pack("=I", 0)
        )
    return raw.ljust(128, b"\0")


def md5sig_struct(address: IPAddress, key: str | bytes | None, prefixlen: int | None = None) -> bytes:
    """The `struct tcp_md5sig` bytes for TCP_MD5SIG(_EXT); an empty key deletes the key.

    With `prefixlen`, the key covers every address of `address/prefixlen` (TCP_MD5SIG_FLAG_PREFIX,
    Linux 4.13+), which dynamic neighbors need."""
    raw_key = key.encode() if isinstance(key, str) else (key or b"")
    if len(raw_key) > TCP_MD5SIG_MAXKEYLEN:
        raise ValueError(f"TCP MD5 key longer than {TCP_MD5SIG_MAXKEYLEN} bytes")
    flags = TCP_MD5SIG_FLAG_PREFIX if prefixlen is not None else 0
    head = struct.pack("=BBHi", flags, prefixlen or 0, len(raw_key), 0)
    return _sockaddr_storage(address) + head + raw_key.ljust(80, b"\0")


def set_md5_prefix(sock: SocketLike, network: IPNetwork, key: str | bytes | None) -> None:
    """RFC 2385 key for a whole prefix on a listening socket (dynamic neighbors)."""
    address: IPAddress = network.network_address
    prefixlen = network.prefixlen
    if sock.family == socket.AF_INET6 and isinstance(address, ipaddress.IPv4Address):
        address = ipaddress.IPv6Address(f"::ffff:{address}")
        prefixlen += 96
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG_EXT, md5sig_struct(address, key, prefixlen))


def set_md5(sock: SocketLike, address: IPAddress, key: str | bytes | None) -> None:
    """RFC 2385: sign/verify every segment to/from `address` with `key` (None/"" removes it).

    On a listening socket this installs the key for that one peer; connections accepted from it
    inherit it. An IPv4 peer on an IPv6 socket is keyed by its IPv4-mapped address."""
    if sock.family == socket.AF_INET6 and isinstance(address, ipaddress.IPv4Address):
        address = ipaddress.IPv6Address(f"::ffff:{address}")
    sock.setsockopt(socket.IPPROTO_TCP, TCP_MD5SIG, md5sig_struct(address, key))


def set_ttl(sock: SocketLike, ttl: int) -> None:
    """The TTL / hop limit of what we send (eBGP 1, multihop n, GTSM 255)."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, ttl)
        # IPv4-mapped peers on a dual-stack socket still use the IPv4 TTL.
        try:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)
        except OSError:
            pass
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, ttl)


def set_min_ttl(sock: SocketLike, min_ttl: int) -> None:
    """GTSM receive check (RFC 5082 section 3): the kernel drops segments below `min_ttl`."""
    if sock.family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MINHOPCOUNT, min_ttl)
        try:
            sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, min_ttl)
        except OSError:
            pass
    else:
        sock.setsockopt(socket.IPPROTO_IP, IP_MINTTL, min_ttl)


def bind_to_device(sock: SocketLike, ifname: str) -> None:
    """SO_BINDTODEVICE: use only `ifname` (a session to a ToR over eth0 must not leak to eth1)."""
    sock.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, ifname.encode() + b"\0")


def set_nodelay(sock: SocketLike) -> None:
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def unmap(address: IPAddress) -> IPAddress:
    """`::ffff:a.b.c.d` -> `a.b.c.d`, so a dual-stack listener finds IPv4 peers by their address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
