"""The routing state the RIB keeps per configured neighbor.

Owns: `NeighborRib` -- the neighbor's policies and flags, the facts of its Established session (peer,
wire context, families), its Adj-RIB-In/Out and update builder, graceful-restart and initial-sync
progress, counters, and the two per-session export memos `Rib` fills.
Never does: routing decisions or export (that is `manager.Rib`, which owns every `NeighborRib`), or
any I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pybgp.rib.adj_rib import AdjRibIn, AdjRibOut
from pybgp.rib.policy import Policy, default_policy
from pybgp.rib.route import Path, PeerInfo
from pybgp.rib.update_builder import UpdateBuilder
from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.context import Family, WireContext
from pybgp.wire.nlri import Prefix


@dataclass(slots=True, kw_only=True)
class NeighborRib:
    """Routing state of one neighbor. `peer` is None while the session is not Established."""

    name: str
    import_policy: Policy | None = None
    export_policy: Policy | None = None
    next_hop_self: bool = False
    rr_client: bool = False
    # Keep the Adj-RIB-In as received (pre-policy)? False: only the Loc-RIB's post-policy candidates
    # (BIRD's `import table off`; see `AdjRibIn` and docs/configuration.md `import_table`).
    import_table: bool = True
    peer: PeerInfo | None = None
    ctx: WireContext | None = None
    families: frozenset[Family] = frozenset()
    adj_in: AdjRibIn | None = None
    adj_out: AdjRibOut = field(default_factory=AdjRibOut)
    builder: UpdateBuilder = field(default_factory=UpdateBuilder)
    stale_deadline: float | None = None
    sync: list[Prefix] | None = None  # initial export still to do (a snapshot of Loc-RIB keys)
    sync_pos: int = 0
    loops: int = 0
    received_updates: int = 0
    # export_path results by (id(attributes), id(origin), next hops, stale, AFI): a full table shares a
    # few attribute sets, so the RFC 4271 5.1 rewrite runs a few times, not once per prefix. The
    # value keeps both objects alive, so their ids cannot be reused while the entry exists.
    export_cache: dict[tuple[int, int, tuple[IPAddress, ...], bool, int],
                       tuple[PathAttributes, PeerInfo, Path | None]] = field(default_factory=dict)
    # `never_exported(origin, target)` of the last origin `_export_changes` met, with both objects
    # (compared by identity, kept alive by this tuple): a feed's changes come from one or two
    # origins, and the verdict depends on nothing else.
    export_verdict: tuple[PeerInfo | None, PeerInfo | None, bool] = (None, None, False)

    @property
    def established(self) -> bool:
        return self.peer is not None and self.ctx is not None

    def effective_import(self, peer: PeerInfo) -> Policy:
        return self.import_policy if self.import_policy is not None else default_policy(peer)

    def effective_export(self, peer: PeerInfo) -> Policy:
        return self.export_policy if self.export_policy is not None else default_policy(peer)
