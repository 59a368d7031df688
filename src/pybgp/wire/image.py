"""The received encoding a decoded attribute set remembers, for byte-exact re-encoding.

Owns: `RawAttribute` (an attribute kept as received), `WireImage`, what `PathAttributes.wire` holds
(`attributes.py` builds it when decoding and reads it when encoding), its shared `WireShape`s and the
shared canonical image of each shape (`canonical_image`).
Never does: decode or encode attributes, decide whether received bytes were canonical (`attrfast.py`
does, once per template) or whether an image still matches its set (`encode_path_attributes` does).

Byte-exactness: `encode_path_attributes` writes a decoded set's received bytes back unchanged as long
as its semantic fields still equal what was decoded and the context has the same AS width and iBGP
flag. Anything else is encoded canonically (RFC 7606 section 5.1 order: MP_UNREACH, MP_REACH, then
ascending type code; Extended Length only when the value needs it). A set whose received bytes were
exactly that canonical encoding keeps no bytes at all: its image is its shape's canonical image
(`parts` None), and encoding it canonically gives those bytes back.
"""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = [
    "SHAPE_CACHE_SIZE",
    "RawAttribute",
    "WireImage",
    "WireShape",
    "canonical_image",
    "new_image",
    "shape_of",
]


class RawAttribute(NamedTuple):
    """An attribute we do not interpret, kept byte-exact (flags as received, value bytes)."""

    flags: int
    code: int
    value: bytes


class WireShape(NamedTuple):
    """What a received image says besides its bytes: `semantic` (None for "whatever the bytes decode
    to"), the context they were read with (`as4`, `ibgp`) and `seen`, the bitmap (1 << code) of the
    attributes present. One object per (as4, ibgp, seen) serves every decoded set (`shape_of`)."""

    semantic: tuple[object, ...] | None
    as4: bool
    ibgp: bool
    seen: int


_SHAPES: tuple[dict[int, WireShape], ...] = ({}, {}, {}, {})
"""The shared shapes, one dict per context (index `2 * as4 + ibgp`, as the intern tables), by `seen`."""
SHAPE_CACHE_SIZE = 4096
"""Distinct bitmaps remembered per context (a real table shows a few dozen); beyond, start afresh."""


def shape_of(as4: bool, ibgp: bool, seen: int) -> WireShape:
    """The shared shape of decoded sets (`semantic` None) read in context (as4, ibgp) with codes `seen`."""
    shapes = _SHAPES[2 * as4 + ibgp]
    shape = shapes.get(seen)
    if shape is None:
        if len(shapes) >= SHAPE_CACHE_SIZE:
            shapes.clear()
        shape = shapes[seen] = WireShape(None, as4, ibgp, seen)
    return shape


_Parts = bytes | tuple[bytes | int, ...]


class WireImage(tuple[_Parts | None, WireShape]):
    """The attribute bytes a set was decoded from: runs of raw non-MP attributes, with 14/15 marking
    where MP_REACH/MP_UNREACH sat, and the context (AS width, iBGP) they were read with: the bytes are
    only reused for a context in which they mean the same thing. `semantic` holds the values the bytes
    stand for, or None (what the decoder stores) for "whatever `parts` decode to in that context":
    `encode_path_attributes` works that out again when it needs it (rarely: only to re-send a
    received set unchanged), instead of every interned set carrying a 14-item tuple for it.
    `seen` is the bitmap (1 << code) of the attributes present (a function of the other fields).

    `parts` is the bytes themselves when they are one run without MP attributes (nearly every set: the
    object keying its intern entry, no 1-tuple around it, -48 bytes per set), else the layout tuple,
    or None for "the bytes were the set's canonical encoding in this context" (one run, no MP
    attribute): the canonical image, one shared by every set of a shape (`canonical_image`), which
    the fast decoder hands out when it knows the bytes were canonical (`attrfast.fast_parts`, decided
    once per template). A set then keeps neither an image of its own nor its received bytes alive
    (-125 bytes per set of feed (c) by tracemalloc, 338 -> 213), and `encode_path_attributes`
    encodes it canonically, which gives the received bytes back while the set is unchanged.

    A 2-tuple `(parts, shape)`: the `WireShape` holds the rest and is shared by every set decoded in
    one context with the same attribute codes. One image is built per decoded set: 56 bytes where the
    5-field NamedTuple it replaced was 80, and still built in one `tuple.__new__` call (`new_image`;
    a slotted dataclass, 48 bytes, cost the decode-and-drop benchmark ~3% in allocation and freeing).
    Built as `WireImage(semantic, parts, as4, ibgp, seen)` like that NamedTuple, equal by value like
    it, `_replace`d like it.
    """

    __slots__ = ()

    def __new__(
        cls, semantic: tuple[object, ...] | None, parts: _Parts | None, as4: bool, ibgp: bool, seen: int = 0
    ) -> WireImage:
        if semantic is None:
            shape = shape_of(as4, ibgp, seen)
            if parts is None:  # copies and unpickled images too: the shared one, not one per set
                return canonical_image(shape)
        else:
            shape = WireShape(semantic, as4, ibgp, seen)
        return tuple.__new__(cls, (parts, shape))

    def __getnewargs__(self) -> tuple[tuple[object, ...] | None, _Parts | None, bool, bool, int]:  # type: ignore[override]
        """What `copy` and `pickle` pass to `__new__`."""
        return (self.semantic, self.parts, self.as4, self.ibgp, self.seen)

    def __repr__(self) -> str:
        return (
            f"WireImage(semantic={self.semantic!r}, parts={self.parts!r}, as4={self.as4!r}, "
            f"ibgp={self.ibgp!r}, seen={self.seen!r})"
        )

    @property
    def parts(self) -> _Parts | None:
        return self[0]

    @property
    def shape(self) -> WireShape:
        return self[1]

    @property
    def semantic(self) -> tuple[object, ...] | None:
        return self[1].semantic

    @property
    def as4(self) -> bool:
        return self[1].as4

    @property
    def ibgp(self) -> bool:
        return self[1].ibgp

    @property
    def seen(self) -> int:
        return self[1].seen

    def _replace(self, **changes: Any) -> WireImage:
        """A copy with some of (semantic, parts, as4, ibgp, seen) changed, as `NamedTuple._replace`."""
        fields = {"semantic": self.semantic, "parts": self.parts, "as4": self.as4, "ibgp": self.ibgp}
        return WireImage(**{**fields, "seen": self.seen, **changes})


_new_tuple = tuple.__new__


def new_image(parts: _Parts, shape: WireShape) -> WireImage:
    """`WireImage(shape.semantic, parts, shape.as4, shape.ibgp, shape.seen)` in one call (what the
    decoder does inline, `tuple.__new__(WireImage, (parts, shape))`, one image per decoded set)."""
    return _new_tuple(WireImage, (parts, shape))


_CANONICAL: tuple[dict[int, WireImage], ...] = ({}, {}, {}, {})
"""The canonical images, one dict per context like `_SHAPES`, by `seen`; bounded like it."""


def canonical_image(shape: WireShape) -> WireImage:
    """The canonical image of the decoded sets of `shape` (`parts` None: their received bytes were their
    canonical encoding in its context), one per shape: `attrfast` asks for it once per template and
    hands that object out with every set read through the template, so it costs nothing per set."""
    images = _CANONICAL[2 * shape.as4 + shape.ibgp]
    image = images.get(shape.seen)
    if image is None or image[1] is not shape:  # new, or the shape cache started afresh since
        if len(images) >= SHAPE_CACHE_SIZE:
            images.clear()
        image = images[shape.seen] = _new_tuple(WireImage, (None, shape))
    return image
