"""Reading our routes, nexthop objects and interfaces back from the kernel (start, reconcile).

Owns: the interface name <-> index maps from a link dump, and rebuilding `NetlinkFib`'s bookkeeping from
dumps of nexthop objects and of our table's routes of our protocol: which objects are ours and usable
(adopted into a `GroupTable`), which are strays to delete once no route points at them, which routes point
at our groups, and which are classic (RTA_MULTIPATH/gateway) routes or point at objects we do not manage.
Never does: write anything to the kernel (the caller decides what to remove or rewrite).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from ipaddress import ip_address

from pybgp.fib.model import FibRoute, NextHop
from pybgp.fib.netlink_groups import GroupTable, Hops
from pybgp.fib.netlink_msgs import (
    AF_INET,
    AF_INET6,
    RTM_GETLINK,
    RTM_GETNEXTHOP,
    RTM_GETROUTE,
    iter_attrs,
    parse_nexthop,
    parse_route,
)
from pybgp.fib.netlink_socket import NetlinkChannel
from pybgp.wire.constants import Afi
from pybgp.wire.nlri import Prefix

_ANY = Prefix(Afi.IPV4, 0, 0)


def read_links(chan: NetlinkChannel) -> tuple[dict[str, int], dict[int, str]]:
    """(interface name -> index, index -> name) of every link in the socket's namespace."""
    by_name: dict[str, int] = {}
    by_index: dict[int, str] = {}
    for _kind, msg in chan.dump(RTM_GETLINK):
        if len(msg) < 32:
            continue
        ifindex = int.from_bytes(msg[20:24], "little", signed=True)
        name = iter_attrs(msg, 32).get(3)  # IFLA_IFNAME
        if name is not None:
            text = bytes(name).split(b"\0", 1)[0].decode("utf-8", "replace")
            by_name[text] = ifindex
            by_index[ifindex] = text
    return by_name, by_index


@dataclass(slots=True)
class KernelState:
    """Our part of the kernel as read: group routes (in `groups`), classic routes, unmanaged, strays."""

    groups: GroupTable
    hops: dict[Prefix, Hops]
    unmanaged: set[Prefix]
    strays: set[int]


def load_state(
    chan: NetlinkChannel,
    ifname: Mapping[int, str],
    *,
    protocol: int,
    table: int,
    first_id: int,
    dump_nexthops: bool,
    objects: bool,
) -> KernelState:
    """Our routes and nexthop objects in the kernel: with `objects` (nexthop-object mode) our usable
    objects are adopted and routes pointing at our groups recorded in the group table; otherwise every
    object of ours is a stray (a nexthop-mode run left it) removed once its routes are rewritten."""
    by_id: dict[int, NextHop] = {}
    ours_groups: dict[int, tuple[int, ...]] = {}
    taken: list[int] = []
    if dump_nexthops:
        for _kind, msg in chan.dump(RTM_GETNEXTHOP):
            raw = parse_nexthop(msg)
            if raw is None:
                continue
            taken.append(raw.nh_id)
            if raw.protocol != protocol:
                continue
            if raw.group:
                ours_groups[raw.nh_id] = raw.group
            else:
                gateway = ip_address(raw.gateway) if raw.gateway else None
                by_id[raw.nh_id] = NextHop(gateway, ifname.get(raw.ifindex, f"if{raw.ifindex}"))
    groups = GroupTable(first_id, taken)
    strays: set[int] = set()
    if objects:
        for nh_id, nh in by_id.items():
            if nh not in groups.nh_ids:
                groups.commit_nexthop(nh, nh_id)
        for gid, members in ours_groups.items():
            if all(m in by_id for m in members):
                groups.commit_group(gid, FibRoute(_ANY, tuple(by_id[m] for m in members)).nexthops)
            else:
                strays.add(gid)
        referenced = {m for gid in groups.groups for m in ours_groups[gid]}
        strays.update(i for i, nh in by_id.items() if groups.nh_ids[nh] != i and i not in referenced)
    else:  # objects a nexthop-mode run left behind: removed once their routes are rewritten
        strays = set(ours_groups) | set(by_id)
    hops: dict[Prefix, Hops] = {}
    unmanaged: set[Prefix] = set()
    for family in (AF_INET, AF_INET6):
        for _kind, msg in chan.dump(RTM_GETROUTE, family, table=table, protocol=protocol):
            raw_route = parse_route(msg)
            if raw_route is None or raw_route.protocol != protocol or raw_route.table != table:
                continue
            afi = Afi.IPV4 if raw_route.family == AF_INET else Afi.IPV6
            prefix = Prefix(afi, int.from_bytes(raw_route.dst, "big"), raw_route.dst_len)
            if raw_route.nh_id and raw_route.nh_id in groups.groups:
                groups.commit_move(prefix, raw_route.nh_id)
            else:  # classic route, or one pointing at something we do not manage: rewritten later
                if raw_route.nh_id:
                    unmanaged.add(prefix)
                route_hops = tuple(
                    NextHop(ip_address(gw) if gw else None, ifname.get(ifindex, f"if{ifindex}"))
                    for ifindex, gw in raw_route.hops
                )
                hops[prefix] = FibRoute(prefix, route_hops).nexthops if route_hops else ()
    return KernelState(groups, hops, unmanaged, strays)
