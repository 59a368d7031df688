"""Path attributes (RFC 4271 section 4.3 and 5, and extensions), decoded into one frozen, interned set.

Owns: `PathAttributes`, the interned attribute set every route points to, its parts (`Aggregator`,
`RawAttribute`, re-exported `AsPathSegment`, `LargeCommunity`, `MpReach`, `MpUnreach`), the walk over
an attribute list driven by `attrspec.ATTRIBUTE_SPECS`, what is interned (the tables: `intern.py`), and
`decode_path_attributes` / `encode_path_attributes` with RFC 7606 error handling.
Never does: hold NLRI inside `PathAttributes` (MP_REACH/MP_UNREACH carry prefixes, so they live on the
`Update`, not in the shared set), or any policy.

TYPE CONTRACT (fixed: FSM, RIB and daemon code against these fields). Added for byte-exact re-encoding:
`PathAttributes.wire` (not part of equality or hashing), `MpReach.flags` / `MpUnreach.flags`.

Path attribute (RFC 4271 section 4.3):

    +-----------------+-----------------+------------------------------+------------------+
    | Attr. Flags (1) | Attr. Type (1)  | Length (1, or 2 if Ext. Len) | Value (Length)   |
    +-----------------+-----------------+------------------------------+------------------+
    Flags: Optional 0x80, Transitive 0x40, Partial 0x20, Extended Length 0x10.

Byte-exactness: a decoded set keeps its received bytes (`image.WireImage`, which says when they are
written back), or only its shape's shared canonical image when the bytes were its canonical encoding;
anything else is encoded canonically (RFC 7606 section 5.1 order).
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any

from pybgp.wire.aspath import AsPathSegment as AsPathSegment
from pybgp.wire.aspath import (
    as4_path_segments,
    encode_as_path,
    merge_as4_path,
    needs_as4_path,
)
from pybgp.wire.attrfast import clear_value_cache, fast_parts, fast_semantic, set_canonical_rest
from pybgp.wire.attrspec import ATTRIBUTE_SPECS as ATTRIBUTE_SPECS
from pybgp.wire.attrspec import Aggregator as Aggregator
from pybgp.wire.attrspec import encode_aggregator
from pybgp.wire.communities import LargeCommunity as LargeCommunity
from pybgp.wire.communities import (
    encode_communities,
    encode_extended_communities,
    encode_large_communities,
)
from pybgp.wire.constants import AS_TRANS, AttrCode, AttrFlag, NotificationCode, Origin, UpdateSubcode
from pybgp.wire.context import WireContext
from pybgp.wire.errors import (
    LocalUsageError,
    MalformedAttribute,
    NotificationError,
    UpdateAction,
    UpdateFault,
)
from pybgp.wire.image import RawAttribute as RawAttribute
from pybgp.wire.image import WireImage as WireImage
from pybgp.wire.intern import HITS as _HITS
from pybgp.wire.intern import TABLES as _TABLES
from pybgp.wire.intern import InternKey, clear_tables, intern_key, intern_set, seen_codes
from pybgp.wire.mp import IPAddress as IPAddress
from pybgp.wire.mp import MpReach as MpReach
from pybgp.wire.mp import MpUnreach as MpUnreach
from pybgp.wire.mp import decode_mp_reach, decode_mp_unreach, encode_mp_reach, encode_mp_unreach

__all__ = [
    "ATTRIBUTE_SPECS",
    "EMPTY_ATTRIBUTES",
    "Aggregator",
    "AsPathSegment",
    "IPAddress",
    "LargeCommunity",
    "MpReach",
    "MpUnreach",
    "PathAttributes",
    "RawAttribute",
    "WireImage",
    "clear_intern_cache",
    "decode_path_attributes",
    "encode_path_attributes",
    "for_readvertisement",
    "strongest_fault",
]

_OPT = int(AttrFlag.OPTIONAL)
_TRANS = int(AttrFlag.TRANSITIVE)
_EXT = int(AttrFlag.EXTENDED_LENGTH)
_U32 = struct.Struct("!I")
_new_object = object.__new__
_new_tuple = tuple.__new__  # a `WireImage` built without its Python-level __new__


@dataclass(frozen=True, slots=True, kw_only=True, weakref_slot=True)
class PathAttributes:
    """The attributes of a path except MP_REACH/MP_UNREACH. Hashable, meant to be interned.

    `as_path` is the effective path: with a 2-octet peer the codec merges AS_PATH and AS4_PATH per
    RFC 6793 section 4.2.3. Communities are 32-bit ints, extended communities 64-bit ints.
    `wire` is the received encoding (see the module docstring); it never takes part in equality.
    """

    origin: Origin | None = None
    as_path: tuple[AsPathSegment, ...] = ()
    next_hop: ipaddress.IPv4Address | None = None
    med: int | None = None
    local_pref: int | None = None
    atomic_aggregate: bool = False
    aggregator: Aggregator | None = None
    communities: tuple[int, ...] = ()
    extended_communities: tuple[int, ...] = ()
    large_communities: tuple[LargeCommunity, ...] = ()
    originator_id: ipaddress.IPv4Address | None = None
    cluster_list: tuple[ipaddress.IPv4Address, ...] = ()
    otc: int | None = None
    unknown: tuple[RawAttribute, ...] = ()
    wire: WireImage | None = field(default=None, compare=False, repr=False)


# The semantic fields in order (`_semantic`, `attrfast.DEFAULT_SEMANTIC`).
_SEMANTIC_FIELDS = (
    "origin", "as_path", "next_hop", "med", "local_pref", "atomic_aggregate", "aggregator", "communities",
    "extended_communities", "large_communities", "originator_id", "cluster_list", "otc", "unknown",
)  # fmt: skip
assert tuple(f.name for f in fields(PathAttributes)) == (*_SEMANTIC_FIELDS, "wire")
_SLOT_SETTERS = tuple(vars(PathAttributes)[name].__set__ for name in (*_SEMANTIC_FIELDS, "wire"))


def _new_attributes(
    values: tuple[object, ...], as_path: object, med: object, wire: WireImage | None
) -> PathAttributes:
    """The set `attrfast.fast_parts` describes: `PathAttributes(**dict(zip(_SEMANTIC_FIELDS, values)),
    wire=wire)`, `as_path` in the AS_PATH slot and, unless None, `med` in the MED slot. The slots are
    filled through their descriptors one by one, not by the frozen `__init__`'s `object.__setattr__`
    calls nor a loop (~70% dearer; one set per UPDATE of a full table), from the template's tuple."""
    s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, set_wire = _SLOT_SETTERS
    v0, _, v2, v3, v4, v5, v6, v7, v8, v9, v10, v11, v12, v13 = values  # in `_SEMANTIC_FIELDS` order
    attrs = _new_object(PathAttributes)
    s0(attrs, v0)
    s1(attrs, as_path)
    s2(attrs, v2)
    s3(attrs, v3 if med is None else med)
    s4(attrs, v4)
    s5(attrs, v5)
    s6(attrs, v6)
    s7(attrs, v7)
    s8(attrs, v8)
    s9(attrs, v9)
    s10(attrs, v10)
    s11(attrs, v11)
    s12(attrs, v12)
    s13(attrs, v13)
    set_wire(attrs, wire)
    return attrs


