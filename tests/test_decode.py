"""The `pybgpctl decode` tool (pybgp.decode.main): input detection, JSON lines, summary, bad input."""

from __future__ import annotations

import bz2
import gzip
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from pybgp.decode import main

BGP_TYPES = {"OPEN", "UPDATE", "NOTIFICATION", "KEEPALIVE", "ROUTE-REFRESH"}
KEEPALIVE = b"\xff" * 16 + b"\x00\x13\x04"


def run(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> tuple[int, list[dict[str, object]], str]:
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return rc, [json.loads(line) for line in out.splitlines()], err


def test_capture_lines_carry_endpoints_and_timestamps(
    testdata: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rc, lines, err = run(capsys, testdata / "pcap/bgp/packetlife/bgp-add-path.cap")
    assert rc == 0 and err == ""
    assert Counter(line["type"] for line in lines) == Counter(
        {"OPEN": 2, "KEEPALIVE": 4, "UPDATE": 4, "ROUTE-REFRESH": 2})
    first = lines[0]
    assert first["src"] == "10.0.0.6:60917" and first["dst"] == "10.0.0.4:179"
    assert isinstance(first["timestamp"], float) and first["timestamp"] > 1e9
    nlri = [p for line in lines if line["type"] == "UPDATE" for p in line["nlri"]]  # type: ignore[attr-defined]
    # ADD-PATH was negotiated in the captured OPENs, so NLRI carry path identifiers (RFC 7911);
    # a path id of 0 is legal and printed as the bare prefix.
    assert any(isinstance(p, dict) and p["path_id"] > 0 for p in nlri)
    assert not any("context_guessed" in line for line in lines)  # both OPENs were captured
    rc, lines, _ = run(capsys, testdata / "pcap/bgp/os-ken/bgp4-update.pcap")  # a lone UPDATE
    assert rc == 0 and lines[0]["context_guessed"] is True


def test_every_capture_decodes_to_known_types(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    caps = [p for p in (testdata / "pcap/bgp").rglob("*") if p.is_file() and p.suffix != ".out"]
    errors = []
    for cap in caps:
        rc, lines, _err = run(capsys, cap)
        assert rc == 0, cap.name
        assert lines, cap.name
        assert {line["type"] for line in lines} <= BGP_TYPES, cap.name
        errors += [(cap.name, line["error"]) for line in lines if "error" in line]
    assert errors == []  # every message of every capture decodes (see test_capture_roundtrip.py)


def test_update_fields(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = run(capsys, testdata / "pcap/bgp/tcpdump/bgp-large-community.pcap")
    assert rc == 0
    update = lines[0]
    assert update["type"] == "UPDATE"
    attrs = update["attributes"]
    assert isinstance(attrs, dict) and attrs["large_communities"]
    assert attrs["origin"] in {"IGP", "EGP", "INCOMPLETE"}


def test_notification_shutdown_text(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = run(capsys, testdata / "pcap/bgp/tcpdump/bgp-shutdown-communication.pcapng")
    assert rc == 0
    (note,) = lines
    assert note["type"] == "NOTIFICATION" and note["code_name"] == "CEASE"
    assert isinstance(note["shutdown_communication"], str) and note["shutdown_communication"]


def test_mrt_rib_printed_as_routes(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = run(capsys, testdata / "mrt/bgpdump/test_data/bview.ipv4_unicast_add_path.gz")
    assert rc == 0
    ribs = [line for line in lines if line["type"] == "RIB"]
    assert len(ribs) == 62  # 31 prefixes x 2 paths, as bgpdump prints them
    assert ribs[0]["prefix"] == "10.0.10.0/24" and ribs[0]["path_id"] == 36 and ribs[0]["peer_as"] == 65015
    assert lines[0]["type"] == "PEER_INDEX_TABLE"


def test_mrt_updates_and_state_changes(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = run(capsys, testdata / "mrt/bgpdump/test_data/updates.20020722.2238.gz")
    assert rc == 0
    kinds = Counter(line["type"] for line in lines)
    expected = {"KEEPALIVE": 615, "UPDATE": 393, "STATE_CHANGE": 93, "OPEN": 13, "NOTIFICATION": 7}
    assert kinds == Counter(expected)
    assert all("peer_address" in line for line in lines)


def test_truncated_mrt_prints_what_it_read_then_one_line_error(
    testdata: Path, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    src = testdata / "mrt/bgpdump/test_data/bview.ipv4_unicast_add_path.gz"
    cut = tmp_path / "cut.mrt"
    cut.write_bytes(gzip.decompress(src.read_bytes())[:-30])
    rc, lines, err = run(capsys, cut)
    assert rc == 1 and lines
    assert len(err.strip().splitlines()) == 1 and "truncated" in err


def test_hex_raw_and_compressed_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    hexfile = tmp_path / "m.hex"
    colons = ":".join(f"{b:02X}" for b in KEEPALIVE)
    hexfile.write_text("# two keepalives\n" + KEEPALIVE.hex() + "\n" + colons + "  # the same, colon form\n")
    rc, lines, _ = run(capsys, hexfile)
    assert rc == 0 and [line["type"] for line in lines] == ["KEEPALIVE", "KEEPALIVE"]
    raw = tmp_path / "m.bin"
    raw.write_bytes(KEEPALIVE * 3)
    rc, lines, _ = run(capsys, raw)
    assert rc == 0 and len(lines) == 3


def test_compressed_mrt(testdata: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    plain = gzip.decompress((testdata / "mrt/bgpdump/test_data/updates.long_withdrawal.gz").read_bytes())
    (tmp_path / "u.bz2").write_bytes(bz2.compress(plain))
    rc, lines, _ = run(capsys, tmp_path / "u.bz2")
    assert rc == 0 and lines[0]["type"] == "UPDATE"
    assert len(lines[0]["mp_unreach"]["nlri"]) == 4096  # type: ignore[index]


@pytest.mark.parametrize("content", [b"", b"hello world, not BGP at all\x00\x01", b"\x1f\x8b\x08broken gzip"])
def test_bad_files_get_one_line_and_status_1(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              content: bytes) -> None:
    bad = tmp_path / "bad"
    bad.write_bytes(content)
    rc, lines, err = run(capsys, bad)
    assert rc == 1 and lines == []
    assert len(err.strip().splitlines()) == 1 and err.startswith("pybgpctl decode:")


def test_missing_file_and_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in (tmp_path / "nope", tmp_path):
        rc, _, err = run(capsys, path)
        assert rc == 1 and len(err.strip().splitlines()) == 1


def test_summary_table(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["--summary", str(testdata / "pcap/bgp/wireshark/bgp.pcapng.gz")])
    out, _ = capsys.readouterr()
    assert rc == 0
    assert "KEEPALIVE" in out and "60" in out and "UPDATE" in out and "192.168.51.2:54402" in out


FUZZ_CAPTURES = ["bgp-aigp-oobr.pcap", "bgp-as-path-oobr.pcap", "bgp-bgp_capabilities_print-oobr-1.pcap",
                 "bgp-infinite-loop.pcap", "bgp-ub.pcap", "bgp_mvpn_6_and_7_oobr.pcap",
                 "bgp_pmsi_tunnel-oobr.pcap", "bgp_vpn_rt-oobr.pcap",
                 "bgpsec_invalid_signature_block_length.pcap", "hoobr_bfd_print.pcap"]


@pytest.mark.parametrize("name", FUZZ_CAPTURES)
def test_malformed_captures_never_crash(
    testdata: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    rc, lines, err = run(capsys, testdata / "fuzz/tcpdump-malformed-pcaps" / name)
    assert rc in (0, 1)
    assert all(line["type"] in BGP_TYPES for line in lines)
    assert rc == 0 or len(err.strip().splitlines()) == 1


DAMAGED_MRT = ["bview.20000111.0032.gz", "updates.20000325.0345.gz", "updates.20001104.0124.gz"]


@pytest.mark.parametrize("name", DAMAGED_MRT)
def test_damaged_mrt_never_crashes(testdata: Path, capsys: pytest.CaptureFixture[str], name: str) -> None:
    rc, lines, err = run(capsys, testdata / "fuzz/mrt-damaged" / name)
    assert rc == 1 and lines  # damaged: reports it, after printing everything readable
    assert len(err.strip().splitlines()) == 1


def test_fuzz_corpus_messages_never_crash(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Raw fuzzer-found messages (FRR and BIRD corpora): each prints a line or a one-line error."""
    files = sorted(p for d in ("corpi/frr-bgpd-gen", "corpi/bird-gen", "gobgp-bad-len")
                   for p in (testdata / "fuzz" / d).iterdir() if p.name != "MANIFEST.tsv")
    assert len(files) > 1000
    for f in files[::3]:  # a third of the corpus keeps this test fast; the split is fixed, not random
        rc, _lines, err = run(capsys, f)
        assert rc in (0, 1), f.name
        assert rc == 0 or len(err.strip().splitlines()) == 1, f.name


def test_runs_as_a_module(tmp_path: Path) -> None:
    """`python -m pybgp.decode FILE` behaves like `pybgpctl decode FILE` (exit status, JSON lines)."""
    f = tmp_path / "k.bin"
    f.write_bytes(KEEPALIVE)
    done = subprocess.run([sys.executable, "-m", "pybgp.decode", str(f)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0 and json.loads(done.stdout) == {"type": "KEEPALIVE"}
    bad = subprocess.run([sys.executable, "-m", "pybgp.decode", str(tmp_path / "missing")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_usage_errors_return_a_status(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    """`pybgpctl decode --bogus` must not raise SystemExit through pybgpctl's main."""
    assert main(["--bogus"]) == 2
    f = tmp_path / "k.bin"
    f.write_bytes(KEEPALIVE)
    capsys.readouterr()
    assert main(["--summary", "--json", str(f)]) == 0  # pybgpctl --json forces JSON lines
    assert json.loads(capsys.readouterr().out) == {"type": "KEEPALIVE"}


def test_ipv6_mp_reach_and_opaque_families(testdata: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, lines, _ = run(capsys, testdata / "pcap/bgp/packetlife/BGP_MP_NLRI.cap")
    assert rc == 0
    reach = [line["mp_reach"] for line in lines if "mp_reach" in line]
    assert {"afi": 2, "safi": 1, "next_hops": ["2001:db8::2", "fe80::c002:bff:fe7e:0"],
            "nlri": ["2001:db8:2:2::/64", "2001:db8:2:1::/64", "2001:db8:2::/64"]} in reach
    assert lines[0]["src"].startswith("[2001:db8::")  # type: ignore[union-attr]
    rc, lines, _ = run(capsys, testdata / "pcap/bgp/networklessons/vxlan-mp-bgp-evpn-update-type-5.pcapng")
    evpn = [line["mp_reach"] for line in lines if "mp_reach" in line]
    assert rc == 0 and evpn and all(r["afi"] == 25 and r["raw_nlri"] for r in evpn)  # type: ignore[index]
