"""The five BGP messages as frozen, slotted, keyword-only dataclasses (RFC 4271 section 4).

Owns: `Open`, `Update`, `Notification`, `Keepalive`, `RouteRefresh`, the `Message` union, and the
top-level `decode_message(data, ctx)` / `encode_message(msg, ctx)` entry points.
Never does: framing a byte stream (that is `framing.py`), or any I/O.

TYPE CONTRACT (fixed: FSM, RIB and daemon code against these fields and the two functions).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from pybgp.wire.attributes import MpReach, MpUnreach, PathAttributes
from pybgp.wire.capabilities import Capability
from pybgp.wire.errors import UpdateFault
from pybgp.wire.nlri import Prefix


@dataclass(frozen=True, slots=True, kw_only=True)
class Open:
    """OPEN (RFC 4271 4.2). `my_as` is the 2-octet field as sent (AS_TRANS 23456 for 4-octet ASNs);
    `asn` gives the real ASN using the 4-octet AS capability when present."""

    version: int = 4
    my_as: int
    hold_time: int
    bgp_id: ipaddress.IPv4Address
    capabilities: tuple[Capability, ...] = ()
    raw_optional_parameters: tuple[tuple[int, bytes], ...] = ()  # non-capability params, kept opaque


@dataclass(frozen=True, slots=True, kw_only=True)
class Update:
    """UPDATE (RFC 4271 4.3). IPv4 unicast NLRI travel in `withdrawn`/`nlri`; other families in
    `mp_reach`/`mp_unreach`. `attributes` is None when the message carries no path attributes.
    `fault` is set when RFC 7606 chose attribute-discard or treat-as-withdraw: with treat-as-withdraw
    every prefix announced in this message must be handled as withdrawn."""

    withdrawn: tuple[Prefix, ...] = ()
    attributes: PathAttributes | None = None
    nlri: tuple[Prefix, ...] = ()
    mp_reach: MpReach | None = None
    mp_unreach: MpUnreach | None = None
    fault: UpdateFault | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Notification:
    """NOTIFICATION (RFC 4271 4.5). For Cease subcodes 2 and 4, `data` may hold an RFC 9003
    shutdown communication (length octet + UTF-8)."""

    code: int
    subcode: int
    data: bytes = b""


@dataclass(frozen=True, slots=True, kw_only=True)
class Keepalive:
    """KEEPALIVE (RFC 4271 4.4): the header alone."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteRefresh:
    """ROUTE-REFRESH (RFC 2918), with the RFC 7313 subtype in the former reserved octet."""

    afi: int
    safi: int
    subtype: int = 0


Message = Open | Update | Notification | Keepalive | RouteRefresh
