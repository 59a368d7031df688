"""Hypothesis strategies for every message the codec speaks, restricted to what the wire can carry
losslessly (host bits zero, segments of 1-255 ASNs, unknown attribute flags with the Optional bit)."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from hypothesis import strategies as st

from pybgp.wire.aspath import needs_as4_path
from pybgp.wire.attributes import (
    ATTRIBUTE_SPECS,
    Aggregator,
    AsPathSegment,
    LargeCommunity,
    MpReach,
    MpUnreach,
    PathAttributes,
    RawAttribute,
)
from pybgp.wire.capabilities import (
    AddPath,
    AddPathFamily,
    Capability,
    EnhancedRouteRefreshCap,
    ExtendedMessage,
    ExtendedNextHop,
    ExtendedNextHopFamily,
    FourOctetAs,
    Fqdn,
    GracefulRestart,
    GracefulRestartFamily,
    LongLivedGracefulRestart,
    LongLivedGracefulRestartFamily,
    Multiprotocol,
    Role,
    RouteRefreshCap,
    UnknownCapability,
)
from pybgp.wire.constants import AS_TRANS, Afi, AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Keepalive, Message, Notification, Open, RouteRefresh, Update
from pybgp.wire.nlri import Prefix

U8 = st.integers(0, 0xFF)
U16 = st.integers(0, 0xFFFF)
U32 = st.integers(0, 0xFFFFFFFF)
IPV4 = st.builds(ipaddress.IPv4Address, U32)
IPV6 = st.builds(ipaddress.IPv6Address, st.integers(0, (1 << 128) - 1))
ADDPATH_ALL = frozenset({(1, 1), (2, 1)})


@st.composite
def prefixes(draw: st.DrawFn, afi: Afi, addpath: bool) -> Prefix:
    bits = 32 if afi == Afi.IPV4 else 128
    length = draw(st.integers(0, bits))
    network = draw(st.integers(0, (1 << bits) - 1)) >> (bits - length) << (bits - length) if length else 0
    return Prefix(afi, network, length, draw(U32) if addpath else 0)


def prefix_tuples(afi: Afi, addpath: bool, max_size: int = 8) -> st.SearchStrategy[tuple[Prefix, ...]]:
    return st.lists(prefixes(afi, addpath), max_size=max_size).map(tuple)


def as_paths(as4: bool) -> st.SearchStrategy[tuple[AsPathSegment, ...]]:
    types = list(AsPathSegmentType) if as4 else [AsPathSegmentType.AS_SEQUENCE, AsPathSegmentType.AS_SET]
    segment = st.builds(
        AsPathSegment, st.sampled_from(types), st.lists(U32, min_size=1, max_size=6).map(tuple)
    )
    return st.lists(segment, max_size=4).map(tuple)


_KNOWN = set(ATTRIBUTE_SPECS) | {14, 15}


@st.composite
def unknown_attributes(draw: st.DrawFn) -> tuple[RawAttribute, ...]:
    codes = draw(st.lists(st.integers(0, 255).filter(lambda c: c not in _KNOWN), unique=True, max_size=3))
    out = []
    for code in sorted(codes):
        flags = draw(st.sampled_from([0x80, 0xC0, 0xE0, 0x90, 0xD0, 0xF0]))
        value = draw(st.binary(max_size=300 if flags & 0x10 else 40))
        out.append(RawAttribute(flags, code, value))
    return tuple(out)


@st.composite
def path_attributes(draw: st.DrawFn, as4: bool, mandatory: bool) -> PathAttributes:
    optional = st.one_of(st.none(), U32)
    return PathAttributes(
        origin=draw(
            st.sampled_from(list(Origin))
            if mandatory
            else st.one_of(st.none(), st.sampled_from(list(Origin)))
        ),
        as_path=draw(as_paths(as4)),
        next_hop=draw(IPV4) if mandatory else draw(st.one_of(st.none(), IPV4)),
        med=draw(optional),
        local_pref=draw(optional),
        atomic_aggregate=draw(st.booleans()),
        aggregator=draw(st.one_of(st.none(), st.builds(Aggregator, U32, IPV4))),
        communities=tuple(draw(st.lists(U32, max_size=5))),
        extended_communities=tuple(draw(st.lists(st.integers(0, (1 << 64) - 1), max_size=3))),
        large_communities=tuple(draw(st.lists(st.builds(LargeCommunity, U32, U32, U32), max_size=3))),
        originator_id=draw(st.one_of(st.none(), IPV4)),
        cluster_list=tuple(draw(st.lists(IPV4, max_size=3))),
        otc=draw(optional),
        unknown=draw(unknown_attributes()),
    )


@st.composite
def mp_reach(draw: st.DrawFn, addpath: bool) -> MpReach:
    kind = draw(st.sampled_from(["v4", "v6", "v6ll", "opaque"]))
    if kind == "opaque":
        afi, safi = draw(st.sampled_from([(1, 128), (25, 70), (1, 133), (2, 4), (16388, 71)]))
        return MpReach(
            afi=afi,
            safi=safi,
            raw_next_hop=draw(st.binary(max_size=24)),
            raw_nlri=draw(st.binary(max_size=60)),
        )
    afi = Afi.IPV4 if kind == "v4" else Afi.IPV6
    hops = (draw(IPV4),) if kind == "v4" else (draw(IPV6),) if kind == "v6" else (draw(IPV6), draw(IPV6))
    return MpReach(afi=afi, safi=1, next_hops=hops, nlri=draw(prefix_tuples(afi, addpath)), reserved=draw(U8))


@st.composite
def mp_unreach(draw: st.DrawFn, addpath: bool) -> MpUnreach:
    if draw(st.booleans()):
        afi, safi = draw(st.sampled_from([(1, 128), (25, 70), (2, 133)]))
        return MpUnreach(afi=afi, safi=safi, raw_nlri=draw(st.binary(max_size=40)))
    afi = draw(st.sampled_from([Afi.IPV4, Afi.IPV6]))
    return MpUnreach(afi=afi, safi=1, nlri=draw(prefix_tuples(afi, addpath)))


@st.composite
def updates(draw: st.DrawFn, ctx: WireContext) -> Update:
    addpath = bool(ctx.addpath_tx)
    nlri = draw(prefix_tuples(Afi.IPV4, addpath))
    reach = draw(st.one_of(st.none(), mp_reach(addpath)))
    unreach = draw(st.one_of(st.none(), mp_unreach(addpath)))
    reach_nlri = reach is not None and bool(reach.nlri or reach.raw_nlri)
    mandatory = bool(nlri) or reach_nlri
    attrs = draw(path_attributes(ctx.as4, mandatory)) if mandatory or draw(st.booleans()) else None
    agg = attrs.aggregator if attrs is not None and not ctx.as4 else None
    # RFC 6793 section 4.2.3: an AGGREGATOR naming a real 2-octet AS tells an OLD-peer receiver to
    # ignore AS4_PATH, so such a set cannot survive a 2-octet session; a NEW aggregator can.
    stale = agg is not None and agg.asn <= 0xFFFF and agg.asn != AS_TRANS
    if attrs is not None and agg is not None and stale and needs_as4_path(attrs.as_path):
        attrs = replace(attrs, aggregator=Aggregator(agg.asn + 0x10000, agg.address))
    if attrs == PathAttributes():
        attrs = None  # an empty set encodes to nothing, which decodes as "no attributes"
    return Update(
        withdrawn=draw(prefix_tuples(Afi.IPV4, addpath)),
        attributes=attrs,
        nlri=nlri,
        mp_reach=reach,
        mp_unreach=unreach,
    )


def capabilities() -> st.SearchStrategy[Capability]:
    fam = st.tuples(U16, U8)
    return st.one_of(
        st.builds(lambda f: Multiprotocol(afi=f[0], safi=f[1]), fam),
        st.just(RouteRefreshCap()),
        st.just(EnhancedRouteRefreshCap()),
        st.just(ExtendedMessage()),
        st.builds(lambda a: FourOctetAs(asn=a), U32),
        st.builds(
            lambda r, n, t, fs: GracefulRestart(
                restart_state=r,
                notification=n,
                restart_time=t,
                families=tuple(
                    GracefulRestartFamily(afi=a, safi=s, forwarding_preserved=p) for a, s, p in fs
                ),
            ),
            st.booleans(),
            st.booleans(),
            st.integers(0, 4095),
            st.lists(st.tuples(U16, U8, st.booleans()), max_size=3),
        ),
        st.builds(
            lambda fs: LongLivedGracefulRestart(
                families=tuple(
                    LongLivedGracefulRestartFamily(afi=a, safi=s, forwarding_preserved=p, stale_time=t)
                    for a, s, p, t in fs
                )
            ),
            st.lists(st.tuples(U16, U8, st.booleans(), st.integers(0, 0xFFFFFF)), max_size=3),
        ),
        st.builds(
            lambda fs: AddPath(
                families=tuple(AddPathFamily(afi=a, safi=s, send_receive=m) for a, s, m in fs)
            ),
            st.lists(st.tuples(U16, U8, U8), min_size=1, max_size=3),
        ),
        st.builds(
            lambda fs: ExtendedNextHop(
                families=tuple(ExtendedNextHopFamily(afi=a, safi=s, nexthop_afi=n) for a, s, n in fs)
            ),
            st.lists(st.tuples(U16, U16, U16), min_size=1, max_size=3),
        ),
        st.builds(lambda h, d: Fqdn(hostname=h, domain=d), st.text(max_size=20), st.text(max_size=20)),
        st.builds(lambda r: Role(role=r), U8),
        st.builds(
            lambda c, v: UnknownCapability(code=c, value=v),
            st.sampled_from([3, 4, 8, 66, 128, 131, 200, 255]),
            st.binary(max_size=30),
        ),
    )


def opens() -> st.SearchStrategy[Open]:
    return st.builds(
        lambda a, h, i, caps, raw: Open(
            my_as=a, hold_time=h, bgp_id=i, capabilities=tuple(caps), raw_optional_parameters=tuple(raw)
        ),
        U16,
        U16,
        IPV4,
        st.lists(capabilities(), max_size=8),
        st.lists(st.tuples(st.integers(0, 254).filter(lambda t: t != 2), st.binary(max_size=10)), max_size=2),
    )


def messages(ctx: WireContext) -> st.SearchStrategy[Message]:
    return st.one_of(
        updates(ctx),
        opens(),
        st.builds(lambda c, s, d: Notification(code=c, subcode=s, data=d), U8, U8, st.binary(max_size=64)),
        st.just(Keepalive()),
        st.builds(lambda a, s, t: RouteRefresh(afi=a, safi=s, subtype=t), U16, U8, U8),
    )