EMPTY_ATTRIBUTES = PathAttributes()
"""Returned (this very object) when an attribute section holds nothing but MP_REACH/MP_UNREACH."""


def _semantic(a: PathAttributes) -> tuple[object, ...]:
    return (
        a.origin, a.as_path, a.next_hop, a.med, a.local_pref, a.atomic_aggregate, a.aggregator,
        a.communities, a.extended_communities, a.large_communities, a.originator_id, a.cluster_list,
        a.otc, a.unknown,
    )  # fmt: skip


_BGPSEC_PATH = 33  # RFC 8205; carried opaque in `unknown`
_TAW = UpdateAction.TREAT_AS_WITHDRAW
_DISCARD = UpdateAction.ATTRIBUTE_DISCARD
_MP_CODES = (AttrCode.MP_REACH_NLRI, AttrCode.MP_UNREACH_NLRI)
_STRENGTH = {action: i for i, action in enumerate(UpdateAction)}
_NEEDED_WITH_NLRI = (1 << AttrCode.ORIGIN) | (1 << AttrCode.AS_PATH) | (1 << AttrCode.NEXT_HOP)


def strongest_fault(a: UpdateFault | None, b: UpdateFault | None) -> UpdateFault | None:
    """The fault whose RFC 7606 action is stronger (the first one on a tie)."""
    if a is None:
        return b
    if b is None:
        return a
    return b if _STRENGTH[b.action] > _STRENGTH[a.action] else a


