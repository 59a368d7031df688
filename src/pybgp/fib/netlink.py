"""`NetlinkFib`: the `FibPort` on the real kernel, with nexthop groups, batching and cheap failover.

Owns: installing our routes into one table under our own protocol number and metric; ECMP sets as
kernel nexthop objects and groups shared by every route with the same set (Linux 5.3+), or classic
RTA_MULTIPATH routes where nexthop objects are missing (detected at start); `nexthop_down` by
rewriting the few groups holding a dead nexthop; replace-only changes (never delete-then-add);
batching many requests per sendmsg with only failures acked; reconciling with what the kernel holds
(at start: remove our stale routes and nexthops, or adopt them during a graceful restart); flush or
keep at close; per-route failures reported, never raised. With `writer_thread`, route writes and deletes
of group routes go through the netlink writer thread (`netlink_writer`, `netlink_stream`): the kernel's
work overlaps the caller's; every other request first waits for the queue to land. Never does: route
selection, asyncio, or let a pyroute2 object out of `pybgp.fib`.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address
from itertools import chain

from pybgp.fib.model import FibFailure, FibRoute, NextHop
from pybgp.fib.netlink_groups import GroupTable, Hops
from pybgp.fib.netlink_load import load_state, read_links
from pybgp.fib.netlink_msgs import (
    AF_INET,
    AF_INET6,
    RTM_GETNEXTHOP,
    NlError,
    encode_group,
    encode_nexthop,
    encode_nexthop_delete,
    encode_route_delete,
    encode_route_multipath,
    encode_route_nhid,
)
from pybgp.fib.netlink_socket import NetlinkChannel, NetlinkSocketError
from pybgp.fib.netlink_socket import set_nexthop_compat_mode as set_nexthop_compat_mode  # its old home
from pybgp.fib.netlink_stream import RouteStream
from pybgp.fib.netlink_writer import NetlinkWriter
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

log = logging.getLogger("pybgp.fib")

RTPROT_PYBGP = 186
"""Default protocol number for our routes and nexthops: RTPROT_BGP in rtnetlink.h (BIRD stamps 12).

