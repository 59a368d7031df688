"""`Rib._export_changes` (the batch export with its shortcuts: the refused-origin verdict, nothing queued
and the prefix never sent) and `Rib.sync_step` (the initial export, with the same shortcut) queue exactly
what `_export_one` per change (or prefix) and neighbor queues, also when the Adj-RIB-Out is not empty
(the server's own /32 was sent to the ToRs) and the builder holds changes."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.rib.manager import Rib
from pybgp.rib.route import BestChange, PeerInfo
from pybgp.wire.attributes import PathAttributes
from pybgp.wire.constants import Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
PREFIXES = [Prefix.parse(f"10.{i}.0.0/24") for i in range(4)]
NEIGHBORS = (("tor1", 1, False), ("tor2", 2, False), ("c1", 3, True))


class PerChangeRib(Rib):
    """The reference: every change exported on its own through `_export_one`, to every neighbor."""

    def _export_changes(self, changes: list[BestChange], now: float) -> None:  # type: ignore[override]
        for nb in self.neighbors.values():
            for change in changes:
                self._export_one(nb, change.prefix, change.best, now)

    def sync_step(self, now: float, budget: int | None = None) -> bool:
        """The initial export without the refused-origin shortcut: `_export_one` per prefix."""
        for nb in self.neighbors.values():
            sync = nb.sync
            if sync is None:
                continue
            end = len(sync) if budget is None else min(len(sync), nb.sync_pos + budget)
            for prefix in sync[nb.sync_pos:end]:
                best = self.loc.best(prefix)
                if best is not None:
                    self._export_one(nb, prefix, best, now)
            nb.sync_pos = end
            if end >= len(sync):
                nb.sync = None
                nb.builder.queue_end_of_rib(sorted(nb.families), now)
            if budget is not None:
                break
        return self.sync_pending()


def peer(name: str, n: int, client: bool) -> PeerInfo:
    return PeerInfo(name=name, address=IP(f"10.69.0.{n}"), asn=64600, local_as=64600,
                    router_id=IP(f"10.0.0.{n}"), local_address=IP("10.69.0.100"), rr_client=client)


def make(cls: type[Rib]) -> Rib:
    rib = cls(local_as=64600, router_id=IP("10.69.0.100"))
    for name, n, client in NEIGHBORS:
        rib.add_neighbor(name, rr_client=client, next_hop_self=True)
        rib.neighbor_up(name, peer(name, n, client), WireContext(ibgp=True), [(1, 1)], 0.0)
        rib.sync_step(0.0)
    return rib


step_st = st.tuples(st.sampled_from(["tor1", "tor2", "c1", "local", "unlocal", "output", "bounce", "sync"]),
                    st.integers(0, 3), st.integers(0, 2))


@settings(max_examples=200, deadline=None)
@given(st.lists(step_st, max_size=25))
def test_batch_export_is_export_one(steps: list[tuple[str, int, int]]) -> None:
    ribs = [make(Rib), make(PerChangeRib)]
    for now, (kind, pick, med) in enumerate(steps, start=1):
        prefix = PREFIXES[pick]
        attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.7"), local_pref=100, med=med)
        outputs = []
        for rib in ribs:
            if kind == "output":
                outputs.append(rib.output(float(now), force=True))
            elif kind == "bounce":  # a session comes up again: the initial export, in slices ("sync")
                name, n, client = NEIGHBORS[pick % 3]
                rib.neighbor_down(name, float(now))
                rib.neighbor_up(name, peer(name, n, client), WireContext(ibgp=True), [(1, 1)], float(now))
            elif kind == "sync":
                rib.sync_step(float(now), budget=1 + med)
            elif kind == "local":  # the server's own routes: exported to every neighbor
                rib.originate(prefix, attrs, rib.local_origin("static"), float(now))
            elif kind == "unlocal":
                rib.withdraw_local(prefix, rib.local_origin("static"), float(now))
            elif med == 2:
                rib.receive(kind, Update(withdrawn=(prefix,)), float(now))
            else:
                rib.receive(kind, Update(attributes=attrs, nlri=(prefix,)), float(now))
        if outputs:
            assert outputs[0] == outputs[1]
    fast, slow = ribs
    for rib in ribs:
        rib.sync_step(1e6)
    assert fast.output(1e6, force=True) == slow.output(1e6, force=True)
    for name, *_ in NEIGHBORS:
        assert fast.neighbors[name].adj_out.sent == slow.neighbors[name].adj_out.sent


def test_refused_change_of_a_sent_prefix_withdraws_it() -> None:
    """The one-change shortcut skips a refused path only for a prefix never sent: a prefix the ToRs
    had from us (our own route) whose best becomes a ToR's path is withdrawn from the other ToR."""
    for cls in (Rib, PerChangeRib):
        rib = make(cls)
        prefix = PREFIXES[0]
        attrs = PathAttributes(origin=Origin.IGP, next_hop=IP("10.69.0.7"), local_pref=100)
        rib.receive("tor1", Update(attributes=attrs, nlri=(PREFIXES[1],)), 1.0)  # the verdict: refused
        rib.originate(prefix, attrs, rib.local_origin("static"), 2.0)
        rib.output(3.0, force=True)
        assert prefix in rib.neighbors["tor2"].adj_out.sent
        rib.receive("tor1", Update(attributes=attrs, nlri=(prefix,)), 4.0)
        rib.receive("tor1", Update(attributes=attrs, nlri=(PREFIXES[2],)), 4.0)  # the verdict again
        rib.withdraw_local(prefix, rib.local_origin("static"), 5.0)
        assert rib.loc.best(prefix) is not None
        rib.output(6.0, force=True)
        assert prefix not in rib.neighbors["tor2"].adj_out.sent, cls.__name__
