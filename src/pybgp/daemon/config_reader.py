"""The machinery under pybgpd's config validation: typed TOML table readers and value parsers.

Owns: `ConfigError`/`ConfigErrors` (file, line, key, message), the `_Table` reader whose getters record
an error instead of raising (so one pass reports every problem), the closest-name hint for unknown keys
and choices (difflib), and the value parsers (addresses, prefixes, communities, HOST:PORT, prefix-list
entries) that raise ValueError with a readable reason.
Never does: know the config's schema (that is `config.py`) or read files.
"""

from __future__ import annotations

import difflib
import ipaddress
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from pybgp.daemon.schema import IPAddress
from pybgp.daemon.toml_lines import KeyPath, LineMap, format_path
from pybgp.rib.policy import PolicyError, PrefixListEntry
from pybgp.wire.nlri import Prefix

T = TypeVar("T")
MISSING: Any = object()


@dataclass(frozen=True, slots=True, kw_only=True)
class ConfigError:
    file: str
    line: int | None
    key: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.key}: {self.message}" if self.key else f"{where}: {self.message}"


class ConfigErrors(Exception):
    """Every problem found in one config file (never just the first)."""

    def __init__(self, errors: list[ConfigError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))


_TOML_TYPE = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}


def type_name(value: object) -> str:
    return _TOML_TYPE.get(type(value), type(value).__name__)


class Ctx:
    """Error sink shared by every `Table` of one document."""

    def __init__(self, source: str, lines: LineMap) -> None:
        self.source = source
        self.lines = lines
        self.errors: list[ConfigError] = []

    def error(self, path: KeyPath, message: str) -> None:
        self.errors.append(
            ConfigError(
                file=self.source, line=self.lines.line_of(path), key=format_path(path), message=message
            )
        )


