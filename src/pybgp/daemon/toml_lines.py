"""Where each key of a TOML document sits: a map from key path to line number.

Owns: recovering line numbers that `tomllib` throws away, so every config error can name the file, the
line and the key. Paths use the parsed document's shape: table names and keys as strings, the position of
an `[[array-of-tables]]` element as an int, e.g. `("neighbor", 1, "bfd", "min_tx_ms")`.
Never does: parse values (tomllib does that and is the authority on validity); when the scan cannot place
a key (exotic syntax), `line_of` falls back to the nearest enclosing table it could place.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

KeyPath = tuple[str | int, ...]

_BARE_OR_QUOTED = r'(?:[A-Za-z0-9_\-]+|"(?:[^"\\]|\\.)*"|\'[^\']*\')'
_DOTTED = rf"{_BARE_OR_QUOTED}(?:\s*\.\s*{_BARE_OR_QUOTED})*"
_ARRAY_HEADER = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]")
_TABLE_HEADER = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]")
_KEY_LINE = re.compile(rf"^\s*({_DOTTED})\s*=")
_PART = re.compile(_BARE_OR_QUOTED)


def _split_dotted(text: str) -> list[str]:
    """Split `a."b.c".d` into its keys, unquoting quoted parts."""
    parts: list[str] = []
    for match in _PART.finditer(text):
        part = match.group(0)
        if part[:1] in "\"'":
            part = part[1:-1]
        parts.append(part)
    return parts


class LineMap:
    """Key path -> 1-based line number for one TOML source text."""

    __slots__ = ("_lines",)

    def __init__(self, source: str) -> None:
        self._lines: dict[KeyPath, int] = {}
        self._scan(source)

    def _scan(self, source: str) -> None:
        array_index: dict[KeyPath, int] = {}  # resolved array path -> index of its current element
        current: KeyPath = ()
        in_multiline: str | None = None
        for number, line in enumerate(source.splitlines(), start=1):
            if in_multiline is not None:
                if line.count(in_multiline) % 2 == 1:
                    in_multiline = None
                continue
            if (m := _ARRAY_HEADER.match(line)) is not None:
                path = self._resolve(_split_dotted(m.group(1)), array_index, include_last=False)
                index = array_index.get(path, -1) + 1
                array_index[path] = index
                # Deeper arrays belong to the previous element: forget them.
                for key in [k for k in array_index if len(k) > len(path) and k[: len(path)] == path]:
                    del array_index[key]
                current = (*path, index)
                self._lines.setdefault(path, number)
                self._lines[current] = number
                continue
            if (m := _TABLE_HEADER.match(line)) is not None:
                current = self._resolve(_split_dotted(m.group(1)), array_index, include_last=True)
                self._lines.setdefault(current, number)
                continue
            if (m := _KEY_LINE.match(line)) is not None:
                parts = _split_dotted(m.group(1))
                for depth in range(1, len(parts) + 1):
                    self._lines.setdefault((*current, *parts[:depth]), number)
                rest = line[m.end() :]
                for quote in ('"""', "'''"):
                    if rest.count(quote) % 2 == 1:
                        in_multiline = quote
                        break

    @staticmethod
    def _resolve(parts: Sequence[str], array_index: dict[KeyPath, int], include_last: bool) -> KeyPath:
        """Turn header parts into a path, inserting the current index after every array of tables."""
        path: KeyPath = ()
        for i, part in enumerate(parts):
            path = (*path, part)
            last = i == len(parts) - 1
            if path in array_index and (include_last or not last):
                path = (*path, array_index[path])
        return path

    def line_of(self, path: KeyPath) -> int | None:
        """The line of `path`, or of its nearest placed ancestor; None when nothing matches."""
        probe = tuple(path)
        while probe:
            if probe in self._lines:
                return self._lines[probe]
            probe = probe[:-1]
        return None


def format_path(path: KeyPath) -> str:
    """`("neighbor", 1, "bfd", "min_tx_ms")` -> `neighbor[1].bfd.min_tx_ms`."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out
