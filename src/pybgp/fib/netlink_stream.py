"""The loop thread's side of the netlink writer thread: route writes streamed, their results settled.

Owns: turning a batch's route moves (prefix -> nexthop group) and deletions into `Chunk`s for the
`NetlinkWriter` with the bookkeeping committed at once (optimistically: the next batch is planned against
what the kernel will hold once the queue has landed), and settling finished chunks: a refused request puts
that route's bookkeeping back to what the kernel really holds. Because one queue keeps strict order, that
is the state left by the last request for the prefix that succeeded, or, when none did, the state before
the first one in flight; so on any failure every chunk still queued is waited for first, then all are
walked in order. Never does: group or nexthop object writes, garbage collection or failover (those are
synchronous in `NetlinkFib`, after `settle(wait=True)`, so a group is never deleted or rewritten while a
request that points at it is unsettled), or start threads (the writer does).
"""

from __future__ import annotations

import errno
import logging
from dataclasses import dataclass, field

from pybgp.fib import netlink_writer
from pybgp.fib.netlink_groups import GroupTable
from pybgp.fib.netlink_msgs import NhidRouteTemplate, NlError, encode_noop_ack, encode_route_delete
from pybgp.fib.netlink_socket import NetlinkChannel
from pybgp.fib.netlink_writer import Chunk, NetlinkWriter
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

log = logging.getLogger("pybgp.fib")

_GONE = (errno.ESRCH, errno.ENOENT)
_AF_INET, _AF_INET6 = 2, 10


@dataclass(slots=True)
class Settled:
    """What finished chunks did: counts and, when some request failed, the outcome of every request from
    that chunk on, in order, as (prefix, "replace" or "delete", error or None)."""

    writes: int = 0
    deletes: int = 0
    failed: int = 0
    events: list[tuple[Prefix, str, NlError | None]] = field(default_factory=list)


