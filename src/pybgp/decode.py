"""`pybgpctl decode FILE`: print every BGP message in a capture, MRT dump or hex file as JSON lines.

Owns: detecting the input kind (pcap / pcapng / gzip capture, MRT plain / gzip / bzip2, hex text) by
content, choosing the `WireContext` each message needs (from the OPENs seen on a captured connection,
from the MRT subtype, or from flags for hex), printing one JSON object per message or route (`"type"`
is "OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE" or "ROUTE-REFRESH" for BGP messages; "RIB" for a
route of an MRT table dump; "STATE_CHANGE", "PEER_INDEX_TABLE", "DAMAGED" for other MRT records), and
the `--summary` table. A captured UPDATE decoded before both OPENs of its connection were seen carries
`"context_guessed": true` (4-octet AS / ADD-PATH were inferred from what decodes cleanly).
Never does: raise to its caller (any failure is one line on stderr and exit status 1), write files, or
guess silently: messages that fail to decode are printed with "error".

Entry point: `main(argv) -> int`; `pybgpctl decode` calls it with the arguments after "decode".
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pybgp.capture import CapturedMessage, CaptureReader, read_capture
from pybgp.wire.capabilities import AddPath, ExtendedMessage, FourOctetAs
from pybgp.wire.constants import HEADER_LEN, MARKER
from pybgp.wire.context import Family, WireContext
from pybgp.wire.errors import WireError
from pybgp.wire.jsonify import attributes_to_json, message_to_json, plain, prefix_to_json
from pybgp.wire.messages import Message, Open, Update, decode_message

_PCAP_MAGICS = {b"\xa1\xb2\xc3\xd4", b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\x3c\x4d", b"\x4d\x3c\xb2\xa1"}
_PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"
_HEX_TEXT = re.compile(rb"^[\s0-9a-fA-Fx:#,;\[\]\"'._\-]*$")
_TYPE_NAMES = {1: "OPEN", 2: "UPDATE", 3: "NOTIFICATION", 4: "KEEPALIVE", 5: "ROUTE-REFRESH"}


class InputError(Exception):
    """The file is unreadable or of no kind we know; the message is the one line the user sees."""


def detect_kind(path: Path) -> str:
    """"capture", "mrt", "raw" (BGP messages back to back) or "hex", by the first bytes (after
    gzip/bzip2 decompression)."""
    try:
        with open(path, "rb") as f:
            head = f.read(256)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if not head:
        raise InputError(f"{path} is empty")
    inner = head
    if head[:2] == b"\x1f\x8b":
        try:
            with gzip.open(path, "rb") as g:
                inner = g.read(256)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: damaged gzip data: {exc}") from exc
    elif head[:3] == b"BZh":
        try:
            with bz2.open(path, "rb") as b:
                inner = b.read(256)
        except (OSError, EOFError) as exc:
            raise InputError(f"{path}: damaged bzip2 data: {exc}") from exc
    if inner[:4] in _PCAP_MAGICS or inner[:4] == _PCAPNG_MAGIC:
        if head[:3] == b"BZh":
            raise InputError(f"{path}: bzip2-compressed captures are not supported; decompress it first")
        return "capture"
    if inner[:16] == MARKER:
        return "raw"
    sniff = re.sub(rb"#[^\n]*", b"", inner)  # comment lines may precede the hex
    if _HEX_TEXT.match(sniff) and re.search(rb"[0-9a-fA-F]{8}", sniff):
        return "hex"
    if len(inner) >= 12:
        rtype = int.from_bytes(inner[4:6], "big")
        length = int.from_bytes(inner[8:12], "big")
        if rtype in (11, 12, 13, 16, 17, 32, 33, 48, 49) or (rtype <= 10 and length < (1 << 24)):
            return "mrt"
    raise InputError(f"{path}: not a pcap/pcapng capture, MRT file or hex text")


# -- contexts for captured sessions ---------------------------------------------------------------


@dataclass(slots=True)
class _Connection:
    """The OPENs seen on one TCP connection, keyed by the sender's endpoint."""

    opens: dict[tuple[str, int], Open] = field(default_factory=dict)


def _addpath_families(sender: Open, receiver: Open) -> frozenset[Family]:
    """RFC 7911 section 4: path ids flow sender->receiver where one can send and the other receive."""
    send: set[Family] = set()
    recv: set[Family] = set()
    for cap in sender.capabilities:
        if isinstance(cap, AddPath):
            send.update((f.afi, f.safi) for f in cap.families if f.send_receive & 2)
    for cap in receiver.capabilities:
        if isinstance(cap, AddPath):
            recv.update((f.afi, f.safi) for f in cap.families if f.send_receive & 1)
    return frozenset(send & recv)


