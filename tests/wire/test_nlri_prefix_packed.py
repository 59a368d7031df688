"""`Prefix` as a packed int: the NamedTuple's API, order and wire form, for any field values.

The reference is the NamedTuple `Prefix` replaced (`OldPrefix` below, its fields and its decoding
arithmetic): fields round-trip, equality and order follow the old tuple's, and the decoder's
shift-and-XOR packing agrees with masking the address the old way, host bits set or not.
"""

from __future__ import annotations

import copy
import ipaddress
import pickle
from typing import NamedTuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix, decode_prefixes_exact, encode_prefix, encode_prefixes

BITS = {Afi.IPV4: 32, Afi.IPV6: 128}


class OldPrefix(NamedTuple):
    """The fields of the NamedTuple `Prefix` was, to compare orders with."""

    afi: int
    network: int
    length: int
    path_id: int


@st.composite
def fields(draw: st.DrawFn, canonical: bool = True) -> OldPrefix:
    """(afi, network, length, path_id) in range; host bits zero when `canonical`."""
    afi = draw(st.sampled_from([Afi.IPV4, Afi.IPV6]))
    bits = BITS[afi]
    length = draw(st.integers(0, bits))
    network = draw(st.integers(0, (1 << bits) - 1))
    if canonical:
        network = network >> (bits - length) << (bits - length) if length else 0
    path_id = draw(st.one_of(st.just(0), st.integers(0, 0xFFFFFFFF)))
    return OldPrefix(afi, network, length, path_id)


def make(f: OldPrefix) -> Prefix:
    return Prefix(Afi(f.afi), f.network, f.length, f.path_id)


@given(fields(canonical=False))
def test_fields_round_trip(f: OldPrefix) -> None:
    p = make(f)
    assert (p.afi, p.network, p.length, p.path_id) == tuple(f)
    assert p.afi is Afi(f.afi)  # the member itself: callers compare with `is`
    assert p.max_length == BITS[p.afi]
    assert Prefix(afi=p.afi, network=p.network, length=p.length, path_id=p.path_id) == p
    assert p.without_path_id() == Prefix(p.afi, p.network, p.length)
    assert p.without_path_id().path_id == 0
    if not f.path_id:
        assert p.without_path_id() is p
    match p:
        case Prefix(afi, network, length, path_id):
            assert (afi, network, length, path_id) == tuple(f)


@given(fields())
def test_text_and_parse(f: OldPrefix) -> None:
    p = make(f)
    net = (ipaddress.IPv4Network if f.afi == Afi.IPV4 else ipaddress.IPv6Network)((f.network, f.length))
    assert str(p) == str(net)
    assert Prefix.parse(str(p), f.path_id) == p
    assert p.to_network() == net
    assert eval(repr(p)) == p  # the repr is `Prefix.parse(...)`
    assert f"{p}" == str(p) and f"{p:>50}" == f"{p!s:>50}"


@given(fields(canonical=False), fields(canonical=False))
def test_equality_hash_and_order_are_the_tuples(a: OldPrefix, b: OldPrefix) -> None:
    pa, pb = make(a), make(b)
    assert (pa == pb) == (a == b)
    assert (pa < pb) == (a < b) and (pa <= pb) == (a <= b) and (pa > pb) == (a > b)
    if a == b:
        assert hash(pa) == hash(pb)
    assert sorted([pb, pa]) == [make(x) for x in sorted([b, a])]


@given(fields(canonical=False))
def test_pickle_and_copy(f: OldPrefix) -> None:
    p = make(f)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        back = pickle.loads(pickle.dumps(p, protocol))
        assert back == p and type(back) is Prefix and back.afi is p.afi
    assert copy.copy(p) is p and copy.deepcopy(p) is p


@given(fields(), fields())
def test_contains_is_subnet_of(a: OldPrefix, b: OldPrefix) -> None:
    pa, pb = make(a), make(b)
    same_family = a.afi == b.afi
    assert pa.contains(pb) == (same_family and pb.to_network().subnet_of(pa.to_network()))  # type: ignore[arg-type]


