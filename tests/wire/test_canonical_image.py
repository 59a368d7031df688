"""The canonical image (`image.canonical_image`): a set whose received attribute bytes were exactly its
canonical encoding keeps no bytes, only its shape's shared image with `parts` None, and is still
written back byte for byte (`encode_path_attributes` encodes it canonically).

Pinned here: canonical lists (plain template, MED template, sibling, long AS_PATH with Extended
Length, 2-octet context) share one image per shape and re-encode exactly; every non-canonical form
(attribute order, flags, Extended Length on a short value, AS_PATH elsewhere under a canonical
template, an AS_PATH header other than the canonical one) keeps its bytes and re-encodes exactly, as
do the first list of a template and the lists of one never worked out (no list with a canonical
AS_PATH header, or holding AGGREGATOR); a changed set holding a canonical image is encoded
canonically; copies and pickles of the image are the shared one; and, with Hypothesis, every list
the decoder accepts -- two lists sharing a template, with AS_PATHs of differing header forms, places
and values -- re-encodes to its bytes, as the general path's set does, and is given the canonical
image only when it was canonical.
"""

from __future__ import annotations

import copy
import dataclasses
import pickle
import struct
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.wire.builders import attr
from tests.wire.test_attrfast import _assert_same, general_path_only, raw_attribute

from pybgp.wire import attrfast, image
from pybgp.wire.attributes import (
    PathAttributes,
    clear_intern_cache,
    decode_path_attributes,
    encode_path_attributes,
)
from pybgp.wire.context import WireContext
from pybgp.wire.errors import WireError

IBGP = WireContext(as4=True, ibgp=True)
CONTEXTS = [WireContext(as4=a, ibgp=i) for a in (True, False) for i in (True, False)]
ORIGIN = attr(1, b"\x00")
NEXT_HOP = attr(3, bytes((10, 69, 0, 65)))
LOCAL_PREF = attr(5, struct.pack("!I", 100))


def as_path(*asns: int, flags: int = 0x40, width: int = 4) -> bytes:
    """An AS_PATH attribute of one AS_SEQUENCE, header flags `flags` (0x10: Extended Length)."""
    return attr(2, bytes((2, len(asns))) + b"".join(a.to_bytes(width, "big") for a in asns), flags=flags)


def med(value: int, flags: int = 0x80) -> bytes:
    return attr(4, struct.pack("!I", value), flags=flags)


def feed_c(index: int, path: bytes | None = None) -> bytes:
    """Feed (c)'s lists as BIRD sends them: ORIGIN, AS_PATH, NEXT_HOP, MED = index, LOCAL_PREF."""
    return ORIGIN + (path or as_path(65010)) + NEXT_HOP + med(index) + LOCAL_PREF


def decode(data: bytes, ctx: WireContext = IBGP, *, has_nlri: bool = True) -> PathAttributes:
    attrs, _, _, fault = decode_path_attributes(data, ctx, has_nlri=has_nlri)
    assert fault is None
    return attrs


def warm(data: bytes, ctx: WireContext = IBGP) -> None:
    """Decode `data` and drop the set: the template it leaves is there for the next list of its form,
    which works out whether they are canonical (the first list of a template keeps its bytes)."""
    decode_path_attributes(data, ctx)


def is_canonical(attrs: PathAttributes) -> bool:
    return attrs.wire is not None and attrs.wire.parts is None


@pytest.fixture(autouse=True)
def cold_caches() -> Iterator[None]:
    clear_intern_cache()
    yield
    clear_intern_cache()


