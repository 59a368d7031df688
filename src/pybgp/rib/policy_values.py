"""The values a policy definition names, parsed: communities, large communities, and the error
for a definition that is wrong.

Owns: `PolicyError` (bad config, reported with where it is), `parse_community` / `format_community`
(RFC 1997 "ASN:VALUE" or a well-known name), `parse_large_community` (RFC 8092 "A:B:C").
Never does: evaluate policies (that is `policy.py`, which re-exports these names), hold routes, or
any I/O.
"""

from __future__ import annotations

from pybgp.wire.attributes import LargeCommunity
from pybgp.wire.constants import WELL_KNOWN_COMMUNITIES

_COMMUNITY_NAMES = {name: value for value, name in WELL_KNOWN_COMMUNITIES.items()}


class PolicyError(ValueError):
    """A policy definition is invalid (the config's fault, reported with where it is)."""


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
