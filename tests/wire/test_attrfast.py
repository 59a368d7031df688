"""The decoder's fast paths agree with the general path, field for field, fault for fault.

`attrfast.fast_parts` / `fast_semantic` (one pass over plain attribute lists, shared values), the
single-AS_SEQUENCE shortcut of `decode_as_path`, the in-place `decode_prefix_run` and the inline UPDATE
header check of `decode_message` exist only for speed: each test decodes the same bytes with and without
them (the general path forced by patching `fast_parts` and `fast_semantic` to decline) and demands
identical results, on real collector tables and on Hypothesis-generated attribute lists, well-formed or
not.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.wire.strategies import path_attributes

from pybgp.wire import attrfast, attributes, image, intern
from pybgp.wire.aspath import AsPathSegment, decode_as_path
from pybgp.wire.attributes import (
    EMPTY_ATTRIBUTES,
    PathAttributes,
    clear_intern_cache,
    decode_path_attributes,
    encode_path_attributes,
)
from pybgp.wire.constants import Afi, AsPathSegmentType
from pybgp.wire.context import WireContext
from pybgp.wire.errors import MalformedAttribute, NotificationError, WireError
from pybgp.wire.messages import Update, decode_message, encode_message
from pybgp.wire.nlri import decode_prefix_run, decode_prefixes_exact

CONTEXTS = [WireContext(as4=a, ibgp=i) for a in (True, False) for i in (True, False)]
_PLAIN_CODES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 16, 17, 18, 32, 35, 14, 15, 0, 99, 200]


@contextmanager
def general_path_only() -> Iterator[None]:
    """Decode with the fast path declining every list, from cold caches; restore everything after."""
    names = ("fast_parts", "fast_semantic")  # the decoder's entry point, the encoder's check
    saved = {name: attributes.__dict__[name] for name in names}
    for name in names:
        setattr(attributes, name, lambda buf, ctx: None)
    clear_intern_cache()
    try:
        yield
    finally:
        for name, function in saved.items():
            setattr(attributes, name, function)
        clear_intern_cache()


def _both(data: bytes, ctx: WireContext, has_nlri: bool) -> tuple[object, object]:
    def run() -> object:
        try:
            return decode_path_attributes(data, ctx, has_nlri=has_nlri)
        except WireError as exc:
            return ("raised", type(exc), str(exc))

    clear_intern_cache()
    fast = run()
    with general_path_only():
        slow = run()
    return fast, slow


def _assert_same_image(fast: PathAttributes, slow: PathAttributes) -> None:
    """The fast path's received image (not part of ==) is the general path's, or the shared canonical
    image of its shape if the general path's bytes, one run without MP attributes, are exactly the
    canonical encoding of the set in that context (the fast path must never claim it wrongly)."""
    got, want = fast.wire, slow.wire
    if got is not None and got.parts is None:
        assert want is not None and got.shape == want.shape and got is image.canonical_image(got.shape)
        ctx = WireContext(as4=got.as4, ibgp=got.ibgp)
        assert isinstance(want.parts, bytes) and encode_path_attributes(fast, ctx, exact=False) == want.parts
    else:
        assert got == want


def _assert_same(fast: object, slow: object) -> None:
    assert fast == slow
    if isinstance(fast, tuple) and isinstance(fast[0], PathAttributes):
        assert isinstance(slow, tuple)
        _assert_same_image(fast[0], slow[0])
        assert (fast[0] is EMPTY_ATTRIBUTES) == (slow[0] is EMPTY_ATTRIBUTES)


def _assert_second_read_as_the_general_path(
    first: bytes, second: bytes, ctx: WireContext, has_nlri: bool
) -> None:
    """Decode `first` (it leaves its value and template caches), forget the interned sets, then decode
    `second` through those caches and through the general path alone: both must give the same."""
    clear_intern_cache()
    try:
        decode_path_attributes(first, ctx, has_nlri=has_nlri)  # fills the value and template caches
    except WireError:
        pass  # a session reset for the first list: the second one must still be judged right
    intern.clear_tables()  # forget the sets, keep the templates

    def run() -> object:
        try:
            return decode_path_attributes(second, ctx, has_nlri=has_nlri)
        except WireError as exc:
            return ("raised", type(exc), str(exc))

    fast = run()
    with general_path_only():
        slow = run()
    _assert_same(fast, slow)



def _attr(flags: int, code: int, value: bytes) -> bytes:
    if len(value) > 255 or flags & 0x10:
        return bytes((flags | 0x10, code)) + struct.pack("!H", len(value)) + value
    return bytes((flags, code, len(value))) + value


_FLAGS = {1: 0x40, 2: 0x40, 3: 0x40, 4: 0x80, 5: 0x40, 6: 0x40, 7: 0xC0, 8: 0xC0, 9: 0x80, 10: 0x80, 16: 0xC0}
_UNIT = {1: 1, 3: 4, 4: 4, 5: 4, 6: 0, 7: 8, 8: 4, 9: 4, 10: 4, 16: 8, 32: 12, 35: 4, 18: 8}
"""Per code, the value size (or size unit) that makes it well-formed under a 4-octet-AS session."""


@st.composite
def raw_attribute(draw: st.DrawFn) -> bytes:
    """One attribute: half the time well-formed for its code (so whole lists pass the fast path and
    duplicates, context checks and caching are exercised), otherwise any flags and any length."""
    code = draw(st.sampled_from(_PLAIN_CODES))
    if draw(st.booleans()):
        flags = _FLAGS.get(code, 0xC0) | draw(st.sampled_from([0, 0x10, 0x20]))
        unit = _UNIT.get(code, 4)
        size = unit if code in (1, 3, 4, 5, 6, 7, 9, 35, 18) else unit * draw(st.integers(1, 3))
        value = draw(st.binary(min_size=size, max_size=size))
        if code == 1:
            value = bytes((draw(st.integers(0, 2)),))
    else:
        flags = draw(st.integers(0, 255))
        size = draw(st.sampled_from([0, 1, 4, 6, 8, 12, 2 + 4 * draw(st.integers(1, 4))]))
        value = draw(st.binary(min_size=size, max_size=size))
    if code in (2, 17) and draw(st.booleans()):  # well-formed AS_PATHs of every shape, both widths
        width = draw(st.sampled_from([2, 4]))
        segs = draw(st.lists(st.tuples(st.sampled_from([1, 2, 3, 4, 9]), st.integers(0, 3)), max_size=3))
        value = b"".join(bytes((t, n)) + bytes(range(n * width)) for t, n in segs)
    return _attr(flags, code, value)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(raw_attribute(), max_size=7),
    tail=st.binary(max_size=3),
    ctx=st.sampled_from(CONTEXTS),
    has_nlri=st.booleans(),
)
def test_fast_path_equals_general_path_on_arbitrary_lists(
    parts: list[bytes], tail: bytes, ctx: WireContext, has_nlri: bool
) -> None:
    fast, slow = _both(b"".join(parts) + tail, ctx, has_nlri)
    _assert_same(fast, slow)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), ctx=st.sampled_from(CONTEXTS))
def test_fast_path_equals_general_path_on_encoded_sets(data: st.DataObject, ctx: WireContext) -> None:
    attrs = data.draw(path_attributes(ctx.as4, mandatory=True))
    wire = encode_path_attributes(attrs, ctx, exact=False)
    fast, slow = _both(wire, ctx, True)
    _assert_same(fast, slow)
    assert isinstance(fast, tuple) and encode_path_attributes(fast[0], ctx) == wire


def test_default_semantic_is_the_empty_set() -> None:
    assert attributes._semantic(PathAttributes()) == attrfast.DEFAULT_SEMANTIC


def test_fast_path_takes_the_plain_set_and_declines_the_unusual() -> None:
    ctx = WireContext(as4=True, ibgp=True)
    plain = _attr(0x40, 1, b"\x00") + _attr(0x50, 2, b"\x02\x01\x00\x00\xfd\xe8") + _attr(0x40, 3, bytes(4))
    found = attrfast.fast_semantic(plain, ctx)
    assert found is not None
    semantic, seen = found
    assert semantic[1] == (AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (65000,)),)
    assert seen == (1 << 1) | (1 << 2) | (1 << 3)
    declined = [
        b"",  # nothing: the shared empty set
        plain + plain[:4],  # repeated ORIGIN header fragment: overrun
        plain + _attr(0x40, 1, b"\x01"),  # duplicate ORIGIN
        plain + _attr(0x80, 5, bytes(4)),  # LOCAL_PREF with the Optional bit
        plain + _attr(0xC0, 17, b"\x02\x01\x00\x00\xfd\xe8"),  # AS4_PATH: RFC 6793 handling
        plain + _attr(0x80, 14, bytes(5)),  # MP_REACH_NLRI
        plain + _attr(0xC0, 99, b"x"),  # unknown optional: kept raw by the general path
        plain + _attr(0xC0, 8, b"abc"),  # malformed COMMUNITIES
    ]
    for data in declined:
        assert attrfast.fast_semantic(data, ctx) is None, data
    assert attrfast.fast_semantic(plain + _attr(0x80, 9, bytes(4)), WireContext(ibgp=False)) is None


def test_value_cache_is_per_context_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_intern_cache()
    # Valid at both widths with different meanings: one context's cached value must not reach the other.
    as_path = _attr(0x40, 2, bytes.fromhex("0202" + "00010002" + "0201" + "0003"))
    four = attrfast.fast_semantic(as_path, WireContext(as4=True))
    two = attrfast.fast_semantic(as_path, WireContext(as4=False))
    assert four is not None and two is not None
    assert four[0][1] == (AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (0x00010002, 0x02010003)),)
    seq = AsPathSegmentType.AS_SEQUENCE
    assert two[0][1] == (AsPathSegment(seq, (1, 2)), AsPathSegment(seq, (3,)))
    monkeypatch.setattr(attrfast, "VALUE_CACHE_SIZE", 3)
    for med in range(10):
        assert attrfast.fast_semantic(_attr(0x80, 4, struct.pack("!I", med)), WireContext()) is not None
    assert all(len(cache) <= 3 for cache in attrfast._VALUES)
    clear_intern_cache()
    assert not any(attrfast._VALUES)


def test_as_path_single_sequence_shortcut_matches_the_loop() -> None:
    for width, four in ((2, False), (4, True)):
        for count in (1, 2, 255):
            data = bytes((2, count)) + b"".join(i.to_bytes(width, "big") for i in range(count))
            (seg,) = decode_as_path(data, four_octet=four)
            assert type(seg) is AsPathSegment and seg.type is AsPathSegmentType.AS_SEQUENCE
            assert seg.asns == tuple(range(count))
            # The same segment followed by an AS_SET goes through the loop and keeps the first segment.
            longer = decode_as_path(data + bytes((1, 1)) + bytes(width), four_octet=four)
            assert longer[0] == seg and longer[1].type is AsPathSegmentType.AS_SET
    with pytest.raises(MalformedAttribute):
        decode_as_path(b"\x02\x02\x00\x01\x00", four_octet=False)  # one octet short
    with pytest.raises(MalformedAttribute):
        decode_as_path(b"\x02\x00", four_octet=True)  # zero-length segment


@settings(max_examples=200, deadline=None)
@given(
    body=st.binary(max_size=40),
    pad=st.binary(max_size=5),
    afi=st.sampled_from([Afi.IPV4, Afi.IPV6]),
    addpath=st.booleans(),
)
def test_prefix_run_in_place_equals_sliced(body: bytes, pad: bytes, afi: Afi, addpath: bool) -> None:
    buf = pad + body + pad
    start, end = len(pad), len(pad) + len(body)

    def run(f: object) -> object:
        try:
            return f()  # type: ignore[operator]
        except NotificationError as exc:
            return ("raised", exc.code, exc.subcode)

    in_place = run(lambda: decode_prefix_run(buf, start, end, afi, addpath=addpath))
    sliced = run(lambda: decode_prefixes_exact(body, afi, addpath=addpath))
    assert in_place == sliced


def test_update_header_fast_check_raises_like_the_general_one() -> None:
    ctx = WireContext()
    good = bytes.fromhex("ffffffffffffffffffffffffffffffff0017020000" + "0000")
    assert decode_message(good, ctx) == Update()
    cases = [
        b"\xfe" + good[1:],  # marker
        good[:16] + b"\x00\x18" + good[18:],  # length field disagrees with the data
        good + b"\x00",  # trailing byte
    ]
    for data in cases:
        with pytest.raises(NotificationError) as fast_exc:
            decode_message(data, ctx)
        with pytest.raises(NotificationError) as view_exc:
            decode_message(memoryview(data), ctx)  # not bytes: takes check_header directly
        assert (fast_exc.value.code, fast_exc.value.subcode, fast_exc.value.data) == (
            view_exc.value.code,
            view_exc.value.subcode,
            view_exc.value.data,
        )
    big = good[:16] + (4097).to_bytes(2, "big") + b"\x02" + bytes(4097 - 19)
    with pytest.raises(NotificationError) as exc:
        decode_message(big, ctx)
    assert (exc.value.code, exc.value.subcode) == (1, 2)


_TABLES = [
    "mrt/bgpdump/test_data/updates.et-header.2015.gz",
    "mrt/bgpdump/test_data/updates.20100722.2015.gz",
    "mrt/bgpdump/test_data/updates.20071015.1505.gz",
    "mrt/bgpdump/test_data/updates.nlri_mask_trailing_bits.gz",
]


def _updates(path: Path, limit: int) -> list[tuple[bytes, WireContext]]:
    from pybgp.wire import mrt

    out = []
    for rec in mrt.read_mrt(path, decode_messages=False):
        body = rec.body
        if isinstance(body, mrt.Bgp4mpMessage) and body.raw[18:19] == b"\x02":
            out.append((body.raw, body.context))
            if len(out) >= limit:
                break
    return out


@pytest.mark.parametrize("name", _TABLES)
def test_real_tables_decode_identically_on_both_paths(testdata: Path, name: str) -> None:
    path = testdata / name
    if not path.exists():
        pytest.skip(f"{name} not in the test data")
    messages = _updates(path, 6000)
    assert messages
    for ctx in (WireContext(as4=True, ibgp=True), WireContext(as4=True, ibgp=False)):

        def decode_all(ctx: WireContext = ctx) -> list[object]:
            out: list[object] = []
            for raw, own in messages:
                use = WireContext(as4=own.as4, ibgp=ctx.ibgp, addpath_rx=own.addpath_rx)
                try:
                    out.append(decode_message(raw, use))
                except WireError as exc:
                    out.append(("raised", type(exc), str(exc)))
            return out

        clear_intern_cache()
        fast = decode_all()
        with general_path_only():
            slow = decode_all()
        assert fast == slow
        for (raw, own), msg, other in zip(messages, fast, slow, strict=True):
            if isinstance(msg, Update) and isinstance(other, Update) and msg.attributes is not None:
                assert other.attributes is not None
                _assert_same_image(msg.attributes, other.attributes)
                use = WireContext(as4=own.as4, ibgp=ctx.ibgp, addpath_rx=own.addpath_rx)
                assert encode_message(msg, use) == raw


def test_interned_sets_keep_their_mandatory_attribute_check() -> None:
    """A fault-free set is interned alone and its codes come from `wire.seen`: a second decode of the
    same bytes must still see ORIGIN/AS_PATH present and NEXT_HOP missing (RFC 7606 section 3 d)."""
    ctx = WireContext(as4=True, ibgp=True)
    no_next_hop = _attr(0x40, 1, b"\x00") + _attr(0x40, 2, b"")  # empty AS_PATH: present, decodes to ()
    mp = _attr(0x80, 14, bytes.fromhex("0001" + "01" + "04" + "c0000201" + "00" + "18c63364"))
    for data in (no_next_hop, no_next_hop + mp):
        clear_intern_cache()
        first = decode_path_attributes(data, ctx, has_nlri=True)
        again = decode_path_attributes(data, ctx, has_nlri=True)
        assert first == again and first[0] is again[0]
        assert first[3] is not None and first[3].attr_code == 3  # NEXT_HOP, not AS_PATH, is missing
        assert decode_path_attributes(data, ctx, has_nlri=False)[3] is None
        wire = first[0].wire
        assert wire is not None and wire.seen == (1 << 1) | (1 << 2)


def _as_sequence(count: int, first: int) -> bytes:
    """A well-formed AS_PATH attribute of one AS_SEQUENCE (4-octet ASNs first, first + 1, ...)."""
    return _attr(0x40, 2, bytes((2, count)) + b"".join((first + k).to_bytes(4, "big") for k in range(count)))


_AS_PATHS = st.builds(_as_sequence, st.integers(1, 4), st.integers(1, 70000))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(raw_attribute(), max_size=6),
    at=st.integers(0, 6),
    as_paths=st.tuples(_AS_PATHS, _AS_PATHS),
    ctx=st.sampled_from(CONTEXTS),
    has_nlri=st.booleans(),
)
def test_template_cache_hits_equal_the_general_path(
    parts: list[bytes], at: int, as_paths: tuple[bytes, bytes], ctx: WireContext, has_nlri: bool
) -> None:
    """The same list around another AS_PATH is read through the template the first one left (the
    list with its AS_PATH cut out): the result must still be the general path's."""
    first, second = (b"".join(parts[:at]) + as_path + b"".join(parts[at:]) for as_path in as_paths)
    _assert_second_read_as_the_general_path(first, second, ctx, has_nlri)