def _open_asn(msg: Open) -> int:
    for cap in msg.capabilities:
        if isinstance(cap, FourOctetAs):
            return cap.asn
    return msg.my_as


def session_context(sender: Open, receiver: Open) -> WireContext:
    """The context for messages `sender` sends to `receiver` once both OPENs are known."""
    as4 = any(isinstance(c, FourOctetAs) for c in sender.capabilities) and any(
        isinstance(c, FourOctetAs) for c in receiver.capabilities
    )
    ext = any(isinstance(c, ExtendedMessage) for c in sender.capabilities) and any(
        isinstance(c, ExtendedMessage) for c in receiver.capabilities
    )
    addpath = _addpath_families(sender, receiver)
    return WireContext(as4=as4, extended_message=ext, ibgp=_open_asn(sender) == _open_asn(receiver),
                       addpath_rx=addpath, addpath_tx=addpath)


_ALL = frozenset({(1, 1), (2, 1)})
FALLBACK_CONTEXTS = (
    WireContext(as4=True, extended_message=True, ibgp=True),
    WireContext(as4=False, extended_message=True, ibgp=True),
    WireContext(as4=True, extended_message=True, ibgp=True, addpath_rx=_ALL, addpath_tx=_ALL),
    WireContext(as4=False, extended_message=True, ibgp=True, addpath_rx=_ALL, addpath_tx=_ALL),
)
"""Tried in order when no OPEN was captured: the first that decodes without an RFC 7606 fault wins."""


def decode_guessing(data: bytes, contexts: tuple[WireContext, ...]) -> tuple[Message, WireContext]:
    """Decode with the first context that gives a clean message (else the first that decodes at all)."""
    first: tuple[Message, WireContext] | None = None
    last_error: WireError | None = None
    for ctx in contexts:
        try:
            msg = decode_message(data, ctx)
        except WireError as exc:
            last_error = exc
            continue
        if not (isinstance(msg, Update) and msg.fault is not None):
            return msg, ctx
        if first is None:
            first = (msg, ctx)
    if first is not None:
        return first
    assert last_error is not None
    raise last_error


def _error_line(data: bytes, exc: Exception) -> dict[str, Any]:
    mtype = data[18] if len(data) > 18 else 0
    text = str(exc) if type(exc) is WireError else f"{type(exc).__name__}: {exc}"
    return {"type": _TYPE_NAMES.get(mtype, f"TYPE-{mtype}"), "error": text, "hex": data.hex()}


@dataclass(frozen=True, slots=True)
class DecodedCapture:
    """One captured message with what decoding made of it: `message` and the `context` that decoded
    it, or `error` when no context could. Tests re-encode `message` with `context` byte for byte."""

    captured: CapturedMessage
    message: Message | None
    context: WireContext | None
    error: str | None = None
    guessed: bool = False  # no OPEN pair seen for this connection: the context was guessed


def decode_capture(reader: CaptureReader) -> Iterator[DecodedCapture]:
    """Decode each message of a capture with the context its connection's OPENs imply.

    Before both OPENs of a connection are seen (capture started mid-session), `FALLBACK_CONTEXTS`
    are tried in order; an OPEN seen later fixes the context for the rest of the connection."""
    conns: dict[frozenset[tuple[str, int]], _Connection] = {}
    for cm in reader:
        conn = conns.setdefault(frozenset((cm.src, cm.dst)), _Connection())
        sender, receiver = conn.opens.get(cm.src), conn.opens.get(cm.dst)
        guessed = not (sender and receiver) and cm.data[18] == 2  # only UPDATEs depend on the context
        contexts = (session_context(sender, receiver),) if sender and receiver else FALLBACK_CONTEXTS
        try:
            msg, ctx = decode_guessing(cm.data, contexts)
        except WireError as exc:
            error = f"{type(exc).__name__}: {exc}"
            yield DecodedCapture(captured=cm, message=None, context=None, error=error, guessed=guessed)
            continue
        if isinstance(msg, Open):
            conn.opens[cm.src] = msg
        yield DecodedCapture(captured=cm, message=msg, context=ctx, guessed=guessed)


def _endpoint(ep: tuple[str, int]) -> str:
    return f"[{ep[0]}]:{ep[1]}" if ":" in ep[0] else f"{ep[0]}:{ep[1]}"


def capture_lines(path: Path, ports: frozenset[int]) -> Iterator[dict[str, Any]]:
    reader = read_capture(path, ports=ports)
    for item in decode_capture(reader):
        cm = item.captured
        head: dict[str, Any] = {"timestamp": round(cm.timestamp, 6), "frame": cm.frame,
                                "src": _endpoint(cm.src), "dst": _endpoint(cm.dst)}
        if item.guessed:
            head["context_guessed"] = True
        if item.message is None:
            yield head | _error_line(cm.data, WireError(item.error or "undecodable"))
        else:
            yield head | message_to_json(item.message)
    if reader.error:
        raise InputError(f"{path}: {reader.error}")


