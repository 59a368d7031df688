"""pybgpd config: the example loads as TARGET.md's server; every mistake is reported with line and key."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path

import pytest

from pybgp.daemon.config import ConfigErrors, load_config, parse_config
from pybgp.daemon.main import check
from pybgp.daemon.reload import plan
from pybgp.daemon.schema import IPV4_UNICAST, AddPathMode
from pybgp.daemon.toml_lines import LineMap, format_path
from pybgp.daemon.translate import resolve_neighbors
from pybgp.rib.policy import Policy
from pybgp.wire.nlri import Prefix

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"

MINIMAL = """
[global]
asn = 64600
router_id = "10.0.0.1"
"""


def errors_of(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(ConfigErrors) as info:
        parse_config(text, "t.toml")
    return [(e.line, e.key, e.message) for e in info.value.errors]


def test_server_example_is_target_server() -> None:
    cfg = load_config(EXAMPLES / "pybgpd-server.toml")
    assert cfg.global_.asn == 64600
    assert cfg.origination.interfaces == ("node0",)
    assert [(k.table, k.protocol) for k in cfg.origination.kernel] == [(119, 30)]
    assert cfg.kernel.merge_paths == 16
    assert cfg.kernel.exclude_communities == ((64698 << 16) | 64699,)
    assert cfg.kernel.update_delay == 10  # not a TARGET rule: the recommended startup hold (issue 6)
    tor1, tor2, lb = cfg.neighbors
    assert (tor1.address, tor1.interface, tor1.remote_as) == (
        ipaddress.ip_address("10.69.0.65"),
        "eth0",
        64600,
    )
    assert (tor2.address, tor2.interface) == (ipaddress.ip_address("10.69.0.129"), "eth1")
    for tor in (tor1, tor2):
        assert tor.next_hop_self and tor.bfd.enabled and tor.import_policy == "from-tor"
        assert (tor.bfd.min_tx_ms, tor.bfd.min_rx_ms, tor.bfd.multiplier) == (400, 400, 5)
        assert tor.error_wait == (3.0, 300.0) and tor.hold_time == 240
    assert (lb.local_as, lb.remote_as, lb.passive, lb.export_policy) == (64699, 64698, True, "reject")
    assert lb.multihop is not None
    # The policies compile with the RIB's own parser.
    for name in ("from-tor", "from-lb"):
        Policy.from_dict(cfg.policy_spec(name), name)
    assert cfg.policies["from-tor"]["rules"][0]["set"]["next_hop"] == "peer-unless-same-subnet"
    # ~30 lines of actual configuration.
    body = [
        ln
        for ln in (EXAMPLES / "pybgpd-server.toml").read_text().splitlines()
        if ln.strip() and not ln.strip().startswith("#")
    ]
    assert len(body) <= 40


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("pybgpd*.toml")), ids=lambda p: p.name)
def test_every_example_is_valid(path: Path) -> None:
    assert check(str(path)) == 0


def test_defaults() -> None:
    cfg = parse_config(MINIMAL + '[[neighbor]]\naddress = "10.0.0.2"\nremote_as = 64601\n')
    n = cfg.neighbors[0]
    assert n.name == "10.0.0.2" and n.families == (IPV4_UNICAST,) and n.add_path is AddPathMode.OFF
    assert n.import_policy is None and n.export_policy is None  # RFC 8212 defaults apply
    assert not n.import_table  # as BIRD: no pre-policy Adj-RIB-In unless asked
    assert cfg.kernel.table == 254 and not cfg.kernel.keep_on_exit
    assert cfg.control.socket == Path("/run/pybgpd/pybgpd.sock")


BAD = """\
[global]
asn = "64600"
router_id = "10.69.0.300"
lisen = ["0.0.0.0"]

[origination]
static = ["10.1.0.1/24"]
kernel = [{ table = 119, protocl = 30 }]