def test_template_cache_is_per_context_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    clear_intern_cache()
    origin = _attr(0x40, 1, b"\x00")
    as_path = _attr(0x40, 2, bytes.fromhex("0202" + "00010002" + "0201" + "0003"))  # valid at both widths
    rest = origin + _attr(0x40, 3, bytes(4))
    for ctx in CONTEXTS:
        assert attrfast.fast_semantic(origin + as_path + rest[4:], ctx) is not None
    assert all(len(templates) == 1 for templates in attrfast._TEMPLATES)
    # A template holding AS_PATH itself is a duplicate the general path must report, not a hit.
    assert attrfast.fast_semantic(origin + as_path + as_path + rest[4:], CONTEXTS[0]) is None
    # A list with AGGREGATOR (different in nearly every set) is read but not remembered.
    aggregator = _attr(0xC0, 7, bytes(8))
    assert attrfast.fast_semantic(origin + as_path + aggregator, CONTEXTS[0]) is not None
    assert len(attrfast._TEMPLATES[0]) == 1
    monkeypatch.setattr(attrfast, "TEMPLATE_CACHE_SIZE", 3)
    for med in range(10):
        data = origin + as_path + _attr(0x80, 4, struct.pack("!I", med))
        assert attrfast.fast_semantic(data, WireContext()) is not None
    assert all(len(templates) <= 3 for templates in attrfast._TEMPLATES)
    # Lists differing in MED share one MED template; in LOCAL_PREF they do not: both caches bounded.
    for local_pref in range(10):
        data = origin + as_path + _attr(0x80, 4, bytes(4)) + _attr(0x40, 5, struct.pack("!I", local_pref))
        assert attrfast.fast_semantic(data, WireContext(ibgp=True)) is not None
    assert all(len(templates) <= 3 for templates in (*attrfast._TEMPLATES, *attrfast._MED_TEMPLATES))
    assert any(attrfast._MED_TEMPLATES)
    clear_intern_cache()
    assert not any(attrfast._TEMPLATES) and not any(attrfast._MED_TEMPLATES)


