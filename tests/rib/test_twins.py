"""Next-hop twins: the two ToRs' copies of a route keep one attribute set between them (`LocRib._twin`).

The copies come off the wire as the codec decodes them (one set per UPDATE, the second ToR's built
from the first's values), through the TARGET server's RIB; the twin must change nothing anyone can
observe but memory: the next hop of every path, the kernel's nexthop set, what a reflector sends on.
"""

from __future__ import annotations

import ipaddress

import pytest

from pybgp.rib.manager import Rib
from pybgp.rib.policy import Policy
from pybgp.rib.route import PeerInfo
from pybgp.wire.attributes import AsPathSegment, IPAddress, PathAttributes
from pybgp.wire.constants import AsPathSegmentType, Origin
from pybgp.wire.context import WireContext
from pybgp.wire.messages import Update, decode_message
from pybgp.wire.nlri import Prefix
from pybgp.wire.packing import encode_updates

IP = ipaddress.IPv4Address
SEQ = AsPathSegmentType.AS_SEQUENCE
IBGP = WireContext(ibgp=True)
V4 = (1, 1)
PREFIXES = [Prefix.parse(f"48.0.{i}.0/24") for i in range(40)]
TOR_ADDRESS = {1: IP("10.69.0.65"), 2: IP("10.69.0.129")}


def tor(n: int, router_id: str | None = None) -> PeerInfo:
    local, net = ("10.69.0.67", "10.69.0.64/26") if n == 1 else ("10.69.0.131", "10.69.0.128/26")
    return PeerInfo(name=f"tor{n}", address=TOR_ADDRESS[n], asn=64600, local_as=64600,
                    router_id=IP(router_id) if router_id else TOR_ADDRESS[n], local_address=IP(local),
                    subnet=ipaddress.ip_network(net), interface=f"eth{n - 1}")


def feed(n: int, prefixes: list[Prefix] = PREFIXES, med_base: int = 1) -> list[Update]:
    """What feed (c)'s BIRD ToR `n` sends: one prefix per UPDATE, MED = index, its own address as
    NEXT_HOP (next-hop-self, inside its /26, so rule 4 keeps it), decoded by the codec."""
    out: list[Update] = []
    for i, prefix in enumerate(prefixes):
        attrs = PathAttributes(origin=Origin.IGP, as_path=(AsPathSegment(SEQ, (65010,)),),
                               next_hop=TOR_ADDRESS[n], med=med_base + i, local_pref=100)
        for raw in encode_updates(IBGP, attributes=attrs, announced=[prefix]):
            msg = decode_message(raw, IBGP)
            assert isinstance(msg, Update)
            out.append(msg)
    return out


def server(import_table: bool) -> Rib:
    rib = Rib(local_as=64600, router_id=IP("10.69.0.3"))
    rule4 = Policy.from_dict({"rules": [{"set": {"next_hop": "peer-unless-same-subnet"}}],
                              "default": "accept"})
    for n in (1, 2):
        rib.add_neighbor(f"tor{n}", import_policy=rule4, import_table=import_table)
        rib.neighbor_up(f"tor{n}", tor(n), IBGP, [V4], 0.0)
    rib.sync_step(0.0)
    return rib


def hops(rib: Rib, prefix: Prefix) -> list[IPAddress | None]:
    """The next hops of the prefix's multipath set, in address order."""
    return sorted((p.next_hop for p in rib.loc.multipath(prefix)), key=lambda hop: int(hop) if hop else 0)


