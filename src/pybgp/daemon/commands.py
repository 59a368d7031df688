"""The control-socket commands of pybgpd: one function per `pybgpctl` verb.

Owns: the command table (`show neighbors`, `show neighbor`, `show routes`, `show rib-in`, `show rib-out`,
`show bfd`, `show kernel`, `show status`, `neighbor enable|disable|reset|refresh`, `reload`) and argument
checking with clear errors. Never does: socket handling (control.py) or rendering (cli.py).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from pybgp.daemon.control import CommandError
from pybgp.daemon.views import neighbor_row, rib_out_rows, rib_rows, route_row
from pybgp.wire.nlri import Prefix

if TYPE_CHECKING:
    from pybgp.daemon.daemon import Daemon

Command = Callable[["Daemon", dict[str, Any]], Awaitable[Any]]


def find_neighbor(d: Daemon, name: Any) -> str:
    """A neighbor's name from its name or address (CommandError naming the known ones otherwise)."""
    if not isinstance(name, str):
        raise CommandError("missing neighbor name")
    views = d.speaker.neighbors()
    for v in views:
        if name in (v.name, v.address):
            return v.name
    raise CommandError(f"no neighbor {name!r} (known: {', '.join(v.name for v in views)})")


def prefix_arg(args: dict[str, Any]) -> Prefix | None:
    text = args.get("prefix")
    if text in (None, ""):
        return None
    try:
        return Prefix.parse(str(text))
    except ValueError as exc:
        raise CommandError(f"invalid prefix {text!r}: {exc}") from None


def neighbor_rows(d: Daemon) -> list[dict[str, Any]]:
    loop_now = asyncio.get_running_loop().time()
    installed = d.exporter.installed_per_neighbor()
    rows = []
    for v in d.speaker.neighbors():
        n = d.cfg.neighbor(v.name)
        bfd = d.bfd.states.get(v.name) if n is not None and n.bfd.enabled else None
        extra = {
            "interface": n.interface if n is not None else None,
            "description": n.description if n is not None else "",
            "prefixes_installed": installed.get(v.name, 0),
        }
        rows.append(neighbor_row(v, loop_now, bfd, extra))
    return rows


def status(d: Daemon) -> dict[str, Any]:
    views = d.speaker.neighbors()
    return {
        "pid": os.getpid(),
        "config": str(d.config_path),
        "asn": d.cfg.global_.asn,
        "router_id": str(d.cfg.global_.router_id),
        "uptime_seconds": round(time.monotonic() - d.started_at, 1),
        "neighbors": len(views),
        "established": sum(1 for v in views if v.state.lower() == "established"),
        "loc_rib_prefixes": len(d.speaker.rib.loc),
        "kernel_routes": d.exporter.installed_count,
        "kernel_hold": d.kernel_hold.describe(),  # `[kernel] update_delay`
        "originated": len(list(d.origination.all_prefixes())),
        "bfd": "on" if d.bfd.available else f"unavailable: {d.bfd.unavailable_reason}",
    }


async def _neighbors(d: Daemon, args: dict[str, Any]) -> Any:
    return neighbor_rows(d)


async def _neighbor(d: Daemon, args: dict[str, Any]) -> Any:
    name = find_neighbor(d, args.get("name"))
    row = next(r for r in neighbor_rows(d) if r["name"] == name)
    n = d.cfg.neighbor(name)
    peer = d.speaker.peer(name)
    neg = peer.negotiated
    counters = peer.counters
    row.update(
        {
            "passive": peer.settings.passive,
            "local_as": peer.settings.local_as,
            "hold_time_configured": peer.settings.hold_time,
            "import_policy": (n.import_policy if n is not None else None) or "RFC 8212 default",
            "export_policy": (n.export_policy if n is not None else None) or "RFC 8212 default",
            "next_hop_self": n.next_hop_self if n is not None else None,
            "import_table": d.speaker.rib.neighbors[name].import_table,
            "messages_in": dict(counters.messages_in),
            "messages_out": dict(counters.messages_out),
            "established_transitions": counters.established_transitions,
            "connect_attempts": counters.connect_attempts,
            "last_error": counters.last_error or row["last_error"],
            "last_notification_sent": _notification(counters.last_notification_sent),
            "last_notification_received": _notification(counters.last_notification_received),
        }
    )
    if neg is not None:
        row.update(
            {
                "remote_router_id": str(neg.remote_id),
                "hold_time": neg.hold_time,
                "keepalive_time": neg.keepalive_time,
                "families": [f"{a}/{s}" for a, s in sorted(neg.families)],
                "route_refresh": neg.route_refresh,
                "four_octet_as": neg.as4,
                "graceful_restart": neg.graceful_restart is not None,
            }
        )
    return row