[kernel]
metric = -1
exclude_community = ["64698"]
export = "kernel-out"

[prefix_list]
pods = ["10.64.0.0/14 le 33"]

[[neighbor]]
name = "tor1"
address = "10.69.0.65"
remote_as = 64600
hold_time = 2
import = "from-torr"
bfd = { min_tx_ms = 0, multiplier = 5 }
error_wait = [300, 3]

[[neighbor]]
name = "tor2"
address = "10.69.0.656"
remote_as = true
add_path = "recieve"
families = ["ipv4-unicst"]
ttl_security = true
multihop = 2

[[neighbor]]
name = "tor1"
address = "10.69.0.66"
remote_as = 64600

[policy.from-tor]
[[policy.from-tor.rules]]
match.prefix_list = "podz"
match.neighbour = "tor1"
set.next_hop = "onlink"
action = "acept"

[logging]
format = "yaml"

[metrics]
address = "localhost"

[control]
mode = "rw"
"""


def test_every_mistake_reported_with_line_and_key() -> None:
    errs = errors_of(BAD)
    by_key = {key: (line, msg) for line, key, msg in errs}
    expected = {
        "global.asn": (2, "expected integer"),
        "global.router_id": (3, "invalid IPv4 address"),
        "global.lisen": (4, "did you mean 'listen'"),
        "origination.static": (7, "host bits set"),
        "origination.kernel[0].protocl": (8, "did you mean 'protocol'"),
        "kernel.metric": (11, "0..4294967295"),
        "kernel.exclude_community": (12, "ASN:VALUE"),
        "kernel.export": (13, "policy 'kernel-out' is not defined"),
        "prefix_list.pods": (16, "ge <= le <= 32"),
        "neighbor[0].hold_time": (22, "RFC 4271"),
        "neighbor[0].import": (23, "did you mean 'from-tor'"),
        "neighbor[0].bfd.min_tx_ms": (24, "1..60000"),
        "neighbor[0].error_wait": (25, "MIN <= MAX"),
        "neighbor[1].address": (29, "invalid IP address"),
        "neighbor[1].remote_as": (30, "internal"),
        "neighbor[1].add_path": (31, "did you mean 'receive'"),
        "neighbor[1].families": (32, "did you mean 'ipv4-unicast'"),
        "neighbor[1].ttl_security": (33, "multihop"),
        "neighbor[2].name": (37, "duplicate neighbor name 'tor1'"),
        "policy.from-tor.rules[0].match.prefix_list": (43, "prefix list 'podz' is not defined"),
        "policy.from-tor.rules[0].match": (43, "did you mean 'neighbor'"),
        "policy.from-tor.rules[0].action": (46, "did you mean 'accept'"),
        "logging.format": (49, "one of text, json"),
        "metrics.address": (52, "HOST:PORT"),
        "control.mode": (55, "octal"),
    }
    missing = [k for k in expected if k not in by_key]
    assert not missing, f"not reported: {missing}; got {errs}"
    for key, (line, fragment) in expected.items():
        got_line, msg = by_key[key]
        assert fragment in msg, (key, msg)
        assert got_line is not None and abs(got_line - line) <= 1, (key, got_line, line)
    assert len({k for k in by_key}) >= 20


def test_next_hop_mistake_is_reported_by_the_rib_parser() -> None:
    text = MINIMAL + '[policy.p]\n[[policy.p.rules]]\nset.next_hop = "onlink"\n'
    ((line, key, msg),) = errors_of(text)
    assert line == 6 and key == "policy.p.rules[0]" and "next_hop" in msg


def test_prefix_list_expands_into_policy() -> None:
    text = (
        MINIMAL
        + """