class Table:
    """A TOML table being read: typed getters that record errors and remember which keys were used."""

    def __init__(self, ctx: Ctx, path: KeyPath, data: dict[str, Any]) -> None:
        self.ctx, self.path, self.data = ctx, path, data
        self.used: set[str] = set()

    def error(self, key: str | int | None, message: str) -> None:
        self.ctx.error(self.path if key is None else (*self.path, key), message)

    def raw(self, key: str, default: Any = MISSING) -> Any:
        self.used.add(key)
        if key in self.data:
            return self.data[key]
        if default is MISSING:
            self.error(key, "required key is missing")
            return None
        return default

    def typed(self, key: str, kind: type[T], default: Any = MISSING, what: str = "") -> Any:
        value = self.raw(key, default)
        if key not in self.data:
            return value
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not ok:
            expected = what or _TOML_TYPE.get(kind, kind.__name__)
            self.error(key, f"expected {expected}, got {type_name(value)} {value!r}")
            return None if default is MISSING else default
        return value

    def integer(self, key: str, default: Any = MISSING, lo: int | None = None, hi: int | None = None) -> Any:
        value = self.typed(key, int, default)
        in_range = not isinstance(value, int) or ((lo is None or value >= lo) and (hi is None or value <= hi))
        if key in self.data and not isinstance(value, bool) and not in_range:
            what = f"in {lo}..{hi}" if hi is not None else f">= {lo}"
            self.error(key, f"expected an integer {what}, got {value}")
            return None if default is MISSING else default
        return value

    def number(self, key: str, default: Any = MISSING, lo: float = 0.0) -> Any:
        value = self.typed(key, float, default, what="number")
        if isinstance(value, float) and key in self.data and value < lo:
            self.error(key, f"expected a number >= {lo}, got {value}")
            return default if default is not MISSING else None
        return value

    def string(self, key: str, default: Any = MISSING, choices: Iterable[str] | None = None) -> Any:
        value = self.typed(key, str, default)
        if choices is not None and isinstance(value, str) and key in self.data:
            options = list(choices)
            if value not in options:
                self.error(key, f"expected one of {', '.join(options)}, got {value!r}" + hint(value, options))
                return None if default is MISSING else default
        return value

    def boolean(self, key: str, default: Any = MISSING) -> Any:
        return self.typed(key, bool, default)

    def convert(self, key: str, parse: Callable[[str], T], what: str, default: Any = MISSING) -> Any:
        value = self.typed(key, str, default, what=f"a string holding {what}")
        if isinstance(value, str) and key in self.data:
            try:
                return parse(value)
            except ValueError as exc:
                self.error(key, f"invalid {what} {value!r}: {exc}")
                return None if default is MISSING else default
        return value

    def strings(self, key: str, default: Any = ()) -> tuple[str, ...]:
        value = self.raw(key, default)
        if key not in self.data:
            return tuple(value)
        if not isinstance(value, list):
            self.error(key, f"expected an array of strings, got {type_name(value)} {value!r}")
            return tuple(default)
        out: list[str] = []
        for i, item in enumerate(value):
            if isinstance(item, str):
                out.append(item)
            else:
                self.error(key, f"element {i}: expected string, got {type_name(item)} {item!r}")
        return tuple(out)

    def converted_list(self, key: str, parse: Callable[[str], T], what: str) -> tuple[T, ...]:
        out: list[T] = []
        for i, text in enumerate(self.strings(key)):
            try:
                out.append(parse(text))
            except ValueError as exc:
                self.error(key, f"element {i}: invalid {what} {text!r}: {exc}")
        return tuple(out)

    def table(self, key: str) -> Table | None:
        value = self.raw(key, None)
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(key, f"expected a table, got {type_name(value)} {value!r}")
            return None
        return Table(self.ctx, (*self.path, key), value)

    def tables(self, key: str) -> list[Table]:
        value = self.raw(key, [])
        if isinstance(value, dict):  # `[x]` written where `[[x]]` was meant: accept a single table
            return [Table(self.ctx, (*self.path, key), value)]
        if not isinstance(value, list):
            self.error(key, f"expected an array of tables ([[{key}]]), got {type_name(value)}")
            return []
        out = []
        for i, item in enumerate(value):
            if isinstance(item, dict):
                out.append(Table(self.ctx, (*self.path, key, i), item))
            else:
                self.error(key, f"element {i}: expected a table, got {type_name(item)} {item!r}")
        return out

    def finish(self) -> None:
        """Report every key nobody asked for, with the closest valid name."""
        for key in self.data:
            if key not in self.used:
                self.error(key, "unknown key" + hint(key, sorted(self.used)))


def hint(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


# --- value parsers (ValueError on bad input) ---------------------------------------------------------


def parse_address(text: str) -> IPAddress:
    return ipaddress.ip_address(text)


def parse_ipv4(text: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(text)


def parse_prefix(text: str) -> Prefix:
    try:
        return Prefix.parse(text)
    except ValueError as exc:
        message = str(exc).replace("has host bits set", "has host bits set (use the network address)")
        raise ValueError(message) from None


def parse_community(text: str) -> int:
    """ "64698:64699" -> 32-bit int (RFC 1997)."""
    high, sep, low = text.partition(":")
    if not sep or not high.isdigit() or not low.isdigit():
        raise ValueError("expected ASN:VALUE with two decimal numbers, e.g. '64698:64699'")
    a, b = int(high), int(low)
    if a > 0xFFFF or b > 0xFFFF:
        raise ValueError("each half must be 0..65535")
    return (a << 16) | b


def parse_hostport(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("expected HOST:PORT, e.g. '127.0.0.1:9179' or '[::1]:9179'")
    host = host.strip("[]")
    ipaddress.ip_address(host)
    return host, int(port)


def parse_prefix_list_entry(text: str) -> PrefixListEntry:
    """ "10.64.0.0/14", "10.64.0.0/14 le 32", "10.0.0.0/8 ge 24 le 32" (the RIB's prefix-list syntax)."""
    try:
        return PrefixListEntry.parse(text)
    except PolicyError as exc:
        raise ValueError(str(exc)) from None
