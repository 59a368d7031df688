"""The sibling path of `attrfast.fast_parts`: a list that differs from a live interned set's only in
NEXT_HOP's value (the other ToR's copy of a set) is built from that set's values, shared, and is
exactly what the general path decodes -- fields, received image, fault, re-encoding.

The path is tried only while a context's intern table holds `SIBLING_MIN_LIVE` live sets; these tests
lower the bound to 0 so a handful of kept sets exercise it.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.wire.builders import ORIGIN_IGP, attr
from tests.wire.test_attrfast import _assert_same, _assert_same_image, general_path_only, raw_attribute

from pybgp.wire import attrfast, intern
from pybgp.wire.attributes import (
    clear_intern_cache,
    decode_path_attributes,
    encode_path_attributes,
)
from pybgp.wire.context import WireContext
from pybgp.wire.errors import WireError

IBGP = WireContext(as4=True, ibgp=True)
OLD = WireContext(as4=False, ibgp=True)
TOR1 = bytes((10, 69, 0, 1))
TOR2 = bytes((10, 69, 0, 65))


@pytest.fixture(autouse=True)
def sibling_always(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Try the sibling path whatever the number of live sets and next hops, from cold caches."""
    monkeypatch.setattr(attrfast, "SIBLING_MIN_LIVE", 0)
    monkeypatch.setattr(attrfast, "SIBLING_QUIET", 0)
    cold_start()
    yield
    clear_intern_cache()


def cold_start() -> None:
    """Empty every cache, as if two next hops had been read already (`attrfast._SIBLINGS`)."""
    clear_intern_cache()
    attrfast._SIBLINGS[:] = [True] * 4


def as_path(*asns: int, width: int = 4) -> bytes:
    return attr(2, bytes((2, len(asns))) + b"".join(a.to_bytes(width, "big") for a in asns))


def plain(next_hop: bytes, med: int = 7, path: bytes | None = None, tail: bytes = b"") -> bytes:
    """ORIGIN, AS_PATH, NEXT_HOP, MED, LOCAL_PREF, COMMUNITIES (as BIRD sends them), then `tail`."""
    return (
        ORIGIN_IGP + (path if path is not None else as_path(64599, 65010, 4200000000)) + attr(3, next_hop)
        + attr(4, struct.pack("!I", med)) + attr(5, struct.pack("!I", 100))
        + attr(8, struct.pack("!II", 0xFC570001, 0xFC570002)) + tail
    )  # fmt: skip


def general(data: bytes, ctx: WireContext) -> object:
    """The general path's answer (caches emptied before and after, as by `cold_start`)."""
    try:
        with general_path_only():
            return decode_path_attributes(data, ctx, has_nlri=True)
    except WireError as exc:
        return ("raised", type(exc), str(exc))
    finally:
        attrfast._SIBLINGS[:] = [True] * 4


def test_other_tors_copy_shares_the_siblings_values() -> None:
    decode_path_attributes(plain(TOR1, med=8), IBGP)  # a template for the next: canonical image
    first = decode_path_attributes(plain(TOR1), IBGP, has_nlri=True)[0]
    for _ in range(2):  # ToR1, ToR2 alternating: each sees the other's last next hop
        second, _, _, fault = decode_path_attributes(plain(TOR2), IBGP, has_nlri=True)
        assert fault is None and second is not first
        assert str(second.next_hop) == "10.69.0.65" and str(first.next_hop) == "10.69.0.1"
        assert second.as_path is first.as_path and second.med is first.med
        assert second.communities is first.communities
        assert first.wire is not None and first.wire.parts is None  # canonical: no bytes kept
        assert second.wire is first.wire  # the sibling's canonical image, passed on
        assert encode_path_attributes(second, IBGP) == plain(TOR2)  # byte-exact
        assert decode_path_attributes(plain(TOR2), IBGP, has_nlri=True)[0] is second  # interned
        kept = second
        assert decode_path_attributes(plain(TOR1), IBGP, has_nlri=True)[0] is first
    expected = general(plain(TOR2), IBGP)
    cold_start()
    first = decode_path_attributes(plain(TOR1), IBGP, has_nlri=True)[0]
    got = decode_path_attributes(plain(TOR2), IBGP, has_nlri=True)
    assert got[0].as_path is first.as_path  # from the sibling again, after the caches were emptied
    _assert_same(got, expected)
    assert kept == got[0]