def _fault(
    action: UpdateAction, subcode: int, reason: str, code: int | None, data: bytes = b""
) -> UpdateFault:
    return UpdateFault(
        action=action,
        code=NotificationCode.UPDATE_MESSAGE_ERROR,
        subcode=subcode or UpdateSubcode.MALFORMED_ATTRIBUTE_LIST,
        data=data,
        reason=reason,
        attr_code=code,
    )


# --- interning (the tables themselves: intern.py) -------------------------------------------------------

_CacheEntry = tuple[PathAttributes, UpdateFault | None, int]


def clear_intern_cache() -> None:
    """Forget every interned attribute set and cached attribute value (tests, cold-cache benchmarks;
    a daemon never needs it)."""
    clear_tables()
    clear_value_cache()


def _raw(buf: bytes, flags: int, start: int, end: int) -> bytes:
    """The whole attribute (header and value) whose value is buf[start:end]: NOTIFICATION data."""
    return buf[start - (4 if flags & _EXT else 3) : end]


def _decode_plain(buf: bytes, spans: list[tuple[int, int, int, int]], ctx: WireContext) -> _CacheEntry:
    """Decode the non-MP attributes at `spans` (flags, code, value start, value end) of `buf`."""
    values: dict[str, Any] = {}
    unknown: list[RawAttribute] = []
    fault: UpdateFault | None = None
    seen = 0
    for flags, code, start, end in spans:
        value = buf[start:end]
        bit = 1 << code
        if seen & bit:
            # RFC 7606 section 3 g: all but the first occurrence are discarded.
            fault = strongest_fault(
                fault, _fault(_DISCARD, 1, f"duplicate attribute {code}", code, _raw(buf, flags, start, end))
            )
            continue
        seen |= bit
        spec = ATTRIBUTE_SPECS.get(code)
        if spec is None:
            if not flags & _OPT:
                # RFC 4271 section 6.3 asks for NOTIFICATION 3/2 here; like BIRD we apply RFC 7606's
                # gentler treat-as-withdraw so one odd route does not reset the session.
                reason = f"unrecognized well-known attribute {code}"
                raw = _raw(buf, flags, start, end)
                bad = _fault(_TAW, UpdateSubcode.UNRECOGNIZED_WELL_KNOWN_ATTRIBUTE, reason, code, raw)
                fault = strongest_fault(fault, bad)
            else:
                unknown.append(RawAttribute(flags, code, value))
            continue
        if (flags & (_OPT | _TRANS)) != spec.flags:
            # RFC 7606 section 3 c: Optional/Transitive bits in conflict -> the attribute's own action.
            reason = f"attribute {code} flags 0x{flags:02x} conflict with its definition"
            raw = _raw(buf, flags, start, end)
            bad = _fault(spec.on_error, UpdateSubcode.ATTRIBUTE_FLAGS_ERROR, reason, code, raw)
            fault = strongest_fault(fault, bad)
            continue
        if spec.ibgp_only and not ctx.ibgp:
            # RFC 7606 sections 7.5, 7.9, 7.10: from an external peer these are discarded.
            reason = f"attribute {code} from an external peer discarded"
            raw = _raw(buf, flags, start, end)
            bad = _fault(_DISCARD, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason, code, raw)
            fault = strongest_fault(fault, bad)
            continue
        try:
            values[spec.name] = spec.decode(value, ctx)
        except MalformedAttribute as exc:
            reason = f"{spec.name}: {exc.reason}"
            fault = strongest_fault(
                fault, _fault(spec.on_error, exc.subcode, reason, code, _raw(buf, flags, start, end))
            )
        except (ValueError, IndexError, struct.error) as exc:
            fault = strongest_fault(
                fault,
                _fault(spec.on_error, 0, f"attribute {code}: {exc}", code, _raw(buf, flags, start, end)),
            )
    as4_path = values.pop("as4_path", None)
    as4_aggregator = values.pop("as4_aggregator", None)
    if not ctx.as4:
        # RFC 6793 section 4.2.3: an AGGREGATOR with a real 2-octet ASN means AS4_* are stale; ignore them.
        agg = values.get("aggregator")
        if agg is None or agg.asn == AS_TRANS:
            if as4_aggregator is not None:
                values["aggregator"] = as4_aggregator
            if as4_path is not None and "as_path" in values:
                values["as_path"] = merge_as4_path(values["as_path"], as4_path_segments(as4_path))
    # With a NEW peer (ctx.as4) AS4_PATH / AS4_AGGREGATOR are discarded (RFC 6793 section 4.1).
    if unknown:
        values["unknown"] = tuple(unknown)
    return PathAttributes(**values), fault, seen


