"""The values a policy definition names, parsed: prefix-list lines, communities, large communities,
and the error for a definition that is wrong.

Owns: `PolicyContext` (what a policy sees besides the path) with its cheap constructor
`policy_context`, `PolicyError` (bad config, reported with where it is), `PrefixListEntry`
("P [ge N] [le N]"),
`parse_community` / `format_community` (RFC 1997 "ASN:VALUE" or a well-known name),
`parse_large_community` (RFC 8092 "A:B:C"), and the small parsers of rule values (`as_list`,
`parse_range`, `parse_u32`).
Never does: evaluate policies (that is `policy.py`, which re-exports these names), hold routes, or
any I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pybgp.rib.route import PeerInfo
from pybgp.wire.attributes import LargeCommunity
from pybgp.wire.constants import WELL_KNOWN_COMMUNITIES
from pybgp.wire.nlri import Prefix

_COMMUNITY_NAMES = {name: value for value, name in WELL_KNOWN_COMMUNITIES.items()}


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyContext:
    """What a policy sees besides the path: the prefix, the session the policy runs on (`neighbor`:
    the peer for import, the target for export, None for the kernel), and whether it is an export."""

    prefix: Prefix
    neighbor: PeerInfo | None = None
    export: bool = False


_PC_PREFIX, _PC_NEIGHBOR, _PC_EXPORT = (
    vars(PolicyContext)[n].__set__ for n in ("prefix", "neighbor", "export"))


def policy_context(prefix: Prefix, neighbor: PeerInfo | None, export: bool = False) -> PolicyContext:
    """`PolicyContext(prefix=..., neighbor=..., export=...)` for the receive loop, which makes one per
    UPDATE (200k for feed (c)): filling the slots directly costs a third of the frozen `__init__`.
    Same object, same equality (like `route.best_change`)."""
    ctx = object.__new__(PolicyContext)
    _PC_PREFIX(ctx, prefix)
    _PC_NEIGHBOR(ctx, neighbor)
    _PC_EXPORT(ctx, export)
    return ctx


class PolicyError(ValueError):
    """A policy definition is invalid (the config's fault, reported with where it is)."""


def as_list(value: Any) -> list[Any]:
    """A policy key given as one value or a list of them, as a list."""
    return list(value) if isinstance(value, list | tuple) else [value]


def parse_range(value: Any, what: str) -> tuple[int, int]:
    """N or {ge = N, le = M} or {eq = N} -> (low, high), inclusive."""
    if isinstance(value, int):
        return value, value
    if not isinstance(value, Mapping) or set(value) - {"ge", "le", "eq"}:
        raise PolicyError(f"{what}: expected a number or {{ge = N, le = N}}")
    if "eq" in value:
        return int(value["eq"]), int(value["eq"])
    return int(value.get("ge", 0)), int(value.get("le", 2**32 - 1))


def parse_u32(value: Any, what: str) -> int:
    """A 32-bit unsigned number (LOCAL_PREF, MED) or `PolicyError` naming `what`."""
    number = int(value)
    if not 0 <= number <= 0xFFFFFFFF:
        raise PolicyError(f"{what}: {number} is not a 32-bit unsigned value")
    return number


def parse_community(text: str | int) -> int:
    """"64698:64699" or a well-known name ("NO_EXPORT") or an int -> 32-bit community."""
    if isinstance(text, int):
        return text
    name = text.strip().upper().replace("-", "_")
    if name in _COMMUNITY_NAMES:
        return _COMMUNITY_NAMES[name]
    high, sep, low = text.partition(":")
    if not sep:
        raise PolicyError(f"community {text!r}: expected ASN:VALUE")
    try:
        hi, lo = int(high), int(low)
    except ValueError as exc:
        raise PolicyError(f"community {text!r}: expected ASN:VALUE") from exc
    if not (0 <= hi <= 0xFFFF and 0 <= lo <= 0xFFFF):
        raise PolicyError(f"community {text!r}: each half must be 0..65535")
    return (hi << 16) | lo


def format_community(value: int) -> str:
    return WELL_KNOWN_COMMUNITIES.get(value, f"{value >> 16}:{value & 0xFFFF}")


def parse_large_community(text: str) -> LargeCommunity:
    parts = text.split(":")
    try:
        values = [int(p) for p in parts]
    except ValueError as exc:
        raise PolicyError(f"large community {text!r}: expected A:B:C") from exc
    if len(values) != 3 or not all(0 <= v <= 0xFFFFFFFF for v in values):
        raise PolicyError(f"large community {text!r}: expected A:B:C of 32-bit numbers")
    return LargeCommunity(values[0], values[1], values[2])


@dataclass(frozen=True, slots=True, kw_only=True)
class PrefixListEntry:
    """One prefix-list line: `prefix` with an allowed length range [ge, le]."""

    prefix: Prefix
    ge: int
    le: int

    def matches(self, p: Prefix) -> bool:
        return self.ge <= p.length <= self.le and self.prefix.contains(p)

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any]) -> PrefixListEntry:
        if isinstance(spec, str):
            words = spec.split()
            if not words:
                raise PolicyError("empty prefix-list entry")
            fields: dict[str, Any] = {"prefix": words[0]}
            rest = words[1:]
            if len(rest) % 2:
                raise PolicyError(f"prefix-list entry {spec!r}: expected 'P [ge N] [le N]'")
            for key, value in zip(rest[::2], rest[1::2], strict=True):
                fields[key] = value
            spec = fields
        unknown = set(spec) - {"prefix", "ge", "le"}
        if unknown:
            raise PolicyError(f"prefix-list entry: unknown keys {sorted(unknown)}")
        try:
            prefix = Prefix.parse(str(spec["prefix"]))
            ge = int(spec["ge"]) if "ge" in spec else prefix.length
            le = int(spec["le"]) if "le" in spec else (prefix.max_length if "ge" in spec else prefix.length)
        except (KeyError, ValueError) as exc:
            raise PolicyError(f"prefix-list entry {spec!r}: {exc}") from exc
        if not prefix.length <= ge <= le <= prefix.max_length:
            raise PolicyError(f"prefix-list entry {spec!r}: need len <= ge <= le <= {prefix.max_length}")
        return cls(prefix=prefix, ge=ge, le=le)