def test_canonical_lists_share_one_image_and_reencode_exactly() -> None:
    """Feed (c): the first list builds the template and keeps its bytes, the others hit the MED
    template (the second works out that its lists are canonical); a list with another AS_PATH hits
    the plain template. One image for all of them but the first, the shape's."""
    lists = [feed_c(i) for i in range(1, 20)] + [feed_c(5, as_path(65010, 65020, 4200000000))]
    sets = [decode(data) for data in lists]
    assert sets[0].wire is not None and sets[0].wire.parts == lists[0]
    canonical = sets[1].wire
    assert canonical is not None and canonical.parts is None
    assert canonical is image.canonical_image(canonical.shape) and canonical.seen == 0b111110
    assert all(s.wire is canonical for s in sets[1:])
    for data, attrs in zip(lists, sets, strict=True):
        assert encode_path_attributes(attrs, IBGP) == data
        assert encode_path_attributes(attrs, IBGP, exact=False) == data
    assert [len(t) for t in attrfast._MED_TEMPLATES] == [0, 0, 0, 1]  # read through the templates


def test_canonical_in_every_context_and_with_a_long_as_path() -> None:
    """Each context its own image; an AS_PATH over 255 octets is canonical with Extended Length."""
    for ctx in CONTEXTS:
        width = 4 if ctx.as4 else 2
        tail = NEXT_HOP + med(7) + (LOCAL_PREF if ctx.ibgp else b"")
        short = ORIGIN + as_path(65010, width=width) + tail
        long = ORIGIN + as_path(*range(1, 200), flags=0x50, width=width) + tail
        assert len(long) > 255 + len(ORIGIN + tail)
        warm(ORIGIN + as_path(1, width=width) + tail, ctx)
        images = []
        for data in (short, long):
            attrs = decode(data, ctx)
            assert is_canonical(attrs) and encode_path_attributes(attrs, ctx) == data
            images.append(attrs.wire)
        assert images[0] is images[1] and images[0] is not None
        assert (images[0].as4, images[0].ibgp) == (ctx.as4, ctx.ibgp)


NON_CANONICAL = {
    "next hop first": NEXT_HOP + ORIGIN + as_path(65010) + med(7) + LOCAL_PREF,
    "med after local pref": ORIGIN + as_path(65010) + NEXT_HOP + LOCAL_PREF + med(7),
    "as path after next hop": ORIGIN + NEXT_HOP + as_path(65010) + med(7) + LOCAL_PREF,
    "extended length origin": attr(1, b"\x00", flags=0x50) + as_path(65010) + NEXT_HOP + med(7),
    "extended length med": ORIGIN + as_path(65010) + NEXT_HOP + med(7, flags=0x90) + LOCAL_PREF,
    "partial med": ORIGIN + as_path(65010) + NEXT_HOP + med(7, flags=0xA0) + LOCAL_PREF,
    "low flag bits on origin": attr(1, b"\x00", flags=0x47) + as_path(65010) + NEXT_HOP,
    "extended length as path": ORIGIN + as_path(65010, flags=0x50) + NEXT_HOP + med(7),
    "partial as path": ORIGIN + as_path(65010, flags=0x60) + NEXT_HOP + med(7),
    "low flag bits on as path": ORIGIN + as_path(65010, flags=0x41) + NEXT_HOP + med(7),
    "empty as path, no origin or next hop": attr(2, b"") + LOCAL_PREF,
}


@pytest.mark.parametrize("name", list(NON_CANONICAL))
def test_non_canonical_lists_keep_their_bytes(name: str) -> None:
    """Each decoded twice: cold (building its template) and through that template."""
    data = NON_CANONICAL[name]
    warm(data)
    attrs = decode(data, has_nlri=False)
    assert attrs.wire is not None and attrs.wire.parts == data
    assert encode_path_attributes(attrs, IBGP) == data
    assert encode_path_attributes(attrs, IBGP, exact=False) != data


