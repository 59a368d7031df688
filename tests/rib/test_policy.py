"""Policies from dicts: prefix lists, matches, actions, RFC 8212 defaults, and the TARGET server."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybgp.rib.policy import (
    Policy,
    PolicyContext,
    PolicyError,
    PrefixListEntry,
    default_policy,
    parse_community,
)
from pybgp.rib.route import AttributeInterner, Path, PeerInfo, Source
from pybgp.wire.attributes import AsPathSegment, LargeCommunity, PathAttributes
from pybgp.wire.constants import AsPathSegmentType, Origin
from pybgp.wire.nlri import Prefix

IP = ipaddress.IPv4Address
SEQ = AsPathSegmentType.AS_SEQUENCE
TOR1 = PeerInfo(name="tor1", address=IP("10.69.0.65"), asn=64600, local_as=64600,
                router_id=IP("10.69.0.65"), local_address=IP("10.69.0.70"),
                subnet=ipaddress.ip_network("10.69.0.64/26"), interface="eth0")
EBGP = PeerInfo(name="lb", address=IP("127.0.0.2"), asn=64698, local_as=64699, router_id=IP("1.1.1.1"))


def bgp_path(peer: PeerInfo = TOR1, *, nh: str = "10.69.0.65", asns: tuple[int, ...] = (64599,),
             communities: tuple[int, ...] = (), lp: int | None = 100) -> Path:
    return Path(attributes=PathAttributes(origin=Origin.IGP, as_path=(AsPathSegment(SEQ, asns),),
                                          next_hop=IP(nh), local_pref=lp, communities=communities), peer=peer)


def ctx(prefix: str, neighbor: PeerInfo | None = TOR1, export: bool = False) -> PolicyContext:
    return PolicyContext(prefix=Prefix.parse(prefix), neighbor=neighbor, export=export)


def test_prefix_list_ge_le() -> None:
    exact = PrefixListEntry.parse("10.0.0.0/8")
    le = PrefixListEntry.parse("10.0.0.0/8 le 24")
    ge = PrefixListEntry.parse({"prefix": "10.0.0.0/8", "ge": 24})
    both = PrefixListEntry.parse("10.0.0.0/8 ge 16 le 24")
    p8, p16, p24, p32 = (Prefix.parse(x) for x in ("10.0.0.0/8", "10.1.0.0/16", "10.1.2.0/24", "10.1.2.3/32"))
    assert exact.matches(p8) and not exact.matches(p16)
    assert le.matches(p8) and le.matches(p24) and not le.matches(p32)
    assert not ge.matches(p16) and ge.matches(p24) and ge.matches(p32)
    assert both.matches(p16) and both.matches(p24) and not both.matches(p8) and not both.matches(p32)
    assert not le.matches(Prefix.parse("11.0.0.0/8"))
    with pytest.raises(PolicyError):
        PrefixListEntry.parse("10.0.0.0/8 le 4")
    with pytest.raises(PolicyError):
        PrefixListEntry.parse("10.0.0.1/8")


def test_communities_parse() -> None:
    assert parse_community("64698:64699") == (64698 << 16) | 64699
    assert parse_community("NO_EXPORT") == 0xFFFFFF01
    for bad in ("1", "70000:1", "a:b"):
        with pytest.raises(PolicyError):
            parse_community(bad)


def test_rfc8212_defaults() -> None:
    p = bgp_path()
    assert default_policy(TOR1).apply(p, ctx("10.1.0.0/16")) is p
    assert default_policy(EBGP).apply(bgp_path(EBGP), ctx("10.1.0.0/16", EBGP)) is None
    assert Policy.from_dict({}).apply(p, ctx("10.1.0.0/16")) is None  # default reject


def test_matches_and_actions() -> None:
    pol = Policy.from_dict({"rules": [
        {"match": {"as_path_contains": 65000}, "action": "reject"},
        {"match": {"as_path_regex": "^64599 64597$"}, "set": {"local_pref": 50}, "action": "accept"},
        {"match": {"community": ["64698:64699"]}, "set": {"community_remove": ["64698:64699"],
                                                          "community_add": ["1:1"], "med": 7}},
        {"match": {"large_community": "64600:1:2"}, "set": {"large_community_add": ["64600:9:9"]}},
        {"match": {"neighbor": "10.69.0.65", "source": "bgp", "prefix": "10.64.0.0/14 le 32"},
         "set": {"local_pref": 300}},
    ], "default": "reject"})
    i = AttributeInterner()
    assert pol.apply(bgp_path(asns=(64599, 65000)), ctx("10.1.0.0/16"), i) is None
    out = pol.apply(bgp_path(asns=(64599, 64597)), ctx("10.1.0.0/16"), i)
    assert out is not None and out.attributes.local_pref == 50
    out = pol.apply(bgp_path(communities=(parse_community("64698:64699"),)), ctx("10.1.0.0/16"), i)
    assert out is not None and out.attributes.communities == (65537,) and out.attributes.med == 7
    lc = Path(attributes=PathAttributes(large_communities=(LargeCommunity(64600, 1, 2),)), peer=TOR1)
    out = pol.apply(lc, ctx("10.1.0.0/16"), i)
    assert out is not None and LargeCommunity(64600, 9, 9) in out.attributes.large_communities
    out = pol.apply(bgp_path(), ctx("10.65.1.0/24"), i)
    assert out is not None and out.attributes.local_pref == 300
    assert pol.apply(bgp_path(), ctx("10.1.0.0/16"), i) is None  # nothing matched: default reject


def test_continue_applies_then_goes_on() -> None:
    pol = Policy.from_dict({"rules": [
        {"set": {"community_add": "1:2"}, "action": "continue"},
        {"match": {"community": "1:2"}, "set": {"local_pref": 42}, "action": "accept"},
    ]})
    out = pol.apply(bgp_path(), ctx("10.1.0.0/16"))
    assert out is not None and out.attributes.local_pref == 42 and out.attributes.communities == (65538,)


def test_interning_and_cache_share_rewritten_attributes() -> None:
    pol = Policy.from_dict({"rules": [{"set": {"local_pref": 200}}]})
    i = AttributeInterner()
    base = bgp_path()
    outs = [pol.apply(base, ctx(f"10.{n}.0.0/16"), i) for n in range(50)]
    assert all(o is not None for o in outs)
    assert len({id(o.attributes) for o in outs if o is not None}) == 1


def test_next_hop_actions() -> None:
    def nh(action: str, path_nh: str, neighbor: PeerInfo = TOR1) -> str:
        pol = Policy.from_dict({"rules": [{"set": {"next_hop": action}}]})
        out = pol.apply(bgp_path(nh=path_nh), ctx("10.1.0.0/16", neighbor))
        assert out is not None
        return str(out.next_hop)
    assert nh("peer", "10.69.0.99") == "10.69.0.65"
    assert nh("self", "10.69.0.99") == "10.69.0.70"
    assert nh("192.0.2.1", "10.69.0.99") == "192.0.2.1"
    assert nh("unchanged", "10.69.0.99") == "10.69.0.99"
    # TARGET rule 4: a rack-mate in ToR1's /26 keeps its next hop; anything else goes via ToR1.
    assert nh("peer-unless-same-subnet", "10.69.0.67") == "10.69.0.67"
    assert nh("peer-unless-same-subnet", "10.69.1.5") == "10.69.0.65"


def test_bad_config_names_the_fault() -> None:
    with pytest.raises(PolicyError, match="unknown keys"):
        Policy.from_dict({"rules": [{"match": {"prefx": "10.0.0.0/8"}}]})
    with pytest.raises(PolicyError, match="as_path_regex"):
        Policy.from_dict({"rules": [{"match": {"as_path_regex": "("}}]})
    with pytest.raises(PolicyError):
        Policy.from_dict({"rules": [{"action": "maybe"}]})
    with pytest.raises(PolicyError):
        Policy.from_dict({"rules": [{"set": {"next_hop": "nowhere"}}]})
    with pytest.raises(PolicyError):
        Policy.from_dict({"default": "continue"})


# --- The TARGET server, expressed as policies ----------------------------------------------------

LB_COMMUNITY = "64698:64699"
TOR_IMPORT = {"rules": [{"name": "rule 4", "set": {"next_hop": "peer-unless-same-subnet"}}],
              "default": "accept"}
TOR_EXPORT = {"rules": [{"name": "rule 3", "set": {"next_hop": "self"}}], "default": "accept"}
LB_IMPORT = {"rules": [{"name": "rule 8", "set": {"community_add": [LB_COMMUNITY]}}], "default": "accept"}
LB_EXPORT = {"default": "reject"}
KERNEL_EXPORT = {"rules": [
    {"name": "own /32", "match": {"source": "interface"}, "action": "reject"},
    {"name": "pod routes", "match": {"kernel_table": 119}, "action": "reject"},
    {"name": "LB addresses", "match": {"community": LB_COMMUNITY}, "action": "reject"},
], "default": "accept"}


def test_target_server_policies() -> None:
    kernel = Policy.from_dict(KERNEL_EXPORT)
    tor_import, tor_export = Policy.from_dict(TOR_IMPORT), Policy.from_dict(TOR_EXPORT)
    lb_import, lb_export = Policy.from_dict(LB_IMPORT), Policy.from_dict(LB_EXPORT)
    own = Path(attributes=PathAttributes(origin=Origin.IGP), peer=PeerInfo(
        name="direct:node0", source=Source.INTERFACE, asn=64600, local_as=64600, interface="node0"))
    pod = Path(attributes=PathAttributes(origin=Origin.INCOMPLETE), peer=PeerInfo(
        name="kernel:119", source=Source.KERNEL, asn=64600, local_as=64600, table=119))
    lb = lb_import.apply(bgp_path(EBGP, nh="127.0.0.2", asns=(64698,)), ctx("192.0.2.10/32", EBGP))
    assert lb is not None
    default = tor_import.apply(bgp_path(nh="10.69.1.1", asns=(64599, 64597)), ctx("0.0.0.0/0"))
    rackmate = tor_import.apply(bgp_path(nh="10.69.0.67", asns=()), ctx("10.69.0.3/32"))
    assert default is not None and rackmate is not None
    # Rule 4: next hops rewritten to the ToR unless a rack-mate on the same /26.
    assert str(default.next_hop) == "10.69.0.65" and str(rackmate.next_hop) == "10.69.0.67"
    # Rule 6: kernel export.
    assert kernel.apply(own, ctx("10.69.0.3/32", None)) is None
    assert kernel.apply(pod, ctx("10.224.0.0/30", None)) is None
    assert kernel.apply(lb, ctx("192.0.2.10/32", None)) is None
    assert kernel.apply(default, ctx("0.0.0.0/0", None)) is default
    # Rules 3 and 8: everything (own /32, pods, LB) goes to the ToRs with next-hop-self; nothing to LB.
    for p in (own, pod, lb):
        out = tor_export.apply(p, ctx("10.69.0.3/32", TOR1, export=True))
        assert out is not None and str(out.next_hop) == "10.69.0.70"
        assert lb_export.apply(p, ctx("10.69.0.3/32", EBGP, export=True)) is None


_KEYS = ["rules", "default", "match", "set", "action", "prefix", "community", "next_hop", "local_pref",
         "med", "source", "as_path_regex", "as_path_length", "kernel_table", "large_community", "ge", "le",
         "as_path_prepend", "next_hop_in", "family", "neighbor"]
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 70000) | st.sampled_from(
        ["accept", "reject", "continue", "self", "10.0.0.0/8 le 24", "1:2", "kernel", "ipv4", "(", "x:y:z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(_KEYS), _json, max_size=3))
def test_from_dict_raises_only_policy_error(spec: dict[str, object]) -> None:
    """Whatever the config holds, building a policy gives a Policy or a PolicyError naming the fault."""
    try:
        pol = Policy.from_dict(spec)
    except PolicyError:
        return
    pol.apply(bgp_path(), ctx("10.1.0.0/16"))  # and a policy that builds also runs


def test_out_of_range_values_are_config_errors() -> None:
    for bad in ({"local_pref": -1}, {"med": 2**32}, {"as_path_prepend": 99}, {"local_pref": "high"}):
        with pytest.raises(PolicyError):
            Policy.from_dict({"rules": [{"set": bad}]})
