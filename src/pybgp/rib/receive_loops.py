"""The per-prefix receive loops of `Rib.receive`: a received UPDATE's announcements through the import
policy into the Loc-RIB and (when the neighbor keeps one) the Adj-RIB-In.

Owns: `ReceiveLoops`, the base of `manager.Rib` holding its three hot loops (one prefix under
NEXT_HOP; runs sharing one policy result; prefix by prefix for ADD-PATH or prefix-reading policies).
They are methods, not functions, so a test can swap one for another (`tests/rib/test_fast_paths.py`).
Never does: loop checks, RFC 7606 handling, withdrawals or export (`Rib.receive` does those around
them), or any I/O.
"""

from __future__ import annotations

from collections.abc import Sequence

from pybgp.rib.adj_rib import AdjRibIn
from pybgp.rib.loc_rib import LocRib
from pybgp.rib.policy import Policy, PolicyContext, policy_context
from pybgp.rib.route import AttributeInterner, BestChange, Path, PeerInfo, make_path
from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.nlri import Prefix

Run = tuple[tuple[IPAddress, ...], Sequence[Prefix]]
"""Announced prefixes of one UPDATE sharing their next hops (MP_REACH's, or none: NEXT_HOP)."""


class ReceiveLoops:
    """The receive loops; `Rib` provides the Loc-RIB and the attribute interner they write through."""

    loc: LocRib
    interner: AttributeInterner

    def _receive_one(self, adj: AdjRibIn, peer: PeerInfo, policy: Policy, attrs: PathAttributes,
                     prefix: Prefix, changes: list[BestChange]) -> None:
        """`_receive_runs` for one run of one prefix under its NEXT_HOP, without building the run:
        `tests/rib/test_fast_paths.py` checks that both leave the same RIB state and changes."""
        received = make_path(attrs, peer)
        accepted = policy.import_path(received, prefix, peer, self.interner)
        loc = self.loc
        if accepted is None:
            key = loc.key(prefix)
            change = loc.update(key, peer, None)
            if change is not None:
                changes.append(change)
        else:
            key = loc.update_one(prefix, peer, accepted, changes)
        if adj.table:
            adj.store_run([key], received, accepted is None)

    def _receive_runs(self, adj: AdjRibIn, peer: PeerInfo, policy: Policy, attrs: PathAttributes,
                      runs: Sequence[Run], changes: list[BestChange]) -> None:
        """`receive`'s announcements in the common case (no ADD-PATH, a policy that does not read
        the prefix, such as rule 4): every prefix of a run shares one received and one accepted
        path, so the policy runs once per run, the Loc-RIB takes the run in one call, and the
        Adj-RIB-In entries are written by one `dict.update`, keyed by the Loc-RIB's key objects."""
        for nhs, prefixes in runs:
            if not prefixes:
                continue
            received = make_path(attrs, peer, nhs)
            accepted = policy.apply(received, policy_context(prefixes[0], peer), self.interner)
            if accepted is None:
                keys = [self.loc.key(p) for p in prefixes]
                for key in keys:
                    change = self.loc.update(key, peer, None)
                    if change is not None:
                        changes.append(change)
            else:
                keys = self.loc.update_many(prefixes, peer, accepted, changes)
            if adj.table:
                adj.store_run(keys, received, accepted is None)

    def _receive_each(self, adj: AdjRibIn, peer: PeerInfo, policy: Policy, attrs: PathAttributes,
                      runs: Sequence[Run], changes: list[BestChange]) -> None:
        """`receive`'s announcements prefix by prefix: with ADD-PATH (one path per path identifier)
        or a policy that reads the prefix. One received Path per (next hops, path identifier) of
        the UPDATE, shared by its prefixes; the policy result too when no rule reads the prefix."""
        base: dict[tuple[tuple[IPAddress, ...], int], tuple[Path, Path | None]] = {}
        shared = policy.prefix_free
        pre, loc_key, loc_update, keep = adj.pre, self.loc.key, self.loc.update, adj.table
        for nhs, prefixes in runs:
            for prefix in prefixes:
                path_id = prefix.path_id
                if path_id:
                    key = prefix.without_path_id()
                else:  # the Loc-RIB's own key object, so the Adj-RIB-In holds no second copy
                    prefix = key = loc_key(prefix)
                known = base.get((nhs, path_id))
                if known is None:
                    received = make_path(attrs, peer, nhs, False, path_id)
                    accepted = policy.apply(received, PolicyContext(prefix=key, neighbor=peer), self.interner)
                    base[(nhs, path_id)] = (received, accepted)
                elif shared:
                    received, accepted = known
                else:
                    received = known[0]
                    accepted = policy.apply(received, PolicyContext(prefix=key, neighbor=peer), self.interner)
                if keep:
                    if adj.stale or adj.rejected:
                        adj.store(prefix, received)
                    else:
                        pre[prefix] = received  # what `store` does when nothing is stale or rejected
                    if accepted is None:
                        adj.reject(prefix)
                change = loc_update(key, peer, accepted, path_id)
                if change is not None:
                    changes.append(change)
