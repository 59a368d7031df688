"""The fast path of attribute decoding: one pass over a well-formed attribute list, values shared.

Owns: `fast_semantic(buf, ctx)`, which walks a Path Attributes field whose every attribute is known,
well-formed, unique and allowed on this session, and returns its values in `PathAttributes` field
order (the `WireImage.semantic` tuple) plus the bitmap of attribute codes seen; and the bounded
per-attribute value cache it reads through (like ExaBGP's per-attribute `Attribute.cache`: a table
repeats the same NEXT_HOP, MED, COMMUNITIES, ORIGINATOR_ID or CLUSTER_LIST bytes in most UPDATEs, so
each distinct encoding is decoded once and its value object shared).

Never does: decide an RFC 7606 outcome. Anything unusual (MP_REACH/MP_UNREACH, AS4_PATH and
AS4_AGGREGATOR, an unknown or repeated code, Optional/Transitive bits in conflict, an iBGP-only
attribute from an external peer, a malformed value, an overrun, an empty field) makes it return None,
and `attributes.decode_path_attributes` takes the general path, which names the fault. On every list
it accepts, its result equals the general path's field for field (tests/wire/test_attrfast.py checks
both on real tables and on Hypothesis-generated lists).
"""

from __future__ import annotations

import struct

from pybgp.wire.attrspec import ATTRIBUTE_SPECS
from pybgp.wire.constants import AttrFlag
from pybgp.wire.context import WireContext
from pybgp.wire.errors import MalformedAttribute

__all__ = ["DEFAULT_SEMANTIC", "VALUE_CACHE_SIZE", "clear_value_cache", "fast_semantic"]

_OPT_TRANS = int(AttrFlag.OPTIONAL | AttrFlag.TRANSITIVE)
_EXT = int(AttrFlag.EXTENDED_LENGTH)

# Position of each attribute's value in the semantic tuple (`attributes._semantic` order):
# origin, as_path, next_hop, med, local_pref, atomic_aggregate, aggregator, communities,
# extended_communities, large_communities, originator_id, cluster_list, otc, unknown.
# AS4_PATH (17) and AS4_AGGREGATOR (18) are absent on purpose: they need the RFC 6793 merge.
_SLOT: dict[int, int] = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 7: 6, 8: 7, 16: 8, 32: 9, 9: 10, 10: 11, 35: 12}

DEFAULT_SEMANTIC: tuple[object, ...] = (
    None, (), None, None, None, False, None, (), (), (), None, (), None, (),
)  # fmt: skip
"""The semantic tuple of an empty `PathAttributes()` (its field defaults, in field order)."""

_SHARED = ~((1 << 2) | (1 << 7))
"""Codes whose values are worth caching: all but AS_PATH and AGGREGATOR, which differ in nearly every
set of a table (76,816 distinct AS_PATHs in 89,675 UPDATEs of the 2015 full table): caching those only
adds dict churn and objects for the garbage collector to walk."""

_Hit = tuple[int, int, object]  # (1 << code, slot, decoded value)

VALUE_CACHE_SIZE = 1 << 16
"""Distinct attribute encodings remembered per (4-octet AS, iBGP) context; when full the cache starts
afresh (values already handed out stay valid)."""

_VALUES: tuple[dict[bytes, _Hit], ...] = ({}, {}, {}, {})
"""The value caches, one per (4-octet AS, iBGP) context, index `2 * as4 + ibgp`; keyed by the whole
attribute (flags, code, length and value), since the flags decide whether it is accepted."""


def clear_value_cache() -> None:
    """Forget every cached attribute value (tests and cold-cache benchmarks)."""
    for cache in _VALUES:
        cache.clear()


def _decode_one(code: int, flags: int, value: bytes, ctx: WireContext) -> _Hit | None:
    """Decode one attribute the way the general path would, or None if the general path must judge it."""
    slot = _SLOT.get(code)
    if slot is None:
        return None
    spec = ATTRIBUTE_SPECS[code]
    if (flags & _OPT_TRANS) != spec.flags or (spec.ibgp_only and not ctx.ibgp):
        return None
    try:
        decoded = spec.decode(value, ctx)
    except (MalformedAttribute, ValueError, IndexError, struct.error):
        return None
    return (1 << code, slot, decoded)


def fast_semantic(buf: bytes, ctx: WireContext) -> tuple[tuple[object, ...], int] | None:
    """(semantic tuple, bitmap of codes seen) for a plain well-formed attribute list, else None.

    The hot loop of a full-table load: per attribute one header read, one slice, one dict lookup.
    """
    n = len(buf)
    if not n:
        return None  # no attributes at all: the general path returns the shared empty set
    cache = _VALUES[2 * ctx.as4 + ctx.ibgp]
    get = cache.get
    values = list(DEFAULT_SEMANTIC)
    seen = 0
    i = 0
    while i < n:
        if i + 3 > n:
            return None
        flags = buf[i]
        if flags & _EXT:
            if i + 4 > n:
                return None
            end = i + 4 + ((buf[i + 2] << 8) | buf[i + 3])
        else:
            end = i + 3 + buf[i + 2]
        if end > n:
            return None
        raw = buf[i:end]
        hit = get(raw)
        if hit is None:
            hit = _decode_one(buf[i + 1], flags, raw[4 if flags & _EXT else 3 :], ctx)
            if hit is None:
                return None
            if hit[0] & _SHARED:
                if len(cache) >= VALUE_CACHE_SIZE:
                    cache.clear()
                cache[raw] = hit
        bit, slot, value = hit
        if seen & bit:
            return None  # repeated attribute: RFC 7606 section 3 g, the general path reports it
        seen |= bit
        values[slot] = value
        i = end
    return tuple(values), seen