def test_one_template_canonical_and_not_by_the_as_path_header_and_place() -> None:
    """Lists sharing a template (the list without AS_PATH) or a MED template: canonical only with
    AS_PATH where the canonical encoder writes it and with its canonical header, whichever list built
    the template."""
    canonical = [feed_c(1), feed_c(2, as_path(65010, 65011)), feed_c(3, as_path(*range(1, 80), flags=0x50))]
    odd = [
        ORIGIN + NEXT_HOP + as_path(65010) + med(4) + LOCAL_PREF,  # AS_PATH moved: same templates
        ORIGIN + NEXT_HOP + med(5) + LOCAL_PREF + as_path(65010),
        feed_c(6, as_path(65010, flags=0x50)),  # Extended Length on a short value
        feed_c(7, as_path(65010, flags=0x60)),  # Partial
        feed_c(1, as_path(65010, flags=0x50)),  # the plain template's rest exactly
    ]
    for order in (canonical + odd, odd + canonical):  # whichever works the template out
        clear_intern_cache()
        warm(feed_c(99, as_path(1)))
        sets = [decode(data) for data in order]
        for data, attrs in zip(order, sets, strict=True):
            assert is_canonical(attrs) == (data in canonical), data.hex()
            assert encode_path_attributes(attrs, IBGP) == data
        assert sum(map(len, attrfast._TEMPLATES)) == 1  # the others are read through its MED template