@given(fields(), st.booleans())
def test_encode_decode_round_trip(f: OldPrefix, addpath: bool) -> None:
    p = make(f) if addpath else make(f).without_path_id()
    decoded, image = decode_prefixes_exact(encode_prefix(p, addpath=addpath), p.afi, addpath=addpath)
    assert decoded == (p,) and type(decoded[0]) is Prefix and image is None


@given(st.lists(fields(canonical=False), min_size=1, max_size=6), st.booleans(), st.data())
def test_decoder_agrees_with_masking(items: list[OldPrefix], addpath: bool, data: st.DataObject) -> None:
    """The decoder's shift-and-XOR equals the old arithmetic (mask the address read), host bits set
    or not, one prefix or a run (the two code paths), and it keeps the received bytes only when some
    prefix had host bits set."""
    afi = data.draw(st.sampled_from([Afi.IPV4, Afi.IPV6]))
    bits = BITS[afi]
    wire = b""
    expect = []
    canonical = True
    for f in items:
        length = min(f.length, bits)
        network = f.network & ((1 << bits) - 1)
        nbytes = (length + 7) >> 3
        octets = (network >> (bits - 8 * nbytes)).to_bytes(nbytes, "big") if nbytes else b""
        wire += (f.path_id.to_bytes(4, "big") if addpath else b"") + bytes((length,)) + octets
        mask = ((1 << bits) - 1) ^ ((1 << (bits - length)) - 1)
        masked = (int.from_bytes(octets, "big") << (bits - 8 * nbytes)) & mask if nbytes else 0
        canonical &= masked == (int.from_bytes(octets, "big") << (bits - 8 * nbytes) if nbytes else 0)
        expect.append(Prefix(afi, masked, length, f.path_id if addpath else 0))
    decoded, image = decode_prefixes_exact(wire, afi, addpath=addpath)
    assert decoded == tuple(expect)
    assert (image is None) == canonical
    if image is not None:
        assert image.raw == wire and image.prefixes is decoded


def test_bad_fields_are_refused() -> None:
    for afi, network, length, path_id in [
        (Afi.IPV4, 1 << 32, 8, 0), (Afi.IPV4, -1, 8, 0), (Afi.IPV4, 0, 33, 0), (Afi.IPV4, 0, -1, 0),
        (Afi.IPV6, 1 << 128, 8, 0), (Afi.IPV6, 0, 129, 0), (Afi.IPV4, 0, 8, 1 << 32), (Afi.IPV4, 0, 8, -1),
        (Afi.L2VPN, 0, 8, 0),
    ]:
        with pytest.raises(ValueError):
            Prefix(afi, network, length, path_id)


def test_an_int_afi_gives_the_member() -> None:
    assert Prefix(1, 10 << 24, 8).afi is Afi.IPV4  # type: ignore[arg-type]
    assert Prefix(2, 0, 0).afi is Afi.IPV6  # type: ignore[arg-type]


def test_not_a_tuple_nor_a_number_to_its_readers() -> None:
    default = Prefix.parse("0.0.0.0/0")
    assert bool(default)  # packs to the int 0, but is a prefix, true as the tuple was
    assert default != (Afi.IPV4, 0, 0, 0)  # type: ignore[comparison-overlap]
    assert Prefix.parse("10.0.0.0/8") != Prefix.parse("10.0.0.0/8", path_id=1)
    assert Prefix.parse("10.0.0.0/8") < Prefix.parse("10.0.0.0/8", path_id=1) < Prefix.parse("10.0.0.0/9")
    assert Prefix.parse("255.255.255.255/32", path_id=9) < Prefix.parse("::/0")
    assert encode_prefixes([Prefix.parse("10.1.0.0/16")]) == b"\x10\x0a\x01"


def test_json_shows_the_text_not_the_packed_int() -> None:
    """`jsonify.plain` tests `Prefix` before `int` (a `Prefix` is an int subclass)."""
    import json

    from pybgp.wire.jsonify import plain

    assert plain(Prefix.parse("10.0.0.0/8")) == "10.0.0.0/8"
    assert json.dumps(plain([Prefix.parse("10.0.0.0/8", path_id=3)])) == \
        '[{"prefix": "10.0.0.0/8", "path_id": 3}]'
