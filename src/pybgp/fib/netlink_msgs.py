"""Netlink route and nexthop messages: pyroute2 classes for what 0.9.7 lacks, and fast batch encoders.

Owns: the rtnetlink numbers this package uses; `nhmsg` (RTM_NEWNEXTHOP/DELNEXTHOP/GETNEXTHOP, Linux
5.3+) and `rtmsg_nh` (an `rtmsg` whose attribute map reaches RTA_NH_ID = 30), both written with
pyroute2's own message machinery; precompiled `struct` encoders producing byte-for-byte what those
classes produce (tests compare them), used on the hot path because a full table must go in at
`ip -batch` speed; and a small, total parser for route/nexthop/error messages from dumps and events.
Never does: I/O. Nothing outside `pybgp.fib` imports this module (pyroute2 stays inside fib/).

Wire layout (include/uapi/linux/rtnetlink.h, nexthop.h)::

    struct nlmsghdr { u32 len; u16 type; u16 flags; u32 seq; u32 pid; }          16 bytes
    struct rtmsg    { u8 family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags; }
    struct nhmsg    { u8 family, scope, protocol, resvd; u32 flags; }
    struct rtattr   { u16 len; u16 type; } + value, padded to 4
    struct rtnexthop{ u16 len; u8 flags; u8 hops; i32 ifindex; } + nested RTA_GATEWAY (RTA_MULTIPATH)
    struct nexthop_grp { u32 id; u8 weight (members' weight - 1); u8 resvd1; u16 resvd2; } (NHA_GROUP)
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv6Address, ip_address

from pyroute2.netlink import nlmsg
from pyroute2.netlink.rtnl.rtmsg import rtmsg

# -- numbers ----------------------------------------------------------------------------------------

NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
NLM_F_REQUEST, NLM_F_MULTI, NLM_F_ACK = 0x1, 0x2, 0x4
NLM_F_ROOT, NLM_F_MATCH = 0x100, 0x200
NLM_F_DUMP = NLM_F_ROOT | NLM_F_MATCH
NLM_F_REPLACE, NLM_F_EXCL, NLM_F_CREATE = 0x100, 0x200, 0x400
NLM_F_CAPPED, NLM_F_ACK_TLVS = 0x100, 0x200
NLMSGERR_ATTR_MSG = 1

RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR, RTM_DELADDR, RTM_GETADDR = 20, 21, 22
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
RTM_NEWNEXTHOP, RTM_DELNEXTHOP, RTM_GETNEXTHOP = 104, 105, 106

RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY = 1, 4, 5, 6
RTA_MULTIPATH, RTA_TABLE, RTA_VIA, RTA_NH_ID = 9, 15, 18, 30
NHA_ID, NHA_GROUP, NHA_GROUP_TYPE, NHA_BLACKHOLE, NHA_OIF, NHA_GATEWAY = 1, 2, 3, 4, 5, 6

RTN_UNICAST = 1
RT_SCOPE_UNIVERSE, RT_SCOPE_LINK = 0, 253
RT_TABLE_COMPAT = 252
RTNH_F_ONLINK = 4

AF_UNSPEC, AF_INET, AF_INET6 = socket.AF_UNSPEC, socket.AF_INET, socket.AF_INET6


# -- pyroute2 message classes ---------------------------------------------------------------------


class nhmsg(nlmsg):  # type: ignore[misc]
    """`struct nhmsg` and its NHA_* attributes, for RTM_{NEW,DEL,GET}NEXTHOP (missing in pyroute2 0.9.7)."""

    __slots__ = ()
    prefix = "NHA_"
    fields = (("family", "B"), ("scope", "B"), ("protocol", "B"), ("resvd", "B"), ("flags", "I"))
    nla_map = (
        ("NHA_UNSPEC", "none"),
        ("NHA_ID", "uint32"),
        ("NHA_GROUP", "cdata"),
        ("NHA_GROUP_TYPE", "uint16"),
        ("NHA_BLACKHOLE", "flag"),
        ("NHA_OIF", "uint32"),
        ("NHA_GATEWAY", "target"),
        ("NHA_ENCAP_TYPE", "uint16"),
        ("NHA_ENCAP", "cdata"),
        ("NHA_GROUPS", "flag"),
        ("NHA_MASTER", "uint32"),
        ("NHA_FDB", "flag"),
    )
    # pyroute2 caches the compiled attribute table in name-mangled class attributes; reset them so
    # this class compiles its own table instead of inheriting a parent's.
    _nlmsg_base__compiled_nla = False
    _nlmsg_base__t_nla_map = None
    _nlmsg_base__r_nla_map = None


class rtmsg_nh(rtmsg):  # type: ignore[misc]
    """`rtmsg` with the attribute map extended from RTA_EXPIRES (23) to RTA_NH_ID (30)."""

    __slots__ = ()
    nla_map = (
        *rtmsg.nla_map,
        ("RTA_PAD", "hex"),
        ("RTA_UID", "uint32"),
        ("RTA_TTL_PROPAGATE", "uint8"),
        ("RTA_IP_PROTO", "uint8"),
        ("RTA_SPORT", "be16"),
        ("RTA_DPORT", "be16"),
        ("RTA_NH_ID", "uint32"),
    )
    _nlmsg_base__compiled_nla = False
    _nlmsg_base__t_nla_map = None
    _nlmsg_base__r_nla_map = None


def unpack_group(data: bytes) -> list[tuple[int, int]]:
    """An NHA_GROUP value (array of `struct nexthop_grp`) as [(member id, weight 1..256)]."""
    usable = data[: len(data) // 8 * 8]
    return [(nh_id, weight + 1) for nh_id, weight, _r1, _r2 in _GRP.iter_unpack(usable)]


# -- fast encoders ----------------------------------------------------------------------------------

_HDR = struct.Struct("=IHHII")
_RTMSG = struct.Struct("=BBBBBBBBI")
_NHMSG = struct.Struct("=BBBBI")
_ATTR_U32 = struct.Struct("=HHI")
_ATTR_HDR = struct.Struct("=HH")
_RTNH = struct.Struct("=HBBi")
_GRP = struct.Struct("=IBBH")
_ERR = struct.Struct("=i")

ROUTE_FLAGS = NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE


def _addr_attr(kind: int, packed: bytes) -> bytes:
    return _ATTR_HDR.pack(4 + len(packed), kind) + packed  # 4 or 16 bytes: already aligned


def _table_field(table: int) -> int:
    return RT_TABLE_COMPAT if table > 255 else table


def encode_route_head(
    msg_type: int, flags: int, seq: int, family: int, dst: bytes, dst_len: int, table: int, protocol: int,
    scope: int, body_len: int,
) -> bytes:
    """Header, rtmsg, RTA_TABLE and RTA_DST of a route message followed by `body_len` bytes of attributes."""
    total = 16 + 12 + 8 + 4 + len(dst) + body_len
    return (
        _HDR.pack(total, msg_type, flags, seq, 0)
        + _RTMSG.pack(family, dst_len, 0, 0, _table_field(table), protocol, scope, RTN_UNICAST, 0)
        + _ATTR_U32.pack(8, RTA_TABLE, table)
        + _addr_attr(RTA_DST, dst)
    )


_NHID_ROUTE: dict[int, struct.Struct] = {
    AF_INET: struct.Struct("=IHHIIBBBBBBBBIHHIHH4sHHIHHI"),
    AF_INET6: struct.Struct("=IHHIIBBBBBBBBIHHIHH16sHHIHHI"),
}


def encode_route_nhid(
    seq: int, family: int, dst: bytes, dst_len: int, table: int, protocol: int, metric: int, nh_id: int
) -> bytes:
    """RTM_NEWROUTE (create|replace) pointing at nexthop object or group `nh_id`.

    The hot path of a full-table install: the whole message is one precompiled `struct` pack
    (header, rtmsg, RTA_TABLE, RTA_DST, RTA_PRIORITY, RTA_NH_ID), the same bytes as
    `encode_route_head` + attributes would give (the tests compare it with pyroute2's encoding).
    """
    fmt = _NHID_ROUTE[family]
    return fmt.pack(
        fmt.size, RTM_NEWROUTE, ROUTE_FLAGS, seq, 0,
        family, dst_len, 0, 0, _table_field(table), protocol, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0,
        8, RTA_TABLE, table,
        4 + len(dst), RTA_DST, dst,
        8, RTA_PRIORITY, metric,
        8, RTA_NH_ID, nh_id,
    )


@dataclass(frozen=True, slots=True)
class NhidRouteTemplate:
    """`encode_route_nhid` for one (family, table, protocol, metric), split so that only the seq, dst_len,
    dst and nh_id are packed per route: `pack(head, seq, middle, dst_len, tail, dst, hdr, nh_id)` with
    `struct`'s args from `args(seq, dst_len, dst, nh_id)` (8 fields instead of 25: the writer thread's
    caller encodes a million routes of a table this way, see `netlink_stream`)."""

    pack: Callable[..., bytes]
    head: bytes  # nlmsghdr len, type, flags
    middle: bytes  # nlmsghdr pid, rtmsg family
    tail: bytes  # rest of rtmsg, RTA_TABLE, RTA_DST header
    hdr: bytes  # RTA_PRIORITY, RTA_NH_ID header

    @classmethod
    def build(cls, family: int, table: int, protocol: int, metric: int) -> NhidRouteTemplate:
        width = 4 if family == AF_INET else 16
        whole = encode_route_nhid(0, family, bytes(width), 0, table, protocol, metric, 0)
        fmt = struct.Struct(f"=8sI5sB22s{width}s12sI")
        return cls(fmt.pack, whole[0:8], whole[12:17], whole[18:40], whole[40 + width : 52 + width])

    def encode(self, seq: int, dst: bytes, dst_len: int, nh_id: int) -> bytes:
        return self.pack(self.head, seq, self.middle, dst_len, self.tail, dst, self.hdr, nh_id)


def encode_route_multipath(
    seq: int, family: int, dst: bytes, dst_len: int, table: int, protocol: int, metric: int,
    hops: list[tuple[int, bytes | None]],
) -> bytes:
    """RTM_NEWROUTE (create|replace), classic nexthops: RTA_GATEWAY/RTA_OIF for one, RTA_MULTIPATH for more.

    `hops` are (ifindex, packed gateway or None). A gateway of another family than the route goes
    in RTA_VIA (RFC 5549 style IPv4-over-IPv6 nexthops).
    """
    scope = RT_SCOPE_UNIVERSE if any(gw is not None for _i, gw in hops) else RT_SCOPE_LINK
    body = _ATTR_U32.pack(8, RTA_PRIORITY, metric)
    if len(hops) == 1:
        ifindex, gw = hops[0]
        if gw is not None:
            body += _gateway_attr(family, gw)
        body += _ATTR_U32.pack(8, RTA_OIF, ifindex)
    else:
        parts = []
        for ifindex, gw in hops:
            inner = _gateway_attr(family, gw) if gw is not None else b""
            parts.append(_RTNH.pack(8 + len(inner), 0, 0, ifindex) + inner)
        nested = b"".join(parts)
        body += _ATTR_HDR.pack(4 + len(nested), RTA_MULTIPATH) + nested
    head = encode_route_head(
        RTM_NEWROUTE, ROUTE_FLAGS, seq, family, dst, dst_len, table, protocol, scope, len(body)
    )
    return head + body


def _gateway_attr(family: int, gw: bytes) -> bytes:
    if (family == AF_INET) == (len(gw) == 4):
        return _addr_attr(RTA_GATEWAY, gw)
    via = struct.pack("=H", AF_INET6 if len(gw) == 16 else AF_INET) + gw
    pad = b"\0" * (-len(via) % 4)
    return _ATTR_HDR.pack(4 + len(via), RTA_VIA) + via + pad


def encode_route_delete(seq: int, family: int, dst: bytes, dst_len: int, table: int, protocol: int) -> bytes:
    """RTM_DELROUTE for our protocol's route to dst/dst_len in `table` (any nexthops, any metric)."""
    return encode_route_head(
        RTM_DELROUTE, NLM_F_REQUEST, seq, family, dst, dst_len, table, protocol, RT_SCOPE_UNIVERSE, 0
    )


