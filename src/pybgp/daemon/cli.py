"""`pybgpctl`: the operator's tool for a running pybgpd (and `decode FILE`, which needs no daemon).

Owns: argument parsing, one control-socket request per command, rendering the reply as rich tables for
people or as JSON (`--json`) for machines, exit codes (0 ok, 1 the daemon refused, 2 usage, 3 the daemon is
not running, 4 permission denied, 5 `wait` timed out), and `wait route PREFIX`, which boot scripts use to
hold `network-online.target` until a route through pybgpd is in the kernel.
Never does: change daemon state except through the control socket.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table

from pybgp.daemon.control import ControlClientError, request

DEFAULT_SOCKET = os.environ.get("PYBGPD_SOCKET", "/run/pybgpd/pybgpd.sock")

Columns = list[tuple[str, str]]  # (header, key)

NEIGHBOR_COLUMNS: Columns = [
    ("Name", "name"),
    ("Address", "address"),
    ("AS", "remote_as"),
    ("State", "state"),
    ("Up/Down", "since"),
    ("Rcvd", "prefixes_received"),
    ("Accepted", "prefixes_accepted"),
    ("Installed", "prefixes_installed"),
    ("Sent", "prefixes_advertised"),
    ("BFD", "bfd"),
    ("Last error", "last_error"),
]
ROUTE_COLUMNS: Columns = [
    ("", "mark"),
    ("Prefix", "prefix"),
    ("Next hop", "next_hop"),
    ("From", "from"),
    ("Source", "source"),
    ("LocPrf", "local_pref"),
    ("MED", "med"),
    ("AS path", "as_path"),
    ("Communities", "communities"),
    ("Reason", "reason"),
]
RIB_COLUMNS: Columns = [
    ("Prefix", "prefix"),
    ("Next hop", "next_hop"),
    ("LocPrf", "local_pref"),
    ("MED", "med"),
    ("AS path", "as_path"),
    ("Communities", "communities"),
]
BFD_COLUMNS: Columns = [
    ("Neighbor", "neighbor"),
    ("Peer", "peer"),
    ("Interface", "interface"),
    ("State", "state"),
    ("Remote", "remote_state"),
    ("Diag", "diag"),
    ("Tx ms", "tx_ms"),
    ("Rx ms", "rx_ms"),
    ("Mult", "multiplier"),
    ("Downs", "flaps"),
]
KERNEL_COLUMNS: Columns = [("Prefix", "prefix"), ("Nexthops", "nexthops")]
ORIGIN_COLUMNS: Columns = [("Prefix", "prefix"), ("Origin", "origin")]


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pybgpctl", description="Query and control a running pybgpd.")
    p.add_argument(
        "-s", "--socket", default=DEFAULT_SOCKET, help=f"control socket (default {DEFAULT_SOCKET})"
    )
    p.add_argument("--json", action="store_true", help="print the daemon's reply as JSON")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the daemon's answer")
    sub = p.add_subparsers(dest="cmd", required=True)

    show = sub.add_parser("show", help="show daemon state").add_subparsers(dest="what", required=True)
    show.add_parser("neighbors", help="all sessions")
    n = show.add_parser("neighbor", help="one session in detail")
    n.add_argument("name")
    r = show.add_parser("routes", help="the Loc-RIB (best paths; --all for every candidate)")
    r.add_argument("prefix", nargs="?")
    r.add_argument("--all", action="store_true", help="every candidate path with the reason it lost")
    for what in ("rib-in", "rib-out"):
        x = show.add_parser(what, help=f"a neighbor's Adj-RIB-{what[4:].capitalize()}")
        x.add_argument("name")
    show.add_parser("bfd", help="BFD sessions")
    k = show.add_parser("kernel", help="routes pybgpd installed in the kernel")
    k.add_argument("prefix", nargs="?")
    show.add_parser("status", help="daemon summary")
    show.add_parser("originated", help="prefixes we originate and where from (interface, static, kernel)")

    nb = sub.add_parser("neighbor", help="act on one session")
    nb.add_argument("name")
    nb.add_argument("action", choices=["enable", "disable", "reset", "refresh"])
    nb.add_argument("-m", "--message", default="", help="RFC 9003 shutdown message (disable/reset)")

    sub.add_parser("reload", help="re-read the config file and apply only the difference")

    sub.add_parser(
        "decode", help="decode a capture / MRT / hex file (no daemon needed): pybgpctl decode --help"
    )

    w = sub.add_parser("wait", help="block until something is true")
    w_sub = w.add_subparsers(dest="what", required=True)
    wr = w_sub.add_parser("route", help="exit 0 once PREFIX is in the kernel through pybgpd")
    wr.add_argument("prefix")
    wr.add_argument(
        "--timeout",
        dest="wait_timeout",
        type=float,
        default=None,
        help="give up (exit 5) after this many seconds (default: wait forever)",
    )
    wr.add_argument("--interval", type=float, default=0.2)
    return p


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return " ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def _table(console: Console, title: str, columns: Columns, rows: Sequence[dict[str, Any]]) -> None:
    table = Table(title=title, title_justify="left", show_lines=False)
    for header, _ in columns:
        table.add_column(header)
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for _, key in columns))
    console.print(table)


def _kv(console: Console, title: str, data: dict[str, Any]) -> None:
    table = Table(title=title, title_justify="left", show_header=False)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in data.items():
        table.add_row(key, _cell(value))
    console.print(table)


def _render(args: argparse.Namespace, result: Any) -> None:
    console = Console(width=200 if not sys.stdout.isatty() else None)
    if args.cmd == "show":
        if args.what == "neighbors":
            _table(console, "BGP neighbors", NEIGHBOR_COLUMNS, result)
        elif args.what in ("neighbor", "status"):
            _kv(console, f"neighbor {args.name}" if args.what == "neighbor" else "pybgpd", result)
        elif args.what == "routes":
            rows = [dict(r, mark="*" if r.get("best") else "") for r in result]
            _table(console, "Loc-RIB" + (" (all candidates)" if args.all else ""), ROUTE_COLUMNS, rows)
        elif args.what in ("rib-in", "rib-out"):
            _table(console, f"Adj-RIB-{args.what[4:].capitalize()} of {args.name}", RIB_COLUMNS, result)
        elif args.what == "bfd":
            _table(console, "BFD sessions", BFD_COLUMNS, result)
        elif args.what == "originated":
            _table(console, "Originated prefixes", ORIGIN_COLUMNS, result)
        elif args.what == "kernel":
            rows = [
                {
                    "prefix": r["prefix"],
                    "nexthops": ", ".join(
                        f"via {nh['gateway']} dev {nh['ifname']}"
                        if nh.get("gateway")
                        else f"dev {nh['ifname']}"
                        for nh in r["nexthops"]
                    ),
                }
                for r in result
            ]
            _table(console, "Kernel routes installed by pybgpd", KERNEL_COLUMNS, rows)
    elif args.cmd == "reload":
        _kv(console, "reload", result)
    else:
        console.print(result if isinstance(result, str) else _cell(result))


def _wait_route(args: argparse.Namespace) -> int:
    """Poll the daemon until `prefix` is installed; a daemon not (yet) running is waited for too."""
    deadline = None if args.wait_timeout is None else time.monotonic() + args.wait_timeout
    last_error = ""
    while True:
        try:
            routes = request(args.socket, "show kernel", {"prefix": args.prefix}, timeout=args.timeout)
            if routes:
                if args.json:
                    print(json.dumps(routes[0]))
                return 0
            last_error = "not installed yet"
        except ControlClientError as exc:
            if exc.exit_code == 4:
                print(f"pybgpctl: {exc}", file=sys.stderr)
                return 4
            if exc.exit_code == 1 and "prefix" in str(exc):
                print(f"pybgpctl: {exc}", file=sys.stderr)
                return 2
            last_error = str(exc)
        if deadline is not None and time.monotonic() >= deadline:
            print(
                f"pybgpctl: {args.prefix} not in the kernel after {args.wait_timeout} s ({last_error})",
                file=sys.stderr,
            )
            return 5
        time.sleep(args.interval)


def _command(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    if args.cmd == "show":
        cargs: dict[str, Any] = {}
        if args.what in ("neighbor", "rib-in", "rib-out"):
            cargs["name"] = args.name
        if args.what in ("routes", "kernel") and args.prefix:
            cargs["prefix"] = args.prefix
        if args.what == "routes":
            cargs["all"] = args.all
        return f"show {args.what}", cargs
    if args.cmd == "neighbor":
        return f"neighbor {args.action}", {"name": args.name, "message": args.message}
    return "reload", {}


def _decode_argv(argv: Sequence[str]) -> list[str] | None:
    """Everything after `decode` when that is the command (its options belong to `pybgp.decode`)."""
    i, want_json = 0, False
    while i < len(argv):
        token = argv[i]
        if token in ("-s", "--socket", "--timeout"):
            i += 2
        elif token.startswith(("--socket=", "--timeout=")):
            i += 1
        elif token == "--json":
            want_json, i = True, i + 1
        elif token == "decode":
            rest = list(argv[i + 1 :])
            return [*rest, "--json"] if want_json and "--json" not in rest else rest
        else:
            return None
    return None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    decode_args = _decode_argv(argv)
    if decode_args is not None:
        try:
            decode = importlib.import_module("pybgp.decode")
        except ImportError as exc:
            print(f"pybgpctl: decode is not available in this build ({exc})", file=sys.stderr)
            return 1
        return int(decode.main(decode_args) or 0)
    args = _parser().parse_args(argv)
    if args.cmd == "wait":
        return _wait_route(args)
    command, cargs = _command(args)
    try:
        result = request(args.socket, command, cargs, timeout=args.timeout)
    except ControlClientError as exc:
        print(f"pybgpctl: {exc}", file=sys.stderr)
        return exc.exit_code
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        _render(args, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
