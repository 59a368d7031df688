"""Connection collision resolution (RFC 4271 section 6.8, with RFC 6286 section 2.3 for equal IDs).

Owns: the one decision "which of two connections to the same peer survives".
Never does: close anything; `session.py` acts on the answer (Cease subcode 7 on the loser).
"""

from __future__ import annotations

import ipaddress


def keep_locally_initiated(
    local_id: ipaddress.IPv4Address, remote_id: ipaddress.IPv4Address, local_as: int, remote_as: int
) -> bool:
    """True when the connection *we* opened survives a collision.

    RFC 4271 6.8: the connection initiated by the speaker with the higher BGP Identifier is kept.
    RFC 6286 2.3: with equal identifiers (possible between ASes), the one initiated by the speaker
    with the larger AS number is kept.
    """
    if local_id != remote_id:
        return int(local_id) > int(remote_id)
    return local_as > remote_as
