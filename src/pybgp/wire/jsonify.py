"""A JSON rendering of the codec's frozen objects, for `pybgpctl decode`, logs and tests.

Owns: `message_to_json(msg)` (one BGP message as a plain dict of JSON types), `attributes_to_json`,
`prefix_to_json` and the small formatting rules they share (communities as "asn:value", AS paths as
segment lists plus a bgpdump-style string, bytes as lowercase hex, code points with their RFC names).
Never does: decoding or encoding bytes, I/O, or any judgement about a message; it renders what the
codec produced, including an RFC 7606 `fault`, so what you read is what the session would have acted on.

Every value returned is made of dict, list, str, int, bool and None only, so `json.dumps` never fails.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from enum import Enum
from typing import Any

from pybgp.wire.attributes import MpReach, MpUnreach, PathAttributes
from pybgp.wire.constants import (
    WELL_KNOWN_COMMUNITIES,
    AsPathSegmentType,
    CapabilityCode,
    CeaseSubcode,
    FsmSubcode,
    MessageHeaderSubcode,
    NotificationCode,
    OpenSubcode,
    UpdateSubcode,
)
from pybgp.wire.errors import UpdateFault
from pybgp.wire.messages import (
    Keepalive,
    Message,
    Notification,
    Open,
    RouteRefresh,
    Update,
    end_of_rib_family,
)
from pybgp.wire.nlri import Prefix
from pybgp.wire.notification import parse_shutdown

JsonDict = dict[str, Any]

MESSAGE_TYPE_NAMES: dict[type, str] = {
    Open: "OPEN",
    Update: "UPDATE",
    Notification: "NOTIFICATION",
    Keepalive: "KEEPALIVE",
    RouteRefresh: "ROUTE-REFRESH",
}
"""The names the decode tool prints in "type" (RFC 4271 section 4.1, RFC 2918 section 3)."""

_SUBCODE_ENUMS: dict[int, type[Enum]] = {
    NotificationCode.MESSAGE_HEADER_ERROR: MessageHeaderSubcode,
    NotificationCode.OPEN_MESSAGE_ERROR: OpenSubcode,
    NotificationCode.UPDATE_MESSAGE_ERROR: UpdateSubcode,
    NotificationCode.FSM_ERROR: FsmSubcode,
    NotificationCode.CEASE: CeaseSubcode,
}

_SEGMENT_BRACKETS: dict[int, tuple[str, str]] = {
    AsPathSegmentType.AS_SEQUENCE: ("", ""),
    AsPathSegmentType.AS_SET: ("{", "}"),
    AsPathSegmentType.AS_CONFED_SEQUENCE: ("(", ")"),
    AsPathSegmentType.AS_CONFED_SET: ("[", "]"),
}


def _enum_name(enum: type[Enum], value: int) -> str | None:
    try:
        return str(enum(value).name)
    except ValueError:
        return None


def plain(value: object) -> Any:
    """Any codec value as JSON types: addresses and prefixes as text, bytes as hex, enums as ints."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, Enum):
        return value.value if isinstance(value.value, int | str) else str(value.value)
    if isinstance(value, Prefix):  # before `int`: a `Prefix` is an int subclass
        return prefix_to_json(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return {name: plain(getattr(value, name)) for name in value._fields}
    if isinstance(value, list | tuple | frozenset | set):
        return [plain(v) for v in value]
    return str(value)


def prefix_to_json(prefix: Prefix) -> Any:
    """ "10.0.0.0/8", or {"prefix": ..., "path_id": n} when an RFC 7911 path identifier is present."""
    if prefix.path_id:
        return {"prefix": str(prefix), "path_id": prefix.path_id}
    return str(prefix)


def _nlri_to_json(items: tuple[object, ...]) -> list[Any]:
    return [prefix_to_json(p) if isinstance(p, Prefix) else plain(p) for p in items]


def community_text(community: int) -> str:
    """RFC 1997 community as "asn:value" (well-known ones keep the numeric form, as bgpdump prints)."""
    return f"{community >> 16}:{community & 0xFFFF}"


def as_path_text(attrs: PathAttributes) -> str:
    """The AS path as bgpdump and BIRD print it: "1 2 {3,4}" (sets in braces, confed in parentheses)."""
    parts: list[str] = []
    for segment in attrs.as_path:
        opening, closing = _SEGMENT_BRACKETS.get(int(segment.type), ("?", "?"))
        if opening == "":
            parts.extend(str(asn) for asn in segment.asns)
        else:
            is_set = int(segment.type) in (AsPathSegmentType.AS_SET, AsPathSegmentType.AS_CONFED_SET)
            sep = "," if is_set else " "
            parts.append(opening + sep.join(str(asn) for asn in segment.asns) + closing)
    return " ".join(parts)


def attributes_to_json(attrs: PathAttributes) -> JsonDict:
    """The attributes that are present; absent ones are omitted rather than printed as null."""
    out: JsonDict = {}
    if attrs.origin is not None:
        out["origin"] = attrs.origin.name if isinstance(attrs.origin, Enum) else plain(attrs.origin)
    if attrs.as_path:
        out["as_path"] = [
            {"type": _enum_name(AsPathSegmentType, int(s.type)) or int(s.type), "asns": list(s.asns)}
            for s in attrs.as_path
        ]
        out["as_path_text"] = as_path_text(attrs)
    if attrs.next_hop is not None:
        out["next_hop"] = str(attrs.next_hop)
    if attrs.med is not None:
        out["med"] = attrs.med
    if attrs.local_pref is not None:
        out["local_pref"] = attrs.local_pref
    if attrs.atomic_aggregate:
        out["atomic_aggregate"] = True
    if attrs.aggregator is not None:
        out["aggregator"] = {"asn": attrs.aggregator.asn, "address": str(attrs.aggregator.address)}
    if attrs.communities:
        out["communities"] = [community_text(c) for c in attrs.communities]
        named = [WELL_KNOWN_COMMUNITIES[c] for c in attrs.communities if c in WELL_KNOWN_COMMUNITIES]
        if named:
            out["well_known_communities"] = named
    if attrs.extended_communities:
        out["extended_communities"] = [f"{c:016x}" for c in attrs.extended_communities]
    if attrs.large_communities:
        out["large_communities"] = [
            f"{c.global_admin}:{c.local_data1}:{c.local_data2}" for c in attrs.large_communities
        ]
    if attrs.originator_id is not None:
        out["originator_id"] = str(attrs.originator_id)
    if attrs.cluster_list:
        out["cluster_list"] = [str(a) for a in attrs.cluster_list]
    if attrs.otc is not None:
        out["otc"] = attrs.otc
    if attrs.unknown:
        out["unknown"] = [{"flags": a.flags, "code": a.code, "value": a.value.hex()} for a in attrs.unknown]
    # Fields the codec adds for byte-exact re-encoding (order, flags) are not semantic: leave them out.
    return out


def _mp_reach_to_json(mp: MpReach) -> JsonDict:
    out: JsonDict = {"afi": mp.afi, "safi": mp.safi, "next_hops": [str(a) for a in mp.next_hops]}
    out["nlri"] = _nlri_to_json(mp.nlri)
    if mp.raw_next_hop and not mp.next_hops:
        out["raw_next_hop"] = mp.raw_next_hop.hex()
    if mp.raw_nlri and not mp.nlri:
        out["raw_nlri"] = mp.raw_nlri.hex()
    return out


def _mp_unreach_to_json(mp: MpUnreach) -> JsonDict:
    out: JsonDict = {"afi": mp.afi, "safi": mp.safi, "nlri": _nlri_to_json(mp.nlri)}
    if mp.raw_nlri and not mp.nlri:
        out["raw_nlri"] = mp.raw_nlri.hex()
    return out


def fault_to_json(fault: UpdateFault) -> JsonDict:
    return {
        "action": fault.action.value,
        "code": fault.code,
        "subcode": fault.subcode,
        "data": fault.data.hex(),
        "reason": fault.reason,
        "attr_code": fault.attr_code,
    }


def _update_to_json(update: Update) -> JsonDict:
    out: JsonDict = {"type": "UPDATE"}
    out["withdrawn"] = _nlri_to_json(update.withdrawn)
    out["attributes"] = attributes_to_json(update.attributes) if update.attributes is not None else {}
    out["nlri"] = _nlri_to_json(update.nlri)
    if update.mp_reach is not None:
        out["mp_reach"] = _mp_reach_to_json(update.mp_reach)
    if update.mp_unreach is not None:
        out["mp_unreach"] = _mp_unreach_to_json(update.mp_unreach)
    if update.fault is not None:
        out["fault"] = fault_to_json(update.fault)
    eor = end_of_rib_family(update)
    if eor is not None:
        out["end_of_rib"] = list(eor)
    return out


def _capability_to_json(cap: object) -> JsonDict:
    code = int(getattr(cap, "code", -1))
    out: JsonDict = {"code": code, "name": _enum_name(CapabilityCode, code) or "UNKNOWN"}
    body = plain(cap)
    if isinstance(body, dict):
        body.pop("code", None)
        out.update(body)
    return out


def _open_to_json(msg: Open) -> JsonDict:
    return {
        "type": "OPEN",
        "version": msg.version,
        "my_as": msg.my_as,
        "asn": msg.asn,  # the real ASN: the RFC 6793 capability's when my_as is AS_TRANS
        "hold_time": msg.hold_time,
        "bgp_id": str(msg.bgp_id),
        "capabilities": [_capability_to_json(c) for c in msg.capabilities],
        "optional_parameters": [{"type": t, "value": v.hex()} for t, v in msg.raw_optional_parameters],
    }


def _shutdown_text(msg: Notification) -> str | None:
    """RFC 9003 shutdown communication on Cease/2 (shutdown) and Cease/4 (reset), else None."""
    if msg.code != NotificationCode.CEASE or msg.subcode not in (2, 4) or not msg.data:
        return None
    return parse_shutdown(msg.data)


def _notification_to_json(msg: Notification) -> JsonDict:
    out: JsonDict = {
        "type": "NOTIFICATION",
        "code": msg.code,
        "subcode": msg.subcode,
        "code_name": _enum_name(NotificationCode, msg.code),
        "subcode_name": None,
        "data": msg.data.hex(),
    }
    sub_enum = _SUBCODE_ENUMS.get(msg.code)
    if sub_enum is not None:
        out["subcode_name"] = _enum_name(sub_enum, msg.subcode)
    text = _shutdown_text(msg)
    if text is not None:
        out["shutdown_communication"] = text
    return out


def message_to_json(msg: Message) -> JsonDict:
    """One BGP message as a JSON-ready dict whose "type" is the RFC message name."""
    if isinstance(msg, Update):
        return _update_to_json(msg)
    if isinstance(msg, Open):
        return _open_to_json(msg)
    if isinstance(msg, Notification):
        return _notification_to_json(msg)
    if isinstance(msg, Keepalive):
        return {"type": "KEEPALIVE"}
    if isinstance(msg, RouteRefresh):
        out: JsonDict = {"type": "ROUTE-REFRESH", "afi": msg.afi, "safi": msg.safi, "subtype": msg.subtype}
        orf = getattr(msg, "orf", b"")  # RFC 5291 entries, kept opaque by the codec
        if orf:
            out["orf"] = bytes(orf).hex()
        return out
    raise TypeError(f"not a BGP message: {type(msg).__name__}")
