"""Kernel-side measuring for the feed benchmark: route counts and nexthops inside a lab namespace.

Owns: a raw rtnetlink socket opened *inside* a network namespace (setns on a short-lived thread, so
this process stays where it is), a fast IPv4 route dump that counts routes in a table, how many have
two or more nexthops and how many still use a given interface (RTA_MULTIPATH, RTA_OIF and RTA_NH_ID
through a nexthop-object dump), a nexthop-object dump alone (cheap: a few groups), the O(1)-ish
`/proc/net/fib_triestat` prefix count used for fast polling, and per-process CPU / RSS readings
from /proc.
Never does: change a route, send a packet, or import pyroute2 (the benchmark must measure the kernel
the same way whoever installed the routes).
"""

from __future__ import annotations

import ctypes
import os
import re
import socket
import struct
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

_CLONE_NEWNET = 0x40000000
_NLM_F_REQUEST = 0x1
_NLM_F_DUMP = 0x300
_NLMSG_ERROR = 2
_NLMSG_DONE = 3
_RTM_NEWROUTE = 24
_RTM_GETROUTE = 26
_RTM_NEWNEXTHOP = 104
_RTM_GETNEXTHOP = 106
_RTA_OIF = 4
_RTA_MULTIPATH = 9
_RTA_TABLE = 15
_RTA_NH_ID = 30
_NHA_ID = 1
_NHA_GROUP = 2
_NHA_OIF = 5
_RTN_UNICAST = 1
_RTPROT_KERNEL = 2  # connected routes: not what a daemon installed
_HDR = struct.Struct("=IHHII")
_ATTR = struct.Struct("=HH")
_RTNH = struct.Struct("=HBBi")
_U32 = struct.Struct("=I")


def in_netns(netns: str, fn: Callable[[], T]) -> T:
    """Run `fn` on a thread that has joined network namespace `netns`; sockets it opens stay there."""
    libc = ctypes.CDLL(None, use_errno=True)
    result: list[T] = []
    error: list[BaseException] = []

    def body() -> None:
        try:
            fd = os.open(f"/run/netns/{netns}", os.O_RDONLY)
            try:
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    raise OSError(ctypes.get_errno(), f"setns({netns})")
            finally:
                os.close(fd)
            result.append(fn())
        except BaseException as exc:  # re-raised on the caller's thread
            error.append(exc)

    thread = threading.Thread(target=body, name=f"netns-{netns}")
    thread.start()
    thread.join(30)
    if error:
        raise error[0]
    if not result:
        raise TimeoutError(f"entering {netns} timed out")
    return result[0]


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteCensus:
    """One dump of an IPv4 table: how many unicast routes, how many ECMP, how many via `watch_oif`."""

    routes: int
    ecmp: int
    via_watched: int
    seconds: float