def encode_nexthop(seq: int, nh_id: int, protocol: int, ifindex: int, gateway: bytes | None) -> bytes:
    """RTM_NEWNEXTHOP (create|replace) for a single nexthop: `id N [via GW] dev IF`."""
    family = AF_INET if gateway is None or len(gateway) == 4 else AF_INET6
    body = _ATTR_U32.pack(8, NHA_ID, nh_id) + _ATTR_U32.pack(8, NHA_OIF, ifindex)
    if gateway is not None:
        body += _addr_attr(NHA_GATEWAY, gateway)
    head = _HDR.pack(16 + 8 + len(body), RTM_NEWNEXTHOP, ROUTE_FLAGS, seq, 0)
    return head + _NHMSG.pack(family, 0, protocol, 0, 0) + body  # nh_scope must be 0 (kernel sets it)


def encode_group(seq: int, group_id: int, protocol: int, members: list[int]) -> bytes:
    """RTM_NEWNEXTHOP (create|replace) for a multipath group of existing nexthop ids, equal weights."""
    grp = b"".join(_GRP.pack(member, 0, 0, 0) for member in members)
    body = _ATTR_U32.pack(8, NHA_ID, group_id) + _ATTR_HDR.pack(4 + len(grp), NHA_GROUP) + grp
    head = _HDR.pack(16 + 8 + len(body), RTM_NEWNEXTHOP, ROUTE_FLAGS, seq, 0)
    return head + _NHMSG.pack(AF_UNSPEC, 0, protocol, 0, 0) + body


