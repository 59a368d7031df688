"""A raw rtnetlink socket, optionally opened inside a named network namespace, with batched requests.

Owns: opening NETLINK_ROUTE sockets (in a namespace via setns(2) on a short-lived helper thread, so
the calling process and its other threads never change namespace), big send/receive buffers,
extended acks, sending many requests per sendmsg with only failures acked plus one closing NOOP ack,
dumps, the socket filter that drops our own route notifications in the kernel, and the namespace's
`nexthop_compat_mode` switch. Never does:
interpret routes (see `netlink_msgs`) or touch asyncio (the watcher does that).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import logging
import os
import socket
import sys
import threading
from collections.abc import Collection, Iterable

from pybgp.fib.netlink_msgs import (
    NLMSG_DONE,
    NLMSG_ERROR,
    NlError,
    encode_dump,
    encode_noop_ack,
    iter_messages,
    parse_error,
)

log = logging.getLogger("pybgp.fib")

SOL_NETLINK = 270
NETLINK_CAP_ACK = 10
NETLINK_EXT_ACK = 11
NETLINK_GET_STRICT_CHK = 12
SO_SNDBUFFORCE = 32
SO_RCVBUFFORCE = 33
CLONE_NEWNET = 0x40000000
NETNS_RUN_DIR = "/var/run/netns"

SEND_CHUNK = 192 * 1024
"""Bytes of requests per sendmsg: large enough to amortise the syscall, small enough for the send buffer."""


class NetlinkSocketError(OSError):
    """The netlink socket itself failed (not one request): the caller should resync from a dump."""


def _setns(path: str) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns({path}): {os.strerror(err)}")
    finally:
        os.close(fd)


def open_netlink_socket(netns: str | None = None, groups: int = 0) -> socket.socket:
    """A NETLINK_ROUTE socket bound to multicast `groups` (RTMGRP_* bits), in `netns` when given.

    The namespace switch happens on a throwaway thread: a socket keeps the namespace it was created
    in, and setns(2) only affects the calling thread, so nothing else in the process moves.
    """
    if netns is None:
        return _make_socket(groups)
    path = netns if "/" in netns else os.path.join(NETNS_RUN_DIR, netns)
    result: list[socket.socket | BaseException] = []

    def worker() -> None:
        try:
            _setns(path)
            result.append(_make_socket(groups))
        except BaseException as exc:  # handed back to the caller's thread below
            result.append(exc)

    thread = threading.Thread(target=worker, name=f"netns-{netns}", daemon=True)
    thread.start()
    thread.join()
    outcome = result[0]
    if isinstance(outcome, BaseException):
        raise outcome
    return outcome


def _make_socket(groups: int) -> socket.socket:
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE)
    try:
        for opt, size in ((SO_SNDBUFFORCE, 4 << 20), (SO_RCVBUFFORCE, 32 << 20)):
            try:
                sock.setsockopt(socket.SOL_SOCKET, opt, size)
            except OSError:  # not CAP_NET_ADMIN: fall back to the unprivileged limit
                sock.setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF if opt == SO_SNDBUFFORCE else socket.SO_RCVBUF, size
                )
        for opt in (NETLINK_EXT_ACK, NETLINK_CAP_ACK, NETLINK_GET_STRICT_CHK):
            try:
                sock.setsockopt(SOL_NETLINK, opt, 1)
            except OSError:  # old kernels: plain acks are fine
                pass
        sock.bind((0, groups))
    except BaseException:
        sock.close()
        raise
    return sock


SO_ATTACH_FILTER = 26
# classic BPF opcodes: BPF_LD|BPF_B|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
_BPF_LDB_ABS, _BPF_JEQ_K, _BPF_RET_K = 0x30, 0x15, 0x06
_RTM_NEWROUTE, _RTM_DELROUTE = 24, 25
# nlmsghdr (16 octets), then rtmsg: family, dst_len, src_len, tos, table, protocol
_RTM_PROTOCOL_OFFSET = 16 + 5
MAX_FILTERED_PROTOCOLS = 251
"""Most protocols `route_protocol_filter` can skip over: its jumps are one octet (255 - 4)."""


class _SockFilter(ctypes.Structure):
    _fields_ = [
        ("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)
    ]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def route_protocol_filter(protocols: Collection[int]) -> list[tuple[int, int, int, int]]:
    """A classic BPF program (code, jt, jf, k) that drops RTM_NEWROUTE/RTM_DELROUTE notifications of
    the given route protocols and accepts every other message.

    Route notifications arrive one message per datagram, so looking at the first message's header is
    enough. nlmsg_type is host-endian (two BPF byte loads); rtm_protocol is one octet.
    """
    lo, hi = (4, 5) if sys.byteorder == "little" else (5, 4)
    n = len(protocols)
    if n > MAX_FILTERED_PROTOCOLS:  # the longest jump (4 + n) must fit the one-octet jt/jf fields
        raise ValueError(f"{n} protocols: at most {MAX_FILTERED_PROTOCOLS} fit a classic BPF jump")
    accept, drop = 6 + n, 7 + n  # instruction indexes; a jump offset counts from the next instruction
    prog = [
        (_BPF_LDB_ABS, 0, 0, hi),
        (_BPF_JEQ_K, 0, accept - 2, 0),  # message types above 255 are not routes
        (_BPF_LDB_ABS, 0, 0, lo),
        (_BPF_JEQ_K, 1, 0, _RTM_NEWROUTE),
        (_BPF_JEQ_K, 0, accept - 5, _RTM_DELROUTE),
        (_BPF_LDB_ABS, 0, 0, _RTM_PROTOCOL_OFFSET),
    ]
    for i, protocol in enumerate(sorted(protocols)):
        prog.append((_BPF_JEQ_K, drop - (7 + i), 0, protocol))
    prog += [(_BPF_RET_K, 0, 0, 0xFFFFFFFF), (_BPF_RET_K, 0, 0, 0)]
    return prog


def drop_route_protocols(sock: socket.socket, protocols: Collection[int]) -> bool:
    """Have the kernel discard route notifications of `protocols` before they reach `sock`'s queue.

    Why: a daemon installing a million routes gets a million notifications of its own routes on an
    event socket that follows table 119; dropping them in the kernel saves a wakeup, a `recv` and a
    header check per route in Python, and keeps them from overflowing the socket buffer (ENOBUFS and
    a resync). Returns False (the caller's own header filter still applies) when the kernel refuses,
    or when there are more protocols than one program can skip over (`MAX_FILTERED_PROTOCOLS`).
    """
    wanted = sorted({p for p in protocols if 0 <= p <= 255})
    if not wanted or len(wanted) > MAX_FILTERED_PROTOCOLS:
        return False
    insns = route_protocol_filter(wanted)
    array = (_SockFilter * len(insns))(*(_SockFilter(*insn) for insn in insns))
    prog = _SockFprog(len(insns), ctypes.cast(array, ctypes.POINTER(_SockFilter)))
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_ATTACH_FILTER, bytes(prog))  # the kernel copies `array` now
    except OSError:
        return False
    return True


class NetlinkChannel:
    """Request/response over one netlink socket: batches of requests and dumps, with our own seqs."""

    def __init__(self, netns: str | None = None) -> None:
        self.sock = open_netlink_socket(netns)
        self.sock.settimeout(30.0)
        self._seq = 1
        self._buf = bytearray(1 << 20)
        self.sendmsg_calls = 0
        self.requests_sent = 0

    def next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFFFFFF or 1
        return self._seq

    def reserve(self, count: int) -> int:
        """The first of `count` consecutive seqs, so a batch maps failures back by index, not by dict."""
        if self._seq + count + 1 >= 0xFFFFFFFF:
            self._seq = 0
        base = self._seq + 1
        self._seq += count
        return base

    def close(self) -> None:
        self.sock.close()

    def batch(self, requests: Iterable[bytes]) -> dict[int, NlError]:
        """Send pre-encoded requests (no NLM_F_ACK: only failures answer), return {seq: error} of failures.

        Requests go out in chunks of about `SEND_CHUNK` bytes, each one sendmsg; after each chunk a
        NOOP with NLM_F_ACK closes it, and reading up to that ack collects every failure of the
        chunk (rtnetlink processes a sendmsg's messages in order before the call returns).
        """
        failures: dict[int, NlError] = {}
        chunk: list[bytes] = []
        size = 0
        for request in requests:
            self.requests_sent += 1
            chunk.append(request)
            size += len(request)
            if size >= SEND_CHUNK:
                self._send_chunk(chunk, failures)
                chunk, size = [], 0
        if chunk:
            self._send_chunk(chunk, failures)
        return failures

    def _send_chunk(self, chunk: list[bytes], failures: dict[int, NlError]) -> None:
        sentinel = self.next_seq()
        chunk.append(encode_noop_ack(sentinel))
        self.send_chunk_to(b"".join(chunk), sentinel, failures)

    def send_chunk_to(self, payload: bytes, sentinel: int, failures: dict[int, NlError]) -> None:
        """Send requests already joined and closed by a NOOP ack with seq `sentinel`, adding their
        failures to `failures`. Allocates no seq: the writer thread calls it (`netlink_writer`)."""
        try:
            self.sock.sendall(payload)
        except OSError as exc:
            raise NetlinkSocketError(exc.errno or errno.EIO, f"netlink send failed: {exc}") from exc
        self.sendmsg_calls += 1
        while True:
            for msg_type, _flags, seq, msg in self._recv():
                if msg_type != NLMSG_ERROR:
                    continue
                err = parse_error(msg)
                if err is None:
                    continue
                if seq == sentinel:
                    return
                if err.errno:
                    failures[err.seq] = err

    def dump(
        self, msg_type: int, family: int = socket.AF_UNSPEC, *, table: int = 0, protocol: int = 0
    ) -> list[tuple[int, memoryview]]:
        """Every object of a dump request as (message type, whole message); raises on a dump error.

        `table`/`protocol` (routes only) let the kernel skip other tables' routes: a resync of table
        119 must not parse a million main-table routes. Callers still filter what comes back.
        """
        seq = self.next_seq()
        self.sock.sendall(encode_dump(seq, msg_type, family, table=table, protocol=protocol))
        out: list[tuple[int, memoryview]] = []
        while True:
            for kind, _flags, mseq, msg in self._recv():
                if mseq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return out
                if kind == NLMSG_ERROR:
                    err = parse_error(msg)
                    if err is not None and err.errno:
                        raise NetlinkSocketError(err.errno, f"dump {msg_type} failed: {err.message}")
                    return out
                out.append((kind, msg))

    def _recv(self) -> list[tuple[int, int, int, memoryview]]:
        try:
            n = self.sock.recv_into(self._buf)
        except OSError as exc:
            raise NetlinkSocketError(exc.errno or errno.EIO, f"netlink receive failed: {exc}") from exc
        return iter_messages(bytes(self._buf[:n]))


def set_nexthop_compat_mode(enabled: bool, path: str = "/proc/sys/net/ipv4/nexthop_compat_mode") -> bool:
    """Set the network namespace's `net.ipv4.nexthop_compat_mode`; False when it could not be set.

    Why: in compat mode (the kernel default) rewriting a nexthop group re-notifies every route using
    it in the legacy format, so removing a dead nexthop from a million routes costs ~1 s of kernel
    time instead of one message; off, route dumps show `nhid N` without expanded nexthops.
    """
    try:
        with open(path, "w") as f:
            f.write("1\n" if enabled else "0\n")
    except OSError as exc:
        log.warning("cannot set nexthop_compat_mode=%d: %s", int(enabled), exc)
        return False
    return True