FRR's zebra also uses 186 for BGP routes; on a host running FRR in the same table, configure another
number, since start-up removes every route of our protocol in our table."""

DEFAULT_METRIC = 32
FIRST_NEXTHOP_ID = 0x0B60000
MODE_NEXTHOP_OBJECTS = "nexthop-objects"
MODE_MULTIPATH = "multipath"

_GONE = (errno.ESRCH, errno.ENOENT)


@dataclass(slots=True)
class NetlinkStats:
    """Counters for metrics and tests: requests sent, sendmsg calls, routes written, failures."""

    requests: int = 0
    route_writes: int = 0
    route_deletes: int = 0
    group_writes: int = 0
    unchanged: int = 0
    failures: int = 0


def prefix_dst(prefix: Prefix) -> tuple[int, bytes]:
    """(address family, packed network address) of a prefix."""
    if prefix.afi == Afi.IPV4:
        return AF_INET, prefix.network.to_bytes(4, "big")
    return AF_INET6, prefix.network.to_bytes(16, "big")


class NetlinkFib:
    """Routes in kernel table `table` with protocol `protocol` and metric `metric`, in `netns` if given.

    `nexthop_objects`: None detects support, True/False force a mode (True falls back when the
    kernel refuses). `graceful_restart`: keep (adopt) routes and nexthops a previous run left, to be
    cleaned by the first `reconcile(desired)`; otherwise they are removed now. `flush_on_close`: the
    default choice at `close()`. `on_error` is called once per new per-route failure. `writer_thread`:
    send route writes from a second thread (`notify`, called from it, asks the owner's loop to `settle()`).
    """

    def __init__(
        self,
        table: int = 254,
        protocol: int = RTPROT_PYBGP,
        metric: int = DEFAULT_METRIC,
        *,
        netns: str | None = None,
        nexthop_objects: bool | None = None,
        graceful_restart: bool = False,
        flush_on_close: bool = False,
        first_nexthop_id: int = FIRST_NEXTHOP_ID,
        on_error: Callable[[FibFailure], None] | None = None,
        writer_thread: bool = False,
        notify: Callable[[], None] | None = None,
    ) -> None:
        self.table = table
        self.protocol = protocol
        self.metric = metric
        self.flush_on_close = flush_on_close
        self.stats = NetlinkStats()
        self._on_error = on_error
        self._first_id = first_nexthop_id
        self._chan = NetlinkChannel(netns)
        self._stream: RouteStream | None = None
        self._closed = False
        self._ifindex: dict[str, int] = {}
        self._ifname: dict[int, str] = {}
        self._links_stale = False  # set by ENODEV: an interface may have been recreated
        self._failures: dict[Prefix, FibFailure] = {}
        self._hops: dict[Prefix, Hops] = {}  # classic (RTA_MULTIPATH/gateway) routes
        self._unmanaged: set[Prefix] = set()  # adopted routes via nexthop objects we do not track
        self._groups = GroupTable(first_nexthop_id)
        self._strays: set[int] = set()
        self._nh_supported = self._nexthops_supported()
        self.mode = MODE_MULTIPATH
        if nexthop_objects is not False and self._nh_supported:
            self.mode = MODE_NEXTHOP_OBJECTS
        elif nexthop_objects:
            log.warning("kernel has no nexthop objects: using RTA_MULTIPATH routes")
        self._load_from_kernel()
        if graceful_restart:
            log.info("graceful restart: keeping %d routes of protocol %d", len(self._installed()), protocol)
        else:
            self.flush()
        if writer_thread:
            self._stream = RouteStream(self._chan, NetlinkWriter(self._chan, notify))

    # -- FibPort --------------------------------------------------------------------------------

    def apply(self, replace: Iterable[FibRoute] = (), delete: Iterable[Prefix] = ()) -> None:
        gone = {prefix.without_path_id() for prefix in delete}
        self.apply_nexthops({r.prefix: r.nexthops for r in replace if r.prefix not in gone}, gone)

    def apply_nexthops(self, wanted: dict[Prefix, Hops], delete: Iterable[Prefix] = ()) -> None:
        """`apply` from nexthop tuples normalised as `FibRoute`'s (the exporter: no `FibRoute` per route);
        no path ids, no prefix in both arguments; `wanted` is consumed."""
        self._check_open()
        if self.mode == MODE_NEXTHOP_OBJECTS:
            # IPv6 routes cannot use a device-only nexthop object (ours are AF_INET): those stay classic
            # routes (the kernel accepts one `dev X` nexthop that way, but not a device-only ECMP set)
            classic = {
                p: hops
                for p, hops in wanted.items()
                if p.afi == Afi.IPV6 and any(nh.gateway is None for nh in hops)
            }
            for prefix in classic:
                del wanted[prefix]
            self._apply_groups(wanted)
            if classic:
                self._apply_multipath(classic)
        else:
            self._apply_multipath(wanted)
        self._delete_routes(delete)
        if self.mode == MODE_NEXTHOP_OBJECTS:
            self._collect_garbage()

    def nexthop_down(self, nh: NextHop) -> None:
        self._check_open()
        self.settle(wait=True)  # at most a few small chunks queued (netlink_writer.QUEUE_DEPTH)
        requests: dict[int, tuple[str, int, Hops]] = {}
        msgs = []
        rewrites, deletes = self._groups.plan_nexthop_down(nh)
        for gid, remaining in rewrites:
            seq = self._chan.next_seq()
            members = [self._groups.nh_ids[h] for h in remaining]
            msgs.append(encode_group(seq, gid, self.protocol, members))
            requests[seq] = ("rewrite", gid, remaining)
        for gid in deletes:
            seq = self._chan.next_seq()
            msgs.append(encode_nexthop_delete(seq, gid))
            requests[seq] = ("delete", gid, ())
        failed = self._send(msgs)
        dropped: list[int] = []
        refused: dict[int, NlError] = {}
        for seq, (kind, gid, remaining) in requests.items():
            err = failed.get(seq)
            if kind == "rewrite" and err is None:
                self._groups.commit_group(gid, remaining)
            elif kind == "delete" and (err is None or err.errno in _GONE):
                dropped.append(gid)
            elif err is not None:
                refused[gid] = err
        for prefix in self._groups.drop_groups(dropped):
            self._failures.pop(prefix, None)
        if refused:
            for prefix in self._groups.prefixes_in(refused):
                err = refused[self._groups.route_gid[prefix]]
                self._fail(prefix, "nexthop_down", err.errno, err.message)
        self.stats.group_writes += len(rewrites) + len(deletes)
        # classic routes (multipath mode, or adopted at a graceful restart) are rewritten one by one
        affected = {p: tuple(h for h in hops if h != nh) for p, hops in self._hops.items() if nh in hops}
        if affected:
            self._apply_multipath({p: hops for p, hops in affected.items() if hops})
            self._delete_routes({p for p, hops in affected.items() if not hops})
        if self.mode == MODE_NEXTHOP_OBJECTS:
            self._collect_garbage()

    def routes(self) -> dict[Prefix, FibRoute]:
        self.settle(wait=True)
        trusted = FibRoute.trusted  # group members and classic hops are stored normalised
        return {prefix: trusted(prefix, hops) for prefix, hops in self._installed().items() if hops}

    def reconcile(self, desired: Mapping[Prefix, FibRoute] | Iterable[FibRoute]) -> None:
        """Re-read our routes and nexthops from the kernel, then install `desired` and remove the rest.

        Re-reading (rather than trusting our bookkeeping) repairs drift: routes someone deleted,
        nexthops the kernel dropped with a vanished interface, leftovers of a previous run.
        """
        self._check_open()
        routes = desired.values() if isinstance(desired, Mapping) else desired
        want = {route.prefix: route.nexthops for route in routes}  # no FibRoute kept (a generator's go)
        self.settle(wait=True)
        self._load_from_kernel()
        self.apply_nexthops(want, [p for p in chain(self._hops, self._groups.route_gid) if p not in want])
        self._delete_strays()

    def flush(self) -> None:
        self._check_open()
        self.settle(wait=True)
        classic = set(self._hops)
        self._delete_routes(classic)
        if self.mode == MODE_NEXTHOP_OBJECTS:
            self._groups.forget_all_routes()  # deleting their groups removes these routes
            self._collect_garbage()
        self._delete_strays()
        self._failures.clear()

    def close(self, *, flush: bool | None = None) -> None:
        """Close the socket; flush our routes first if `flush` (default: the constructor's choice)."""
        if self._closed:
            return
        try:
            if self.flush_on_close if flush is None else flush:
                self.flush()
            self.settle(wait=True)  # keep: what is queued still lands
        finally:
            self._closed = True
            if self._stream is not None:
                self._stream.writer.close()
            self._chan.close()

    # -- extras ---------------------------------------------------------------------------------

    def failures(self) -> dict[Prefix, FibFailure]:
        """Routes the kernel refused, until a later change for that prefix succeeds. With the writer
        thread: the refusals known so far (`settle(wait=True)` first for every write made until now)."""
        if not self._closed:
            self.settle()
        return dict(self._failures)

    def settle(self, *, wait: bool = False) -> None:
        """Account for route writes the writer thread finished (counters, failures); with `wait`, after
        every queued one landed. The owner's loop calls it when the writer's `notify` asks."""
        if self._stream is None or self._closed:
            return
        done = self._stream.settle(self._groups, wait=wait)
        self.stats.route_writes += done.writes
        self.stats.route_deletes += done.deletes
        for prefix, operation, err in done.events:
            if err is None:
                self._failures.pop(prefix, None)
            else:
                self._fail(prefix, operation, err.errno, err.message)

    def route_count(self) -> int:
        """How many routes are installed, in O(1) (for gauges; `routes()` copies the table)."""
        return len(self._hops) + len(self._groups.route_gid)

    def nexthop_route_counts(self) -> dict[NextHop, int]:
        """Installed routes per nexthop: O(groups) for group routes (plus classic routes, rare)."""
        counts: dict[NextHop, int] = {}
        for group in self._groups.groups.values():
            if group.routes:
                for nh in group.nexthops:
                    counts[nh] = counts.get(nh, 0) + group.routes
        for hops in self._hops.values():
            for nh in hops:
                counts[nh] = counts.get(nh, 0) + 1
        return counts

    def nexthops(self) -> frozenset[NextHop]:
        """Every nexthop some installed route uses, without walking the routes (groups are few).

        The cheap way to find what to pass to `nexthop_down` when an interface loses carrier.
        """
        used = {nh for group in self._groups.groups.values() if group.routes for nh in group.nexthops}
        used.update(nh for hops in self._hops.values() for nh in hops)
        return frozenset(used)

    def nexthop_group_count(self) -> int:
        """How many nexthop groups our routes share (0 in multipath mode)."""
        return len(self._groups.groups)

    def group_of(self, prefix: Prefix) -> int | None:
        """The kernel nexthop group id a route points at (None in multipath mode or when absent)."""
        return self._groups.route_gid.get(prefix)

    @property
    def sendmsg_calls(self) -> int:
        return self._chan.sendmsg_calls

    # -- route batches --------------------------------------------------------------------------

    def _apply_groups(self, wanted: dict[Prefix, Hops]) -> None:
        self._resolve_interfaces(wanted)
        plan = self._groups.plan(wanted)
        if (plan.group_writes or plan.new_nexthops) and self._stream is not None and not self._stream.idle:
            failures = self.stats.failures  # group writes are synchronous: let queued moves land first
            self.settle(wait=True)
            if self.stats.failures != failures:  # a refused move changed the bookkeeping: plan again
                for gid, _hops, old in plan.group_writes:
                    if old is None:
                        self._groups.release(gid)  # allocated by the abandoned plan
                plan = self._groups.plan(wanted)
        self.stats.unchanged += plan.unchanged
        # 1. nexthop objects and groups (created, or rewritten for a whole group at once)
        msgs: list[bytes] = []
        nh_seq: dict[int, tuple[NextHop, int]] = {}
        for nh in plan.new_nexthops:
            nh_id, seq = self._groups.allocate(), self._chan.next_seq()
            ifindex = self._ifindex[nh.ifname]
            msgs.append(encode_nexthop(seq, nh_id, self.protocol, ifindex, _packed(nh.gateway)))
            nh_seq[seq] = (nh, nh_id)
        pending_ids = {nh: nh_id for nh, nh_id in nh_seq.values()}
        group_seq: dict[int, tuple[int, Hops, Hops | None]] = {}
        for gid, hops, old in plan.group_writes:
            seq = self._chan.next_seq()
            members = [self._groups.nh_ids.get(h) or pending_ids[h] for h in hops]
            msgs.append(encode_group(seq, gid, self.protocol, members))
            group_seq[seq] = (gid, hops, old)
        failed = self._send(msgs)
        nh_errors: dict[NextHop, NlError] = {}
        for seq, (nh, nh_id) in nh_seq.items():
            if seq in failed:
                nh_errors[nh] = failed[seq]
                self._groups.release(nh_id)
            else:
                self._groups.commit_nexthop(nh, nh_id)
        group_errors: dict[int, NlError] = {}
        for seq, (gid, hops, old) in group_seq.items():
            err = failed.get(seq)
            if err is None:
                self._groups.commit_group(gid, hops)
                self.stats.group_writes += 1
                continue
            cause = next((nh_errors[h] for h in hops if h in nh_errors), err)
            group_errors[gid] = NlError(seq=seq, errno=cause.errno, message=_describe(hops, nh_errors, cause))
            if old is None:
                self._groups.release(gid)
            else:  # a whole-group rewrite failed: its routes keep the old members (rare: walk them)
                for prefix in self._groups.prefixes_in((gid,)):
                    self._fail(prefix, "replace", cause.errno, group_errors[gid].message)
        if self._failures:  # usually empty: skip a walk over the whole batch
            for prefix, hops in wanted.items():
                if self._groups.nexthops_of(prefix) == hops:
                    self._failures.pop(prefix, None)  # unchanged or moved with its whole group
        # 2. routes pointing at their (new) group: consecutive seqs, messages streamed to the socket
        moves = plan.moves
        if group_errors:  # usually none: no walk over the batch
            moves = []
            for prefix, gid in plan.moves:
                if gid in group_errors:
                    self._fail(prefix, "replace", group_errors[gid].errno, group_errors[gid].message)
                else:
                    moves.append((prefix, gid))
        if self._stream is not None and not self._hops:  # no classic route to convert: stream them
            if self._failures:
                for prefix, _gid in moves:
                    self._failures.pop(prefix, None)  # put back by `settle` if this write is refused
            self._stream.moves(self._groups, moves, (self.table, self.protocol, self.metric))
            return
        base = self._chan.reserve(len(moves))
        table, protocol, metric = self.table, self.protocol, self.metric
        failed = self._send(
            encode_route_nhid(base + i, *prefix_dst(prefix), prefix.length, table, protocol, metric, gid)
            for i, (prefix, gid) in enumerate(moves)
        )
        for i, (prefix, gid) in enumerate(moves):
            err = failed.get(base + i)
            if err is not None:
                self._fail(prefix, "replace", err.errno, err.message)
                continue
            self._groups.commit_move(prefix, gid)
            if self._hops:
                self._hops.pop(prefix, None)
                self._unmanaged.discard(prefix)
            self._failures.pop(prefix, None)
        self.stats.route_writes += len(moves) - len(failed)

    def _apply_multipath(self, wanted: dict[Prefix, Hops]) -> None:
        self.settle(wait=True)
        self._resolve_interfaces(wanted)
        changes = []
        for prefix, hops in wanted.items():
            if self._hops.get(prefix) == hops and prefix not in self._unmanaged:
                self.stats.unchanged += 1
                self._failures.pop(prefix, None)
            else:
                changes.append((prefix, hops))
        base = self._chan.reserve(len(changes))
        table, protocol, metric, ifindex = self.table, self.protocol, self.metric, self._ifindex
        failed = self._send(
            encode_route_multipath(
                base + i, *prefix_dst(prefix), prefix.length, table, protocol, metric,
                [(ifindex[h.ifname], _packed(h.gateway)) for h in hops],
            )
            for i, (prefix, hops) in enumerate(changes)
        )
        for i, (prefix, hops) in enumerate(changes):
            err = failed.get(base + i)
            if err is not None:
                self._fail(prefix, "replace", err.errno, err.message)
                continue
            self._hops[prefix] = hops
            self._unmanaged.discard(prefix)
            self._groups.forget_route(prefix)
            self._failures.pop(prefix, None)
        self.stats.route_writes += len(changes) - len(failed)

    def _delete_routes(self, prefixes: Iterable[Prefix]) -> None:
        doomed = []
        for prefix in prefixes:
            self._failures.pop(prefix, None)
            if prefix in self._hops or prefix in self._groups.route_gid:
                doomed.append(prefix)
        if self._stream is not None and not self._hops:
            self._stream.deletes(self._groups, doomed, self.table, self.protocol)
            return
        self.settle(wait=True)
        base = self._chan.reserve(len(doomed))
        table, protocol = self.table, self.protocol
        failed = self._send(
            encode_route_delete(base + i, *prefix_dst(prefix), prefix.length, table, protocol)
            for i, prefix in enumerate(doomed)
        )
        for i, prefix in enumerate(doomed):
            err = failed.get(base + i)
            if err is not None and err.errno not in _GONE:
                self._fail(prefix, "delete", err.errno, err.message)
                continue
            self._hops.pop(prefix, None)
            self._unmanaged.discard(prefix)
            self._groups.forget_route(prefix)
            self.stats.route_deletes += 1

    def _collect_garbage(self) -> None:
        """Delete groups no route uses (first), then nexthop objects no group uses."""
        groups, nexthops = self._groups.garbage()
        if (groups or nexthops) and self._stream is not None and not self._stream.idle:
            self.settle(wait=True)  # a refused move may still need one of these groups
            groups, nexthops = self._groups.garbage()
        msgs: list[bytes] = []
        seqs: dict[int, int | NextHop] = {}
        for gid in groups:
            seq = self._chan.next_seq()
            msgs.append(encode_nexthop_delete(seq, gid))
            seqs[seq] = gid
        for nh in nexthops:
            nh_id = self._groups.nh_ids.get(nh)
            if nh_id is None:
                self._groups.drop_nexthop(nh)
                continue
            seq = self._chan.next_seq()
            msgs.append(encode_nexthop_delete(seq, nh_id))
            seqs[seq] = nh
        failed = self._send(msgs)
        for seq, item in seqs.items():
            err = failed.get(seq)
            if err is not None and err.errno not in _GONE:
                log.warning("could not delete nexthop object %s: %s", item, err.message or err.errno)
                continue
            if isinstance(item, int):
                self._groups.drop_group(item)
            else:
                self._groups.drop_nexthop(item)

    # -- kernel state ---------------------------------------------------------------------------

    def _nexthops_supported(self) -> bool:
        self._own_socket()
        try:
            self._chan.dump(RTM_GETNEXTHOP)
        except NetlinkSocketError as exc:
            log.info("no nexthop objects in this kernel (%s)", exc)
            return False
        return True

    def _refresh_links(self) -> None:
        self._own_socket()
        self._links_stale = False
        self._ifindex, self._ifname = read_links(self._chan)

    def _resolve_interfaces(self, wanted: dict[Prefix, Hops]) -> None:
        """Drop (as failures) routes through interfaces that do not exist, refreshing names once."""
        # a feed shares a few nexthop tuples over many routes: look at each distinct object once
        names = {nh.ifname for hops in {id(h): h for h in wanted.values()}.values() for nh in hops}
        if self._links_stale or names - self._ifindex.keys():
            self._refresh_links()
        missing = names - self._ifindex.keys()
        if not missing:
            return
        for prefix, hops in list(wanted.items()):
            absent = [nh.ifname for nh in hops if nh.ifname in missing]
            if absent:
                del wanted[prefix]
                self._fail(prefix, "replace", errno.ENODEV, f"no interface {absent[0]!r}")

    def _load_from_kernel(self) -> None:
        """Rebuild our bookkeeping from the kernel's routes and nexthops of our protocol."""
        self._refresh_links()
        state = load_state(
            self._chan, self._ifname, protocol=self.protocol, table=self.table, first_id=self._first_id,
            dump_nexthops=self._nh_supported, objects=self.mode == MODE_NEXTHOP_OBJECTS,
        )
        self._groups, self._hops, self._unmanaged, self._strays = (
            state.groups, state.hops, state.unmanaged, state.strays
        )

    def _delete_strays(self) -> None:
        """Remove our nexthop objects that do not fit the bookkeeping (left by an older run or mode).

        Called only after routes were rewritten (reconcile) or removed (flush): a route still pointing
        at a stray would go with it.
        """
        strays = sorted(self._strays)
        self._strays = set()
        self._send([encode_nexthop_delete(self._chan.next_seq(), nh_id) for nh_id in strays])

    def _installed(self) -> dict[Prefix, Hops]:
        out = dict(self._hops)
        for prefix in self._groups.route_gid:
            out[prefix] = self._groups.nexthops_of(prefix) or ()
        return out

    # -- helpers --------------------------------------------------------------------------------

    def _own_socket(self) -> None:
        """Wait until the writer thread has sent everything queued: the socket is then ours alone.
        (Callers that plan from the bookkeeping `settle(wait=True)` first: that also counts failures.)"""
        if self._stream is not None:
            self._stream.writer.drain()

    def _send(self, msgs: Iterable[bytes]) -> dict[int, NlError]:
        """Send requests (a list or a generator, consumed as the chunks go out); failures by seq."""
        if isinstance(msgs, list) and not msgs:
            return {}  # nothing to send: no need to wait for the writer thread's queue
        self._own_socket()
        before = self._chan.requests_sent
        failed = self._chan.batch(msgs)
        self.stats.requests += self._chan.requests_sent - before
        return failed

    def _fail(self, prefix: Prefix, operation: str, err: int, message: str) -> None:
        failure = FibFailure(prefix=prefix, operation=operation, errno=err, message=message or _strerror(err))
        self.stats.failures += 1
        if err == errno.ENODEV:
            self._links_stale = True
        if self._failures.get(prefix) != failure:
            self._failures[prefix] = failure
            log.warning("kernel refused %s", failure)
            if self._on_error is not None:
                self._on_error(failure)

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("NetlinkFib used after close()")


def _packed(gateway: IPv4Address | IPv6Address | None) -> bytes | None:
    return gateway.packed if gateway is not None else None


def _strerror(err: int) -> str:
    return os.strerror(err) if err else "refused"


def _describe(hops: Hops, nh_errors: dict[NextHop, NlError], cause: NlError) -> str:
    for nh in hops:
        if nh in nh_errors:
            return f"nexthop {nh}: {nh_errors[nh].message or _strerror(nh_errors[nh].errno)}"
    return cause.message or _strerror(cause.errno)