def test_no_sibling_when_it_is_dead_or_in_another_context() -> None:
    decode_path_attributes(plain(TOR1), IBGP, has_nlri=True)  # dropped at once
    alone = decode_path_attributes(plain(TOR2), IBGP, has_nlri=True)
    _assert_same(alone, general(plain(TOR2), IBGP))
    cold_start()
    path2 = as_path(64599, 65010, width=2)
    other = decode_path_attributes(plain(TOR1, path=path2), OLD, has_nlri=True)[0]  # kept
    for ctx in (IBGP, WireContext(as4=False, ibgp=False)):  # other tables: never this one's sibling
        got = decode_path_attributes(plain(TOR2, path=path2), ctx, has_nlri=True)
        assert got[0].as_path is not other.as_path
        _assert_same(got, general(plain(TOR2, path=path2), ctx))


def test_a_faulty_or_general_path_sibling_is_not_used() -> None:
    bad_tail = attr(16, b"\x00" * 7)  # EXTENDED_COMMUNITIES not a multiple of 8: treat-as-withdraw
    as4_tail = attr(17, b"\x02\x01" + struct.pack("!I", 4200000000))  # AS4_PATH: the RFC 6793 merge
    unknown_tail = attr(99, b"\x01\x02", flags=0xC0)
    for tail, ctx in ((bad_tail, IBGP), (as4_tail, OLD), (unknown_tail, IBGP)):
        cold_start()
        path = as_path(64599, 23456, width=2) if ctx is OLD else None
        first = decode_path_attributes(plain(TOR1, path=path, tail=tail), ctx, has_nlri=True)
        got = decode_path_attributes(plain(TOR2, path=path, tail=tail), ctx, has_nlri=True)
        assert got[0].as_path is not first[0].as_path
        _assert_same(got, general(plain(TOR2, path=path, tail=tail), ctx))
        assert got[3] == first[3]  # the same fault (or none) for both copies


def test_lists_without_next_hop_after_as_path_take_the_usual_path() -> None:
    for data in (
        ORIGIN_IGP + as_path(65010),  # no NEXT_HOP at all
        ORIGIN_IGP + as_path(65010) + attr(4, b"\x00\x00\x00\x07"),  # MED where NEXT_HOP would be
        ORIGIN_IGP + as_path(65010) + attr(3, TOR1 + b"\x00"),  # NEXT_HOP of 5 octets
        ORIGIN_IGP + as_path(65010) + attr(3, TOR1)[:4],  # cut short
    ):
        decode_path_attributes(data, IBGP, has_nlri=True)
        sibling = data.replace(TOR1, TOR2)
        _assert_same(decode_path_attributes(sibling, IBGP, has_nlri=True), general(sibling, IBGP))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    head=st.just([ORIGIN_IGP]) | st.lists(raw_attribute(), max_size=2),
    tail=st.lists(raw_attribute(), max_size=2) | st.just([attr(4, b"\x00\x00\x00\x05")]),
    path=raw_attribute() | st.just(b""),
    hops=st.lists(st.binary(min_size=4, max_size=4), min_size=2, max_size=4),
    ctx=st.sampled_from([WireContext(as4=a, ibgp=i) for a in (True, False) for i in (True, False)]),
)
def test_siblings_decode_as_the_general_path(
    head: list[bytes], tail: list[bytes], path: bytes, hops: list[bytes], ctx: WireContext
) -> None:
    """Copies of one list (any attributes around an AS_PATH, then NEXT_HOP) with different next hops,
    decoded in turn with every earlier set kept: each equals the general path's decode of it."""
    cold_start()
    path = path if path[1:2] == b"\x02" else as_path(65010)
    lists = [b"".join(head) + path + attr(3, hop) + b"".join(tail) for hop in hops]
    kept: list[object] = []
    for data in lists + lists[::-1]:
        try:
            got: object = decode_path_attributes(data, ctx, has_nlri=True)
        except WireError as exc:
            got = ("raised", type(exc), str(exc))
        kept.append(got)
        saved = {index: dict(table) for index, table in enumerate(intern.TABLES)}
        hop_state = [list(h) for h in attrfast._NEXT_HOPS]
        _assert_same(got, general(data, ctx))
        for index, table in saved.items():  # put back what `general` cleared: the kept sets' entries
            intern.TABLES[index].update(table)
        for state, hop_list in zip(attrfast._NEXT_HOPS, hop_state, strict=True):
            state[:] = hop_list
    assert all(isinstance(k, tuple) for k in kept)


