"""Review of the watcher's kernel-side notification filter (`route_protocol_filter`): run the classic
BPF program it builds, instruction by instruction as the kernel would, over netlink messages of
every kind the watcher subscribes to. Only route notifications of the ignored protocols may be
dropped; links, addresses, every other route (table 119 protocol 30 for origination, other
protocols in our table for reconcile) and anything unexpected must pass."""

from __future__ import annotations

import socket
import struct

import pytest

from pybgp.fib.netlink_socket import drop_route_protocols, route_protocol_filter

RTM_NEWLINK, RTM_DELLINK, RTM_NEWADDR, RTM_DELADDR = 16, 17, 20, 21
RTM_NEWROUTE, RTM_DELROUTE, RTM_GETROUTE = 24, 25, 26
NLMSG_ERROR, NLMSG_DONE = 2, 3
ACCEPT = 0xFFFFFFFF


def run_bpf(prog: list[tuple[int, int, int, int]], packet: bytes) -> int:
    """A classic BPF interpreter for the three opcodes the filter uses (and nothing else: any other
    opcode fails the test). A load past the end returns 0, i.e. drops, as in the kernel."""
    pc, acc = 0, 0
    for _ in range(len(prog) + 1):
        code, jt, jf, k = prog[pc]
        jt, jf = jt & 0xFF, jf & 0xFF  # one octet each in `struct sock_filter`
        if code == 0x30:  # BPF_LD | BPF_B | BPF_ABS
            if k >= len(packet):
                return 0
            acc = packet[k]
            pc += 1
        elif code == 0x15:  # BPF_JMP | BPF_JEQ | BPF_K
            pc += 1 + (jt if acc == k else jf)
        elif code == 0x06:  # BPF_RET | BPF_K
            return k
        else:
            raise AssertionError(f"unexpected opcode {code:#x}")
        assert 0 <= pc < len(prog), "jump out of the program"
    raise AssertionError("no return")


def message(mtype: int, body: bytes) -> bytes:
    """One netlink message, host-endian header as the kernel sends it."""
    return struct.pack("=IHHII", 16 + len(body), mtype, 0, 0, 0) + body


def route(mtype: int, protocol: int, table: int = 119, family: int = socket.AF_INET) -> bytes:
    rtmsg = struct.pack("=BBBBBBBBI", family, 24, 0, 0, table if table < 256 else 252, protocol, 0, 1, 0)
    return message(mtype, rtmsg + struct.pack("=HHI", 8, 15, table))  # RTA_TABLE


@pytest.mark.parametrize("ignored", [{186}, {186, 12}, {0, 186, 255}, set(range(20))])
def test_filter_drops_only_route_events_of_ignored_protocols(ignored: set[int]) -> None:
    prog = route_protocol_filter(ignored)
    assert len(prog) <= 4096  # BPF_MAXINSNS
    for protocol in range(256):
        for mtype in (RTM_NEWROUTE, RTM_DELROUTE):
            for family in (socket.AF_INET, socket.AF_INET6):
                for table in (119, 254, 1000):
                    verdict = run_bpf(prog, route(mtype, protocol, table, family))
                    assert verdict == (0 if protocol in ignored else ACCEPT), (protocol, mtype, family, table)
    others = [
        message(RTM_NEWLINK, bytes(16)), message(RTM_DELLINK, bytes(16)),
        message(RTM_NEWADDR, bytes(8)), message(RTM_DELADDR, bytes(8)),
        message(NLMSG_ERROR, bytes(20)), message(NLMSG_DONE, bytes(4)),
        # a GETROUTE or an unknown type whose octet 21 happens to hold an ignored protocol
        message(RTM_GETROUTE, bytes(5) + bytes((min(ignored),)) + bytes(6)),
        message(RTM_NEWROUTE + 0x100, bytes(5) + bytes((min(ignored),)) + bytes(6)),
        message(RTM_NEWROUTE + 0x1000, bytes(5) + bytes((min(ignored),)) + bytes(6)),
    ]
    for packet in others:
        assert run_bpf(prog, packet) == ACCEPT, packet[:6]


def test_filter_keeps_a_route_event_too_short_to_judge_out_of_reach() -> None:
    """A route message always carries its rtmsg; the program reads octet 21 only for those, so a
    link or address event shorter than that is never dropped by a load past its end."""
    prog = route_protocol_filter({186})
    assert run_bpf(prog, message(RTM_NEWLINK, b"")) == ACCEPT
    assert run_bpf(prog, message(RTM_NEWADDR, b"")) == ACCEPT


def test_too_many_protocols_for_one_octet_jumps_get_no_filter() -> None:
    """Jump offsets are one octet: past 251 protocols the program's jumps would wrap and drop link
    and address events. No filter then (the watcher's header check still skips those routes)."""
    prog = route_protocol_filter(set(range(251)))
    assert run_bpf(prog, message(RTM_NEWLINK, bytes(16))) == ACCEPT
    assert run_bpf(prog, route(RTM_NEWROUTE, 250)) == 0 and run_bpf(prog, route(RTM_NEWROUTE, 251)) == ACCEPT
    with pytest.raises(ValueError):
        route_protocol_filter(set(range(252)))
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        assert drop_route_protocols(sock, range(256)) is False
        assert drop_route_protocols(sock, [186] * 300) is True  # duplicates count once
    finally:
        sock.close()


def test_no_protocol_no_filter() -> None:
    """Nothing (valid) to ignore: no filter is attached, the header check alone applies."""
    sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
    try:
        assert drop_route_protocols(sock, []) is False
        assert drop_route_protocols(sock, [300, -1]) is False
        assert drop_route_protocols(sock, [186]) is True
    finally:
        sock.close()
