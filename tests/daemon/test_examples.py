"""The shipped examples: systemd units carry TARGET.md's operational settings and call real commands."""

from __future__ import annotations

import configparser
import contextlib
import io
import shlex
from pathlib import Path

import pytest

from pybgp.daemon import cli, main

SYSTEMD = Path(__file__).resolve().parents[2] / "examples" / "systemd"


def unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(SYSTEMD / name)
    return parser


def test_daemon_unit() -> None:
    svc = unit("pybgpd.service")["Service"]
    assert svc["CPUSchedulingPolicy"] == "rr" and svc["CPUSchedulingPriority"] == "50"
    assert svc["OOMScoreAdjust"] == "-1000"
    caps = set(svc["CapabilityBoundingSet"].split())
    assert caps == {"CAP_NET_ADMIN", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"}
    assert set(svc["AmbientCapabilities"].split()) == caps
    assert svc["KillSignal"] == "SIGTERM"
    # The commands it runs parse with the real argument parsers.
    for key, parser in (("ExecStart", main._parser()), ("ExecStartPre", main._parser())):
        argv = shlex.split(svc[key])
        assert argv[0].endswith("pybgpd")
        parser.parse_args(argv[1:])
    reload_argv = shlex.split(svc["ExecReload"])
    assert reload_argv[0].endswith("pybgpctl")
    cli._parser().parse_args(reload_argv[1:])


def test_wait_online_unit_gates_on_default_route() -> None:
    u = unit("pybgpd-wait-online.service")
    assert u["Unit"]["Before"] == "network-online.target"
    assert u["Install"]["WantedBy"] == "network-online.target"
    argv = shlex.split(u["Service"]["ExecStart"])
    args = cli._parser().parse_args(argv[1:])
    assert (args.cmd, args.what, args.prefix) == ("wait", "route", "0.0.0.0/0")
    assert args.wait_timeout is not None


def test_networkd_keeps_foreign_routes() -> None:
    assert "ManageForeignRoutes=no" in (SYSTEMD / "networkd-foreign-routes.conf").read_text()


def test_pybgpctl_decode_passes_its_arguments_through(testdata: Path) -> None:
    captures = sorted((testdata / "pcap" / "bgp").rglob("*.pcap*"))
    if not captures:
        pytest.skip("no BGP pcap in the shared test data")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["decode", "--summary", str(captures[0])])
    assert code == 0 and out.getvalue().strip()
    assert cli._decode_argv(["-s", "x", "--json", "decode", "f"]) == ["f", "--json"]
    assert cli._decode_argv(["show", "neighbors"]) is None
