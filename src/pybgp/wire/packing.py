"""Packing prefixes into as few UPDATE messages as fit (RFC 4271 section 4.3, RFC 4760, RFC 7911).

Owns: `encode_updates` (one attribute set, many prefixes -> full messages, split at the negotiated
maximum size) and `end_of_rib` (RFC 4724 section 2 markers). Never does: decide which prefixes share
attributes or when to send (the RIB's update builder does), or keep any state between calls.

IPv4 unicast travels in the classic Withdrawn Routes / NLRI fields with the NEXT_HOP attribute, unless
the caller gives IPv6 next hops and RFC 8950 extended next hop is negotiated for IPv4 unicast; IPv6
unicast always travels in MP_REACH_NLRI / MP_UNREACH_NLRI, which come first in the attribute list
(RFC 7606 section 5.1). Attributes are always written in canonical form (`exact=False`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace

from pybgp.wire.attributes import IPAddress, PathAttributes, encode_path_attributes
from pybgp.wire.buffer import HEADER, U16
from pybgp.wire.constants import HEADER_LEN, MARKER, Afi, AttrCode, AttrFlag, MessageType
from pybgp.wire.context import WireContext
from pybgp.wire.errors import LocalUsageError
from pybgp.wire.nlri import Prefix, encode_prefix

_MP_FLAGS = int(AttrFlag.OPTIONAL | AttrFlag.EXTENDED_LENGTH)
_MP_HEADER = 4  # flags, code, 2-octet length: MP attributes always use Extended Length here


def _update(withdrawn: bytes, attrs: bytes, nlri: bytes) -> bytes:
    length = HEADER_LEN + 4 + len(withdrawn) + len(attrs) + len(nlri)
    return (
        HEADER.pack(MARKER, length, MessageType.UPDATE)
        + U16.pack(len(withdrawn))
        + withdrawn
        + U16.pack(len(attrs))
        + attrs
        + nlri
    )


def _chunks(encoded: list[bytes], room: int) -> list[bytes]:
    """Greedy fill: consecutive runs of encoded prefixes whose total size stays within `room`."""
    if room <= 0 and encoded:
        raise LocalUsageError("the path attributes leave no room for NLRI in one message")
    out: list[bytes] = []
    run: list[bytes] = []
    size = 0
    for item in encoded:
        if size + len(item) > room:
            if not run:
                raise LocalUsageError("one prefix does not fit a message")
            out.append(b"".join(run))
            run, size = [], 0
        run.append(item)
        size += len(item)
    if run:
        out.append(b"".join(run))
    return out


def _mp_attr(code: int, value: bytes) -> bytes:
    return bytes((_MP_FLAGS, code)) + U16.pack(len(value)) + value


def _family(afi: Afi) -> bytes:
    return U16.pack(int(afi)) + b"\x01"


def encode_updates(
    ctx: WireContext,
    *,
    attributes: PathAttributes | None,
    announced: Sequence[Prefix] = (),
    withdrawn: Sequence[Prefix] = (),
    next_hops: tuple[IPAddress, ...] = (),
) -> list[bytes]:
    """Whole UPDATE messages withdrawing `withdrawn` and announcing `announced` with `attributes`.

    Withdrawals come first, in messages of their own. Path identifiers are written for the families in
    `ctx.addpath_tx`. Raises `LocalUsageError` when announcing without attributes or next hop, or when
    the attributes alone do not fit a message.
    """
    max_body = ctx.max_message_len - HEADER_LEN - 4
    out: list[bytes] = []
    by_afi: dict[Afi, list[Prefix]] = {Afi.IPV4: [], Afi.IPV6: []}
    for p in withdrawn:
        by_afi[Afi(p.afi)].append(p)
    v4 = [encode_prefix(p, addpath=(1, 1) in ctx.addpath_tx) for p in by_afi[Afi.IPV4]]
    out.extend(_update(chunk, b"", b"") for chunk in _chunks(v4, max_body))
    v6 = [encode_prefix(p, addpath=(2, 1) in ctx.addpath_tx) for p in by_afi[Afi.IPV6]]
    room = max_body - _MP_HEADER - 3
    out.extend(
        _update(b"", _mp_attr(AttrCode.MP_UNREACH_NLRI, _family(Afi.IPV6) + c), b"")
        for c in _chunks(v6, room)
    )

    if not announced:
        return out
    if attributes is None:
        raise LocalUsageError("announcing prefixes needs path attributes")
    ann: dict[Afi, list[Prefix]] = {Afi.IPV4: [], Afi.IPV6: []}
    for p in announced:
        ann[Afi(p.afi)].append(p)
    v6_hops = tuple(h for h in next_hops if isinstance(h, ipaddress.IPv6Address))
    if ann[Afi.IPV4]:
        encoded = [encode_prefix(p, addpath=(1, 1) in ctx.addpath_tx) for p in ann[Afi.IPV4]]
        if v6_hops and (1, 1) in ctx.extended_nexthop:
            out.extend(_mp_updates(ctx, attributes, Afi.IPV4, v6_hops, encoded, max_body))
        else:
            attrs = attributes
            if attrs.next_hop is None:
                v4_hops = [h for h in next_hops if isinstance(h, ipaddress.IPv4Address)]
                if not v4_hops:
                    raise LocalUsageError("IPv4 announcement without an IPv4 next hop")
                attrs = replace(attrs, next_hop=v4_hops[0], wire=None)
            attr_bytes = encode_path_attributes(attrs, ctx, exact=False)
            room = max_body - len(attr_bytes)
            out.extend(_update(b"", attr_bytes, chunk) for chunk in _chunks(encoded, room))
    if ann[Afi.IPV6]:
        if not v6_hops:
            raise LocalUsageError("IPv6 announcement without an IPv6 next hop")
        encoded = [encode_prefix(p, addpath=(2, 1) in ctx.addpath_tx) for p in ann[Afi.IPV6]]
        out.extend(_mp_updates(ctx, attributes, Afi.IPV6, v6_hops, encoded, max_body))
    return out


def _mp_updates(
    ctx: WireContext,
    attributes: PathAttributes,
    afi: Afi,
    hops: tuple[ipaddress.IPv6Address, ...],
    encoded: list[bytes],
    max_body: int,
) -> list[bytes]:
    # RFC 4760 section 3: with only MP_REACH_NLRI reachability, the NEXT_HOP attribute is not sent.
    attrs = replace(attributes, next_hop=None, wire=None) if attributes.next_hop is not None else attributes
    attr_bytes = encode_path_attributes(attrs, ctx, exact=False)
    nh = b"".join(h.packed for h in hops[:2])
    fixed = _family(afi) + bytes((len(nh),)) + nh + b"\x00"
    room = max_body - len(attr_bytes) - _MP_HEADER - len(fixed)
    return [
        _update(b"", _mp_attr(AttrCode.MP_REACH_NLRI, fixed + chunk) + attr_bytes, b"")
        for chunk in _chunks(encoded, room)
    ]


def end_of_rib(afi: int, safi: int, ctx: WireContext) -> bytes:
    """The End-of-RIB marker for a family (RFC 4724 section 2): an empty UPDATE for IPv4 unicast,
    otherwise an UPDATE holding only an empty MP_UNREACH_NLRI."""
    if (afi, safi) == (1, 1):
        return _update(b"", b"", b"")
    if not (0 <= afi <= 0xFFFF and 0 <= safi <= 255):
        raise LocalUsageError(f"AFI/SAFI out of range: {afi}/{safi}")
    value = U16.pack(afi) + bytes((safi,))
    return _update(b"", bytes((int(AttrFlag.OPTIONAL), AttrCode.MP_UNREACH_NLRI, len(value))) + value, b"")
