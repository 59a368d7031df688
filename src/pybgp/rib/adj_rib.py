"""Adj-RIB-In and Adj-RIB-Out of one session (RFC 4271 section 3.2), loop checks, graceful restart.

Owns: `AdjRibIn` (the paths one peer sent, End-of-RIB tracking, stale marking and sweeping for
the graceful-restart helper, RFC 4724 4.2), `loop_reason` (the receive-side loop
checks: own AS in AS_PATH on eBGP, RFC 4456 ORIGINATOR_ID and CLUSTER_LIST), `export_path` (the
RFC 4271 5.1 / RFC 4456 8 rewrite of a Loc-RIB path for one target session, before export
policy; `never_exported`, its shortcut that needs no path), and `AdjRibOut` (what we last sent to a peer).
Never does: selection, policy evaluation, encoding, or I/O.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Iterator
from typing import Any

from pybgp.rib.route import AttributeInterner, Path, PeerInfo
from pybgp.wire.attributes import AsPathSegment, IPAddress, PathAttributes, for_readvertisement
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import Family
from pybgp.wire.nlri import Prefix

NO_EXPORT = 0xFFFFFF01
NO_ADVERTISE = 0xFFFFFF02
NO_EXPORT_SUBCONFED = 0xFFFFFF03


def family_of(prefix: Prefix) -> Family:
    return (int(prefix.afi), 1)


def never_exported(origin: PeerInfo, target: PeerInfo) -> bool:
    """True when no path from `origin` can be advertised to `target`, whatever its attributes: the
    session it came from (RFC 4271 9.2), or an iBGP-learned path towards an iBGP peer when neither
    is a route-reflector client (RFC 4271 9.2, RFC 4456 section 8). `export_path` gives None for
    these too; this is the shortcut that needs no path."""
    if origin.name == target.name:
        return True
    return origin.ibgp and not target.ebgp and not origin.rr_client and not target.rr_client


def loop_reason(attrs: PathAttributes, peer: PeerInfo, *, router_id: ipaddress.IPv4Address,
                cluster_id: ipaddress.IPv4Address | None = None) -> str | None:
    """Why a received path must be ignored as a loop, or None.

    RFC 4271 9.1.2: a route whose AS_PATH holds our own AS is unusable (checked on eBGP: on iBGP the
    path cannot contain it without having left the AS). RFC 4456 section 8: ORIGINATOR_ID equal to
    our router ID, or our cluster ID in CLUSTER_LIST, means the route came back to us.
    """
    if peer.ebgp and peer.local_as:
        for seg in attrs.as_path:
            if peer.local_as in seg.asns:
                return f"own AS {peer.local_as} in AS_PATH"
    if attrs.originator_id is not None and attrs.originator_id == router_id:
        return "ORIGINATOR_ID is our router ID"
    if attrs.cluster_list:
        cid = cluster_id if cluster_id is not None else router_id
        if cid in attrs.cluster_list:
            return f"our cluster ID {cid} in CLUSTER_LIST"
    return None


class AdjRibIn:
    """Routes received from one peer, as received (pre-policy): for `show rib-in`, for re-running
    a changed import policy without a route refresh, and as the list of the peer's prefixes when
    its session goes down. The post-policy paths live only in the Loc-RIB (one copy per path: a
    full table is a million of them).

    With `table=False` (the neighbor's `import_table = false`, BIRD's `import table off`) `pre`,
    `stale` and `rejected` stay empty: the `Rib` walks the Loc-RIB for the peer's paths instead and
    keeps only `eor_received` here (about 36 bytes per path saved on a full table).

    Graceful restart (RFC 4724 4.2, helper side): `mark_stale()` on session loss records every
    prefix as stale; a re-announcement or withdrawal clears it; `sweep_stale(family)` at End-of-RIB
    (or when the restart timer fires) returns the prefixes still stale, to be withdrawn.
    """

    __slots__ = ("eor_received", "peer", "pre", "rejected", "stale", "table")

    def __init__(self, peer: PeerInfo, *, table: bool = True) -> None:
        self.peer = peer
        self.table = table
        self.pre: dict[Prefix, Path] = {}
        self.stale: set[Prefix] = set()
        self.eor_received: set[Family] = set()
        # Keys of `pre` the import policy rejected (the Rib adds them), so the post-policy count is
        # `accepted_count` in O(1) instead of a walk over the table on every `show neighbors`.
        self.rejected: set[Prefix] = set()

    def __len__(self) -> int:
        return len(self.pre)

    @property
    def accepted_count(self) -> int:
        """Paths received and accepted by the import policy (what the peer contributes to the Loc-RIB)."""
        return len(self.pre) - len(self.rejected)

    def store(self, prefix: Prefix, received: Path | None) -> None:
        """Record a received path (None = withdrawn); it counts as accepted until `reject`ed."""
        self.stale.discard(prefix)
        if self.rejected:
            self.rejected.discard(prefix)
        if received is None:
            self.pre.pop(prefix, None)
        else:
            self.pre[prefix] = received

    def store_run(self, keys: list[Prefix], received: Path, rejected: bool) -> None:
        """`store` (and `reject` when the import policy `rejected` it) of one received path for every
        prefix of a run, keyed by the Loc-RIB's key objects: the receive loops' bulk form."""
        if self.stale:
            self.stale.difference_update(keys)
        if self.rejected:
            self.rejected.difference_update(keys)
        if len(keys) == 1:  # one prefix per UPDATE (feed (c)): no temporary dict
            self.pre[keys[0]] = received
        else:
            self.pre.update(dict.fromkeys(keys, received))
        if rejected:
            self.rejected.update(keys)

    def mark_stale(self, families: set[Family] | None = None) -> list[Prefix]:
        """Record the prefixes of `families` (all when None) as stale and return them; the routes
        stay usable for forwarding meanwhile (RFC 4724 4.2)."""
        marked = [p for p in self.pre if families is None or family_of(p) in families]
        self.stale.update(marked)
        self.eor_received.clear()
        return marked

    def sweep_stale(self, family: Family | None = None) -> list[Prefix]:
        """Remove and return the prefixes still stale (of `family`, or all)."""
        gone = [p for p in self.stale if family is None or family_of(p) == family]
        for prefix in gone:
            self.stale.discard(prefix)
            self.rejected.discard(prefix)
            self.pre.pop(prefix, None)
        return gone

    def reject(self, prefix: Prefix) -> None:
        """The import policy rejected the path just `store`d for `prefix`."""
        if prefix in self.pre:
            self.rejected.add(prefix)

    def clear(self) -> list[Prefix]:
        """Forget everything (session down without graceful restart); returns the prefixes."""
        prefixes = list(self.pre)
        self.pre.clear()
        self.stale.clear()
        self.rejected.clear()
        self.eor_received.clear()
        return prefixes


def export_path(path: Path, prefix: Prefix, target: PeerInfo, *, router_id: ipaddress.IPv4Address,
                cluster_id: ipaddress.IPv4Address | None = None, next_hop_self: bool = False,
                interner: AttributeInterner | None = None) -> Path | None:
    """The path as `target` should receive it, before export policy; None if it must not be sent.

    RFC 4271 9.1.3 / 9.2: never back to the session it came from; iBGP-learned routes are not passed
    to iBGP peers unless we reflect (RFC 4456 8: a route from a client goes to everyone, one from a
    non-client only to clients; we add ORIGINATOR_ID and our CLUSTER_ID). RFC 1997: NO_ADVERTISE
    goes nowhere, NO_EXPORT not to eBGP. RFC 4271 5.1: on eBGP prepend our AS, set NEXT_HOP to our
    address, drop LOCAL_PREF and a MED learned from another AS; on iBGP carry LOCAL_PREF, and our
    address as next hop for locally originated routes (or always with `next_hop_self`).
    """
    source = path.peer
    if source.name == target.name:
        return None
    attrs = path.attributes
    if NO_ADVERTISE in attrs.communities:
        return None
    if not source.local:
        attrs = for_readvertisement(attrs)  # unknown attributes: Partial bit, non-transitive dropped
    changes: dict[str, Any] = {}
    self_nh = False
    if target.ebgp:
        if NO_EXPORT in attrs.communities or NO_EXPORT_SUBCONFED in attrs.communities:
            return None
        segs = list(attrs.as_path)
        if segs and segs[0].type == AsPathSegmentType.AS_SEQUENCE and len(segs[0].asns) < 255:
            segs[0] = AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (target.local_as, *segs[0].asns))
        else:
            segs.insert(0, AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (target.local_as,)))
        changes["as_path"] = tuple(segs)
        if attrs.local_pref is not None:
            changes["local_pref"] = None
        if attrs.med is not None and not source.local:
            changes["med"] = None
        if attrs.originator_id is not None or attrs.cluster_list:
            changes["originator_id"] = None
            changes["cluster_list"] = ()
        self_nh = True
    else:
        if source.ibgp:
            if not (source.rr_client or target.rr_client):
                return None
            if attrs.originator_id is None:
                changes["originator_id"] = source.router_id
            cid = cluster_id if cluster_id is not None else router_id
            changes["cluster_list"] = (cid, *attrs.cluster_list)
        if attrs.local_pref is None:
            changes["local_pref"] = 100
        self_nh = next_hop_self or source.local
    if attrs.origin is None:
        changes["origin"] = Origin.INCOMPLETE if source.local else Origin.IGP
    next_hops = path.next_hops
    if self_nh:
        local = target.local_address
        if prefix.afi == Afi.IPV4 and isinstance(local, ipaddress.IPv4Address):
            if attrs.next_hop != local:
                changes["next_hop"] = local
            next_hops = ()
        elif prefix.afi == Afi.IPV6 and isinstance(local, ipaddress.IPv6Address):
            next_hops = (local,)
        else:
            # No address of the prefix's family on this session to stand for "self" (IPv4 over an
            # IPv6 session would need RFC 8950 extended next hop): do not advertise it.
            return None
    elif prefix.afi == Afi.IPV4 and path.next_hops:
        # An IPv4 next hop kept on the path (an import policy's, e.g. TARGET rule 4) is what the
        # path means: it goes into the NEXT_HOP attribute, which is what the wire carries.
        nh = path.next_hops[0]
        if isinstance(nh, ipaddress.IPv4Address):
            if attrs.next_hop != nh:
                changes["next_hop"] = nh
            next_hops = ()
    if changes:
        attrs = dataclasses.replace(attrs, **changes, wire=None)
    if attrs is not path.attributes and interner is not None:
        attrs = interner.intern(attrs)
    if attrs is path.attributes and next_hops == path.next_hops:
        return path
    return Path(attributes=attrs, peer=source, next_hops=next_hops, stale=path.stale,
                path_id=path.path_id)


class AdjRibOut:
    """What was last advertised to one peer: prefix -> (attributes, next hops). Route refresh
    re-sends all of it; the update builder diffs new exports against it."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent: dict[Prefix, tuple[PathAttributes, tuple[IPAddress, ...]]] = {}

    def __len__(self) -> int:
        return len(self.sent)

    def __iter__(self) -> Iterator[Prefix]:
        return iter(self.sent)

    def get(self, prefix: Prefix) -> tuple[PathAttributes, tuple[IPAddress, ...]] | None:
        return self.sent.get(prefix)

    def clear(self) -> None:
        self.sent.clear()
