"""Precompiled fixed-width fields shared by every codec module.

Owns: the `struct.Struct` objects for the big-endian integers BGP uses, and `need()`, the one bounds
check every decoder calls before reading. Never does: interpret what the bytes mean, or raise anything
but the `WireError` its caller hands it.
"""

from __future__ import annotations

import struct

from pybgp.wire.errors import WireError

U8 = struct.Struct("!B")
U16 = struct.Struct("!H")
U32 = struct.Struct("!I")
U16U8 = struct.Struct("!HB")
HEADER = struct.Struct("!16sHB")
"""Marker, Length, Type (RFC 4271 section 4.1)."""
OPEN_FIXED = struct.Struct("!BHH4sB")
"""Version, My Autonomous System, Hold Time, BGP Identifier, Opt Parm Len (RFC 4271 section 4.2)."""
ROUTE_REFRESH = struct.Struct("!HBB")
"""AFI, Reserved/Subtype, SAFI (RFC 2918 section 3, RFC 7313 section 3.2)."""


def need(length: int, offset: int, count: int, error: WireError) -> None:
    """Raise `error` unless `count` bytes are available at `offset` in a buffer of `length` bytes."""
    if count < 0 or offset + count > length:
        raise error
