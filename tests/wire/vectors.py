"""Loading the third-party golden vectors (testdata/vectors) into (name, bytes, context) triples.

Shared by the golden-vector, scapy-agreement and Hypothesis mutation tests; the formats are described
in testdata/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from pybgp.wire.context import WireContext

UNICAST_ADDPATH = frozenset({(1, 1), (2, 1), (1, 128), (2, 128)})


def exabgp_decoding(root: Path) -> list[tuple[str, bytes, WireContext]]:
    """ExaBGP qa/decoding: line 2 is hex (marker optional, ':' or spaces allowed); line 3 its JSON."""
    out = []
    for path in sorted((root / "vectors/exabgp/decoding").iterdir()):
        lines = path.read_text().splitlines()
        if lines[0].startswith("nlri"):
            continue  # a bare NLRI, not a message
        raw = bytes.fromhex(lines[1].replace(" ", "").replace(":", ""))
        if not raw.startswith(b"\xff" * 16):
            raw = b"\xff" * 16 + (len(raw) + 19).to_bytes(2, "big") + b"\x02" + raw
        info = json.loads(lines[2])
        asn = info.get("neighbor", {}).get("asn", {})
        ibgp = asn.get("local") == asn.get("peer")
        out.append((path.name, raw, WireContext(ibgp=ibgp)))
    return out


def exabgp_encoding(root: Path) -> list[tuple[str, bytes, WireContext]]:
    """ExaBGP qa/encoding/*.ci `N:raw:` lines (MARKER:LENGTH:TYPE:BODY), ADD-PATH for conf-addpath."""
    out = []
    for path in sorted((root / "vectors/exabgp/encoding").glob("*.ci")):
        addpath = UNICAST_ADDPATH if "addpath" in path.name else frozenset()
        ctx = WireContext(ibgp=True, addpath_rx=addpath, addpath_tx=addpath)
        for n, line in enumerate(path.read_text().splitlines()):
            if ":raw:" in line:
                raw = bytes.fromhex(line.split(":raw:", 1)[1].strip().replace(":", ""))
                out.append((f"{path.name}:{n + 1}", raw, ctx))
    return out


def json_vectors(root: Path, name: str) -> list[dict[str, object]]:
    data = json.loads((root / "vectors" / name).read_text())
    vectors: list[dict[str, object]] = data["vectors"]
    return vectors


def holo_context() -> WireContext:
    """holo's test context: 4-octet AS negotiated, iBGP peer."""
    return WireContext(ibgp=True)


def scapy_context(vector: dict[str, object]) -> WireContext:
    as4 = vector.get("as_path_asn_octets") == 4
    addpath = UNICAST_ADDPATH if "Additional Path" in str(vector.get("test_title")) else frozenset()
    return WireContext(as4=as4, ibgp=True, addpath_rx=addpath, addpath_tx=addpath)