def encode_nexthop_delete(seq: int, nh_id: int) -> bytes:
    """RTM_DELNEXTHOP for id `nh_id` (the kernel also drops it from groups and removes routes using it)."""
    body = _ATTR_U32.pack(8, NHA_ID, nh_id)
    head = _HDR.pack(16 + 8 + len(body), RTM_DELNEXTHOP, NLM_F_REQUEST, seq, 0)
    return head + _NHMSG.pack(0, 0, 0, 0, 0) + body


def encode_dump(
    seq: int, msg_type: int, family: int = AF_UNSPEC, *, table: int = 0, protocol: int = 0
) -> bytes:
    """A dump request (RTM_GETLINK/GETADDR/GETROUTE/GETNEXTHOP) for every object of `family`.

    For routes, a non-zero `table` / `protocol` asks the kernel to filter (honoured on sockets with
    NETLINK_GET_STRICT_CHK, Linux 4.20+; callers filter again, since older kernels dump everything).
    """
    if msg_type == RTM_GETLINK:
        payload = struct.pack("=BxHiII", family, 0, 0, 0, 0)  # struct ifinfomsg
    elif msg_type == RTM_GETNEXTHOP:
        payload = _NHMSG.pack(family, 0, 0, 0, 0)
    elif msg_type == RTM_GETROUTE:
        payload = _RTMSG.pack(family, 0, 0, 0, _table_field(table), protocol, 0, 0, 0)
        if table:
            payload += _ATTR_U32.pack(8, RTA_TABLE, table)
    else:
        payload = struct.pack("=BBBBi", family, 0, 0, 0, 0)  # struct ifaddrmsg
    return _HDR.pack(16 + len(payload), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0) + payload


