"""`image.WireImage`: a decoded set's received bytes plus one shared `WireShape`, with the API of the
5-field NamedTuple it replaced (fields, keyword construction, `_replace`, equality by value)."""

from __future__ import annotations

import copy
import pickle
import struct
import sys

import pytest
from tests.wire.builders import BASE, attr

from pybgp.wire import image
from pybgp.wire.attributes import (
    WireImage,
    clear_intern_cache,
    decode_path_attributes,
    encode_path_attributes,
)
from pybgp.wire.context import WireContext

NEW = WireContext(as4=True, ibgp=False)


def test_built_like_the_namedtuple_and_equal_by_value() -> None:
    a = WireImage(None, b"\x40\x01\x01\x00", True, False, 2)
    b = WireImage(semantic=None, parts=b"\x40\x01\x01\x00", as4=True, ibgp=False, seen=2)
    assert a == b and hash(a) == hash(b) and a is not b
    assert (a.semantic, a.parts, a.as4, a.ibgp, a.seen) == (None, b"\x40\x01\x01\x00", True, False, 2)
    assert a.shape is b.shape  # decoded-set shapes are shared
    assert WireImage(None, b"", True, True).seen == 0
    assert a != WireImage(None, b"\x40\x01\x01\x00", True, True, 2)  # another context
    assert a != WireImage(None, b"\x40\x01\x01\x00", True, False, 6)  # other codes seen
    assert a != WireImage((1,), b"\x40\x01\x01\x00", True, False, 2)  # an explicit semantic
    replaced = a._replace(parts=(b"\x40\x01\x01\x00",), ibgp=True)
    assert (replaced.parts, replaced.ibgp, replaced.as4, replaced.seen) == (
        (b"\x40\x01\x01\x00",),
        True,
        True,
        2,
    )
    explicit = WireImage((None,), b"", False, False, 0)
    assert explicit.semantic == (None,) and explicit.shape is not image.shape_of(False, False, 0)


def test_frozen_copyable_picklable_and_smaller() -> None:
    a = WireImage(None, b"abc", True, False, 6)
    with pytest.raises(AttributeError):  # immutable, as the NamedTuple was
        a.parts = b"x"  # type: ignore[misc]
    assert copy.copy(a) == a and copy.deepcopy(a) == a and pickle.loads(pickle.dumps(a)) == a
    assert image.new_image(b"abc", image.shape_of(True, False, 6)) == a
    assert sys.getsizeof(a) < sys.getsizeof((None, b"abc", True, False, 6))  # the old per-set tuple


def test_shape_cache_is_per_context_and_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    shapes = {(a4, ib): image.shape_of(a4, ib, 14) for a4 in (True, False) for ib in (True, False)}
    assert len({id(s) for s in shapes.values()}) == 4
    assert all((s.as4, s.ibgp, s.seen, s.semantic) == (*k, 14, None) for k, s in shapes.items())
    monkeypatch.setattr(image, "SHAPE_CACHE_SIZE", 3)
    for table in image._SHAPES:
        table.clear()
    kept = [image.shape_of(True, True, seen) for seen in range(10)]
    assert all(len(table) <= 3 for table in image._SHAPES)
    assert [s.seen for s in kept] == list(range(10))  # shapes handed out stay valid


def test_decoded_sets_share_shapes_and_reencode_exactly() -> None:
    clear_intern_cache()
    sets = [
        decode_path_attributes(BASE + attr(4, struct.pack("!I", med)), NEW, has_nlri=True)[0]
        for med in range(3)
    ]
    assert all(s.wire is not None for s in sets)
    assert len({id(s.wire.shape) for s in sets if s.wire is not None}) == 1
    for med, attrs in enumerate(sets):
        assert encode_path_attributes(attrs, NEW) == BASE + attr(4, struct.pack("!I", med))
        assert attrs.wire is not None and attrs.wire.seen == (1 << 1) | (1 << 2) | (1 << 3) | (1 << 4)
