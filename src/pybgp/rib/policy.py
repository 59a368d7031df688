"""Route policies a network engineer can read, built from plain dicts (the daemon's TOML shape).

Owns: `Policy` (ordered rules, a default), `Rule`, `Match`, `Actions`, `PolicyContext`, and the
RFC 8212 defaults (`default_policy`); it re-exports `PolicyError`, `PrefixListEntry` and the
community parsers of `policy_values`.
Never does: decide best paths, hold routes, or any I/O. It rewrites attributes only through the
`AttributeInterner` so rewritten sets stay shared; a next hop set on import goes on the Path instead.

SHAPE (what `Policy.from_dict` accepts; the daemon's TOML `[policy.NAME]` tables are exactly this)::

    {
      "default": "reject",                 # "accept" | "reject" when no rule decides (default reject)
      "rules": [                           # evaluated in order; the first accept/reject wins
        {
          "name": "rack-mates keep their next hop",      # optional, for logs and `show`
          "match": {                       # every key given must match (AND); lists are OR
            "prefix": ["10.0.0.0/8 le 32", {"prefix": "10.64.0.0/14", "ge": 24, "le": 32}],
            "family": "ipv4",              # "ipv4" | "ipv6"
            "source": ["bgp", "interface", "static", "kernel"],
            "kernel_table": 119,           # routes learned from this kernel table
            "neighbor": ["10.69.0.65", "tor1"],   # address or name of the session the policy runs on
            "learned_from": ["10.69.0.65"],       # (export) address or name the route came from
            "as_path_contains": [64599],
            "as_path_regex": "^64600( |$)",      # Python regex over "64600 64599 {1 2}"
            "as_path_length": {"ge": 0, "le": 3},
            "community": ["64698:64699", "NO_EXPORT"],   # route carries any of them
            "large_community": ["64600:1:2"],
            "next_hop_in": ["10.69.0.64/26"],
            "local_pref": {"ge": 100}, "med": {"le": 10},
          },
          "set": {
            "local_pref": 200,
            "med": 10,                     # or "remove"
            "community_add": ["64698:64699"], "community_remove": ["65000:1"],
            "large_community_add": ["64600:0:1"], "large_community_remove": [...],
            "next_hop": "self",            # "self" | "peer" | "peer-unless-same-subnet" |
                                           # "unchanged" | an address
            "as_path_prepend": 2,          # prepend our AS this many times (export)
          },
          "action": "accept",              # "accept" | "reject" | "continue" (apply set, go on)
        },
      ],
    }

A prefix entry "P", "P le N", "P ge M le N" (or the dict form) matches prefixes inside P whose
length is between ge (default len(P)) and le (default len(P), or 32/128 when only ge is given),
as in Cisco/FRR prefix lists. "peer-unless-same-subnet" is TARGET rule 4: keep the route's NEXT_HOP
if it lies in the session's subnet (a rack-mate on the same link), else use the peer's address.

RFC 8212: a session without a policy rejects everything on eBGP (import and export) and accepts
everything on iBGP and for local sources (`default_policy`).
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pybgp.rib.policy_values import PolicyContext as PolicyContext
from pybgp.rib.policy_values import PolicyError as PolicyError
from pybgp.rib.policy_values import PrefixListEntry as PrefixListEntry
from pybgp.rib.policy_values import as_list, parse_range, parse_u32
from pybgp.rib.policy_values import format_community as format_community
from pybgp.rib.policy_values import parse_community as parse_community
from pybgp.rib.policy_values import parse_large_community as parse_large_community
from pybgp.rib.policy_values import policy_context as policy_context
from pybgp.rib.route import (
    AttributeInterner,
    IPNetwork,
    Path,
    PeerInfo,
    Source,
    as_path_length,
    as_path_string,
    make_path,
    rewrite_attributes,
)
from pybgp.wire.attributes import AsPathSegment, IPAddress, LargeCommunity, PathAttributes
from pybgp.wire.constants import Afi, AsPathSegmentType
from pybgp.wire.nlri import Prefix

_Result = tuple[PathAttributes, tuple[IPAddress, ...]]  # a policy's output: attributes, next hops
_NextHopResult = tuple[object, object, object, tuple[IPAddress, ...] | None]


class Verdict(Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    CONTINUE = "continue"


def _matches_peer(peer: PeerInfo | None, names: frozenset[str]) -> bool:
    if peer is None:
        return False
    return peer.name in names or (peer.address is not None and str(peer.address) in names)


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    """The conditions of a rule; empty fields are not checked."""

    prefixes: tuple[PrefixListEntry, ...] = ()
    family: Afi | None = None
    sources: frozenset[Source] = frozenset()
    kernel_table: int | None = None
    neighbors: frozenset[str] = frozenset()
    learned_from: frozenset[str] = frozenset()
    as_path_contains: frozenset[int] = frozenset()
    as_path_regex: re.Pattern[str] | None = None
    as_path_length: tuple[int, int] | None = None
    communities: frozenset[int] = frozenset()
    large_communities: frozenset[LargeCommunity] = frozenset()
    next_hop_in: tuple[IPNetwork, ...] = ()
    local_pref: tuple[int, int] | None = None
    med: tuple[int, int] | None = None

    @property
    def depends_on_prefix(self) -> bool:
        return bool(self.prefixes) or self.family is not None

    def matches(self, path: Path, ctx: PolicyContext) -> bool:
        attrs = path.attributes
        if self.prefixes and not any(e.matches(ctx.prefix) for e in self.prefixes):
            return False
        if self.family is not None and ctx.prefix.afi != self.family:
            return False
        if self.sources and path.peer.source not in self.sources:
            return False
        if self.kernel_table is not None and (
            path.peer.source is not Source.KERNEL or path.peer.table != self.kernel_table
        ):
            return False
        if self.neighbors and not _matches_peer(ctx.neighbor, self.neighbors):
            return False
        if self.learned_from and not _matches_peer(path.peer, self.learned_from):
            return False
        if self.as_path_contains and not any(
            asn in self.as_path_contains for seg in attrs.as_path for asn in seg.asns
        ):
            return False
        if self.as_path_regex is not None and not self.as_path_regex.search(as_path_string(attrs)):
            return False
        if self.as_path_length is not None:
            low, high = self.as_path_length
            if not low <= as_path_length(attrs) <= high:
                return False
        if self.communities and self.communities.isdisjoint(attrs.communities):
            return False
        if self.large_communities and self.large_communities.isdisjoint(attrs.large_communities):
            return False
        if self.next_hop_in:
            nh = path.next_hop
            if nh is None or not any(nh in net for net in self.next_hop_in):
                return False
        if self.local_pref is not None:
            lp = attrs.local_pref
            if lp is None or not self.local_pref[0] <= lp <= self.local_pref[1]:
                return False
        if self.med is not None:
            med = attrs.med
            if med is None or not self.med[0] <= med <= self.med[1]:
                return False
        return True

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Match:
        known = {"prefix", "family", "source", "kernel_table", "neighbor", "learned_from",
                 "as_path_contains", "as_path_regex", "as_path_length", "community",
                 "large_community", "next_hop_in", "local_pref", "med"}
        unknown = set(spec) - known
        if unknown:
            raise PolicyError(f"match: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        kw: dict[str, Any] = {}
        if "prefix" in spec:
            kw["prefixes"] = tuple(PrefixListEntry.parse(e) for e in as_list(spec["prefix"]))
        if "family" in spec:
            fam = str(spec["family"]).lower()
            if fam not in ("ipv4", "ipv6"):
                raise PolicyError(f"match.family {fam!r}: expected ipv4 or ipv6")
            kw["family"] = Afi.IPV4 if fam == "ipv4" else Afi.IPV6
        if "source" in spec:
            try:
                kw["sources"] = frozenset(Source(str(s).lower()) for s in as_list(spec["source"]))
            except ValueError as exc:
                raise PolicyError(f"match.source: {exc} (bgp, interface, static, kernel)") from exc
        if "kernel_table" in spec:
            kw["kernel_table"] = int(spec["kernel_table"])
        if "neighbor" in spec:
            kw["neighbors"] = frozenset(str(n) for n in as_list(spec["neighbor"]))
        if "learned_from" in spec:
            kw["learned_from"] = frozenset(str(n) for n in as_list(spec["learned_from"]))
        if "as_path_contains" in spec:
            kw["as_path_contains"] = frozenset(int(a) for a in as_list(spec["as_path_contains"]))
        if "as_path_regex" in spec:
            try:
                kw["as_path_regex"] = re.compile(str(spec["as_path_regex"]))
            except re.error as exc:
                raise PolicyError(f"match.as_path_regex: {exc}") from exc
        if "as_path_length" in spec:
            kw["as_path_length"] = parse_range(spec["as_path_length"], "match.as_path_length")
        if "community" in spec:
            kw["communities"] = frozenset(parse_community(c) for c in as_list(spec["community"]))
        if "large_community" in spec:
            kw["large_communities"] = frozenset(
                parse_large_community(str(c)) for c in as_list(spec["large_community"]))
        if "next_hop_in" in spec:
            try:
                kw["next_hop_in"] = tuple(ipaddress.ip_network(str(n)) for n in as_list(spec["next_hop_in"]))
            except ValueError as exc:
                raise PolicyError(f"match.next_hop_in: {exc}") from exc
        if "local_pref" in spec:
            kw["local_pref"] = parse_range(spec["local_pref"], "match.local_pref")
        if "med" in spec:
            kw["med"] = parse_range(spec["med"], "match.med")
        return cls(**kw)


class NextHopAction(Enum):
    UNCHANGED = "unchanged"
    SELF = "self"
    PEER = "peer"
    PEER_UNLESS_SAME_SUBNET = "peer-unless-same-subnet"
    ADDRESS = "address"


@dataclass(frozen=True, slots=True, kw_only=True)
class Actions:
    """The attribute changes of a rule (applied before its verdict)."""

    local_pref: int | None = None
    med: int | None = None
    remove_med: bool = False
    community_add: tuple[int, ...] = ()
    community_remove: frozenset[int] = frozenset()
    large_community_add: tuple[LargeCommunity, ...] = ()
    large_community_remove: frozenset[LargeCommunity] = frozenset()
    next_hop: NextHopAction = NextHopAction.UNCHANGED
    next_hop_address: IPAddress | None = None
    as_path_prepend: int = 0

    @property
    def empty(self) -> bool:
        return self == _NO_ACTIONS

    def apply(self, path: Path, ctx: PolicyContext) -> tuple[PathAttributes, tuple[IPAddress, ...]]:
        """The rewritten (attributes, next_hops) of `path`; not interned yet.

        A next hop set on import (TARGET rule 4 rewrites nine routes in ten) goes into the path's
        `next_hops`, not into a copy of the attribute set: the received set stays the one shared
        object (the codec's), so a ToR's rewritten routes cost no set of their own and both ToRs'
        paths share one. `Path.next_hop` and every consumer read `next_hops` first. On export the
        next hop goes into the attributes, because the NEXT_HOP attribute is what gets sent."""
        attrs = path.attributes
        changes: dict[str, Any] = {}
        if self.local_pref is not None:
            changes["local_pref"] = self.local_pref
        if self.remove_med:
            changes["med"] = None
        elif self.med is not None:
            changes["med"] = self.med
        if self.community_add or self.community_remove:
            comms = [c for c in attrs.communities if c not in self.community_remove]
            comms.extend(c for c in self.community_add if c not in comms)
            changes["communities"] = tuple(comms)
        if self.large_community_add or self.large_community_remove:
            large = [c for c in attrs.large_communities if c not in self.large_community_remove]
            large.extend(c for c in self.large_community_add if c not in large)
            changes["large_communities"] = tuple(large)
        if self.as_path_prepend and ctx.neighbor is not None and ctx.neighbor.local_as:
            prepend = (ctx.neighbor.local_as,) * self.as_path_prepend
            segs = list(attrs.as_path)
            first = segs[0] if segs else None
            if first is not None and first.type == AsPathSegmentType.AS_SEQUENCE \
                    and len(first.asns) + len(prepend) <= 255:
                segs[0] = AsPathSegment(AsPathSegmentType.AS_SEQUENCE, prepend + segs[0].asns)
            else:
                segs.insert(0, AsPathSegment(AsPathSegmentType.AS_SEQUENCE, prepend))
            changes["as_path"] = tuple(segs)
        next_hops = path.next_hops
        if not ctx.export:
            next_hops = self.import_next_hops(path, ctx)
        elif (new_nh := self._next_hop(path, ctx)) is not None:
            if next_hops or not isinstance(new_nh, ipaddress.IPv4Address):
                next_hops = _one_next_hop(new_nh)
            else:
                changes["next_hop"] = new_nh
        if changes:
            attrs = rewrite_attributes(attrs, changes)
        return attrs, next_hops

    def import_next_hops(self, path: Path, ctx: PolicyContext) -> tuple[IPAddress, ...]:
        """The next hops `apply` gives `path` on import (`path.next_hops` when unchanged): the whole
        of `apply` for a rule that sets only the next hop, which a next-hop-only policy runs alone."""
        next_hops = path.next_hops
        new_nh = self._next_hop(path, ctx)
        if new_nh is None:
            return next_hops
        if next_hops or not isinstance(new_nh, ipaddress.IPv4Address) or new_nh != path.attributes.next_hop:
            return _one_next_hop(new_nh)
        return next_hops

    def _next_hop(self, path: Path, ctx: PolicyContext) -> IPAddress | None:
        kind = self.next_hop
        neighbor = ctx.neighbor
        if kind is NextHopAction.UNCHANGED:
            return None
        if kind is NextHopAction.ADDRESS:
            return self.next_hop_address
        if neighbor is None:
            return None
        if kind is NextHopAction.SELF:
            return neighbor.local_address
        if kind is NextHopAction.PEER:
            return neighbor.address
        current = path.next_hop
        if current is not None and neighbor.subnet is not None and current in neighbor.subnet:
            return None
        return neighbor.address

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Actions:
        known = {"local_pref", "med", "community_add", "community_remove", "large_community_add",
                 "large_community_remove", "next_hop", "as_path_prepend"}
        unknown = set(spec) - known
        if unknown:
            raise PolicyError(f"set: unknown keys {sorted(unknown)} (known: {sorted(known)})")
        kw: dict[str, Any] = {}
        if "local_pref" in spec:
            kw["local_pref"] = parse_u32(spec["local_pref"], "set.local_pref")
        if "med" in spec:
            if spec["med"] == "remove":
                kw["remove_med"] = True
            else:
                kw["med"] = parse_u32(spec["med"], "set.med")
        if "community_add" in spec:
            kw["community_add"] = tuple(parse_community(c) for c in as_list(spec["community_add"]))
        if "community_remove" in spec:
            kw["community_remove"] = frozenset(parse_community(c) for c in as_list(spec["community_remove"]))
        if "large_community_add" in spec:
            kw["large_community_add"] = tuple(
                parse_large_community(str(c)) for c in as_list(spec["large_community_add"]))
        if "large_community_remove" in spec:
            kw["large_community_remove"] = frozenset(
                parse_large_community(str(c)) for c in as_list(spec["large_community_remove"]))
        if "next_hop" in spec:
            text = str(spec["next_hop"])
            try:
                kw["next_hop"] = NextHopAction(text)
                if kw["next_hop"] is NextHopAction.ADDRESS:
                    raise PolicyError("set.next_hop: give the address itself")
            except ValueError:
                try:
                    kw["next_hop_address"] = ipaddress.ip_address(text)
                except ValueError as exc:
                    raise PolicyError(f"set.next_hop {text!r}: expected self, peer, "
                                      "peer-unless-same-subnet, unchanged or an address") from exc
                kw["next_hop"] = NextHopAction.ADDRESS
        if "as_path_prepend" in spec:
            kw["as_path_prepend"] = int(spec["as_path_prepend"])
            if not 0 <= kw["as_path_prepend"] <= 32:
                raise PolicyError("set.as_path_prepend: 0..32")
        return cls(**kw)


_NO_ACTIONS = Actions()
_MATCH_ALL = Match()
_NEXT_HOP_TUPLES: dict[int, tuple[IPAddress]] = {}


def _one_next_hop(address: IPAddress) -> tuple[IPAddress]:
    """`(address,)`, one shared tuple per address object: a policy sets the same few next hops (the
    ToRs' addresses, one object per session) on every path. Keyed by identity, because hashing an
    address runs Python code; the tuple keeps the address alive, so its id is not reused. Bounded."""
    found = _NEXT_HOP_TUPLES.get(id(address))
    if found is None:
        if len(_NEXT_HOP_TUPLES) >= 1024:
            _NEXT_HOP_TUPLES.clear()
        found = _NEXT_HOP_TUPLES[id(address)] = (address,)
    return found


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    name: str = ""
    match: Match = Match()
    actions: Actions = _NO_ACTIONS
    verdict: Verdict = Verdict.ACCEPT

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], index: int = 0) -> Rule:
        unknown = set(spec) - {"name", "match", "set", "action"}
        if unknown:
            raise PolicyError(f"rule {index}: unknown keys {sorted(unknown)}")
        name = str(spec.get("name", f"rule {index}"))
        match, actions = spec.get("match", {}), spec.get("set", {})
        if not isinstance(match, Mapping) or not isinstance(actions, Mapping):
            raise PolicyError(f"rule {name!r}: match and set must be tables")
        try:
            verdict = Verdict(str(spec.get("action", "accept")))
            return cls(name=name, match=Match.from_dict(match), actions=Actions.from_dict(actions),
                       verdict=verdict)
        except (PolicyError, ValueError, TypeError, AttributeError, KeyError, OverflowError) as exc:
            raise PolicyError(f"rule {name!r}: {exc}") from exc


class Policy:
    """An ordered list of rules and a default verdict.

    Results are cached per (attributes, next hops, origin, session) when no rule looks at the
    prefix: a full table sharing a few hundred attribute sets then runs the rules a few hundred
    times, not a million. The cache is bounded and small: a feed sends one attribute set in a few
    consecutive UPDATEs, and with unique attributes every entry would be dead weight (~200 bytes).

    A policy whose rules match everything and only set the next hop (TARGET's "from-tor", rule 4)
    reads nothing of a path but its next hop on import, so its answer is also kept per (next hop,
    session): unique attribute sets (feed (c), the real table) then run no rule at all.
    """

    __slots__ = ("_cache", "_next_hop_only", "_nh_cache", "_prefix_free", "_steps", "default", "name",
                 "rules")

    CACHE_LIMIT = 8_192

    def __init__(self, rules: Sequence[Rule] = (), default: Verdict = Verdict.REJECT, name: str = "") -> None:
        if default is Verdict.CONTINUE:
            raise PolicyError("policy default must be accept or reject")
        self.rules = tuple(rules)
        self.default = default
        self.name = name
        self._prefix_free = not any(r.match.depends_on_prefix for r in self.rules)
        # The rules as evaluated: an empty match or empty actions is None (no per-path comparison).
        self._steps = tuple((None if r.match == _MATCH_ALL else r.match,
                             None if r.actions.empty else r.actions, r.verdict) for r in self.rules)
        self._cache: dict[tuple[object, ...], tuple[object, object, object, _Result | None]] = {}
        self._next_hop_only = bool(self.rules) and all(
            r.match == _MATCH_ALL
            and dataclasses.replace(r.actions, next_hop=NextHopAction.UNCHANGED, next_hop_address=None).empty
            for r in self.rules)
        # (id(next_hops), id(NEXT_HOP), id(session)) -> the three objects (kept alive, so the ids
        # stay theirs) and the import result's next hops, or None when rejected
        self._nh_cache: dict[tuple[int, int, int], _NextHopResult] = {}

    @property
    def prefix_free(self) -> bool:
        """True when no rule looks at the prefix: the result depends on the path alone."""
        return self._prefix_free

    @property
    def rejects_all(self) -> bool:
        """No rules and default reject (RFC 8212's eBGP default, `export = "reject"`): no path passes."""
        return not self.rules and self.default is Verdict.REJECT

    def __repr__(self) -> str:
        return f"Policy({self.name!r}, {len(self.rules)} rules, default {self.default.value})"

    @classmethod
    def accept_all(cls) -> Policy:
        return cls((), Verdict.ACCEPT, "accept-all")

    @classmethod
    def reject_all(cls) -> Policy:
        return cls((), Verdict.REJECT, "reject-all (RFC 8212)")

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any], name: str = "") -> Policy:
        """Build a policy from the documented dict shape; raises `PolicyError` naming the fault
        (and nothing else, whatever the input: a config file is input too)."""
        if not isinstance(spec, Mapping):
            raise PolicyError(f"policy {name!r}: expected a table, got {type(spec).__name__}")
        unknown = set(spec) - {"rules", "default", "name"}
        if unknown:
            raise PolicyError(f"policy {name!r}: unknown keys {sorted(unknown)}")
        default = str(spec.get("default", "reject"))
        if default not in ("accept", "reject"):
            raise PolicyError(f"policy {name!r}: default must be accept or reject")
        raw_rules = spec.get("rules", [])
        if not isinstance(raw_rules, list | tuple):
            raise PolicyError(f"policy {name!r}: rules must be a list of tables")
        rules: list[Rule] = []
        for i, raw in enumerate(raw_rules):
            if not isinstance(raw, Mapping):
                raise PolicyError(f"policy {name!r}: rule {i} must be a table")
            try:
                rules.append(Rule.from_dict(raw, i))
            except PolicyError as exc:
                raise PolicyError(f"policy {name!r}: {exc}") from exc
            except (TypeError, ValueError, AttributeError, KeyError, OverflowError) as exc:
                raise PolicyError(f"policy {name!r}: rule {i}: {exc}") from exc
        return cls(rules, Verdict(default), str(spec.get("name", name)))

    def evaluate(self, path: Path, ctx: PolicyContext) -> _Result | None:
        """Run the rules: None when rejected, else the resulting (attributes, next_hops)."""
        attrs, next_hops = path.attributes, path.next_hops
        current = path
        for match, actions, verdict in self._steps:
            if match is not None and not match.matches(current, ctx):
                continue
            if actions is not None:
                attrs, next_hops = actions.apply(current, ctx)
                if verdict is Verdict.CONTINUE:  # later rules see the rewritten path
                    current = Path(attributes=attrs, peer=path.peer, next_hops=next_hops, stale=path.stale,
                                   path_id=path.path_id)
            if verdict is Verdict.ACCEPT:
                return attrs, next_hops
            if verdict is Verdict.REJECT:
                return None
        return (attrs, next_hops) if self.default is Verdict.ACCEPT else None

    def apply(self, path: Path, ctx: PolicyContext, interner: AttributeInterner | None = None) -> Path | None:
        """The path after policy (attributes interned), or None when rejected."""
        if not self.rules:
            return path if self.default is Verdict.ACCEPT else None
        if self._next_hop_only and not ctx.export and ctx.neighbor is not None:
            return self._apply_next_hop_only(path, ctx.prefix, ctx.neighbor)
        if self._prefix_free:
            attrs, origin, neighbor = path.attributes, path.peer, ctx.neighbor
            # Keyed by identity (the codec and the interner share equal sets; a session has one
            # PeerInfo): hashing a whole set cost more than the rules it saves. Not by names: a new
            # session of a neighbor (another local address for "self") must not get the old answer.
            key = (id(attrs), path.next_hops, id(origin), id(neighbor), ctx.export)
            hit = self._cache.get(key)
            if hit is not None and hit[0] is attrs and hit[1] is origin and hit[2] is neighbor:
                result = hit[3]
            else:
                result = self.evaluate(path, ctx)
                if result is not None and interner is not None and result[0] is not attrs:
                    result = (interner.intern(result[0]), result[1])
                if len(self._cache) >= self.CACHE_LIMIT:
                    self._cache.clear()
                self._cache[key] = (attrs, origin, neighbor, result)  # their ids stay theirs
        else:
            result = self.evaluate(path, ctx)
            if result is not None and interner is not None and result[0] is not path.attributes:
                result = (interner.intern(result[0]), result[1])
        if result is None:
            return None
        attrs, next_hops = result
        if attrs is path.attributes and next_hops == path.next_hops:
            return path
        return make_path(attrs, path.peer, next_hops, path.stale, path.path_id)

    def _evaluate_next_hops(self, path: Path, ctx: PolicyContext) -> tuple[IPAddress, ...] | None:
        """`evaluate(path, ctx)` of a next-hop-only policy on import, as the resulting next hops (None
        when rejected): its rules match everything and leave the attribute set alone, so only the
        next hops pass from rule to rule (`test_next_hop_only_policy_memo_is_evaluate`)."""
        next_hops = path.next_hops
        current = path
        for _match, actions, verdict in self._steps:
            if actions is not None:
                next_hops = actions.import_next_hops(current, ctx)
                if verdict is Verdict.CONTINUE:  # later rules see the rewritten path
                    current = make_path(path.attributes, path.peer, next_hops, path.stale, path.path_id)
            if verdict is Verdict.ACCEPT:
                return next_hops
            if verdict is Verdict.REJECT:
                return None
        return next_hops if self.default is Verdict.ACCEPT else None

    def import_path(self, path: Path, prefix: Prefix, neighbor: PeerInfo,
                    interner: AttributeInterner | None = None) -> Path | None:
        """`apply(path, policy_context(prefix, neighbor), interner)`: no context on a next-hop memo hit."""
        if self._next_hop_only:
            return self._apply_next_hop_only(path, prefix, neighbor)
        return self.apply(path, policy_context(prefix, neighbor), interner)

    def _apply_next_hop_only(self, path: Path, prefix: Prefix, neighbor: PeerInfo) -> Path | None:
        """`apply` for a next-hop-only policy on import: the rules leave the attributes alone
        (`Actions.apply` puts an import next hop on the path) and read only the next hop, so the
        answer is `evaluate`'s for the first path with the same next hop(s) and session."""
        attrs, next_hops = path.attributes, path.next_hops
        key = (id(next_hops), id(attrs.next_hop), id(neighbor))
        hit = self._nh_cache.get(key)
        if hit is not None and hit[0] is next_hops and hit[1] is attrs.next_hop and hit[2] is neighbor:
            new_hops = hit[3]
        else:
            new_hops = self._evaluate_next_hops(path, policy_context(prefix, neighbor))
            if len(self._nh_cache) >= self.CACHE_LIMIT:
                self._nh_cache.clear()
            self._nh_cache[key] = (next_hops, attrs.next_hop, neighbor, new_hops)
        if new_hops is None:
            return None
        if new_hops is next_hops:
            return path
        return make_path(attrs, path.peer, new_hops, path.stale, path.path_id)


_RFC8212_REJECT = Policy.reject_all()
_RFC8212_ACCEPT = Policy.accept_all()


def default_policy(peer: PeerInfo) -> Policy:
    """RFC 8212 section 3: with no configured policy, eBGP sessions accept and send nothing;
    iBGP sessions and local sources accept everything. The two answers are shared objects (they
    have no rules, so their result cache is never used): the RIB asks once per UPDATE per neighbor."""
    return _RFC8212_REJECT if peer.ebgp else _RFC8212_ACCEPT