class NamespaceKernel:
    """Read-only views of one namespace's kernel routing state, opened once and reused."""

    def __init__(self, netns: str) -> None:
        self.netns = netns

        def open_all() -> tuple[socket.socket, int, dict[str, int]]:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            sock.bind((0, 0))
            trie = os.open("/proc/thread-self/net/fib_triestat", os.O_RDONLY)
            ifindex = {name: idx for idx, name in socket.if_nameindex()}
            return sock, trie, ifindex

        self._sock, self._trie_fd, self.ifindex = in_netns(netns, open_all)
        self._seq = 1
        self._memo: dict[bytes, tuple[frozenset[int], int]] = {}

    def close(self) -> None:
        self._sock.close()
        os.close(self._trie_fd)

    # -- cheap polling ---------------------------------------------------------------------------
    def main_prefixes(self) -> int:
        """Prefixes in the main FIB trie (kernel-side walk, a few ms even at 1M routes)."""
        os.lseek(self._trie_fd, 0, os.SEEK_SET)
        chunks = []
        while True:
            chunk = os.read(self._trie_fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
        text = b"".join(chunks).decode()
        m = re.search(r"Main:.*?Prefixes:\s*(\d+)", text, re.S)
        return int(m.group(1)) if m else 0

    # -- dumps ----------------------------------------------------------------------------------
    def _dump(self, msg_type: int, family_body: bytes) -> list[bytes]:
        """Send one dump request, return the raw receive buffers (parsing is the caller's)."""
        self._seq += 1
        seq = self._seq
        self._sock.send(
            _HDR.pack(16 + len(family_body), msg_type, _NLM_F_REQUEST | _NLM_F_DUMP, seq, 0) + family_body
        )
        buffers: list[bytes] = []
        for _ in range(1_000_000):  # bounded: a 1M-route dump is ~3,000 buffers
            data = self._sock.recv(1 << 20)
            buffers.append(data)
            # the last message of a multipart dump is NLMSG_DONE (or an error)
            off, last_type = 0, 0
            while off + 16 <= len(data):
                length, last_type, _flags, _seq, _pid = _HDR.unpack_from(data, off)
                if last_type in (_NLMSG_DONE, _NLMSG_ERROR) or length < 16:
                    return buffers
                off += (length + 3) & ~3
        raise RuntimeError("netlink dump did not end")

    def nexthop_objects(self) -> dict[int, frozenset[int]]:
        """Nexthop object id -> the interface indexes it (or its group members) forwards through."""
        oifs: dict[int, int] = {}
        groups: dict[int, list[int]] = {}
        try:
            buffers = self._dump(_RTM_GETNEXTHOP, struct.pack("=BBBBI", socket.AF_UNSPEC, 0, 0, 0, 0))
        except OSError:
            return {}
        for data in buffers:
            off = 0
            while off + 16 <= len(data):
                length, mtype, _f, _s, _p = _HDR.unpack_from(data, off)
                if length < 16:
                    break
                if mtype == _RTM_NEWNEXTHOP:
                    nh_id, oif, members = 0, 0, None
                    a = off + 24
                    end = off + length
                    while a + 4 <= end:
                        alen, atype = _ATTR.unpack_from(data, a)
                        if alen < 4:
                            break
                        atype &= 0x3FFF
                        if atype == _NHA_ID:
                            nh_id = _U32.unpack_from(data, a + 4)[0]
                        elif atype == _NHA_OIF:
                            oif = _U32.unpack_from(data, a + 4)[0]
                        elif atype == _NHA_GROUP:
                            members = [_U32.unpack_from(data, p)[0] for p in range(a + 4, a + alen, 8)]
                        a += (alen + 3) & ~3
                    if members is not None:
                        groups[nh_id] = members
                    else:
                        oifs[nh_id] = oif
                off += (length + 3) & ~3
        result = {i: frozenset((o,)) for i, o in oifs.items()}
        for gid, members in groups.items():
            result[gid] = frozenset(oifs.get(m, 0) for m in members)
        return result

    def _route_hops(
        self, data: bytes, start: int, end: int, nhobj: dict[int, frozenset[int]]
    ) -> frozenset[int]:
        """The interface indexes of one route message's nexthops (attributes from `start` to `end`)."""
        hops: set[int] = set()
        nh_id = 0
        a = start
        while a + 4 <= end:
            alen, atype = _ATTR.unpack_from(data, a)
            if alen < 4:
                break
            atype &= 0x3FFF
            if atype == _RTA_OIF:
                hops.add(_U32.unpack_from(data, a + 4)[0])
            elif atype == _RTA_NH_ID:
                nh_id = _U32.unpack_from(data, a + 4)[0]
            elif atype == _RTA_MULTIPATH:
                p = a + 4
                while p + 8 <= a + alen:
                    rlen, _fl, _hops, ifidx = _RTNH.unpack_from(data, p)
                    if rlen < 8:
                        break
                    hops.add(ifidx)
                    p += (rlen + 3) & ~3
            a += (alen + 3) & ~3
        if nh_id and nh_id in nhobj:
            return nhobj[nh_id]  # the object is the truth (compat-mode RTA_MULTIPATH may lag a replace)
        return frozenset(hops)

    def census(self, *, table: int = 254, watch_ifname: str | None = None) -> RouteCensus:
        """Dump every IPv4 route a daemon installed (not the connected ones) once and count.

        About 1 s of CPU at 1M routes because it is memoised per route shape:
        routes of one daemon differ only in RTA_DST, so the attributes after the destination are a
        memo key: each distinct shape is parsed once.
        """
        import time

        t0 = time.monotonic()
        nhobj = self.nexthop_objects()
        watch = self.ifindex.get(watch_ifname, -1) if watch_ifname else -1
        memo = self._memo
        memo.clear()
        routes = ecmp = via = 0
        body = struct.pack("=BBBBBBBBI", socket.AF_INET, 0, 0, 0, 0, 0, 0, 0, 0)
        unpack_hdr = _HDR.unpack_from
        for data in self._dump(_RTM_GETROUTE, body):
            off = 0
            n = len(data)
            while off + 28 <= n:
                length, mtype, _f, _s, _p = unpack_hdr(data, off)
                if length < 16:
                    break
                if (
                    mtype == _RTM_NEWROUTE
                    and data[off + 20] == table
                    and data[off + 23] == _RTN_UNICAST
                    and data[off + 21] != _RTPROT_KERNEL
                ):
                    # attributes start at off+28; the kernel puts RTA_TABLE (8) then RTA_DST (8) first
                    key = (
                        data[off + 44 : off + length]
                        if data[off + 30] == _RTA_TABLE
                        else data[off + 28 : off + length]
                    )
                    shape = memo.get(key)
                    if shape is None:
                        hops = self._route_hops(data, off + 28, off + length, nhobj)
                        shape = (hops, len(hops))
                        memo[key] = shape
                    routes += 1
                    if shape[1] >= 2:
                        ecmp += 1
                    if watch in shape[0]:
                        via += 1
                off += (length + 3) & ~3
        return RouteCensus(routes=routes, ecmp=ecmp, via_watched=via, seconds=time.monotonic() - t0)


# -- process accounting ---------------------------------------------------------------------------
_CLK_TCK = os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                out.extend(int(x) for x in fh.read().split())
    except OSError:
        pass
    return out


def process_tree(pid: int) -> list[int]:
    """`pid` and all its descendants (bounded walk)."""
    seen: list[int] = []
    todo = [pid]
    while todo and len(seen) < 256:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo.extend(_children(p))
    return seen


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (not its children), from /proc/PID/stat."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def tree_cpu_seconds(pid: int) -> float:
    return sum(cpu_seconds(p) for p in process_tree(pid))


def memory_kib(pid: int, field: str) -> int:
    """A /proc/PID/status memory field in KiB (VmHWM = peak RSS, VmRSS = current)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_memory_kib(pid: int, field: str) -> int:
    return sum(memory_kib(p, field) for p in process_tree(pid))
