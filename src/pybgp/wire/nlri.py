"""NLRI: IP prefixes as compact keys, and their wire encoding (RFC 4271 4.3, RFC 4760, RFC 7911).

Owns: `Prefix`, the one prefix type the whole project uses (RIB key, FIB key, policy match), and the
tight codec loops for IPv4/IPv6 unicast NLRI with and without ADD-PATH path identifiers.
Never does: interpret families other than IPv4/IPv6 unicast (those stay opaque bytes in `MpReach`).
"""

from __future__ import annotations

import ipaddress
from typing import NamedTuple

from pybgp.wire.constants import Afi


class Prefix(NamedTuple):
    """An IPv4 or IPv6 prefix: the address as an int (host bits zero) and a length.

    A NamedTuple, not a dataclass, because a full table holds a million of them: it is a cheap,
    hashable key. `path_id` is the RFC 7911 path identifier (0 without ADD-PATH); it takes part
    in equality because with ADD-PATH two paths for one prefix are two keys.
    """

    afi: Afi
    network: int
    length: int
    path_id: int = 0

    def __str__(self) -> str:
        if self.afi == Afi.IPV4:
            return f"{ipaddress.IPv4Address(self.network)}/{self.length}"
        return f"{ipaddress.IPv6Address(self.network)}/{self.length}"

    @property
    def max_length(self) -> int:
        return 32 if self.afi == Afi.IPV4 else 128

    def to_network(self) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
        return ipaddress.ip_network(str(self))

    def contains(self, other: Prefix) -> bool:
        """True when `other` lies inside this prefix (same family, longer or equal length)."""
        if other.afi != self.afi or other.length < self.length:
            return False
        shift = self.max_length - self.length
        return (other.network >> shift) == (self.network >> shift)

    def without_path_id(self) -> Prefix:
        return self if self.path_id == 0 else Prefix(self.afi, self.network, self.length)

    @classmethod
    def parse(cls, text: str, path_id: int = 0) -> Prefix:
        """Parse "10.0.0.0/8" or "2001:db8::/32"; host bits must be zero (ValueError otherwise)."""
        net = ipaddress.ip_network(text, strict=True)
        afi = Afi.IPV4 if net.version == 4 else Afi.IPV6
        return cls(afi, int(net.network_address), net.prefixlen, path_id)