_Span = tuple[int, int, int, int]  # flags, code, value start, value end


def _walk(buf: bytes) -> tuple[list[_Span], list[_Span], tuple[bytes | int, ...], UpdateFault | None]:
    """Walk the attribute headers: (non-MP spans, MP spans, `WireImage.parts` layout, fault of the walk)."""
    n = len(buf)
    i = 0
    spans: list[tuple[int, int, int, int]] = []
    parts: list[bytes | int] = []
    mp_spans: list[tuple[int, int, int, int]] = []
    run_start = 0
    fault: UpdateFault | None = None
    while i < n:
        flags = buf[i]
        hdr = 4 if flags & _EXT else 3
        if i + hdr > n:
            # RFC 7606 section 4: too few octets for a header -> treat-as-withdraw.
            fault = _fault(_TAW, 1, "attribute header overruns the Path Attributes field", None, buf[i:])
            break
        code = buf[i + 1]
        length = (buf[i + 2] << 8) | buf[i + 3] if hdr == 4 else buf[i + 2]
        start = i + hdr
        end = start + length
        if end > n:
            # RFC 7606 section 4: the last attribute overruns the field -> treat-as-withdraw.
            reason = f"attribute {code} overruns the field"
            fault = _fault(_TAW, UpdateSubcode.ATTRIBUTE_LENGTH_ERROR, reason, code, buf[i:])
            break
        if code == 14 or code == 15:  # MP_REACH_NLRI, MP_UNREACH_NLRI: carry NLRI, kept out of the set
            if i > run_start:
                parts.append(buf[run_start:i])
            parts.append(code)
            run_start = end
            mp_spans.append((flags, code, start, end))
        else:
            spans.append((flags, code, start, end))
        i = end
    if n > run_start:
        parts.append(buf[run_start:] if run_start else buf)  # with any overrunning tail: exact re-encoding
    return spans, mp_spans, tuple(parts), fault


def _scan_and_decode(buf: bytes, ctx: WireContext) -> tuple[_CacheEntry, list[_Span]]:
    """Walk the attribute headers, then decode (or find interned) the non-MP part.

    Returns the cache entry (attributes, fault of the non-MP part and of the walk, codes seen) and the
    MP attribute spans. The walk's fault depends only on the bytes in the key, so it is cached too.
    """
    spans, mp_spans, layout, fault = _walk(buf)
    key: InternKey = intern_key(layout)
    index = 2 * ctx.as4 + ctx.ibgp
    ref = _TABLES[index].get(key)
    attrs = ref() if ref is not None else None
    if ref is not None and attrs is not None:  # same bytes, same result
        _HITS[index] += 1
        return (attrs, ref.fault, seen_codes(attrs)), mp_spans
    if len(layout) > len(mp_spans):  # some non-MP bytes (attributes or an overrunning tail)
        attrs, plain_fault, seen = _decode_plain(buf, spans, ctx)
        image = WireImage(None, key, ctx.as4, ctx.ibgp, seen)
        object.__setattr__(attrs, "wire", image)
    else:
        attrs, plain_fault, seen = EMPTY_ATTRIBUTES, None, 0
    fault = strongest_fault(plain_fault, fault)
    intern_set(index, key, attrs, fault)
    return (attrs, fault, seen), mp_spans


