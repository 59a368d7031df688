"""GoBGP 3 driver: run `gobgpd` inside a lab node and query it with `gobgp -j` (JSON).

Owns: a small TOML config generator (`gobgp_config`), starting gobgpd in the foreground as our
child (gRPC API on the namespace's own 127.0.0.1, so instances never collide), and the
`DaemonDriver` queries. GoBGP 3.10 has no BFD; it needs several seconds to bring a session up.
Never does: build namespaces or links.

Usage::

    conf = gobgp_config(asn=64512, router_id="10.0.0.2",
                        neighbors=[Neighbor(name="a", address="10.0.0.1", local_address="10.0.0.2",
                                            remote_as=64513, interface="eth0")],
                        announce=["10.99.0.0/24"])
    driver = GobgpDriver(node, conf, neighbors={"10.0.0.1": "a"}, announce=["10.99.0.0/24"])
    driver.start(); wait_until(lambda: driver.established("10.0.0.1"), 30)
"""

from __future__ import annotations

import ipaddress
import json
import shutil
import subprocess
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from pybgp.testing.drivers import DaemonRoute
from pybgp.testing.lab import LabError, Node, stop_process
from pybgp.testing.topology import Neighbor

API = "127.0.0.1"
API_PORT = 50051


def gobgp_available() -> str | None:
    """None when GoBGP can run here, else why not (tests skip with this reason)."""
    for tool in ("gobgpd", "gobgp"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (Debian package gobgpd)"
    return None


def gobgp_config(
    *, asn: int, router_id: str, neighbors: Iterable[Neighbor], connect_retry: int = 1, hold: int = 9
) -> str:
    """gobgpd TOML: global AS/router id, one IPv4-unicast neighbor per `Neighbor` (passive honoured)."""
    lines = [
        "[global.config]",
        f"  as = {asn}",
        f'  router-id = "{router_id}"',
        "",
    ]
    for nb in neighbors:
        keepalive = max(1, hold // 3)
        lines += [
            "[[neighbors]]",
            "  [neighbors.config]",
            f'    neighbor-address = "{nb.address}"',
            f"    peer-as = {nb.remote_as}",
            "  [neighbors.transport.config]",
            f'    local-address = "{nb.local_address}"',
            f"    passive-mode = {'true' if nb.passive else 'false'}",
            "  [neighbors.timers.config]",
            f"    connect-retry = {connect_retry}",
            f"    hold-time = {hold}",
            f"    keepalive-interval = {keepalive}",
            "  [[neighbors.afi-safis]]",
            "    [neighbors.afi-safis.config]",
            '      afi-safi-name = "ipv4-unicast"',
        ]
        if nb.rr_client:
            lines += ["  [neighbors.route-reflector.config]", "    route-reflector-client = true"]
        lines.append("")
    return "\n".join(lines)


class GobgpDriver:
    """One gobgpd in one node. `announce` prefixes are injected with `gobgp global rib add` at start."""

    name = "gobgp"

    def __init__(
        self,
        node: Node,
        config: str,
        *,
        neighbors: dict[str, str] | None = None,
        announce: Sequence[str] = (),
    ) -> None:
        self.node = node
        self.config = config
        self.neighbors = dict(neighbors or {})
        self.announce = tuple(announce)
        self.conf_path = node.run_dir / "gobgpd.toml"
        self.log_path = node.run_dir / "gobgpd.log"
        self.proc: subprocess.Popen[Any] | None = None
        self._log: Any = None
        if self not in node.drivers:
            node.drivers.append(self)

    def write_config(self) -> Path:
        """Write the TOML and dry-run it (`gobgpd -d`); LabError when gobgpd rejects it."""
        self.node.run_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.config)
        check = self.node.run(["gobgpd", "-d", "-f", str(self.conf_path), "-t", "toml"], check=False)
        if check.returncode != 0:
            why = (check.stdout + check.stderr).strip()
            raise LabError(f"{self.node.netns}: invalid gobgpd config: {why}")
        return self.conf_path

    def start(self, timeout: float = 15.0) -> None:
        if self.running():
            return
        self.write_config()
        self._log = self.log_path.open("ab")
        self.proc = self.node.popen(
            ["gobgpd", "-f", str(self.conf_path), "-t", "toml", "-p", "--pprof-disable",
             f"--api-hosts={API}:{API_PORT}"],
            stdout=self._log, stderr=self._log,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise LabError(f"{self.node.netns}: gobgpd exited rc={self.proc.returncode}")
            if self.gobgp("global", check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise LabError(f"{self.node.netns}: gobgpd API not ready after {timeout}s")
        for prefix in self.announce:
            self.gobgp("global", "rib", "add", prefix, "-a", "ipv4")

    def stop(self, timeout: float = 5.0) -> None:
        if self.proc is not None:
            stop_process(self.proc, timeout)
        if self._log is not None:
            self._log.close()
            self._log = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def gobgp(
        self, *args: str, check: bool = True, json_out: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run the `gobgp` CLI against this instance's API (optionally with JSON output)."""
        argv = ["gobgp", "-u", API, "-p", str(API_PORT)] + (["-j"] if json_out else []) + list(args)
        return self.node.run(argv, check=check, timeout=15)

    def sessions(self) -> dict[str, bool]:
        states: dict[str, bool] = {}
        if self.running():
            out = self.gobgp("neighbor", json_out=True, check=False).stdout
            try:
                rows = json.loads(out) if out.strip() else []
            except ValueError:
                rows = []
            for row in rows or []:
                conf = row.get("conf", {})
                state = row.get("state", {}).get("session_state")
                # GoBGP's JSON uses the gRPC enum: 6 (or "ESTABLISHED") means Established.
                states[str(conf.get("neighbor_address"))] = state in (6, "ESTABLISHED", "established")
        return {ip: states.get(ip, False) for ip in (self.neighbors or states)}

    def established(self, peer: str) -> bool:
        address = next((ip for ip, name in self.neighbors.items() if name == peer), peer)
        return self.sessions().get(address, False)

    def routes(self) -> list[DaemonRoute]:
        out = self.gobgp("global", "rib", "-a", "ipv4", json_out=True).stdout
        data = json.loads(out) if out.strip() else {}
        routes = []
        for prefix, paths in (data or {}).items():
            for path in paths:
                nexthops = []
                for attr in path.get("attrs", []):
                    if attr.get("type") == 3 and attr.get("nexthop"):
                        nexthops.append(ipaddress.ip_address(attr["nexthop"]))
                routes.append(
                    DaemonRoute(
                        prefix=ipaddress.ip_network(prefix),
                        nexthops=tuple(nexthops),
                        source=str(path.get("neighbor-ip", path.get("source-id", ""))),
                        best=bool(path.get("best")),
                    )
                )
        return routes
