"""The `pybfd` command's parsing and output (the running part is covered by the interop tests)."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path

import pytest

from pybfd.cli import change_json, load_toml, main, parse_auth, session_from_mapping
from pybfd.constants import AuthType, Diag, State
from pybfd.engine import BfdStateChange
from pybfd.manager import SessionKey


def test_toml_with_defaults_and_auth(tmp_path: Path) -> None:
    conf = tmp_path / "s.toml"
    conf.write_text(
        """
[defaults]
desired_min_tx_ms = 50
detect_mult = 5
[[session]]
peer = "192.0.2.2"
local = "192.0.2.1"
interface = "eth0"
auth = { type = "meticulous-keyed-sha1", key_id = 4, secret = "k" }
[[session]]
peer = "2001:db8::2"
multihop = true
detect_mult = 3
"""
    )
    first, second = load_toml(str(conf))
    assert first.peer == ipaddress.ip_address("192.0.2.2") and first.interface == "eth0"
    assert first.desired_min_tx_ms == 50 and first.detect_mult == 5
    assert first.auth is not None and first.auth.auth_type is AuthType.METICULOUS_KEYED_SHA1
    assert first.auth.tx_key.key_id == 4 and first.auth.tx_key.secret == b"k"
    assert second.multihop and second.detect_mult == 3 and second.auth is None


def test_bad_configuration_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "s.toml"
    conf.write_text('[[session]]\npeer = "192.0.2.2"\ntx = 5\n')
    with pytest.raises(ValueError, match="unknown session keys: tx"):
        load_toml(str(conf))
    with pytest.raises(ValueError, match="unknown auth type"):
        parse_auth("sha256:1:x")
    with pytest.raises(ValueError):
        load_toml_text = tmp_path / "mixed.toml"
        load_toml_text.write_text('[[session]]\npeer = "192.0.2.2"\nlocal = "2001:db8::1"\n')
        load_toml(str(load_toml_text))
    with pytest.raises(SystemExit):
        main([])
    for bad in ({"detect_mult": 0}, {"desired_min_tx_ms": 0}, {"min_ttl": 300}):
        with pytest.raises(ValueError):
            session_from_mapping({"peer": "192.0.2.2", **bad})


def test_decode_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "20c003189fb205d64a2357dc000493e0000493e00000c350"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (
        out["state"] == "UP"
        and out["my_discr"] == 0x9FB205D6
        and out["required_min_echo_rx_interval_us"] == 50_000
    )
    assert main(["decode", "20c0031712345678"]) == 1
    assert "too_short" in json.loads(capsys.readouterr().out)["error"]


def test_change_json_shape() -> None:
    ip = ipaddress.ip_address("192.0.2.2")
    change = BfdStateChange(
        key=SessionKey(peer=ip, interface="eth0"),
        peer=ip,
        old_state=State.UP,
        new_state=State.DOWN,
        diag=Diag.CONTROL_DETECTION_TIME_EXPIRED,
        at=12.5,
        remote_state=State.UP,
    )
    out = change_json(change)
    assert out["old"] == "UP" and out["new"] == "DOWN" and out["failure"] is True
    assert out["interface"] == "eth0" and out["monotonic"] == 12.5 and out["time"].endswith("+00:00")
    json.dumps(out)