@st.composite
def plain_attribute(draw: st.DrawFn) -> bytes:
    """A well-formed attribute the fast path takes (MED and AS_PATH apart), so that whole lists of
    them reach the template caches."""
    code = draw(st.sampled_from([1, 3, 5, 6, 8, 9, 10, 16, 32, 35]))
    unit = _UNIT.get(code, 4)
    size = unit if code in (1, 3, 5, 6, 7, 9, 35) else unit * draw(st.integers(1, 3))
    value = bytes((draw(st.integers(0, 2)),)) if code == 1 else draw(st.binary(min_size=size, max_size=size))
    return _attr(_FLAGS.get(code, 0xC0) | draw(st.sampled_from([0, 0x10, 0x20])), code, value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(plain_attribute(), max_size=5, unique_by=lambda a: a[1])
    | st.lists(raw_attribute(), max_size=5),
    path_at=st.integers(0, 6),
    med_at=st.integers(0, 6),
    med_flags=st.sampled_from([0x80, 0x80, 0x80, 0x90, 0xA0, 0xC0, 0x00]),
    meds=st.tuples(st.binary(min_size=4, max_size=4), st.binary(min_size=4, max_size=4)),
    med_size=st.sampled_from([4, 4, 4, 4, 4, 4, 3, 5]),
    as_paths=st.tuples(_AS_PATHS, _AS_PATHS),
    ctx=st.sampled_from(CONTEXTS),
    has_nlri=st.booleans(),
)
def test_med_template_hits_equal_the_general_path(
    parts: list[bytes],
    path_at: int,
    med_at: int,
    med_flags: int,
    meds: tuple[bytes, bytes],
    med_size: int,
    as_paths: tuple[bytes, bytes],
    ctx: WireContext,
    has_nlri: bool,
) -> None:
    """The same list with another AS_PATH and another MED value is read through the MED template
    the first one left (its list without AS_PATH and without MED's value): still the general path's
    result, whatever the MED's flags, size and place, and whatever else the list holds."""
    lists = []
    for as_path, med in zip(as_paths, meds, strict=True):
        items = list(parts)
        items.insert(min(med_at, len(items)), _attr(med_flags, 4, (med * 2)[:med_size]))
        items.insert(min(path_at, len(items)), as_path)
        lists.append(b"".join(items))
    first, second = lists
    _assert_second_read_as_the_general_path(first, second, ctx, has_nlri)


