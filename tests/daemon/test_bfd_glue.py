"""BfdGlue: BFD sessions follow the config; only real failures (Up -> Down, not AdminDown) reset BGP."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pybfd.aio import BfdPeerConfig, BfdStateChange, Diag, SessionKey, State
from pybgp.daemon.bfd_glue import BfdGlue, state_name
from pybgp.daemon.config import parse_config
from pybgp.daemon.metrics import Metrics

CFG = """
[global]
asn = 64600
router_id = "10.69.0.2"
[[neighbor]]
name = "tor1"
address = "10.69.0.65"
interface = "eth0"
remote_as = "internal"
bfd = { min_tx_ms = 100, min_rx_ms = 100, multiplier = 3 }
[[neighbor]]
name = "tor2"
address = "10.69.0.129"
interface = "eth1"
remote_as = "internal"
bfd = true
[[neighbor]]
name = "lb"
address = "127.0.0.1"
remote_as = 64698
"""


class Service:
    def __init__(self) -> None:
        self.live: dict[SessionKey, BfdPeerConfig] = {}
        self.log: list[tuple[str, str]] = []

    def add_session(self, config: BfdPeerConfig) -> SessionKey:
        self.live[config.key] = config
        self.log.append(("add", str(config.peer)))
        return config.key

    def remove_session(self, key: SessionKey) -> None:
        del self.live[key]
        self.log.append(("remove", str(key.peer)))

    def set_parameters(self, key: SessionKey, **kw: Any) -> None:
        self.live[key] = replace(self.live[key], **kw)
        self.log.append(("params", str(key.peer)))

    def sessions(self) -> list[Any]:
        return []


def change(
    svc: Service,
    peer: str,
    old: State,
    new: State,
    diag: Diag = Diag.NO_DIAGNOSTIC,
    remote: State = State.DOWN,
) -> BfdStateChange:
    key = next(k for k in svc.live if str(k.peer) == peer)
    return BfdStateChange(
        key=key, peer=key.peer, old_state=old, new_state=new, diag=diag, at=0.0, remote_state=remote
    )


def test_sync_follows_config() -> None:
    svc = Service()
    glue = BfdGlue(lambda n, r: None, lambda n: None, Metrics(), service=svc)
    cfg = parse_config(CFG)
    glue.sync(list(cfg.neighbors))
    assert sorted(p for op, p in svc.log) == ["10.69.0.129", "10.69.0.65"]  # lb has no BFD
    tor1 = svc.live[next(k for k in svc.live if str(k.peer) == "10.69.0.65")]
    assert (tor1.desired_min_tx_ms, tor1.detect_mult, tor1.interface) == (100, 3, "eth0")
    svc.log.clear()
    # Timers only: a parameter change, the session stays.
    glue.sync(list(parse_config(CFG.replace("multiplier = 3", "multiplier = 5")).neighbors))
    assert svc.log == [("params", "10.69.0.65")]
    svc.log.clear()
    # Another interface: a new session; BFD off: removed.
    text = CFG.replace('interface = "eth1"', 'interface = "eth2"').replace(
        "bfd = { min_tx_ms = 100, min_rx_ms = 100, multiplier = 3 }", ""
    )
    glue.sync(list(parse_config(text).neighbors))
    assert sorted(svc.log) == [("add", "10.69.0.129"), ("remove", "10.69.0.129"), ("remove", "10.69.0.65")]


def test_only_failures_reset_bgp() -> None:
    svc = Service()
    downs: list[tuple[str, str]] = []
    ups: list[str] = []
    metrics = Metrics()
    glue = BfdGlue(lambda n, r: downs.append((n, r)), ups.append, metrics, service=svc)
    glue.sync(list(parse_config(CFG).neighbors))
    glue._on_change(change(svc, "10.69.0.65", State.DOWN, State.UP))
    assert ups == ["tor1"] and glue.is_up("tor1")
    # The peer going AdminDown (maintenance) is not a path failure (RFC 5882 3.2).
    glue._on_change(
        change(
            svc,
            "10.69.0.65",
            State.UP,
            State.DOWN,
            Diag.NEIGHBOR_SIGNALED_SESSION_DOWN,
            remote=State.ADMIN_DOWN,
        )
    )
    assert downs == []
    glue._on_change(change(svc, "10.69.0.65", State.DOWN, State.UP))
    glue._on_change(change(svc, "10.69.0.65", State.UP, State.DOWN, Diag.CONTROL_DETECTION_TIME_EXPIRED))
    assert downs == [("tor1", "BFD down (control_detection_time_expired)")]
    assert glue.flaps["tor1"] == 2
    text = metrics.render().decode()
    assert 'pybgp_bfd_down_total{neighbor="tor1"} 2.0' in text
    assert 'pybgp_bfd_state{neighbor="tor1",state="down"} 1.0' in text
    rows = glue.view()
    assert [(r["neighbor"], r["state"]) for r in rows] == [("tor1", "down"), ("tor2", "down")]
    assert state_name(State.ADMIN_DOWN) == "admindown" and state_name(3) == "up"
