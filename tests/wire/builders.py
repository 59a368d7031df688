"""Hand-built UPDATE bytes for error-handling tests: attributes written field by field, no codec."""

from __future__ import annotations

import struct


def attr(code: int, value: bytes, flags: int | None = None) -> bytes:
    """One path attribute; default flags are those RFC 4271/7606 expect for well-known codes."""
    if flags is None:
        flags = {
            1: 0x40,
            2: 0x40,
            3: 0x40,
            4: 0x80,
            5: 0x40,
            6: 0x40,
            7: 0xC0,
            8: 0xC0,
            9: 0x80,
            10: 0x80,
        }.get(code, 0xC0)
    if flags & 0x10:
        return bytes((flags, code)) + struct.pack("!H", len(value)) + value
    return bytes((flags, code, len(value))) + value


ORIGIN_IGP = attr(1, b"\x00")
AS_PATH_65001 = attr(2, b"\x02\x01" + struct.pack("!I", 65001))
NEXT_HOP = attr(3, bytes((192, 0, 2, 1)))
BASE = ORIGIN_IGP + AS_PATH_65001 + NEXT_HOP
NLRI_10_8 = b"\x08\x0a"


def update(attrs: bytes, nlri: bytes = NLRI_10_8, withdrawn: bytes = b"") -> bytes:
    body = struct.pack("!H", len(withdrawn)) + withdrawn + struct.pack("!H", len(attrs)) + attrs + nlri
    return b"\xff" * 16 + struct.pack("!HB", 19 + len(body), 2) + body