def decode_path_attributes(
    data: bytes | memoryview, ctx: WireContext, *, has_nlri: bool = False
) -> tuple[PathAttributes, MpReach | None, MpUnreach | None, UpdateFault | None]:
    """Decode a Path Attributes field. Raises only `WireError`; RFC 7606 outcomes come back as the fault.

    `has_nlri` says the UPDATE carries IPv4 NLRI in its classic field, which makes ORIGIN, AS_PATH and
    NEXT_HOP mandatory; MP_REACH_NLRI with prefixes makes ORIGIN and AS_PATH mandatory (RFC 4760 section 3,
    RFC 7606 section 3 d). Identical attribute bytes return the identical `PathAttributes` object as
    long as that object is in use (the intern tables hold sets weakly).
    """
    buf = data if type(data) is bytes else bytes(data)
    index = 2 * ctx.as4 + ctx.ibgp
    ref = _TABLES[index].get(buf)
    interned = ref() if ref is not None else None
    mp_spans: Sequence[tuple[int, int, int, int]] = ()
    if ref is not None and interned is not None:  # seen before, still in use, held no MP attribute
        _HITS[index] += 1  # the table pays (see `intern.intern_set`)
        wire = interned.wire  # seen_codes(interned), inline on the hot path (`wire[1]` is `wire.shape`)
        attrs, fault, seen = interned, ref.fault, 0 if wire is None else wire[1].seen
        if has_nlri and seen & _NEEDED_WITH_NLRI == _NEEDED_WITH_NLRI:
            return attrs, None, None, fault  # as below, with nothing of MP to decode
    else:
        found = fast_parts(buf, ctx)
        if found is not None:  # a plain list without fault or MP attribute: built here, interned
            values, shape, as_path, med, image = found
            seen = shape.seen
            if image is None:  # not the shared canonical image: the bytes are kept
                image = _new_tuple(WireImage, (buf, shape))  # `image.new_image(buf, shape)`, inline
            attrs = _new_attributes(values, as_path, med, image)
            intern_set(index, buf, attrs, None)
            if has_nlri and seen & _NEEDED_WITH_NLRI == _NEEDED_WITH_NLRI:
                return attrs, None, None, None  # the usual UPDATE of a table: nothing more to check
            fault = None
        else:
            (attrs, fault, seen), mp_spans = _scan_and_decode(buf, ctx)
    mp_reach: MpReach | None = None
    mp_unreach: MpUnreach | None = None
    for flags, code, start, end in mp_spans:
        if code == AttrCode.MP_REACH_NLRI:
            if mp_reach is not None:
                # RFC 7606 section 3 g: a repeated MP_REACH_NLRI/MP_UNREACH_NLRI means a session reset.
                raise NotificationError(
                    3, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason="MP_REACH_NLRI repeated"
                )
            mp_reach, bad = decode_mp_reach(buf[start:end], ctx, flags)
            if bad is not None:
                raw = buf[start - (4 if flags & _EXT else 3) : end]
                fault = strongest_fault(
                    fault, _fault(_TAW, UpdateSubcode.OPTIONAL_ATTRIBUTE_ERROR, bad.reason, code, raw)
                )
        else:
            if mp_unreach is not None:
                raise NotificationError(
                    3, UpdateSubcode.MALFORMED_ATTRIBUTE_LIST, reason="MP_UNREACH_NLRI repeated"
                )
            mp_unreach = decode_mp_unreach(buf[start:end], ctx, flags)

    reach_nlri = mp_reach is not None and bool(mp_reach.nlri or mp_reach.raw_nlri)
    if (has_nlri and seen & _NEEDED_WITH_NLRI == _NEEDED_WITH_NLRI) or (not has_nlri and not reach_nlri):
        return attrs, mp_reach, mp_unreach, fault  # nothing mandatory missing (the usual case)
    if has_nlri or reach_nlri:
        # RFC 7606 section 3 d: a missing well-known mandatory attribute -> treat-as-withdraw.
        # RFC 8205 section 3: with BGPsec_PATH (type 33) present, AS_PATH is legitimately absent.
        as_path = [] if seen & (1 << _BGPSEC_PATH) else [AttrCode.AS_PATH]
        required = [AttrCode.ORIGIN, *as_path] + ([AttrCode.NEXT_HOP] if has_nlri else [])
        for code in required:
            if not seen & (1 << code):
                missing = _fault(
                    _TAW,
                    UpdateSubcode.MISSING_WELL_KNOWN_ATTRIBUTE,
                    f"missing attribute {code}",
                    code,
                    bytes((code,)),
                )
                fault = strongest_fault(fault, missing)
                break
    return attrs, mp_reach, mp_unreach, fault


# --- encoding -----------------------------------------------------------------------------------------