def test_lists_differing_in_med_share_one_template() -> None:
    """Feed (c)'s shape, one set per prefix differing only in MED: one template, every set exact."""
    ctx = WireContext(as4=True, ibgp=True)
    head = _attr(0x40, 1, b"\x00") + _as_sequence(1, 65010) + _attr(0x40, 3, bytes((10, 69, 0, 65)))
    lists = [
        head + _attr(0x80, 4, struct.pack("!I", med)) + _attr(0x40, 5, struct.pack("!I", 100))
        for med in range(1, 50)
    ]
    clear_intern_cache()
    fast = [attrfast.fast_semantic(data, ctx) for data in lists]
    assert [len(t) for t in attrfast._MED_TEMPLATES] == [0, 0, 0, 1]
    assert len(attrfast._TEMPLATES[3]) == 1  # the first list only: later ones hit the MED template
    with general_path_only():
        for med, data, found in zip(range(1, 50), lists, fast, strict=True):
            assert found is not None and found[0][3] == med and found[0][4] == 100
            assert attributes._semantic(decode_path_attributes(data, ctx, has_nlri=True)[0]) == found[0]


def test_general_path_helper_really_bypasses_the_fast_path() -> None:
    """Every equality test above is only as good as `general_path_only`: under it, a plain list must
    not reach the fast path's caches."""
    ctx = WireContext(as4=True, ibgp=True)
    data = (
        _attr(0x40, 1, b"\x00") + _as_sequence(1, 65010) + _attr(0x40, 3, bytes(4)) + _attr(0x80, 4, bytes(4))
    )
    with general_path_only():
        decode_path_attributes(data, ctx, has_nlri=True)
        assert not any(attrfast._TEMPLATES) and not any(attrfast._MED_TEMPLATES) and not any(attrfast._VALUES)
    decode_path_attributes(data, ctx, has_nlri=True)
    assert any(attrfast._TEMPLATES)
    clear_intern_cache()