def test_a_template_is_worked_out_once_and_only_for_a_canonical_as_path_header(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Whether a template's lists are canonical is worked out (one canonical encoding) by the first
    list after the one building it whose AS_PATH header is the canonical one: never for a speaker
    that sets Extended Length on every AS_PATH (FRR), whose lists keep their bytes; once for the
    lists of one form, canonical or not, which all re-encode exactly."""
    calls: list[bytes] = []
    worked_out = attrfast._canonical_at

    def counted(rest: bytes, values: tuple[object, ...], ctx: WireContext) -> int:
        calls.append(rest)
        return worked_out(rest, values, ctx)

    monkeypatch.setattr(attrfast, "_canonical_at", counted)
    frr = [feed_c(i, as_path(65010, i, flags=0x50)) for i in range(1, 10)]
    bird = [feed_c(i, as_path(65010, i)) for i in range(10, 20)]
    sets = [decode(data) for data in frr]
    assert not calls and not any(map(is_canonical, sets))
    sets += [decode(data) for data in bird + frr[:1]]
    assert len(calls) == 1
    assert [is_canonical(s) for s in sets] == [False] * len(frr) + [True] * len(bird) + [False]
    for data, attrs in zip(frr + bird + frr[:1], sets, strict=True):
        assert encode_path_attributes(attrs, IBGP) == data
    assert sum(map(len, attrfast._TEMPLATES)) == 1


def test_a_list_holding_aggregator_keeps_its_bytes() -> None:
    """Lists with AGGREGATOR are not remembered as templates, so they are not checked (it would cost
    a canonical encoding per set): canonical or not, their sets keep their bytes."""
    data = ORIGIN + as_path(65010) + NEXT_HOP + attr(7, struct.pack("!II", 65010, 0x0A000001))
    for _ in range(2):
        attrs = decode(data)
        assert attrs.wire is not None and attrs.wire.parts == data
        assert encode_path_attributes(attrs, IBGP) == data == encode_path_attributes(attrs, IBGP, exact=False)
        del attrs  # the next decode is not an intern-table hit


def test_changed_sets_are_encoded_canonically() -> None:
    """`replace` keeps `wire` unless told: a set holding the canonical image is encoded canonically,
    so a change shows; any MP attributes go after the rest, as after a one-run image's bytes."""
    data = feed_c(7)
    warm(feed_c(6))
    attrs = decode(data)
    changed = dataclasses.replace(attrs, med=8, local_pref=200)
    assert changed.wire is attrs.wire and is_canonical(changed)
    assert encode_path_attributes(changed, IBGP) == feed_c(8)[:-4] + struct.pack("!I", 200)
    dropped = dataclasses.replace(attrs, med=8, wire=None)
    assert encode_path_attributes(dropped, IBGP) == feed_c(8)
    assert encode_path_attributes(attrs, WireContext(as4=False, ibgp=True)) == feed_c(
        7, as_path(65010, width=2)
    )  # another context: its own canonical encoding
    mp = attr(15, bytes.fromhex("000201"), flags=0x90)
    unreach = decode_path_attributes(mp, IBGP)[2]
    assert encode_path_attributes(attrs, IBGP, mp_unreach=unreach) == data + mp
    assert (
        encode_path_attributes(changed, IBGP, mp_unreach=unreach)
        == encode_path_attributes(changed, IBGP) + mp
    )
    assert encode_path_attributes(attrs, IBGP, mp_unreach=unreach, exact=False) == mp + data


def test_siblings_pass_on_the_canonical_image_and_only_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The other ToR's copy of a set (NEXT_HOP's value apart) takes the sibling's image if canonical;
    a sibling that kept its bytes gives a set keeping its own."""
    monkeypatch.setattr(attrfast, "SIBLING_MIN_LIVE", 0)
    monkeypatch.setattr(attrfast, "SIBLING_QUIET", 0)
    attrfast._SIBLINGS[:] = [True] * 4
    for med_flags in (0x80, 0xA0):  # canonical, then MED with the Partial bit
        warm(ORIGIN + as_path(65010) + attr(3, bytes((10, 69, 0, 1))) + med(8, med_flags) + LOCAL_PREF)
        lists = [
            ORIGIN + as_path(65010) + attr(3, bytes((10, 69, 0, hop))) + med(9, med_flags) + LOCAL_PREF
            for hop in (1, 65)
        ]
        first = decode(lists[0])
        second = decode(lists[1])
        assert second.as_path is first.as_path  # from the sibling
        assert is_canonical(second) == is_canonical(first) == (med_flags == 0x80)
        if med_flags == 0x80:
            assert second.wire is first.wire
        else:
            assert second.wire is not None and second.wire.parts == lists[1]
        assert encode_path_attributes(second, IBGP) == lists[1]


def test_copies_and_pickles_are_the_shared_image() -> None:
    warm(feed_c(2))
    attrs = decode(feed_c(1))
    wire = attrs.wire
    assert wire is not None and wire.parts is None
    assert (
        copy.copy(wire) is wire and copy.deepcopy(wire) is wire and pickle.loads(pickle.dumps(wire)) is wire
    )
    assert image.WireImage(None, None, True, True, wire.seen) is wire
    assert "parts=None" in repr(wire)
    assert encode_path_attributes(pickle.loads(pickle.dumps(attrs)), IBGP) == feed_c(1)


def test_canonical_image_is_one_per_shape_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    shape = image.shape_of(True, True, 0b110)
    one = image.canonical_image(shape)
    assert one is image.canonical_image(shape) and one.shape is shape and one.parts is None
    assert one is not image.canonical_image(image.shape_of(True, False, 0b110))
    monkeypatch.setattr(image, "SHAPE_CACHE_SIZE", 3)
    kept = [image.canonical_image(image.shape_of(False, False, seen)) for seen in range(10)]
    assert len(image._CANONICAL[0]) <= 3  # the (2-octet AS, eBGP) context's
    assert [i.seen for i in kept] == list(range(10)) and all(i.parts is None for i in kept)


# --- Hypothesis: lists sharing a template, canonical or nearly ----------------------------------------

_CANONICAL_FLAGS = {1: 0x40, 3: 0x40, 4: 0x80, 5: 0x40, 6: 0x40, 7: 0xC0, 8: 0xC0, 9: 0x80, 10: 0x80}


@st.composite
def nearly_canonical_attribute(draw: st.DrawFn, code: int, as4: bool) -> bytes:
    """A well-formed attribute `code` (not AS_PATH), usually with its canonical flags."""
    size = {1: 1, 3: 4, 4: 4, 5: 4, 6: 0, 7: 8 if as4 else 6, 9: 4, 35: 4}.get(code)
    if size is None:  # COMMUNITIES, CLUSTER_LIST, EXTENDED and LARGE COMMUNITIES: a list of units
        size = {16: 8, 32: 12}.get(code, 4) * draw(st.integers(1, 3))
    value = bytes((draw(st.integers(0, 2)),)) if code == 1 else draw(st.binary(min_size=size, max_size=size))
    odd = draw(st.integers(0, 19)) == 0  # now and then Extended Length, Partial or a low bit
    flags = _CANONICAL_FLAGS.get(code, 0xC0) | (draw(st.sampled_from([0x10, 0x20, 0x01])) if odd else 0)
    return attr(code, value, flags=flags)


@st.composite
def as_path_attribute(draw: st.DrawFn, as4: bool) -> bytes:
    """A well-formed AS_PATH of any segments, short or over 255 octets, in every header form."""
    width = 4 if as4 else 2
    segments = draw(
        st.lists(st.tuples(st.sampled_from([1, 2, 3, 4]), st.integers(1, 255)), max_size=3)
        | st.lists(st.tuples(st.just(2), st.integers(1, 3)), max_size=2)
    )
    value = b"".join(
        bytes((t, n)) + b"".join((k + 1).to_bytes(width, "big") for k in range(n)) for t, n in segments
    )
    flags = draw(st.sampled_from([0x40, 0x40, 0x40, 0x40, 0x40, 0x50, 0x60, 0x41]))
    if len(value) > 255:
        flags |= 0x10
    return attr(2, value, flags=flags)


@st.composite
def template_pair(draw: st.DrawFn) -> tuple[WireContext, bytes, bytes]:
    """Two lists with the same attributes but AS_PATH (value, header, place) and MED's value: the
    second is read through the template (or MED template) the first leaves."""
    ctx = draw(st.sampled_from(CONTEXTS))
    chosen = draw(st.sets(st.sampled_from([1, 3, 4, 5, 6, 8, 9, 10, 16, 32, 35]), max_size=6))
    if draw(st.booleans()):
        chosen |= {1, 3, 4}  # ORIGIN, NEXT_HOP and MED, as most UPDATEs have them
    if draw(st.integers(0, 4)) == 0:
        chosen.add(7)  # AGGREGATOR: a list not remembered as a template
    codes = sorted(chosen)
    parts = [(code, draw(nearly_canonical_attribute(code, ctx.as4))) for code in codes]
    if draw(st.integers(0, 4)) == 0:
        parts = draw(st.permutations(parts))
    if draw(st.integers(0, 4)) == 0:  # anything at all (but MP attributes), the fast path may decline
        parts.append((-1, draw(raw_attribute().filter(lambda a: a[1] not in (14, 15)))))
    canonical_at = 1 if parts and parts[0][0] == 1 else 0  # after ORIGIN
    lists = []
    for _ in range(2):
        items = [
            value[:-4] + draw(st.binary(min_size=4, max_size=4))
            if code == 4 and draw(st.booleans())
            else value
            for code, value in parts
        ]  # another MED value: the MED template's case
        place = canonical_at if draw(st.integers(0, 3)) else draw(st.integers(0, len(items)))
        items.insert(place, draw(as_path_attribute(ctx.as4)))
        lists.append(b"".join(items))
    return ctx, lists[0], lists[1]


def _decoded(data: bytes, ctx: WireContext) -> PathAttributes | None:
    try:
        return decode_path_attributes(data, ctx)[0]
    except WireError:
        return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pair=template_pair())
def test_lists_sharing_a_template_reencode_exactly(pair: tuple[WireContext, bytes, bytes]) -> None:
    """For every list the decoder accepts, `encode_path_attributes(decode(buf)) == buf`: cold, through
    the template the other list left, and after the intern table forgot the set; and the second list
    read through warm caches is the general path's (the canonical image only for canonical bytes)."""
    ctx, first, second = pair
    clear_intern_cache()
    held = [_decoded(data, ctx) for data in (first, second)]  # the second through the first's template
    for data, attrs in zip((first, second), held, strict=True):
        if attrs is not None:
            assert encode_path_attributes(attrs, ctx) == data
    clear_intern_cache()
    _decoded(first, ctx)
    fast = decode_path_attributes(second, ctx, has_nlri=True) if held[1] is not None else None
    with general_path_only():
        slow = decode_path_attributes(second, ctx, has_nlri=True) if held[1] is not None else None
    if fast is not None and slow is not None:
        _assert_same(fast, slow)
        assert encode_path_attributes(fast[0], ctx) == second == encode_path_attributes(slow[0], ctx)