def parse_hex(text: bytes) -> bytes:
    """Hex text to bytes: whitespace, ':', ',', '0x' prefixes and '#' comments are ignored."""
    out: list[str] = []
    for line in text.splitlines():
        line = line.split(b"#", 1)[0]
        cleaned = re.sub(rb"0x", b"", line)
        out.append(re.sub(rb"[^0-9a-fA-F]", b"", cleaned).decode())
    digits = "".join(out)
    if len(digits) % 2:
        raise InputError("odd number of hex digits")
    return bytes.fromhex(digits)


def hex_lines(path: Path, ctx: WireContext, *, raw: bool = False) -> Iterator[dict[str, Any]]:
    """Messages back to back, from hex text or (`raw`) binary; a bad length ends the listing."""
    content = Path(path).read_bytes()
    data = content if raw else parse_hex(content)
    pos = 0
    while pos < len(data):  # each step consumes at least HEADER_LEN bytes or stops
        if data[pos : pos + 16] != MARKER or pos + HEADER_LEN > len(data):
            raise InputError(f"{path}: no BGP marker at byte {pos}")
        length = int.from_bytes(data[pos + 16 : pos + 18], "big")
        if length < HEADER_LEN or pos + length > len(data):
            raise InputError(f"{path}: BGP length {length} at byte {pos} does not fit the data")
        chunk = data[pos : pos + length]
        pos += length
        try:
            yield message_to_json(decode_message(chunk, ctx))
        except WireError as exc:
            yield _error_line(chunk, exc)


def _route_line(route: Any, record: Any) -> dict[str, Any]:
    line: dict[str, Any] = {
        "type": "RIB",
        "timestamp": record.timestamp,
        "prefix": prefix_to_json(route.prefix.without_path_id()),
        "peer_address": str(route.peer_address) if route.peer_address is not None else None,
        "peer_as": route.peer_as,
        "next_hop": str(route.next_hop) if route.next_hop is not None else None,
        "attributes": attributes_to_json(route.attributes) if route.attributes is not None else None,
    }
    if route.path_id:
        line["path_id"] = route.path_id
    return line


def mrt_lines(path: Path) -> Iterator[dict[str, Any]]:
    from pybgp.wire import mrt

    try:
        reader = mrt.read_mrt(path)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc}") from exc
    for rec in reader:
        body = rec.body
        head: dict[str, Any] = {
            "timestamp": round(rec.timestamp, 6),
            "mrt_type": _mrt_name(rec.type, rec.subtype),
        }
        if isinstance(body, mrt.Bgp4mpMessage):
            head |= {"peer_address": str(body.peer_address), "peer_as": body.peer_as,
                     "local_address": str(body.local_address), "local_as": body.local_as}
            if body.message is not None:
                yield head | message_to_json(body.message)
            else:
                yield head | _error_line(body.raw, WireError(body.error or "undecodable"))
        elif isinstance(body, mrt.RibRecord | mrt.TableDumpEntry):
            if isinstance(body, mrt.RibRecord) and body.prefix is None:
                yield head | {"type": "RIB", "afi": body.afi, "safi": body.safi,
                              "raw_nlri": body.raw_nlri.hex(), "entries": len(body.entries)}
            for route in mrt.record_routes(rec):
                yield head | _route_line(route, rec)
        elif isinstance(body, mrt.Bgp4mpStateChange):
            yield head | {"type": "STATE_CHANGE", "peer_address": str(body.peer_address),
                          "peer_as": body.peer_as, "old_state": _state(body.old_state),
                          "new_state": _state(body.new_state)}
        elif isinstance(body, mrt.PeerIndexTable):
            yield head | {"type": "PEER_INDEX_TABLE"} | plain(body)
        elif isinstance(body, mrt.DamagedRecord):
            yield head | {"type": "DAMAGED", "offset": rec.offset, "reason": body.reason}
        else:
            yield head | {"type": "UNKNOWN", "offset": rec.offset, "length": len(rec.raw)}
    if reader.truncated or reader.damaged:
        what = "truncated" if reader.truncated else f"{reader.damaged} damaged record(s)"
        raise InputError(f"{path}: {what}: {reader.error}")


def _mrt_name(rtype: int, subtype: int) -> str:
    from pybgp.wire.mrt import Bgp4mpSubtype, MrtType, TableDumpV2Subtype

    try:
        tname = MrtType(rtype).name
    except ValueError:
        return f"{rtype}/{subtype}"
    enum: Any = {13: TableDumpV2Subtype, 16: Bgp4mpSubtype, 17: Bgp4mpSubtype}.get(rtype)
    try:
        return f"{tname}/{enum(subtype).name}" if enum else f"{tname}/{subtype}"
    except ValueError:
        return f"{tname}/{subtype}"


