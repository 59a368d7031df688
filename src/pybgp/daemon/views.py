"""What `pybgpctl show ...` receives: the speaker's read-only views rendered as plain JSON-able dicts.

Owns: the row shapes of `show neighbors`, `show neighbor X`, `show routes [--all]`, `show rib-in/out X`
(the same keys the CLI's tables and `--json` users read). Never does: change state or format text.
"""

from __future__ import annotations

import time
from typing import Any

from pybgp.aio.speaker_views import NeighborView, RouteView
from pybgp.rib.policy import format_community
from pybgp.rib.route import Path, as_path_string
from pybgp.wire.attributes import IPAddress, PathAttributes
from pybgp.wire.nlri import Prefix


def _since(ts: float | None, now: float) -> str:
    if ts is None:
        return ""
    seconds = int(max(0.0, now - ts))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}"


def neighbor_row(
    v: NeighborView, loop_now: float, bfd_state: str | None, extra: dict[str, Any]
) -> dict[str, Any]:
    state = v.state.lower()
    return {
        "name": v.name,
        "address": v.address,
        "remote_as": v.remote_as,
        "state": state,
        "enabled": v.enabled,
        "since": _since(v.established_since, loop_now),
        "uptime_seconds": round(loop_now - v.established_since, 3)
        if v.established_since is not None
        else None,
        "prefixes_received": v.received,
        "prefixes_accepted": v.accepted,
        "prefixes_advertised": v.advertised,
        "prefixes_stale": v.stale,
        "bfd": bfd_state or "off",
        "last_error": v.last_down_reason,
        **extra,
    }


def attrs_row(attrs: PathAttributes, next_hops: tuple[IPAddress, ...]) -> dict[str, Any]:
    nh = next_hops[0] if next_hops else attrs.next_hop
    return {
        "next_hop": str(nh) if nh is not None else None,
        "origin": attrs.origin.name.lower() if attrs.origin is not None else None,
        "as_path": as_path_string(attrs),
        "local_pref": attrs.local_pref,
        "med": attrs.med,
        "communities": [format_community(c) for c in attrs.communities],
        "large_communities": [
            f"{c.global_admin}:{c.local_data1}:{c.local_data2}" for c in attrs.large_communities
        ],
    }


def path_row(prefix: Prefix, path: Path) -> dict[str, Any]:
    return {
        "prefix": str(prefix),
        **attrs_row(path.attributes, path.next_hops),
        "from": path.peer.name,
        "source": path.source.value,
        "interface": path.peer.interface,
        "stale": path.stale,
    }


def route_row(view: RouteView) -> dict[str, Any]:
    row = path_row(view.prefix, view.path)
    row["best"] = view.reason.name == "BEST"
    row["multipath"] = view.reason.name in ("BEST", "MULTIPATH")
    row["reason"] = view.reason.value
    return row


def rib_rows(items: dict[Prefix, Path]) -> list[dict[str, Any]]:
    return [path_row(p, path) for p, path in sorted(items.items(), key=lambda kv: _order(kv[0]))]


def rib_out_rows(items: dict[Prefix, tuple[PathAttributes, tuple[IPAddress, ...]]]) -> list[dict[str, Any]]:
    return [
        {"prefix": str(p), **attrs_row(a, nh)}
        for p, (a, nh) in sorted(items.items(), key=lambda kv: _order(kv[0]))
    ]


def _order(p: Prefix) -> tuple[int, int, int, int]:
    return (int(p.afi), p.network, p.length, p.path_id)


def wall_clock() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