def test_med_template_reuses_the_last_as_path_only_for_the_same_bytes_and_width() -> None:
    """MED template hits reuse the AS_PATH decoded last on that path: never across AS widths (the same
    bytes are other ASNs at the other width), never for other bytes; sets of one run share it."""
    as_path = _attr(0x40, 2, bytes.fromhex("0202" + "00010002" + "0201" + "0003"))  # valid at both widths
    other = _attr(0x40, 2, bytes.fromhex("0202" + "00050006" + "0201" + "0007"))
    head = _attr(0x40, 1, b"\x00")
    tail = _attr(0x40, 3, bytes(4))
    order = [
        (ctx, path, med) for med in range(1, 6) for path in (as_path, as_path, other) for ctx in CONTEXTS
    ]
    lists = [(ctx, head + path + tail + _attr(0x80, 4, struct.pack("!I", med))) for ctx, path, med in order]
    clear_intern_cache()
    fast = [attrfast.fast_semantic(data, ctx) for ctx, data in lists]
    assert any(attrfast._MED_TEMPLATES)
    runs = [f[0][1] for f, (_, path, _) in zip(fast, order, strict=True) if f and path is as_path]
    assert len({id(p) for p in runs}) < len(runs)  # runs of one AS_PATH share the decoded tuple
    with general_path_only():
        for found, (ctx, data) in zip(fast, lists, strict=True):
            assert found is not None
            assert attributes._semantic(decode_path_attributes(data, ctx, has_nlri=True)[0]) == found[0]


@settings(max_examples=300, deadline=None)
@given(plen=st.integers(0, 128), address=st.binary(min_size=16, max_size=16), v6=st.booleans())
def test_one_prefix_field_equals_the_loop(plen: int, address: bytes, v6: bool) -> None:
    """A field holding exactly one prefix skips the loop: same prefix, same image (host bits kept)."""
    afi = Afi.IPV6 if v6 else Afi.IPV4
    plen = min(plen, 128 if v6 else 32)
    field = bytes((plen,)) + address[: (plen + 7) // 8]
    one, image = decode_prefix_run(field, 0, len(field), afi)
    two, image2 = decode_prefix_run(field + field, 0, 2 * len(field), afi)  # two prefixes: the loop
    assert one == two[:1] and type(one[0]) is type(two[0])
    assert (image is None) == (image2 is None)
    if image is not None:
        assert image.prefixes is one and image.raw == field
