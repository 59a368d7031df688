"""Turning per-peer export decisions into packed UPDATE messages.

Owns: `UpdateBuilder`, the queue of pending changes for one peer (prefix -> path to advertise, or
None to withdraw), a short batching delay driven by the caller's clock (`next_deadline()`), the
grouping of prefixes by attribute set so each UPDATE carries as many prefixes as fit
(`pybgp.wire.packing.encode_updates` does the packing), End-of-RIB after the initial sync
(RFC 4724 section 2), and keeping the peer's `AdjRibOut` in step with what was sent.
Never does: decide what to export (policy and `export_path` did), sockets, or reading a clock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pybgp.rib.adj_rib import AdjRibOut
from pybgp.rib.route import Path
from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.constants import Afi, Safi
from pybgp.wire.context import Family, WireContext
from pybgp.wire.errors import LocalUsageError
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates, end_of_rib

log = logging.getLogger(__name__)

DEFAULT_BATCH_DELAY = 0.01
"""Seconds changes wait so that a burst (a full table, a flap of many prefixes) leaves in few,
full UPDATEs; short enough not to matter for convergence."""


class UpdateBuilder:
    """Pending advertisements of one peer, flushed into UPDATE bytes when their deadline passes."""

    __slots__ = ("_deadline", "_eor_pending", "_pending", "delay", "sent_updates", "unsendable")

    def __init__(self, delay: float = DEFAULT_BATCH_DELAY) -> None:
        self.delay = delay
        self._pending: dict[Prefix, Path | None] = {}
        self._deadline: float | None = None
        self._eor_pending: list[Family] = []
        self.sent_updates = 0
        self.unsendable = 0

    def __len__(self) -> int:
        return len(self._pending)

    def queue(self, prefix: Prefix, path: Path | None, now: float) -> None:
        """Advertise `path` for `prefix` (None: withdraw) at the next flush; the last call wins."""
        self._pending[prefix] = path
        if self._deadline is None:
            self._deadline = now + self.delay

    def discard(self, prefix: Prefix) -> None:
        """Forget a pending change for `prefix` (it was never sent, so there is nothing to undo)."""
        self._pending.pop(prefix, None)

    def queue_end_of_rib(self, families: Iterable[Family], now: float) -> None:
        """Send End-of-RIB for `families` once everything queued before has been sent."""
        self._eor_pending.extend(f for f in families if f not in self._eor_pending)
        if self._deadline is None:
            self._deadline = now + self.delay

    def next_deadline(self) -> float | None:
        return self._deadline

    def clear(self) -> None:
        self._pending.clear()
        self._eor_pending.clear()
        self._deadline = None

    def build(self, out: AdjRibOut, ctx: WireContext, now: float, *, force: bool = False,
              max_prefixes: int | None = None) -> list[bytes]:
        """The UPDATEs due at `now` (all pending when `force`), at most about `max_prefixes` prefixes
        per call so a full table is sent in slices; the rest stays queued with its deadline `now`.
        Updates `out` to what was sent."""
        if self._deadline is None or (not force and now < self._deadline):
            return []
        if max_prefixes is not None and len(self._pending) > max_prefixes:
            batch: dict[Prefix, Path | None] = {}
            for prefix in list(self._pending)[:max_prefixes]:
                batch[prefix] = self._pending.pop(prefix)
            self._deadline = now
        else:
            batch, self._pending = self._pending, {}
            self._deadline = None
        messages = self._encode(batch, out, ctx)
        if not self._pending and self._eor_pending:
            for afi, safi in self._eor_pending:
                messages.append(end_of_rib(afi, safi, ctx))
            self._eor_pending.clear()
        self.sent_updates += len(messages)
        return messages

    def _encode(self, batch: dict[Prefix, Path | None], out: AdjRibOut, ctx: WireContext) -> list[bytes]:
        sent = out.sent
        withdraw: dict[Afi, list[Prefix]] = {}
        groups: dict[tuple[PathAttributes, tuple[IPAddress, ...]], list[Prefix]] = {}
        for prefix, path in batch.items():
            previous = sent.get(prefix)
            if path is None:
                if previous is not None:
                    del sent[prefix]
                    withdraw.setdefault(prefix.afi, []).append(prefix)
                continue
            key = (path.attributes, path.next_hops)
            if previous is not None and previous[0] is key[0] and previous[1] == key[1]:
                continue
            sent[prefix] = key
            groups.setdefault(key, []).append(prefix)
        messages: list[bytes] = []
        for prefixes in withdraw.values():
            messages.extend(encode_updates(ctx, attributes=None, withdrawn=prefixes))
        for (attrs, next_hops), prefixes in groups.items():
            try:
                messages.extend(
                    encode_updates(ctx, attributes=attrs, announced=prefixes, next_hops=next_hops))
            except LocalUsageError as exc:
                # Cannot be expressed on this session (attributes larger than a message, no next hop
                # of the family): not sent, so not in the Adj-RIB-Out; the others still go.
                log.warning("not advertising %d prefixes (%s ...): %s", len(prefixes), prefixes[0], exc)
                self.unsendable += len(prefixes)
                for prefix in prefixes:
                    sent.pop(prefix, None)
        return messages

    def resend_all(
        self, out: AdjRibOut, ctx: WireContext, families: Iterable[Family] | None = None
    ) -> list[bytes]:
        """Everything in `out` again (route refresh, RFC 2918), grouped and packed."""
        wanted = None if families is None else set(families)
        groups: dict[tuple[PathAttributes, tuple[IPAddress, ...]], list[Prefix]] = {}
        for prefix, key in out.sent.items():
            if wanted is None or (int(prefix.afi), int(Safi.UNICAST)) in wanted:
                groups.setdefault(key, []).append(prefix)
        messages: list[bytes] = []
        for (attrs, next_hops), prefixes in groups.items():
            try:
                messages.extend(
                    encode_updates(ctx, attributes=attrs, announced=prefixes, next_hops=next_hops))
            except LocalUsageError as exc:
                log.warning("route refresh: not re-sending %d prefixes: %s", len(prefixes), exc)
        self.sent_updates += len(messages)
        return messages
