"""Update packing: messages are filled up to the negotiated maximum and split beyond it, for IPv4 in the
classic fields, IPv6 in MP_REACH/MP_UNREACH, with and without ADD-PATH; plus the framer."""

from __future__ import annotations

import ipaddress

import pytest

from pybgp.wire.attributes import AsPathSegment, PathAttributes
from pybgp.wire.constants import Afi, AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.errors import LocalUsageError, NotificationError
from pybgp.wire.framing import MessageFramer
from pybgp.wire.messages import Keepalive, Update, decode_message, encode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

ATTRS = PathAttributes(
    origin=Origin.IGP,
    as_path=(AsPathSegment(AsPathSegmentType.AS_SEQUENCE, (64600,)),),
    next_hop=ipaddress.IPv4Address("10.69.0.65"),
    communities=((64698 << 16) | 64699,),
)
V6_HOPS = (ipaddress.IPv6Address("2001:db8::1"), ipaddress.IPv6Address("fe80::1"))


def _v4(n: int, length: int = 24, path_id: int = 0) -> list[Prefix]:
    return [Prefix(Afi.IPV4, (10 << 24) | (i << (32 - length)), length, path_id) for i in range(n)]


def _v6(n: int) -> list[Prefix]:
    return [Prefix(Afi.IPV6, (0x20010DB8 << 96) | (i << 64), 64) for i in range(n)]


def _decode_all(msgs: list[bytes], ctx: WireContext) -> list[Update]:
    out = []
    for raw in msgs:
        assert len(raw) <= ctx.max_message_len
        msg = decode_message(raw, ctx)
        assert isinstance(msg, Update) and msg.fault is None
        out.append(msg)
    return out


@pytest.mark.parametrize("ctx", [WireContext(), WireContext(extended_message=True)])
def test_ipv4_fills_and_splits(ctx: WireContext) -> None:
    prefixes = _v4(5000, 32)  # 5 octets each
    msgs = encode_updates(ctx, attributes=ATTRS, announced=prefixes)
    updates = _decode_all(msgs, ctx)
    assert [p for u in updates for p in u.nlri] == prefixes
    assert all(u.attributes == ATTRS for u in updates)
    # every message but the last is full: one more prefix would not have fitted
    assert all(len(m) > ctx.max_message_len - 5 for m in msgs[:-1])
    expected = -(-5000 * 5 // (ctx.max_message_len - 23 - (len(msgs[0]) - 23 - len(updates[0].nlri) * 5)))
    assert len(msgs) == expected


def test_ipv4_addpath_and_withdrawals() -> None:
    fam = frozenset({(1, 1)})
    ctx = WireContext(addpath_tx=fam, addpath_rx=fam)
    ann = _v4(900, 24, path_id=7)
    wd = _v4(1200, 16, path_id=3)
    msgs = encode_updates(ctx, attributes=ATTRS, announced=ann, withdrawn=wd)
    updates = _decode_all(msgs, ctx)
    assert [p for u in updates for p in u.withdrawn] == wd
    assert [p for u in updates for p in u.nlri] == ann
    first_announce = next(i for i, u in enumerate(updates) if u.nlri)
    assert all(u.withdrawn and not u.nlri for u in updates[:first_announce])


def test_ipv6_in_mp_reach_and_unreach() -> None:
    ctx = WireContext()
    ann, wd = _v6(700), _v6(900)[700:]
    msgs = encode_updates(ctx, attributes=ATTRS, announced=ann, withdrawn=wd, next_hops=V6_HOPS)
    updates = _decode_all(msgs, ctx)
    got_ann = [p for u in updates if u.mp_reach for p in u.mp_reach.nlri]
    got_wd = [p for u in updates if u.mp_unreach for p in u.mp_unreach.nlri]
    assert got_ann == ann and got_wd == wd
    reach = [u for u in updates if u.mp_reach]
    assert all(u.mp_reach is not None and u.mp_reach.next_hops == V6_HOPS for u in reach)
    # RFC 4760: no classic NEXT_HOP with MP-only reachability
    assert all(u.attributes is not None and u.attributes.next_hop is None for u in reach)
    first_reach = next(m for m, u in zip(msgs, updates, strict=True) if u.mp_reach)
    assert len(first_reach) > 4096 - 9  # full: one more /64 (9 octets) would not fit


def test_ipv4_over_ipv6_next_hop_rfc8950() -> None:
    ctx = WireContext(extended_nexthop=frozenset({(1, 1)}))
    (raw,) = encode_updates(ctx, attributes=ATTRS, announced=_v4(3), next_hops=V6_HOPS[:1])
    (update,) = _decode_all([raw], ctx)
    assert update.mp_reach is not None and update.mp_reach.afi == 1
    assert update.mp_reach.next_hops == V6_HOPS[:1] and update.mp_reach.nlri == tuple(_v4(3))


def test_packing_misuse() -> None:
    ctx = WireContext()
    with pytest.raises(LocalUsageError):
        encode_updates(ctx, attributes=None, announced=_v4(1))
    with pytest.raises(LocalUsageError):
        encode_updates(ctx, attributes=ATTRS, announced=_v6(1))  # no IPv6 next hop
    huge = PathAttributes(origin=Origin.IGP, next_hop=ATTRS.next_hop, communities=tuple(range(1100)))
    with pytest.raises(LocalUsageError):
        encode_updates(ctx, attributes=huge, announced=_v4(1))
    assert encode_updates(ctx, attributes=None) == []


def test_framer_reassembles_any_split() -> None:
    ctx = WireContext()
    msgs = [*encode_updates(ctx, attributes=ATTRS, announced=_v4(2000)), encode_message(Keepalive(), ctx)]
    stream = b"".join(msgs)
    for step in (1, 7, 19, 4096, len(stream)):
        framer = MessageFramer()
        got: list[bytes] = []
        for i in range(0, len(stream), step):
            got.extend(framer.feed(stream[i : i + step]))
        assert got == msgs and framer.buffered == 0


def test_framer_errors_are_sticky_and_keep_earlier_messages() -> None:
    ka = encode_message(Keepalive(), WireContext())
    framer = MessageFramer()
    assert framer.feed(ka + b"\x00" * 19) == [ka]
    with pytest.raises(NotificationError):
        framer.feed(b"")
    big = b"\xff" * 16 + (5000).to_bytes(2, "big") + b"\x02"
    with pytest.raises(NotificationError) as info:
        MessageFramer().feed(big)
    assert info.value.data == (5000).to_bytes(2, "big")
    framer = MessageFramer()
    framer.max_len = 65535  # after RFC 8654 negotiation
    assert framer.feed(big) == [] and framer.buffered == 19


def test_host_bits_are_masked_but_received_bytes_kept() -> None:
    # RFC 4271 section 4.3: trailing bits are irrelevant. Prefix keys are canonical; the message is not.
    ctx = WireContext()
    raw = b"\xff" * 16 + b"\x00\x1a\x02" + b"\x00\x03" + b"\x0c\x0a\x11" + b"\x00\x00"
    msg = decode_message(raw, ctx)
    assert isinstance(msg, Update) and msg.withdrawn == (Prefix.parse("10.16.0.0/12"),)
    assert encode_message(msg, ctx) == raw
    changed = Update(withdrawn=msg.withdrawn)  # rebuilt: canonical bytes
    assert encode_message(changed, ctx) == raw[:21] + b"\x0c\x0a\x10" + b"\x00\x00"