def _header(flags: int, code: int, value: bytes) -> bytes:
    n = len(value)
    if n > 0xFFFF:
        raise LocalUsageError(f"attribute {code} value of {n} octets cannot be encoded")
    if n > 255 or flags & _EXT:
        return bytes((flags | _EXT, code, n >> 8, n & 0xFF)) + value
    return bytes((flags, code, n)) + value


def _canonical(attrs: PathAttributes, ctx: WireContext) -> list[tuple[int, bytes]]:
    """(code, encoded attribute) pairs for every non-MP attribute present, canonical flags."""
    out: list[tuple[int, bytes]] = []
    a = attrs
    if a.origin is not None:
        out.append((1, _header(_TRANS, 1, bytes((int(a.origin),)))))
    if a.as_path or a.origin is not None or a.next_hop is not None:
        # AS_PATH is well-known mandatory: written (possibly empty, as iBGP originates) with ORIGIN.
        out.append((2, _header(_TRANS, 2, encode_as_path(a.as_path, four_octet=ctx.as4))))
    if a.next_hop is not None:
        out.append((3, _header(_TRANS, 3, a.next_hop.packed)))
    if a.med is not None:
        out.append((4, _header(_OPT, 4, _pack_u32(a.med))))
    if a.local_pref is not None:
        out.append((5, _header(_TRANS, 5, _pack_u32(a.local_pref))))
    if a.atomic_aggregate:
        out.append((6, _header(_TRANS, 6, b"")))
    if a.aggregator is not None:
        out.append((7, _header(_OPT | _TRANS, 7, encode_aggregator(a.aggregator, ctx.as4))))
    if a.communities:
        out.append((8, _header(_OPT | _TRANS, 8, encode_communities(a.communities))))
    if a.originator_id is not None:
        out.append((9, _header(_OPT, 9, a.originator_id.packed)))
    if a.cluster_list:
        out.append((10, _header(_OPT, 10, b"".join(x.packed for x in a.cluster_list))))
    if a.extended_communities:
        out.append((16, _header(_OPT | _TRANS, 16, encode_extended_communities(a.extended_communities))))
    if not ctx.as4 and needs_as4_path(a.as_path):
        # RFC 6793 section 4.2.2: towards an OLD speaker the real path travels in AS4_PATH.
        out.append(
            (17, _header(_OPT | _TRANS, 17, encode_as_path(as4_path_segments(a.as_path), four_octet=True)))
        )
    if not ctx.as4 and a.aggregator is not None and a.aggregator.asn > 0xFFFF:
        out.append((18, _header(_OPT | _TRANS, 18, encode_aggregator(a.aggregator, True))))
    if a.large_communities:
        out.append((32, _header(_OPT | _TRANS, 32, encode_large_communities(a.large_communities))))
    if a.otc is not None:
        out.append((35, _header(_OPT | _TRANS, 35, _pack_u32(a.otc))))
    for raw in a.unknown:
        if not 0 <= raw.code <= 255 or raw.code in _MP_CODES:
            raise LocalUsageError(f"cannot encode {raw!r} as an unknown attribute")
        out.append((raw.code, _header(raw.flags & 0xF0, raw.code, raw.value)))
    out.sort(key=lambda pair: pair[0])
    return out


def _canonical_rest(values: tuple[object, ...], ctx: WireContext) -> tuple[bytes, int] | None:
    """(the canonical encoding of the set `values` stand for, in `_SEMANTIC_FIELDS` order, without its
    AS_PATH attribute; the offset at which AS_PATH goes), or None when AS_PATH is not written
    whatever the path (neither ORIGIN nor NEXT_HOP: an empty one is left out) or the set cannot be
    encoded. What `attrfast` compares a template with, once, to know which of its lists are canonical
    (`attrfast._decide`); given to it at import, below, since it cannot import this module."""
    if values[0] is None and values[2] is None:  # ORIGIN, NEXT_HOP
        return None
    attrs = _new_attributes(values, values[1], None, None)
    try:
        pairs = _canonical(attrs, ctx)
    except LocalUsageError:
        return None
    head = b"".join(encoded for code, encoded in pairs if code < AttrCode.AS_PATH)
    return head + b"".join(encoded for code, encoded in pairs if code > AttrCode.AS_PATH), len(head)


set_canonical_rest(_canonical_rest)


def _pack_u32(value: int) -> bytes:
    if not 0 <= value <= 0xFFFFFFFF:
        raise LocalUsageError(f"value {value} does not fit 32 bits")
    return _U32.pack(value)