[prefix_list]
pods = ["10.64.0.0/14 le 32"]
[policy.p]
default = "reject"
[[policy.p.rules]]
match.prefix_list = "pods"
"""
    )
    cfg = parse_config(text)
    assert cfg.policy_spec("p")["rules"][0]["match"]["prefix"] == ["10.64.0.0/14 le 32"]
    pol = Policy.from_dict(cfg.policy_spec("p"), "p")
    assert pol.rules[0].match.prefixes[0].matches(Prefix.parse("10.65.1.0/24"))


def test_syntax_error_has_line() -> None:
    ((line, _key, msg),) = errors_of(MINIMAL + "[[neighbor]\n")
    assert line == 5 and "TOML syntax error" in msg


def test_missing_global() -> None:
    errs = errors_of('[[neighbor]]\naddress = "10.0.0.2"\nremote_as = 1\n')
    assert any(key == "global" for _line, key, _msg in errs)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigErrors, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_line_map_paths() -> None:
    text = '[a]\nx = 1\n[[b]]\ny = 2\n[b.c]\nz = 3\n[[b]]\ny = 4\n"q.k" = 1\nd.e = 5\n'
    lm = LineMap(text)
    assert lm.line_of(("a", "x")) == 2
    assert lm.line_of(("b", 0, "y")) == 4
    assert lm.line_of(("b", 0, "c", "z")) == 6
    assert lm.line_of(("b", 1, "y")) == 8
    assert lm.line_of(("b", 1, "q.k")) == 9
    assert lm.line_of(("b", 1, "d", "e")) == 10
    assert lm.line_of(("b", 1, "nothing")) == 7
    assert format_path(("b", 1, "c", "z")) == "b[1].c.z"


def test_check_command_exit_codes(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BAD)
    proc = subprocess.run(
        [sys.executable, "-m", "pybgp.daemon.main", "--check", "-c", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert f"{bad}:2: global.asn" in proc.stderr and "error(s)" in proc.stderr
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    proc = subprocess.run(
        [sys.executable, "-m", "pybgp.daemon.main", "--check", "-c", str(good)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_neighbor_by_interface_only_resolves_to_first_host() -> None:
    cfg = parse_config(
        MINIMAL + '[[neighbor]]\ninterface = "eth0"\nremote_as = "internal"\n'
        '[[neighbor]]\ninterface = "eth9"\nremote_as = "internal"\n'
    )
    assert [(n.name, n.address) for n in cfg.neighbors] == [("eth0", None), ("eth9", None)]
    connected = {
        "eth0": {ipaddress.ip_interface("10.69.0.66/26")},
        "eth1": {ipaddress.ip_interface("10.69.0.65/26")},
    }
    resolved, problems = resolve_neighbors(cfg, connected)
    assert [(n.name, str(n.address)) for n in resolved.neighbors] == [("eth0", "10.69.0.65")]
    assert len(problems) == 1 and "eth9" in problems[0]
    # We are the first host ourselves: nothing to resolve to.
    me = parse_config(MINIMAL + '[[neighbor]]\ninterface = "eth1"\nremote_as = "internal"\n')
    assert resolve_neighbors(me, connected)[0].neighbors == ()
    # Neither address nor interface: an error at the key.
    errs = errors_of(MINIMAL + '[[neighbor]]\nremote_as = "internal"\n')
    assert any(key == "neighbor[0].address" and "missing" in msg for _line, key, msg in errs)


def test_import_table_key_and_reload_recreates() -> None:
    """`import_table` is a boolean, reported when it is not, and changing it re-creates the session
    (the Rib's Adj-RIB-In is built with the session)."""
    base = MINIMAL + '[[neighbor]]\nname = "tor1"\naddress = "10.0.0.2"\nremote_as = 64600\n'
    off, on = parse_config(base), parse_config(base + "import_table = true\n")
    assert on.neighbors[0].import_table and not off.neighbors[0].import_table
    assert plan(off, on)["recreated"] == ["tor1"]
    assert [(key, "expected" in msg) for _, key, msg in errors_of(base + 'import_table = "yes"\n')] == [
        ("neighbor[0].import_table", True)]
