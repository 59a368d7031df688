"""The fast path of attribute decoding: one pass over a well-formed attribute list, values shared.

Owns: `fast_parts(buf, ctx)` (the decoder's entry point) and `fast_semantic(buf, ctx)` (the same,
assembled), which walk a Path Attributes field whose every attribute is known, well-formed, unique and
allowed on this session, and return its values in `PathAttributes` field order (the semantic tuple)
plus the bitmap of attribute codes seen; and the bounded caches they read through: per attribute value
(like ExaBGP's per-attribute `Attribute.cache`: a table repeats the same NEXT_HOP, MED, COMMUNITIES,
ORIGINATOR_ID or CLUSTER_LIST bytes in most UPDATEs, so each distinct encoding is decoded once and its
value object shared), per template (a whole list with its AS_PATH cut out: sets of a table differ
mostly in AS_PATH, so the rest is read once per distinct form) and per MED template (the same with
MED's value cut out too: sets that differ only in AS_PATH and MED, one per prefix as a route
reflector passes them on, are read once per distinct form as well). And `_sibling`: a list that is a
live interned set's but for NEXT_HOP's value (the other ToR's copy of a set) takes that set's values
instead of being read, sharing them (AS path, MED, ...) -- tried only while sets are kept alive and
the context's intern table is not paused (`intern.intern_set`: while it adds no sets, the other
ToR's copy is not there to find, and every lookup would miss). And whether a list was its set's
canonical encoding, so that the set takes its shape's shared canonical image (`image.canonical_image`)
instead of an image keeping its bytes: decided once per template (`_decide`), then per list by
where its AS_PATH sits and that attribute's flags.

Never does: decide an RFC 7606 outcome. Anything unusual (MP_REACH/MP_UNREACH, AS4_PATH and
AS4_AGGREGATOR, an unknown or repeated code, Optional/Transitive bits in conflict, an iBGP-only
attribute from an external peer, a malformed value, an overrun, an empty field) makes it return None,
and `attributes.decode_path_attributes` takes the general path, which names the fault. On every list
it accepts, its result equals the general path's field for field (tests/wire/test_attrfast.py checks
both on real tables and on Hypothesis-generated lists).
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from pybgp.wire.aspath import decode_as_path_at
from pybgp.wire.attrspec import ATTRIBUTE_SPECS
from pybgp.wire.constants import AttrFlag
from pybgp.wire.context import WireContext
from pybgp.wire.errors import MalformedAttribute
from pybgp.wire.image import WireImage, WireShape, canonical_image, shape_of
from pybgp.wire.intern import PAUSED, TABLES

__all__ = [
    "DEFAULT_SEMANTIC",
    "SIBLING_MIN_LIVE",
    "TEMPLATE_CACHE_SIZE",
    "VALUE_CACHE_SIZE",
    "FastParts",
    "clear_value_cache",
    "fast_parts",
    "fast_semantic",
    "set_canonical_rest",
]

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

_AS_PATH = 2
_AS_PATH_BIT = 1 << _AS_PATH
_MED = 4
_U32 = struct.Struct("!I")
_TRANS = int(AttrFlag.TRANSITIVE)
_TRANS_EXT = _TRANS | _EXT
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


TEMPLATE_CACHE_SIZE = 1 << 15
"""Distinct attribute lists without their AS_PATH remembered per context; when full the cache starts
afresh."""

_Template = tuple[tuple[object, ...], WireShape, int, WireImage | None]

_TEMPLATES: tuple[dict[bytes, _Template], ...] = ({}, {}, {}, {})
"""The template caches, one per (4-octet AS, iBGP) context like `_VALUES`: the bytes of an attribute
list with its AS_PATH cut out -> (its semantic tuple, AS_PATH slot left empty; the shared
`WireShape` of its sets, whose bitmap of codes seen includes AS_PATH's bit; the offset at which a
canonical AS_PATH attribute makes the whole list canonical, or -1 if none does, or `_UNDECIDED`
until worked out; and then the shape's canonical image, else None: see `_decide`)."""

_MED_TEMPLATES: tuple[dict[bytes, _Template], ...] = ({}, {}, {}, {})
"""The same templates keyed by the list without its AS_PATH and without the first MED's 4 value octets
(its header kept): a set that differs from a known one only in AS_PATH and MED -- every UPDATE of feed
(c) of `feed_server.py`, 100k one-prefix UPDATEs with MED = index -- is read from here, the list's
own MED put in. Bounded like `_TEMPLATES`."""

_UNSHARED = ~_SHARED


def clear_value_cache() -> None:
    """Forget every cached attribute value and template, and the last AS_PATH of the MED template
    path (tests and cold-cache benchmarks)."""
    global _last_med_path
    for cache in _VALUES:
        cache.clear()
    for templates in (*_TEMPLATES, *_MED_TEMPLATES):
        templates.clear()
    _last_med_path = _NO_PATH
    for hops in _NEXT_HOPS:
        hops[:] = [b"", b""]
    _QUIET[:] = [0, 0, 0, 0]
    _HOPS_LEARNT[:] = [0, 0, 0, 0]
    _FIRST_HOP[:] = [b"", b"", b"", b""]
    _SIBLINGS[:] = [False, False, False, False]


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
    if code == _NEXT_HOP:  # a NEXT_HOP new to the value cache: see `_SIBLINGS`
        index = 2 * ctx.as4 + ctx.ibgp
        learnt = _HOPS_LEARNT[index] = _HOPS_LEARNT[index] + 1
        if learnt == 1:
            _FIRST_HOP[index] = value
        elif learnt == 2 and not _SIBLINGS[index]:
            _SIBLINGS[index] = True
            _NEXT_HOPS[index][:] = [value, _FIRST_HOP[index]]  # this list's, and the other one
        elif learnt > SIBLING_MAX_HOPS:
            _SIBLINGS[index] = False
    return (1 << code, slot, decoded)


FastParts = tuple[tuple[object, ...], WireShape, object, object, WireImage | None]
"""What `fast_parts` returns: (values, shape, AS_PATH, MED, canonical): the set's `WireImage` is
`canonical`, its shape's shared canonical image, when the list was the set's canonical encoding,
else (None) its bytes and that shared shape (which holds the bitmap of codes seen). The semantic
tuple is `values` with AS_PATH in slot 1 and, unless MED is None, MED in slot 3. `values` is shared
by every set read through one template, so the decoder builds the set from the parts rather than
copying the tuple."""


CanonicalRest = Callable[[tuple[object, ...], WireContext], tuple[bytes, int] | None]
"""The type of `_canonical_rest`."""


def _no_canonical_rest(values: tuple[object, ...], ctx: WireContext) -> tuple[bytes, int] | None:
    """What `_canonical_rest` is until `attributes` sets it: no list is known canonical."""
    return None


_canonical_rest: CanonicalRest = _no_canonical_rest
"""(the canonical encoding of the set `values` stand for without its AS_PATH attribute, the offset at
which the canonical encoder writes AS_PATH), or None when that AS_PATH would not always be written
(neither ORIGIN nor NEXT_HOP: an empty AS_PATH is then left out) or the set cannot be encoded. Set by
`attributes` (`set_canonical_rest`): the encoder lives there, and this module cannot import it."""


def set_canonical_rest(function: CanonicalRest) -> None:
    """Give this module the canonical encoder (`_canonical_rest`); `attributes` calls it on import."""
    global _canonical_rest
    _canonical_rest = function


_UNDECIDED = -2
"""A template's canonical offset until `_decide` has worked it out."""


def _decide(
    templates: dict[bytes, _Template],
    key: bytes,
    template: _Template,
    rest: bytes,
    values: tuple[object, ...],
    ctx: WireContext,
) -> _Template:
    """`template` with its canonical offset and image worked out (`_canonical_at`) from `rest`, this
    list with its AS_PATH cut out, and its set `values`; stored under `key` in `templates`, the cache
    `template` was found in, in its place (a tuple replaced whole: a thread sees one or the other).

    Asked once per template, by the first list that hits it with a canonical AS_PATH header, not when
    the template is built: 62% of the templates of the 2015 full table (rewritten with canonical
    AS_PATH headers) serve one list only, and an encoding each (~9 us, plus the objects it leaves to
    the collector) cost its decode ~11% where this costs ~5%. The first list of a template keeps its
    bytes. A speaker that sets Extended Length on every AS_PATH (FRR, Quagga: every UPDATE of that
    table as recorded) never sends a canonical list, and its templates are never asked about. A
    template found in both caches may be worked out once in each."""
    canonical_at = _canonical_at(rest, values, ctx)
    shape = template[1]
    decided = (template[0], shape, canonical_at, None if canonical_at < 0 else canonical_image(shape))
    templates[key] = decided
    return decided


def _canonical_at(rest: bytes, values: tuple[object, ...], ctx: WireContext) -> int:
    """The offset in `rest` (a list with its AS_PATH cut out, whose set is `values`) at which an AS_PATH
    attribute in canonical form makes the whole list the canonical encoding of its set, or -1 if rest
    is not canonical itself (or holds neither ORIGIN nor NEXT_HOP); found by encoding the set
    canonically, once per template (`_decide`).

    Why a template decides for all its lists: the canonical encoder writes AS_PATH always (ORIGIN or
    NEXT_HOP present, `_canonical_rest`), between ORIGIN and the rest, and nothing else it writes
    depends on the AS path: AS4_PATH only goes with an ASN over 65535 in a 2-octet context, which a
    2-octet AS_PATH cannot hold. A MED template's lists differ in MED's value only, 4 octets any
    value of which is written back the same. And an AS_PATH value decoded without fault encodes to
    the same octets again (`aspath.decode_as_path` rejects empty segments and unknown types, and no
    segment it reads is longer than the encoder's 255 ASNs), so only its header can differ: flags
    Transitive alone, Extended Length only beyond 255 octets (`fast_parts`)."""
    found = _canonical_rest(values, ctx)
    return found[1] if found is not None and found[0] == rest else -1


def fast_semantic(buf: bytes, ctx: WireContext) -> tuple[tuple[object, ...], int] | None:
    """(semantic tuple, bitmap of codes seen) for a plain well-formed attribute list, else None:
    `fast_parts` assembled (for the encoder's check of a received image, and for tests)."""
    found = fast_parts(buf, ctx)
    if found is None:
        return None
    values, shape, as_path, med, _ = found
    semantic = list(values)
    semantic[1] = as_path
    if med is not None:
        semantic[3] = med
    return tuple(semantic), shape.seen


def fast_parts(buf: bytes, ctx: WireContext) -> FastParts | None:
    """The parts of the semantic tuple (`FastParts`) of a plain well-formed attribute list, else None.

    The hot loop of a full-table load. AS_PATH differs in nearly every set, the other attributes much
    less (the 2015 full table: 15,316 distinct lists-without-AS_PATH in 89,675 UPDATEs of 8.2 attributes
    each). So the headers are walked up to AS_PATH (usually just ORIGIN before it), AS_PATH is decoded
    in place, and the rest -- the list with AS_PATH cut out -- is looked up whole in the template
    cache. On a miss, the rest with MED's value cut out too is looked up in the MED template cache
    (sets that differ only in AS_PATH and MED: feed (c) of `feed_server.py`, 100k one-prefix UPDATEs
    with MED = index); only a miss there reads it attribute by attribute (`_read`, through the
    per-value cache).
    """
    n = len(buf)
    if not n:
        return None  # no attributes at all: the general path returns the shared empty set
    i = 0
    try:
        while i < n:  # find AS_PATH: header walk only
            flags = buf[i]
            start = i + (4 if flags & _EXT else 3)
            end = start + ((buf[i + 2] << 8) | buf[i + 3] if flags & _EXT else buf[i + 2])
            if end > n:
                return None  # an overrun: the general path names the fault
            if buf[i + 1] == _AS_PATH:
                break
            i = end
        else:
            read = _read(buf, ctx)  # no AS_PATH: read it all
            if read is None:
                return None
            return read[0], shape_of(ctx.as4, ctx.ibgp, read[1]), read[0][1], None, None
        if (flags & _OPT_TRANS) != _TRANS:
            return None
    except IndexError:
        return None  # a header cut short: the general path names the fault
    # AS_PATH's offset if its header is the canonical one, else -1: the list is canonical if this is
    # where its template puts a canonical AS_PATH (`_decide`; -1 there too if nowhere).
    at = i if flags == _TRANS or (flags == _TRANS_EXT and end - start > 255) else -1
    index = 2 * ctx.as4 + ctx.ibgp
    if _SIBLINGS[index] and not PAUSED[index] and len(TABLES[index]) >= SIBLING_MIN_LIVE:  # `_sibling`
        sibling = _sibling(buf, end, index, ctx)
        if sibling is not None:
            return sibling
    rest = buf[:i] + buf[end:] if i else buf[end:]
    templates = _TEMPLATES[index]
    template = templates.get(rest)
    if template is None:
        # Not a known list: maybe one that differs from a known one only in MED's value.
        med_templates = _MED_TEMPLATES[index]
        med_at = _med_value_at(rest)
        if med_at >= 0:
            med_key = rest[:med_at] + rest[med_at + 4 :]
            template = med_templates.get(med_key)
            if template is not None:
                med = _U32.unpack_from(rest, med_at)[0]
                if at >= 0 and at != template[2] and template[2] == _UNDECIDED:
                    values = template[0]
                    values = (*values[:3], med, *values[4:])  # the set of `rest`, this list's MED in
                    template = _decide(med_templates, med_key, template, rest, values, ctx)
                return _with_med_path(template, buf, start, end, ctx.as4, med, at)
        read = _read(rest, ctx)
        if read is None or read[1] & _AS_PATH_BIT:
            return None  # declined, or AS_PATH repeated (RFC 7606 section 3 g): the general path judges
        # The shape (codes seen with AS_PATH's bit already in) shared by every set of this template.
        shape = shape_of(ctx.as4, ctx.ibgp, read[1] | _AS_PATH_BIT)
        # Whether its lists are canonical is left to the template's next list (`_decide`): this one
        # keeps its bytes.
        template = (read[0], shape, _UNDECIDED, None)
        if not read[1] & _UNSHARED:  # a list holding AGGREGATOR is seldom repeated: not remembered
            if len(templates) >= TEMPLATE_CACHE_SIZE:
                templates.clear()
            templates[rest] = template
            if med_at >= 0:
                if len(med_templates) >= TEMPLATE_CACHE_SIZE:
                    med_templates.clear()
                med_templates[med_key] = template
    elif at >= 0 and at != template[2] and template[2] == _UNDECIDED:
        template = _decide(templates, rest, template, rest, template[0], ctx)
    try:
        as_path = decode_as_path_at(buf, start, end, ctx.as4)
    except (IndexError, MalformedAttribute):
        return None  # a malformed AS_PATH: the general path names the fault
    return template[0], template[1], as_path, None, template[3] if at == template[2] else None


_NO_PATH: tuple[bytes, bool, object] = (b"", False, ())
_last_med_path = _NO_PATH
"""The AS_PATH (its value bytes, the context's 4-octet AS flag, the decoded path) of the last list read
through a MED template; see `_with_med_path`."""


def _with_med_path(
    template: _Template, buf: bytes, start: int, end: int, as4: bool, med: int, at: int
) -> FastParts | None:
    """`fast_parts`' answer for a MED template hit, with the AS_PATH at buf[start:end] (and `at`, its
    offset if its header is canonical, else -1: `fast_parts`).

    Sets that differ only in MED usually come in a run with one AS_PATH (a route reflector passing
    the routes of one origin, each with its own MED: feed (c)), so the AS_PATH decoded last on this
    path is reused when the bytes are the same: the sets then share one AS_PATH tuple, which saves
    decoding it and ~150 bytes per set. (Only here: in a full table consecutive sets seldom share
    their AS_PATH, 5% of the 2015 table's UPDATEs, and remembering each one would cost more.)"""
    global _last_med_path
    last = _last_med_path  # read once: a tuple replaced whole, so a thread sees one consistent entry
    raw = last[0]
    if last[1] == as4 and end - start == len(raw) and buf.startswith(raw, start):
        as_path = last[2]
    else:
        try:
            as_path = decode_as_path_at(buf, start, end, as4)
        except (IndexError, MalformedAttribute):
            return None  # a malformed AS_PATH: the general path names the fault
        _last_med_path = (buf[start:end], as4, as_path)
    return template[0], template[1], as_path, med, template[3] if at == template[2] else None


def _med_value_at(rest: bytes) -> int:
    """Where the value of the first MED of `rest` (a list without its AS_PATH) starts, if that MED has
    a 4-octet value (the only well-formed one); else -1, also for a list cut short."""
    n = len(rest)
    i = 0
    while i < n - 2:
        flags = rest[i]
        if flags & _EXT:
            if i + 4 > n:
                return -1
            start = i + 4
            end = start + ((rest[i + 2] << 8) | rest[i + 3])
        else:
            start = i + 3
            end = start + rest[i + 2]
        if rest[i + 1] == _MED:
            return start if end - start == 4 and end <= n else -1
        i = end
    return -1


def _read(buf: bytes, ctx: WireContext) -> tuple[tuple[object, ...], int] | None:
    """(semantic tuple, bitmap of codes seen) of `buf` read attribute by attribute, or None to decline.

    Per attribute: one header read, one slice, one dict lookup (AS_PATH: decoded in place).
    """
    n = len(buf)
    as4 = ctx.as4
    cache = _VALUES[2 * as4 + ctx.ibgp]
    get = cache.get
    values = list(DEFAULT_SEMANTIC)
    seen = 0
    i = 0
    try:
        while i < n:
            flags = buf[i]
            if flags & _EXT:
                start = i + 4
                end = start + ((buf[i + 2] << 8) | buf[i + 3])
            else:
                start = i + 3
                end = start + buf[i + 2]
            if end > n:
                return None
            if buf[i + 1] == _AS_PATH:
                # AS_PATH differs in nearly every set: decoded in place, never cached.
                if (flags & _OPT_TRANS) != _TRANS or seen & _AS_PATH_BIT:
                    return None
                seen |= _AS_PATH_BIT
                values[1] = decode_as_path_at(buf, start, end, as4)
                i = end
                continue
            raw = buf[i:end]
            hit = get(raw)
            if hit is None:
                hit = _decode_one(buf[i + 1], flags, raw[start - i :], ctx)
                if hit is None:
                    return None
                if hit[0] & _SHARED:
                    if len(cache) >= VALUE_CACHE_SIZE:
                        cache.clear()
                        _HOPS_LEARNT[2 * as4 + ctx.ibgp] = 0  # NEXT_HOPs are learnt afresh too
                    cache[raw] = hit
            bit, slot, value = hit
            if seen & bit:
                return None  # repeated attribute: RFC 7606 section 3 g, the general path reports it
            seen |= bit
            values[slot] = value
            i = end
    except (IndexError, MalformedAttribute):
        return None  # a header cut short, a malformed AS_PATH: the general path names the fault
    return tuple(values), seen


# --- siblings: the same list from the other ToR -------------------------------------------------------

_NEXT_HOP = 3
SIBLING_MAX_HOPS = 16
"""Distinct NEXT_HOPs in a context's value cache beyond which siblings are not looked for."""
_HOPS_LEARNT = [0, 0, 0, 0]
_FIRST_HOP = [b"", b"", b"", b""]
_SIBLINGS = [False, False, False, False]
"""Per context: whether `_decode_one` has read from 2 to `SIBLING_MAX_HOPS` different NEXT_HOPs (so
many in `_HOPS_LEARNT`, the first in `_FIRST_HOP`) since the value cache last started afresh. With one
(one session: the usual case) no list has a sibling; with more (a collector's table, an eBGP full
feed: the 2015 table has 3,771) lookups would nearly always miss. Otherwise `fast_parts` does not
call `_sibling` at all."""

SIBLING_MIN_LIVE = 1024
"""Live sets a context's intern table must hold before `_sibling` is tried: a sibling can only be
a set someone still holds, and a caller that drops each set after decoding it (the codec benchmark,
`pybgpctl decode`) never has more than a few alive, so it pays one `len()` per list and nothing else."""

_NEXT_HOP_HEADER = bytes((3, 4))
"""Type code and length octets of a NEXT_HOP without Extended Length (what every speaker sends)."""
_NEXT_HOPS: tuple[list[bytes], ...] = ([b"", b""], [b"", b""], [b"", b""], [b"", b""])
"""Per context (index `2 * as4 + ibgp`): [the NEXT_HOP value of the last list `_sibling` read, the last
different one before it] -- the two ToRs' addresses while both stream a table."""

SIBLING_QUIET = 64
"""Lists passed over (no next hop tracked, no lookup) after one with a third next hop (neither of the
last two): a collector's or an eBGP peer's table changes next hop on most UPDATEs among thousands (the
2015 table: 69,733 changes in 89,679), where every lookup would miss; two ToRs' streams switch
between two."""
_QUIET = [0, 0, 0, 0]
"""Per context: lists left before `_sibling` looks again (see `SIBLING_QUIET`)."""

_decode_next_hop = ATTRIBUTE_SPECS[3].decode
_PLAIN_CODES = sum(1 << code for code in _SLOT)


def _sibling(buf: bytes, at: int, index: int, ctx: WireContext) -> FastParts | None:
    """`fast_parts`' answer taken from a live interned set (the sibling) whose bytes differ from `buf`
    only in the 4 octets of NEXT_HOP's value, when NEXT_HOP follows AS_PATH (which ends at `at`) as in
    every list sent in ascending code order; else None.

    A server's two route-reflector ToRs send every attribute set twice, the same bytes but for
    NEXT_HOP (each its own address): the set decoded from the second copy is then the sibling's with
    another next hop, and shares every value object of it -- the AS path (segments, ASN tuple and
    ints, ~260 bytes of a feed (a) set), MED, communities -- instead of decoding its own. The sibling
    is looked up in the intern table (index `index`) under `buf` with the other recent next hop
    (`_NEXT_HOPS`) written in: same context, bytes equal but for that value, so its decode is this
    one's but for NEXT_HOP (attributes are decoded independently; the RFC 6793 merge reads AS_PATH,
    AS4_PATH and AGGREGATOR only; any 4-octet value is a valid NEXT_HOP, read as `_read` reads it).
    Only a sibling decoded without fault from codes the fast path reads is used, so `buf` is a plain
    list without fault too, and this module's promise holds: the general path's answer, field for
    field (tests/wire/test_attr_sibling.py). If the sibling's bytes were canonical (it holds the
    canonical image) so are these, which differ only in a value any 4 octets of which are written back
    the same: the image is passed on. Nothing is stored per set: a miss costs a slice, a
    concatenation and one lookup, and none is tried for `SIBLING_QUIET` lists after a third next hop."""
    if _QUIET[index]:  # lists left to pass over after a third next hop
        _QUIET[index] -= 1
        return None
    hops = _NEXT_HOPS[index]
    if hops[0] and buf.startswith(hops[0], at + 3):  # the last list's next hop, if NEXT_HOP is next
        if not hops[1]:
            return None  # one next hop so far in this run of lists: nothing to look for
    elif buf[at + 1 : at + 3] == _NEXT_HOP_HEADER and len(buf) >= at + 7:  # another next hop
        value = buf[at + 3 : at + 7]  # the last two next hops are remembered
        third = bool(hops[1]) and value != hops[1]
        hops[1] = hops[0]
        hops[0] = value
        if third:  # not two ToRs' copies: pass over the next lists (see `SIBLING_QUIET`)
            _QUIET[index] = SIBLING_QUIET
            return None
    if buf[at + 1 : at + 3] != _NEXT_HOP_HEADER or len(buf) < at + 7:
        return None  # NEXT_HOP (short header, 4 octets) not next, or cut short: no sibling here
    other = hops[1]
    if not other:
        return None
    value = buf[at + 3 : at + 7]
    ref = TABLES[index].get(buf[: at + 3] + other + buf[at + 7 :])
    if ref is None or ref.fault is not None:
        return None
    s = ref()
    wire = s.wire if s is not None else None
    if s is None or wire is None or wire.shape.seen & ~_PLAIN_CODES:
        return None  # dead, or decoded by the general path from codes this module leaves to it
    values = (
        s.origin, s.as_path, _decode_next_hop(value, ctx), s.med, s.local_pref, s.atomic_aggregate,
        s.aggregator, s.communities, s.extended_communities, s.large_communities, s.originator_id,
        s.cluster_list, s.otc, s.unknown,
    )  # fmt: skip
    return values, wire.shape, s.as_path, None, wire if wire[0] is None else None  # [0]: `parts`