@pytest.mark.parametrize("import_table", [True, False])
def test_both_tors_share_one_set_and_keep_their_next_hops(import_table: bool) -> None:
    rib = server(import_table)
    for n in (1, 2):
        for update in feed(n):
            rib.receive(f"tor{n}", update, 1.0)
    sets = set()
    for prefix in PREFIXES:
        first, second = rib.loc.candidates(prefix)
        assert first.attributes is second.attributes  # one set for both ToRs' copies
        sets.add(id(first.attributes))
        assert hops(rib, prefix) == [TOR_ADDRESS[1], TOR_ADDRESS[2]]
        assert {p.peer.name: p.next_hop for p in (first, second)} == {"tor1": TOR_ADDRESS[1],
                                                                        "tor2": TOR_ADDRESS[2]}
    assert len(sets) == len(PREFIXES)
    if import_table:  # the as-received view keeps ToR2's own set, NEXT_HOP included
        adj = rib.neighbors["tor2"].adj_in
        assert adj is not None and {p.attributes.next_hop for p in adj.pre.values()} == {TOR_ADDRESS[2]}
    # What `show rib-in` lists (the accepted paths): ToR2's next hop on each.
    assert {p.next_hop for p in rib.accepted("tor2").values()} == {TOR_ADDRESS[2]}

    # ToR1 goes down: ToR2's path stays with its own next hop (the set it holds came from ToR1).
    changes = rib.neighbor_down("tor1", 2.0)
    assert len(changes) == len(PREFIXES)
    assert all([p.next_hop for p in c.multipath] == [TOR_ADDRESS[2]] for c in changes)
    # ToR1 comes back and sends the same table: ECMP over both again.
    rib.neighbor_up("tor1", tor(1), IBGP, [V4], 3.0)
    for update in feed(1):
        rib.receive("tor1", update, 3.0)
    assert all(hops(rib, p) == [TOR_ADDRESS[1], TOR_ADDRESS[2]] for p in PREFIXES)
    # ToR2 lowers one route's MED: no longer a twin, its own next hop, and the best path (both come
    # from neighbor AS 65010, so MED compares).
    changed = feed(2, PREFIXES[:1], med_base=0)[0]
    rib.receive("tor2", changed, 4.0)
    candidates = {p.peer.name: p for p in rib.loc.candidates(PREFIXES[0])}
    assert candidates["tor2"].next_hop == TOR_ADDRESS[2] and candidates["tor2"].attributes.med == 0
    assert candidates["tor1"].next_hop == TOR_ADDRESS[1]
    assert rib.loc.best(PREFIXES[0]) == candidates["tor2"]  # lower MED, same neighbor AS
    # ToR1 withdraws everything: ToR2's paths stay, each with ToR2's next hop.
    rib.receive("tor1", Update(withdrawn=tuple(PREFIXES)), 5.0)
    assert all(hops(rib, p) == [TOR_ADDRESS[2]] for p in PREFIXES)


def test_a_reflector_sends_the_twins_own_next_hop() -> None:
    """A route reflector passes NEXT_HOP on unchanged (RFC 4456 section 10): when the best path is a
    twin, the client must get that path's own NEXT_HOP, not the one in the set it borrowed."""
    rib = Rib(local_as=64600, router_id=IP("10.69.0.3"))
    client = PeerInfo(name="client", address=IP("10.69.0.5"), asn=64600, local_as=64600,
                      router_id=IP("10.69.0.5"), rr_client=True, local_address=IP("10.69.0.3"))
    for n in (1, 2):
        rib.add_neighbor(f"tor{n}", import_policy=Policy.accept_all())
    rib.add_neighbor("client", import_policy=Policy.accept_all(), export_policy=Policy.accept_all())
    # ToR2 has the lower router ID: its path (the second to arrive, the twin) is the best.
    rib.neighbor_up("tor1", tor(1, "10.255.0.9"), IBGP, [V4], 0.0)
    rib.neighbor_up("tor2", tor(2, "10.255.0.1"), IBGP, [V4], 0.0)
    rib.neighbor_up("client", client, IBGP, [V4], 0.0)
    rib.sync_step(0.0)
    rib.output(0.5, force=True)  # End-of-RIBs
    for n in (1, 2):
        for update in feed(n, PREFIXES[:3]):
            rib.receive(f"tor{n}", update, 1.0)
    for prefix in PREFIXES[:3]:
        best = rib.loc.best(prefix)
        assert best is not None and best.peer.name == "tor2" and best.next_hops  # the twin
    sent: dict[Prefix, PathAttributes] = {}
    for raw in rib.output(2.0, force=True).get("client", []):
        msg = decode_message(raw, IBGP)
        assert isinstance(msg, Update)
        for prefix in msg.nlri:
            assert isinstance(prefix, Prefix) and msg.attributes is not None
            sent[prefix] = msg.attributes
    assert set(sent) == set(PREFIXES[:3])
    for i, prefix in enumerate(PREFIXES[:3]):
        attrs = sent[prefix]
        assert attrs.next_hop == TOR_ADDRESS[2] and attrs.med == 1 + i
        assert attrs.originator_id == IP("10.255.0.1")  # ToR2's router ID: RFC 4456 ORIGINATOR_ID