def _notification(n: Any) -> dict[str, Any] | None:
    if n is None:
        return None
    return {"code": n.code, "subcode": n.subcode, "message": parse_shutdown_text(n.data)}


def parse_shutdown_text(data: bytes) -> str | None:
    """RFC 9003 shutdown communication: a length octet then UTF-8 text."""
    if not data or data[0] == 0 or len(data) < 1 + data[0]:
        return None
    return data[1 : 1 + data[0]].decode("utf-8", "replace")


async def _routes(d: Daemon, args: dict[str, Any]) -> Any:
    prefix = prefix_arg(args)
    if prefix is not None and prefix not in d.speaker.rib.loc:
        return []
    return [route_row(v) for v in d.speaker.routes(prefix, all_paths=bool(args.get("all")))]


async def _rib_in(d: Daemon, args: dict[str, Any]) -> Any:
    # The neighbor's paths after import policy, read from the Loc-RIB: no import table needed.
    return rib_rows(d.speaker.rib_in(find_neighbor(d, args.get("name"))))


async def _rib_out(d: Daemon, args: dict[str, Any]) -> Any:
    return rib_out_rows(d.speaker.rib_out(find_neighbor(d, args.get("name"))))


async def _bfd(d: Daemon, args: dict[str, Any]) -> Any:
    return d.bfd.view()


async def _kernel(d: Daemon, args: dict[str, Any]) -> Any:
    return d.exporter.view(prefix_arg(args))


async def _status(d: Daemon, args: dict[str, Any]) -> Any:
    return status(d)


async def _originated(d: Daemon, args: dict[str, Any]) -> Any:
    return d.origination.view()


async def _enable(d: Daemon, args: dict[str, Any]) -> Any:
    name = find_neighbor(d, args.get("name"))
    d.speaker.enable_neighbor(name)
    return f"{name}: enabled"


async def _disable(d: Daemon, args: dict[str, Any]) -> Any:
    name = find_neighbor(d, args.get("name"))
    await d.speaker.disable_neighbor(name, str(args.get("message") or "disabled by operator"))
    return f"{name}: disabled (Cease/Administrative Shutdown sent)"


async def _reset(d: Daemon, args: dict[str, Any]) -> Any:
    name = find_neighbor(d, args.get("name"))
    d.speaker.reset_neighbor(name, str(args.get("message") or "reset by operator"))
    return f"{name}: reset (Cease/Administrative Reset sent)"


async def _refresh(d: Daemon, args: dict[str, Any]) -> Any:
    name = find_neighbor(d, args.get("name"))
    if not d.speaker.refresh_neighbor(name):
        raise CommandError(f"{name}: not established, or the peer did not offer route refresh")
    return f"{name}: ROUTE-REFRESH sent"


async def _reload(d: Daemon, args: dict[str, Any]) -> Any:
    return await d.reload()


COMMANDS: dict[str, Command] = {
    "show neighbors": _neighbors,
    "show neighbor": _neighbor,
    "show routes": _routes,
    "show rib-in": _rib_in,
    "show rib-out": _rib_out,
    "show bfd": _bfd,
    "show kernel": _kernel,
    "show status": _status,
    "show originated": _originated,
    "neighbor enable": _enable,
    "neighbor disable": _disable,
    "neighbor reset": _reset,
    "neighbor refresh": _refresh,
    "reload": _reload,
}


async def dispatch(d: Daemon, command: str, args: dict[str, Any]) -> Any:
    fn = COMMANDS.get(command)
    if fn is None:
        raise CommandError(f"unknown command {command!r}; known: {', '.join(sorted(COMMANDS))}")
    return await fn(d, args)