def encode_noop_ack(seq: int) -> bytes:
    """An NLMSG_NOOP asking for an ack: placed last in a batch, its ack says the whole batch was processed."""
    return _HDR.pack(16, NLMSG_NOOP, NLM_F_REQUEST | NLM_F_ACK, seq, 0)


# -- parsing ------------------------------------------------------------------------------------


def iter_messages(buf: bytes | memoryview) -> list[tuple[int, int, int, memoryview]]:
    """Split a receive buffer into (type, flags, seq, whole message) tuples; a truncated tail is dropped."""
    view = memoryview(buf)
    out = []
    offset, end = 0, len(view)
    while offset + 16 <= end:
        length, msg_type, flags, seq, _pid = _HDR.unpack_from(view, offset)
        if length < 16 or offset + length > end:
            break
        out.append((msg_type, flags, seq, view[offset : offset + length]))
        offset += (length + 3) & ~3
    return out


def iter_attrs(msg: memoryview, start: int) -> dict[int, memoryview]:
    """Attributes from `start` to the end of `msg` as {type: value}; malformed tails are ignored."""
    attrs: dict[int, memoryview] = {}
    offset, end = start, len(msg)
    while offset + 4 <= end:
        length, kind = _ATTR_HDR.unpack_from(msg, offset)
        if length < 4 or offset + length > end:
            break
        attrs[kind & 0x3FFF] = msg[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    return attrs


@dataclass(frozen=True, slots=True, kw_only=True)
class NlError:
    """An NLMSG_ERROR: the errno (positive, 0 for an ack), the failed request's seq, the ext-ack text."""

    seq: int
    errno: int
    message: str


def parse_error(msg: memoryview) -> NlError | None:
    """Decode an NLMSG_ERROR (with or without NLM_F_CAPPED / extended-ack TLVs); None when too short."""
    if len(msg) < 20:
        return None
    _len, _t, flags, seq, _pid = _HDR.unpack_from(msg, 0)
    (err,) = _ERR.unpack_from(msg, 16)
    text = ""
    if flags & NLM_F_ACK_TLVS and len(msg) >= 36:
        # the original request header follows; with NLM_F_CAPPED only its 16-byte header
        (orig_len,) = struct.unpack_from("=I", msg, 20)
        tlv_start = 20 + (16 if flags & NLM_F_CAPPED else ((orig_len + 3) & ~3))
        raw = iter_attrs(msg, tlv_start).get(NLMSGERR_ATTR_MSG)
        if raw is not None:
            text = bytes(raw).split(b"\0", 1)[0].decode("utf-8", "replace")
    return NlError(seq=seq, errno=-err, message=text)


@dataclass(frozen=True, slots=True, kw_only=True)
class RawRoute:
    """A kernel route as found in a dump or an event, reduced to what pybgp compares."""

    family: int
    dst: bytes
    dst_len: int
    table: int
    protocol: int
    route_type: int
    priority: int
    nh_id: int
    hops: tuple[tuple[int, bytes | None], ...]


def parse_route(msg: memoryview) -> RawRoute | None:
    """Decode an RTM_NEWROUTE/DELROUTE body; None for anything too short to be one."""
    if len(msg) < 28:
        return None
    family, dst_len, _src, _tos, table, proto, _scope, rtype, _flags = _RTMSG.unpack_from(msg, 16)
    attrs = iter_attrs(msg, 28)
    if RTA_TABLE in attrs and len(attrs[RTA_TABLE]) >= 4:
        table = struct.unpack_from("=I", attrs[RTA_TABLE])[0]
    addr_len = 4 if family == AF_INET else 16
    dst = bytes(attrs[RTA_DST])[:addr_len] if RTA_DST in attrs else bytes(addr_len)
    priority = _u32(attrs, RTA_PRIORITY)
    nh_id = _u32(attrs, RTA_NH_ID)
    hops: list[tuple[int, bytes | None]] = []
    if RTA_MULTIPATH in attrs:
        mp = attrs[RTA_MULTIPATH]
        offset = 0
        while offset + 8 <= len(mp):
            length, _f, _h, ifindex = _RTNH.unpack_from(mp, offset)
            if length < 8 or offset + length > len(mp):
                break
            inner = iter_attrs(mp[offset : offset + length], 8)
            hops.append((ifindex, _gateway(inner)))
            offset += (length + 3) & ~3
    elif RTA_OIF in attrs and len(attrs[RTA_OIF]) >= 4:
        hops.append((struct.unpack_from("=I", attrs[RTA_OIF])[0], _gateway(attrs)))
    return RawRoute(
        family=family, dst=dst, dst_len=dst_len, table=table, protocol=proto, route_type=rtype,
        priority=priority, nh_id=nh_id, hops=tuple(hops),
    )


def _u32(attrs: dict[int, memoryview], kind: int) -> int:
    value = attrs.get(kind)
    return int(struct.unpack_from("=I", value)[0]) if value is not None and len(value) >= 4 else 0


def _gateway(attrs: dict[int, memoryview]) -> bytes | None:
    if RTA_GATEWAY in attrs:
        return bytes(attrs[RTA_GATEWAY])
    if RTA_VIA in attrs and len(attrs[RTA_VIA]) >= 6:
        return bytes(attrs[RTA_VIA][2:])
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class RawNexthop:
    """A kernel nexthop object: a single (ifindex, gateway) or a group of member ids."""

    nh_id: int
    protocol: int
    ifindex: int
    gateway: bytes | None
    group: tuple[int, ...]


def parse_nexthop(msg: memoryview) -> RawNexthop | None:
    """Decode an RTM_NEWNEXTHOP body through pyroute2's machinery (`nhmsg`); None when malformed."""
    try:
        parsed = nhmsg(bytes(msg))
        parsed.decode()
    except Exception:  # pyroute2 raises assorted errors on bad input; a bad message is skipped
        return None
    nh_id = parsed.get_attr("NHA_ID")
    if nh_id is None:
        return None
    raw_group = parsed.get_attr("NHA_GROUP")
    group = tuple(i for i, _w in unpack_group(bytes(raw_group))) if raw_group else ()
    gateway = parsed.get_attr("NHA_GATEWAY")
    return RawNexthop(
        nh_id=int(nh_id),
        protocol=int(parsed["protocol"]),
        ifindex=int(parsed.get_attr("NHA_OIF") or 0),
        gateway=ip_address(gateway).packed if gateway else None,
        group=group,
    )


def pack_address(addr: IPv4Address | IPv6Address) -> bytes:
    return addr.packed