def _matches_image(attrs: PathAttributes, image: WireImage) -> bool:
    """True when `attrs` still means what its wire image's bytes say (it was not `replace`d since).
    Never asked of a canonical image (`parts` None: no bytes to check against)."""
    if image.semantic is not None:
        return _semantic(attrs) == image.semantic
    parts = image.parts
    assert parts is not None, "a canonical image is written by encode_path_attributes itself"
    key: InternKey = parts if isinstance(parts, bytes) else intern_key(parts)
    ref = _TABLES[2 * image.as4 + image.ibgp].get(key)
    if ref is not None and ref() is attrs:
        return True  # the very set decoded from these bytes
    # Otherwise decode the non-MP bytes again (MP attributes never enter the set, and the runs
    # joined hold the same attributes in the same order, any overrunning tail still last).
    buf = key if isinstance(key, bytes) else b"".join(part for part in key if isinstance(part, bytes))
    ctx = WireContext(as4=image.as4, ibgp=image.ibgp)
    found = fast_semantic(buf, ctx)
    semantic = found[0] if found is not None else _semantic(_decode_plain(buf, _walk(buf)[0], ctx)[0])
    return _semantic(attrs) == semantic


def encode_path_attributes(
    attrs: PathAttributes | None,
    ctx: WireContext,
    mp_reach: MpReach | None = None,
    mp_unreach: MpUnreach | None = None,
    *,
    exact: bool = True,
) -> bytes:
    """The Path Attributes field for `attrs` plus the MP attributes.

    With `exact` (the default) a decoded, unmodified set is written back as received (see module
    docstring); `exact=False` always writes the canonical form (what the update packer sends).

    A set holding a canonical image (`image.canonical_image`: its bytes were its canonical encoding
    in the image's context, one run without MP attributes) is written as if those were its `parts`:
    its canonical encoding, then any MP attributes. While the set is unchanged that is the received
    bytes; a set changed since (`replace` without `wire=None`) is written canonically too, only with
    any MP attributes after the others rather than first: there are no bytes left to tell.
    """
    reach = _header(mp_reach.flags & 0xFF, 14, encode_mp_reach(mp_reach, ctx)) if mp_reach else None
    unreach = _header(mp_unreach.flags & 0xFF, 15, encode_mp_unreach(mp_unreach, ctx)) if mp_unreach else None
    image = attrs.wire if attrs is not None else None
    if exact and attrs is not None and image is not None and image.as4 == ctx.as4 and image.ibgp == ctx.ibgp:
        parts = image.parts
        if parts is None:  # the canonical image: the bytes were this, and a run without MP attributes
            body = [encoded for _, encoded in _canonical(attrs, ctx)]
            return b"".join(body + [x for x in (unreach, reach) if x is not None])
        if _matches_image(attrs, image):
            if isinstance(parts, bytes):  # one run, no MP attribute received: any MP ones go after it
                return b"".join([parts] + [x for x in (unreach, reach) if x is not None])
            out: list[bytes] = []
            for part in parts:
                if part == AttrCode.MP_REACH_NLRI:
                    if reach is not None:
                        out.append(reach)
                        reach = None
                elif part == AttrCode.MP_UNREACH_NLRI:
                    if unreach is not None:
                        out.append(unreach)
                        unreach = None
                elif isinstance(part, bytes):
                    out.append(part)
            out.extend(x for x in (unreach, reach) if x is not None)
            return b"".join(out)
    head = [x for x in (unreach, reach) if x is not None]
    body = [encoded for _, encoded in _canonical(attrs, ctx)] if attrs is not None else []
    return b"".join(head + body)


def for_readvertisement(attrs: PathAttributes) -> PathAttributes:
    """The set to pass on to other peers (RFC 4271 section 5 and 9.1.2.2 / section 5.1 rules for
    unrecognised attributes): optional transitive ones get the Partial bit, optional non-transitive
    ones are dropped, and the received encoding is forgotten."""
    kept = tuple(
        RawAttribute(raw.flags | int(AttrFlag.PARTIAL), raw.code, raw.value)
        for raw in attrs.unknown
        if raw.flags & _TRANS
    )
    if kept == attrs.unknown and attrs.wire is None:
        return attrs
    return replace(attrs, unknown=kept, wire=None)