def _state(n: int) -> str:
    from pybgp.wire.mrt import BgpFsmState

    try:
        return BgpFsmState(n).name
    except ValueError:
        return str(n)


# -- summary ------------------------------------------------------------------------------------


@dataclass(slots=True)
class Summary:
    """Counts for `--summary`: per message/record type, per sender, prefixes and errors."""

    types: Counter[str] = field(default_factory=Counter)
    senders: Counter[str] = field(default_factory=Counter)
    announced: int = 0
    withdrawn: int = 0
    errors: int = 0
    first: float | None = None
    last: float | None = None

    def add(self, line: dict[str, Any]) -> None:
        self.types[str(line.get("type"))] += 1
        sender = line.get("src") or line.get("peer_address")
        if sender:
            self.senders[str(sender)] += 1
        if "error" in line:
            self.errors += 1
        ts = line.get("timestamp")
        if isinstance(ts, int | float) and ts > 0:
            self.first = ts if self.first is None else min(self.first, ts)
            self.last = ts if self.last is None else max(self.last, ts)
        if line.get("type") == "UPDATE":
            self.announced += len(line.get("nlri", ())) + len(line.get("mp_reach", {}).get("nlri", ()))
            self.withdrawn += len(line.get("withdrawn", ())) + len(line.get("mp_unreach", {}).get("nlri", ()))
        elif line.get("type") == "RIB" and "prefix" in line:
            self.announced += 1

    def render(self, out: TextIO, title: str) -> None:
        from rich.console import Console
        from rich.table import Table

        console = Console(file=out, width=100)
        console.print(title)
        table = Table()
        table.add_column("what")
        table.add_column("count", justify="right")
        for name, n in sorted(self.types.items()):
            table.add_row(name, str(n))
        table.add_row("prefixes announced / in RIB", str(self.announced))
        table.add_row("prefixes withdrawn", str(self.withdrawn))
        table.add_row("decode errors", str(self.errors))
        console.print(table)
        if self.senders:
            peers = Table(title="by sender")
            peers.add_column("sender")
            peers.add_column("lines", justify="right")
            for name, n in self.senders.most_common(20):
                peers.add_row(name, str(n))
            console.print(peers)
        if self.first is not None and self.last is not None:
            console.print(f"time span: {self.first:.6f} .. {self.last:.6f} ({self.last - self.first:.3f} s)")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="pybgpctl decode",
                                description="Print the BGP messages of a pcap/pcapng capture, MRT file, "
                                            "hex dump or raw message file as JSON lines.")
    p.add_argument("file", type=Path)
    p.add_argument("--summary", action="store_true", help="print a table of counts instead of JSON lines")
    p.add_argument("--json", action="store_true",
                   help="JSON lines (the default output; given, it wins over --summary: `pybgpctl --json`)")
    p.add_argument("--port", type=int, action="append", default=None,
                   help="TCP port carrying BGP in captures (repeatable; default 179)")
    p.add_argument("--as2", action="store_true",
                   help="hex input: 2-octet AS numbers (no RFC 6793 capability)")
    p.add_argument("--addpath", action="store_true", help="hex input: NLRI carry RFC 7911 path identifiers")
    return p


def _lines(args: argparse.Namespace) -> Iterator[dict[str, Any]]:
    kind = detect_kind(args.file)
    if kind == "capture":
        return capture_lines(args.file, frozenset(args.port or [179]))
    if kind == "mrt":
        return mrt_lines(args.file)
    fams = _ALL if args.addpath else frozenset()
    ctx = WireContext(as4=not args.as2, extended_message=True, ibgp=True, addpath_rx=fams, addpath_tx=fams)
    return hex_lines(args.file, ctx, raw=kind == "raw")


def main(argv: list[str] | None = None) -> int:
    """Run the tool; returns the exit status (0 ok, 1 bad input; never raises for bad files)."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # usage error or --help: argparse printed it; return, never exit
        return exc.code if isinstance(exc.code, int) else 2
    out = sys.stdout
    summary = Summary() if args.summary and not args.json else None
    try:
        for line in _lines(args):
            if summary is not None:
                summary.add(line)
            else:
                out.write(json.dumps(line, default=str) + "\n")
    except InputError as exc:
        if summary is not None:
            summary.render(out, str(args.file))
        print(f"pybgpctl decode: {exc}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0
    except (OSError, ValueError, EOFError) as exc:
        print(f"pybgpctl decode: {args.file}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if summary is not None:
        summary.render(out, str(args.file))
    return 0


# Keep the module importable as `python -m pybgp.decode FILE`.
if __name__ == "__main__":
    sys.exit(main())