def test_a_third_next_hop_quiets_the_lookups(monkeypatch: pytest.MonkeyPatch) -> None:
    """Lists from many next hops (a collector's table) would make every lookup miss: after a third next
    hop none is tried for `SIBLING_QUIET` lists; two next hops (two ToRs) keep them on."""
    monkeypatch.setattr(attrfast, "SIBLING_QUIET", 3)
    tor3 = bytes((10, 69, 0, 129))
    kept = [decode_path_attributes(plain(hop), IBGP, has_nlri=True)[0] for hop in (TOR1, TOR2, tor3)]

    def pairs(count: int) -> list[bool]:
        """Each ToR's copy of `count` new sets (MEDs no other set has): is the second one shared?"""
        shared = []
        for _ in range(count):
            med = 1_000_000 + len(kept)
            first = decode_path_attributes(plain(TOR1, med=med), IBGP, has_nlri=True)[0]
            second = decode_path_attributes(plain(TOR2, med=med), IBGP, has_nlri=True)[0]
            kept.extend((first, second))
            shared.append(second.med is first.med)
        return shared

    shared = pairs(6)  # quiet for 3 lists after the third next hop, then both ToRs' are tracked
    assert shared[:2] == [False, False] and shared[-2:] == [True, True]
    kept.append(decode_path_attributes(plain(tor3, med=5), IBGP, has_nlri=True)[0])
    shared = pairs(6)  # quiet again, then both ToRs' next hops are tracked anew
    assert shared[:2] == [False, False] and shared[-2:] == [True, True]
    expected = general(plain(TOR2, med=1_000_000 + len(kept) - 2), IBGP)
    assert kept[-1] == expected[0]  # type: ignore[index]
    _assert_same_image(kept[-1], expected[0])  # type: ignore[index]


def test_one_next_hop_never_looks_for_siblings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Until the fast path has read two different NEXT_HOPs in a context (one session: the usual case)
    `fast_parts` does not even call `_sibling`."""
    clear_intern_cache()
    calls: list[int] = []
    real = attrfast._sibling

    def counted(buf: bytes, at: int, index: int, ctx: WireContext) -> attrfast.FastParts | None:
        calls.append(index)
        return real(buf, at, index, ctx)

    monkeypatch.setattr(attrfast, "_sibling", counted)
    meds = range(1_000_000, 1_000_005)  # not among the small ints Python shares anyway
    kept = [decode_path_attributes(plain(TOR1, med=med), IBGP, has_nlri=True) for med in meds]
    assert calls == [] and not any(attrfast._SIBLINGS)
    kept += [decode_path_attributes(plain(TOR2, med=med), IBGP, has_nlri=True) for med in meds]
    assert attrfast._SIBLINGS == [False, False, False, True] and len(calls) == 4  # all but the first
    # The first ToR2 list is read (its MED from the value cache), the others are their siblings' copies.
    assert all(got[0].med is kept[i + 1][0].med for i, got in enumerate(kept[6:]))


def test_many_next_hops_switch_the_lookups_off() -> None:
    """A table from thousands of next hops (a collector's) never looks for siblings past
    `SIBLING_MAX_HOPS` distinct ones; caches started afresh learn again."""
    clear_intern_cache()
    index = 2 * IBGP.as4 + IBGP.ibgp
    kept = [decode_path_attributes(plain(bytes((10, 1, 0, k))), IBGP, has_nlri=True) for k in range(1, 3)]
    assert attrfast._SIBLINGS[index]
    kept += [
        decode_path_attributes(plain(bytes((10, 1, 0, k))), IBGP, has_nlri=True)
        for k in range(3, attrfast.SIBLING_MAX_HOPS + 2)
    ]
    assert not attrfast._SIBLINGS[index] and len(kept) == attrfast.SIBLING_MAX_HOPS + 1
    clear_intern_cache()
    assert not any(attrfast._SIBLINGS) and attrfast._HOPS_LEARNT == [0, 0, 0, 0]
