"""OPEN validation subcodes and capability negotiation (RFC 4271 6.2, RFC 5492, RFC 6793, RFC 7911,
RFC 8654, RFC 9234), on Open objects without any session."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from pybgp.fsm.config import IPV4_UNICAST, IPV6_UNICAST, PeerSettings
from pybgp.fsm.negotiate import AS_TRANS, build_open, negotiate, validate_open
from pybgp.wire.capabilities import AddPath, AddPathFamily, FourOctetAs, GracefulRestart, Multiprotocol, Role
from pybgp.wire.constants import BgpRole, CapabilityCode, NotificationCode, OpenSubcode
from pybgp.wire.errors import NotificationError
from pybgp.wire.messages import Open

MakeSettings = Callable[..., PeerSettings]


def remote_open(**kw: Any) -> Open:
    base = Open(
        my_as=65002,
        hold_time=90,
        bgp_id=ipaddress.IPv4Address("10.0.0.2"),
        capabilities=(Multiprotocol(afi=1, safi=1), FourOctetAs(asn=65002)),
    )
    return replace(base, **kw)


def subcode_of(open_msg: Open, s: PeerSettings) -> int:
    with pytest.raises(NotificationError) as info:
        validate_open(open_msg, s)
    assert info.value.code == NotificationCode.OPEN_MESSAGE_ERROR
    return info.value.subcode


def test_valid_open_passes(make_settings: MakeSettings) -> None:
    validate_open(remote_open(), make_settings())


def test_unsupported_version_carries_version_4(make_settings: MakeSettings) -> None:
    with pytest.raises(NotificationError) as info:
        validate_open(remote_open(version=3), make_settings())
    assert info.value.subcode == OpenSubcode.UNSUPPORTED_VERSION_NUMBER
    assert info.value.data == b"\x00\x04"


def test_bad_peer_as(make_settings: MakeSettings) -> None:
    assert subcode_of(remote_open(), make_settings(remote_as=65099)) == OpenSubcode.BAD_PEER_AS
    # The 4-octet capability is what counts, not the 2-octet field.
    four = remote_open(my_as=AS_TRANS, capabilities=(FourOctetAs(asn=4200000001),))
    validate_open(four, make_settings(remote_as=4200000001))
    assert subcode_of(four, make_settings()) == OpenSubcode.BAD_PEER_AS
    liar = remote_open(my_as=65010, capabilities=(FourOctetAs(asn=4200000001),))
    assert subcode_of(liar, make_settings(remote_as=4200000001)) == OpenSubcode.BAD_PEER_AS


def test_any_as_for_dynamic_neighbors(make_settings: MakeSettings) -> None:
    validate_open(remote_open(my_as=64999, capabilities=()), make_settings(remote_as=None))


@pytest.mark.parametrize("hold", [1, 2])
def test_hold_time_one_or_two_rejected(make_settings: MakeSettings, hold: int) -> None:
    assert subcode_of(remote_open(hold_time=hold), make_settings()) == OpenSubcode.UNACCEPTABLE_HOLD_TIME


def test_hold_time_below_local_minimum(make_settings: MakeSettings) -> None:
    s = make_settings(min_hold_time=10)
    assert subcode_of(remote_open(hold_time=5), s) == OpenSubcode.UNACCEPTABLE_HOLD_TIME
    validate_open(remote_open(hold_time=0), s)  # 0 is always acceptable: no keepalives


def test_bad_bgp_identifier(make_settings: MakeSettings) -> None:
    s = make_settings()
    zero = remote_open(bgp_id=ipaddress.IPv4Address("0.0.0.0"))
    assert subcode_of(zero, s) == OpenSubcode.BAD_BGP_IDENTIFIER
    ibgp = make_settings(remote_as=65001)
    same = remote_open(my_as=65001, capabilities=(FourOctetAs(asn=65001),), bgp_id=ibgp.router_id)
    assert subcode_of(same, ibgp) == OpenSubcode.BAD_BGP_IDENTIFIER
    # RFC 6286: between different ASes an equal identifier is allowed.
    validate_open(remote_open(bgp_id=s.router_id), s)


def test_required_capability_missing(make_settings: MakeSettings) -> None:
    s = make_settings(require_capabilities=frozenset({CapabilityCode.ADD_PATH, CapabilityCode.FOUR_OCTET_AS}))
    with pytest.raises(NotificationError) as info:
        validate_open(remote_open(), s)
    assert info.value.subcode == OpenSubcode.UNSUPPORTED_CAPABILITY
    assert info.value.data == bytes([CapabilityCode.ADD_PATH, 0])


def test_role_mismatch(make_settings: MakeSettings) -> None:
    s = make_settings(role=BgpRole.CUSTOMER)
    validate_open(remote_open(capabilities=(Role(role=BgpRole.PROVIDER),)), s)
    bad = remote_open(capabilities=(Role(role=BgpRole.CUSTOMER),))
    assert subcode_of(bad, s) == OpenSubcode.ROLE_MISMATCH
    validate_open(remote_open(), s)  # no role announced: fine unless strict
    assert subcode_of(remote_open(), replace(s, strict_role=True)) == OpenSubcode.ROLE_MISMATCH


def test_build_open_four_octet_as_uses_as_trans(make_settings: MakeSettings) -> None:
    o = build_open(make_settings(local_as=4200000001))
    assert o.my_as == AS_TRANS
    assert FourOctetAs(asn=4200000001) in o.capabilities


def test_negotiation_results(make_settings: MakeSettings) -> None:
    s = make_settings(
        families=(IPV4_UNICAST, IPV6_UNICAST),
        add_path_receive=frozenset({IPV4_UNICAST}),
        add_path_send=frozenset({IPV6_UNICAST}),
        extended_message=True,
        hold_time=240,
    )
    remote = remote_open(
        hold_time=90,
        capabilities=(
            Multiprotocol(afi=1, safi=1),
            Multiprotocol(afi=2, safi=1),
            FourOctetAs(asn=65002),
            AddPath(
                families=(
                    AddPathFamily(afi=1, safi=1, send_receive=3),
                    AddPathFamily(afi=2, safi=1, send_receive=2),
                )
            ),
        ),
    )
    n = negotiate(build_open(s), remote, s)
    assert n.hold_time == 90 and n.keepalive_time == 30
    assert n.families == {IPV4_UNICAST, IPV6_UNICAST}
    assert n.context.addpath_rx == {IPV4_UNICAST}  # we receive, they send
    assert n.context.addpath_tx == frozenset()  # they do not receive IPv6 path ids
    assert n.context.as4 and not n.context.extended_message  # they did not offer it
    assert not n.route_refresh  # they did not offer it
    assert not n.ibgp and n.remote_as == 65002


def test_negotiation_hold_zero_and_defaults(make_settings: MakeSettings) -> None:
    s = make_settings(hold_time=0)
    n = negotiate(build_open(s), remote_open(capabilities=()), s)
    assert n.hold_time == 0 and n.keepalive_time == 0
    assert n.families == {IPV4_UNICAST}  # RFC 4760 8: no capability means IPv4 unicast
    assert not n.as4 and not n.context.as4


def test_graceful_restart_notification_bit_needs_both_sides(make_settings: MakeSettings) -> None:
    s = make_settings(graceful_restart_time=120)
    ours = build_open(s)
    gr = next(c for c in ours.capabilities if isinstance(c, GracefulRestart))
    assert gr.notification and gr.restart_time == 120
    with_n = remote_open(capabilities=(GracefulRestart(notification=True, restart_time=90),))
    without_n = remote_open(capabilities=(GracefulRestart(restart_time=90),))
    n = negotiate(ours, with_n, s)
    assert (
        n.graceful_notification and n.graceful_restart is not None and n.graceful_restart.restart_time == 90
    )
    assert not negotiate(ours, without_n, s).graceful_notification
    plain = make_settings(graceful_restart_time=120, graceful_restart_notification=False)
    assert not negotiate(build_open(plain), with_n, plain).graceful_notification
    assert negotiate(build_open(make_settings()), with_n, make_settings()).graceful_restart is not None
