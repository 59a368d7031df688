"""Fast netlink encoders against pyroute2's own message classes, and parser totality on junk."""

from __future__ import annotations

import socket
import struct

from hypothesis import given
from hypothesis import strategies as st

from pybgp.fib.netlink_msgs import (
    NLM_F_ACK_TLVS,
    NLM_F_CAPPED,
    NLMSG_ERROR,
    RTM_NEWNEXTHOP,
    RTM_NEWROUTE,
    encode_group,
    encode_nexthop,
    encode_route_multipath,
    encode_route_nhid,
    iter_messages,
    nhmsg,
    parse_error,
    parse_nexthop,
    parse_route,
    rtmsg_nh,
    unpack_group,
)

FLAGS = 0x1 | 0x400 | 0x100  # REQUEST | CREATE | REPLACE


def pyroute2_bytes(msg: rtmsg_nh | nhmsg, msg_type: int, seq: int) -> bytes:
    msg["header"]["type"] = msg_type
    msg["header"]["flags"] = FLAGS
    msg["header"]["sequence_number"] = seq
    msg["header"]["pid"] = 0
    msg.encode()
    return bytes(msg.data)


def test_route_nhid_matches_pyroute2() -> None:
    msg = rtmsg_nh()
    msg["family"], msg["dst_len"], msg["table"], msg["proto"], msg["type"] = socket.AF_INET, 24, 254, 186, 1
    msg["attrs"] = [("RTA_TABLE", 254), ("RTA_DST", "10.9.3.0"), ("RTA_PRIORITY", 32), ("RTA_NH_ID", 4711)]
    ours = encode_route_nhid(9, socket.AF_INET, bytes([10, 9, 3, 0]), 24, 254, 186, 32, 4711)
    assert ours == pyroute2_bytes(msg, RTM_NEWROUTE, 9)
    back = rtmsg_nh(ours)
    back.decode()
    assert back.get_attr("RTA_NH_ID") == 4711
    parsed = parse_route(memoryview(ours))
    assert parsed is not None and parsed.nh_id == 4711 and parsed.dst_len == 24 and parsed.table == 254


def test_ipv6_route_nhid_matches_pyroute2() -> None:
    msg = rtmsg_nh()
    msg["family"], msg["dst_len"], msg["table"], msg["proto"], msg["type"] = socket.AF_INET6, 64, 254, 186, 1
    msg["attrs"] = [("RTA_TABLE", 254), ("RTA_DST", "2001:db8:ff::"), ("RTA_PRIORITY", 32), ("RTA_NH_ID", 9)]
    dst = socket.inet_pton(socket.AF_INET6, "2001:db8:ff::")
    ours = encode_route_nhid(4, socket.AF_INET6, dst, 64, 254, 186, 32, 9)
    assert ours == pyroute2_bytes(msg, RTM_NEWROUTE, 4)


def test_route_table_above_255_uses_rta_table() -> None:
    ours = encode_route_nhid(1, socket.AF_INET, bytes(4), 0, 1000, 186, 32, 5)
    parsed = parse_route(memoryview(ours))
    assert parsed is not None and parsed.table == 1000 and ours[20] == 252  # RT_TABLE_COMPAT in rtm_table


def test_route_multipath_matches_pyroute2() -> None:
    msg = rtmsg_nh()
    msg["family"], msg["dst_len"], msg["table"], msg["proto"], msg["type"] = socket.AF_INET, 16, 254, 186, 1
    msg["attrs"] = [
        ("RTA_TABLE", 254),
        ("RTA_DST", "10.8.0.0"),
        ("RTA_PRIORITY", 32),
        (
            "RTA_MULTIPATH",
            [
                {"oif": 3, "flags": 0, "hops": 0, "attrs": [("RTA_GATEWAY", "10.0.1.2")]},
                {"oif": 5, "flags": 0, "hops": 0, "attrs": [("RTA_GATEWAY", "10.0.2.2")]},
            ],
        ),
    ]
    hops = [(3, bytes([10, 0, 1, 2])), (5, bytes([10, 0, 2, 2]))]
    ours = encode_route_multipath(2, socket.AF_INET, bytes([10, 8, 0, 0]), 16, 254, 186, 32, hops)
    assert ours == pyroute2_bytes(msg, RTM_NEWROUTE, 2)
    parsed = parse_route(memoryview(ours))
    assert parsed is not None and parsed.hops == tuple(hops)


def test_nexthop_and_group_decode_with_nhmsg() -> None:
    single = encode_nexthop(3, 77, 186, 4, bytes([10, 0, 1, 2]))
    decoded = nhmsg(single)
    decoded.decode()
    assert decoded.get_attr("NHA_ID") == 77 and decoded.get_attr("NHA_OIF") == 4
    assert decoded.get_attr("NHA_GATEWAY") == "10.0.1.2" and decoded["protocol"] == 186
    raw = parse_nexthop(memoryview(single))
    assert raw is not None and raw.gateway == bytes([10, 0, 1, 2]) and raw.group == ()
    group = encode_group(4, 78, 186, [77, 79])
    raw_group = parse_nexthop(memoryview(group))
    assert raw_group is not None and raw_group.group == (77, 79) and raw_group.nh_id == 78
    assert unpack_group(struct.pack("=IBBHIBBH", 1, 0, 0, 0, 2, 4, 0, 0) + b"\x01") == [(1, 1), (2, 5)]
    msg = nhmsg()
    msg["family"], msg["protocol"] = socket.AF_INET, 186
    msg["scope"] = 0
    msg["attrs"] = [("NHA_ID", 77), ("NHA_OIF", 4), ("NHA_GATEWAY", "10.0.1.2")]
    assert pyroute2_bytes(msg, RTM_NEWNEXTHOP, 3) == single


def test_parse_error_with_capped_ext_ack() -> None:
    text = b"Nexthop has invalid gateway\0"
    tlv = struct.pack("=HH", 4 + len(text), 1) + text + b"\0" * (-len(text) % 4)
    orig = struct.pack("=IHHII", 40, RTM_NEWROUTE, FLAGS, 12, 0)
    body = struct.pack("=i", -101) + orig + tlv
    msg = struct.pack("=IHHII", 16 + len(body), NLMSG_ERROR, NLM_F_CAPPED | NLM_F_ACK_TLVS, 12, 0) + body
    err = parse_error(memoryview(msg))
    assert err is not None and err.errno == 101 and err.seq == 12
    assert err.message == "Nexthop has invalid gateway"


@given(st.binary(max_size=400))
def test_parsers_are_total_on_junk(data: bytes) -> None:
    for _t, _f, _s, msg in iter_messages(data):
        parse_route(msg)
        parse_error(msg)
        parse_nexthop(msg)
    view = memoryview(data)
    parse_route(view)
    parse_error(view)
    parse_nexthop(view)


def test_nhid_route_template_matches_the_full_encoder() -> None:
    from pybgp.fib.netlink_msgs import AF_INET, AF_INET6, NhidRouteTemplate, encode_route_nhid

    for family, width in ((AF_INET, 4), (AF_INET6, 16)):
        for table, protocol, metric in ((254, 186, 32), (1000, 12, 0), (119, 255, 0xFFFFFFFF)):
            template = NhidRouteTemplate.build(family, table, protocol, metric)
            for seq, dst_len, nh_id in ((1, 24, 7), (0xFFFFFFFF, 0, 0x0B60001), (42, width * 8, 1)):
                dst = bytes(range(1, width + 1))
                expected = encode_route_nhid(seq, family, dst, dst_len, table, protocol, metric, nh_id)
                assert template.encode(seq, dst, dst_len, nh_id) == expected