class RouteStream:
    """Streams route requests through `writer` and settles them against a `GroupTable`."""

    def __init__(self, chan: NetlinkChannel, writer: NetlinkWriter) -> None:
        self.chan = chan
        self.writer = writer
        # finished chunks taken from the writer: counted at once while all succeeded (`_counted`); from
        # the first failure on, kept in order for `settle`'s walk
        self._unsettled: list[Chunk] = []
        self._counted = Settled()
        self.chunk_routes = netlink_writer.CHUNK_ROUTES
        self._templates: dict[tuple[int, int, int, int], NhidRouteTemplate] = {}

    @property
    def idle(self) -> bool:
        """Nothing queued, in flight or waiting to be settled."""
        return not self.writer.busy and not self._unsettled and not self.writer.has_finished

    def _template(self, family: int, table: int, protocol: int, metric: int) -> NhidRouteTemplate:
        key = (family, table, protocol, metric)
        template = self._templates.get(key)
        if template is None:
            template = self._templates[key] = NhidRouteTemplate.build(family, table, protocol, metric)
        return template

    def moves(
        self, groups: GroupTable, moves: list[tuple[Prefix, int]], route: tuple[int, int, int]
    ) -> None:
        """Point each prefix at its group (committed now); `route` = (table, protocol, metric)."""
        olds = groups.commit_moves(moves)
        v4 = self._template(_AF_INET, *route)
        v6 = self._template(_AF_INET6, *route)
        pack, head, middle, tail, hdr = v4.pack, v4.head, v4.middle, v4.tail, v4.hdr
        ipv4, step = Afi.IPV4, self.chunk_routes
        for start in range(0, len(moves), step):
            part = moves[start : start + step]
            base = self.chan.reserve(len(part) + 1)
            msgs = [
                pack(head, base + i, middle, prefix.length, tail, prefix.network.to_bytes(4, "big"), hdr, gid)
                if prefix.afi is ipv4
                else v6.encode(base + i, prefix.network.to_bytes(16, "big"), prefix.length, gid)
                for i, (prefix, gid) in enumerate(part)
            ]
            self._submit(Chunk(b"", base, base + len(part), part, [], olds[start : start + step]), msgs)

    def deletes(self, groups: GroupTable, prefixes: list[Prefix], table: int, protocol: int) -> None:
        """Delete routes (forgotten now; a refusal other than "already gone" puts them back)."""
        route_gid, forget, step = groups.route_gid, groups.forget_route, self.chunk_routes
        for start in range(0, len(prefixes), step):
            part = prefixes[start : start + step]
            olds = [route_gid.get(prefix) for prefix in part]
            for prefix in part:
                forget(prefix)
            base = self.chan.reserve(len(part) + 1)
            msgs = [
                encode_route_delete(base + i, *_dst(prefix), prefix.length, table, protocol)
                for i, prefix in enumerate(part)
            ]
            self._submit(Chunk(b"", base, base + len(part), [], part, olds), msgs)

    def _submit(self, chunk: Chunk, msgs: list[bytes]) -> None:
        msgs.append(encode_noop_ack(chunk.sentinel))
        chunk.payload = b"".join(msgs)
        self.writer.submit(chunk)
        self.chan.requests_sent += chunk.size
        self._take_finished()

    def _take_finished(self) -> None:
        """Count finished chunks that all succeeded and let them go (memory stays bounded by the queue
        during a long feed); keep them, in order, once one failed."""
        for chunk in self.writer.finished():
            if self._unsettled or chunk.failures or chunk.error is not None:
                self._unsettled.append(chunk)
            else:
                self._counted.writes += len(chunk.moves)
                self._counted.deletes += len(chunk.deletes)

    def settle(self, groups: GroupTable, *, wait: bool = False) -> Settled:
        """Account for finished chunks. With `wait`, first let every queued chunk land (the caller then
        owns the socket and the bookkeeping is exact). A failure anywhere also waits for the rest, then
        walks every request in order and sets each failed prefix's group to what the kernel holds."""
        if wait:
            self.writer.drain()
        self._take_finished()
        chunks, self._unsettled = self._unsettled, []
        out, self._counted = self._counted, Settled()
        if not chunks:
            return out
        if not wait:  # a chunk failed: the walk needs every later request, so let the queue land
            self.writer.drain()
            chunks += self.writer.finished()
        kernel: dict[Prefix, int | None] = {}  # touched prefixes: what the kernel holds after each request
        failed: set[Prefix] = set()
        for chunk in chunks:
            lost: NlError | None = None
            if chunk.error is not None:  # the send or the ack read raised: count every request as refused
                log.error("netlink writer: %d route requests unconfirmed: %r", chunk.size, chunk.error)
                code = getattr(chunk.error, "errno", None) or errno.EIO
                lost = NlError(seq=0, errno=code, message=f"netlink writer: {chunk.error}")
            ops: list[tuple[Prefix, int | None]] = [*chunk.moves, *((p, None) for p in chunk.deletes)]
            base, errs = chunk.base, chunk.failures
            for i, ((prefix, gid), old) in enumerate(zip(ops, chunk.olds, strict=True)):
                err = lost if lost is not None else errs.get(base + i)
                if gid is None and err is not None and err.errno in _GONE:
                    err = None  # deleting a route already gone is a success
                out.events.append((prefix, "replace" if gid is not None else "delete", err))
                if err is None:
                    kernel[prefix] = gid
                    if gid is None:
                        out.deletes += 1
                    else:
                        out.writes += 1
                else:
                    kernel[prefix] = kernel.get(prefix, old)  # an earlier request in flight, else before
                    failed.add(prefix)
                    out.failed += 1
        for prefix in failed:
            gid = kernel[prefix]
            if gid is not None and gid in groups.groups:
                groups.commit_move(prefix, gid)
            else:
                groups.forget_route(prefix)
        return out


def _dst(prefix: Prefix) -> tuple[int, bytes]:
    if prefix.afi == Afi.IPV4:
        return _AF_INET, prefix.network.to_bytes(4, "big")
    return _AF_INET6, prefix.network.to_bytes(16, "big")
