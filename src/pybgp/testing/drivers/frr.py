"""FRR 8 driver: zebra + bgpd + bfdd inside a lab node, queried with `vtysh ... json`.

Owns: a small per-daemon config generator (`frr_bgp_config`, `frr_bfd_config`), starting the three
daemons in the foreground as our children with every socket, pid file and vty socket inside the
node's run directory (so instances in different namespaces never share a path), and the
`DaemonDriver` queries. FRR 8.4 eBGP needs `no bgp ebgp-requires-policy`; it reaches Established in
~6 s and its BFD may come up seconds after BGP.
Never does: build namespaces or links.
"""

from __future__ import annotations

import contextlib
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
from pybgp.testing.topology import BfdTimers, Neighbor

FRR_DIR = Path("/usr/lib/frr")
# FRR drops privileges to the Debian `frr` user (in group frrvty); its run dir must belong to it.
USER = ("-u", "frr", "-g", "frr")
DAEMONS = ("zebra", "bfdd", "bgpd")


def frr_available() -> str | None:
    """None when FRR can run here, else why not (tests skip with this reason)."""
    for daemon in DAEMONS:
        if not (FRR_DIR / daemon).exists():
            return f"{FRR_DIR / daemon} not installed (Debian package frr)"
    if shutil.which("vtysh") is None:
        return "vtysh not installed (Debian package frr)"
    return None


def frr_bgp_config(
    *, asn: int, router_id: str, neighbors: Iterable[Neighbor], networks: Sequence[str] = (),
    connect_retry: int = 1, hold: int = 9,
) -> str:
    """bgpd.conf: one IPv4-unicast neighbor per `Neighbor` (BFD with profile `lab` when `bfd`)."""
    lines = [f"router bgp {asn}", f" bgp router-id {router_id}", " no bgp ebgp-requires-policy",
             " no bgp network import-check", f" timers bgp {max(1, hold // 3)} {hold}"]
    nbs = list(neighbors)
    for nb in nbs:
        lines += [
            f" neighbor {nb.address} remote-as {nb.remote_as}",
            f" neighbor {nb.address} update-source {nb.local_address}",
            f" neighbor {nb.address} timers connect {connect_retry}",
        ]
        if nb.passive:
            lines.append(f" neighbor {nb.address} passive")
        if nb.bfd:
            lines.append(f" neighbor {nb.address} bfd profile lab")
    lines.append(" address-family ipv4 unicast")
    lines += [f"  network {net}" for net in networks]
    for nb in nbs:
        if nb.rr_client:
            lines.append(f"  neighbor {nb.address} route-reflector-client")
    lines += [" exit-address-family", "exit", ""]
    return "\n".join(lines)


def frr_bfd_config(bfd: BfdTimers) -> str:
    """bfdd.conf: the `lab` profile the BGP neighbors refer to."""
    return (
        "bfd\n profile lab\n"
        f"  transmit-interval {bfd.tx_ms}\n  receive-interval {bfd.rx_ms}\n"
        f"  detect-multiplier {bfd.multiplier}\n exit\nexit\n"
    )


class FrrDriver:
    """zebra, bfdd and bgpd in one node. `neighbors` maps neighbor IP -> a name."""

    name = "frr"

    def __init__(
        self, node: Node, bgp_config: str, *, bfd_config: str = "", neighbors: dict[str, str] | None = None
    ) -> None:
        self.node = node
        self.configs = {"zebra": f"hostname {node.name}\n", "bfdd": bfd_config, "bgpd": bgp_config}
        self.neighbors = dict(neighbors or {})
        self.dir = node.run_dir / "frr"
        self.procs: dict[str, subprocess.Popen[Any]] = {}
        self._logs: list[Any] = []
        if self not in node.drivers:
            node.drivers.append(self)

    def write_config(self) -> Path:
        """Write one config per daemon and dry-run each (`-C`); LabError with the daemon's complaint."""
        self.dir.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.dir, "frr", "frr")
        for daemon in DAEMONS:
            path = self.dir / f"{daemon}.conf"
            path.write_text(self.configs[daemon])
            shutil.chown(path, "frr", "frr")
            check = self.node.run(
                [str(FRR_DIR / daemon), "-C", "-f", str(path), *USER,
                 "--vty_socket", str(self.dir), "-z", str(self.dir / "zserv.api"),
                 "-i", str(self.dir / f"{daemon}.check.pid")],
                check=False,
            )
            if check.returncode != 0:
                why = (check.stdout + check.stderr).strip()
                raise LabError(f"{self.node.netns}: invalid {daemon} config: {why}")
        return self.dir

    def start(self, timeout: float = 15.0) -> None:
        if self.running():
            return
        self.write_config()
        for daemon in DAEMONS:
            log = (self.dir / f"{daemon}.log").open("ab")
            self._logs.append(log)
            argv = [str(FRR_DIR / daemon), "-f", str(self.dir / f"{daemon}.conf"), *USER,
                    "--vty_socket", str(self.dir), "-z", str(self.dir / "zserv.api"),
                    "-i", str(self.dir / f"{daemon}.pid"), "--log", "stdout"]
            if daemon == "bgpd":
                argv += ["-p", "179"]
            self.procs[daemon] = self.node.popen(argv, stdout=log, stderr=log)
            deadline = time.monotonic() + timeout
            while not (self.dir / f"{daemon}.vty").exists():
                if self.procs[daemon].poll() is not None or time.monotonic() > deadline:
                    raise LabError(f"{self.node.netns}: {daemon} did not start (see {self.dir}/{daemon}.log)")
                time.sleep(0.05)

    def stop(self, timeout: float = 5.0) -> None:
        for daemon in reversed(DAEMONS):
            proc = self.procs.get(daemon)
            if proc is not None:
                stop_process(proc, timeout)
        for log in self._logs:
            with contextlib.suppress(OSError):
                log.close()
        self._logs.clear()

    def running(self) -> bool:
        return bool(self.procs) and all(p.poll() is None for p in self.procs.values())

    def vtysh(self, command: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.node.run(["vtysh", "--vty_socket", str(self.dir), "-c", command], check=check, timeout=15)

    def sessions(self) -> dict[str, bool]:
        states: dict[str, bool] = {}
        if self.running():
            out = self.vtysh("show bgp ipv4 unicast summary json", check=False).stdout
            try:
                peers = json.loads(out).get("peers", {}) if out.strip() else {}
            except ValueError:
                peers = {}
            states = {ip: row.get("state") == "Established" for ip, row in peers.items()}
        return {ip: states.get(ip, False) for ip in (self.neighbors or states)}

    def established(self, peer: str) -> bool:
        address = next((ip for ip, name in self.neighbors.items() if name == peer), peer)
        return self.sessions().get(address, False)

    def bfd_peers(self) -> dict[str, str]:
        """BFD peer address -> status ("up", "down", ...)."""
        out = self.vtysh("show bfd peers json", check=False).stdout
        try:
            rows = json.loads(out) if out.strip() else []
        except ValueError:
            return {}
        return {str(r.get("peer")): str(r.get("status")) for r in rows}

    def routes(self) -> list[DaemonRoute]:
        out = self.vtysh("show ip route json").stdout
        data = json.loads(out) if out.strip() else {}
        routes = []
        for prefix, entries in data.items():
            for entry in entries:
                hops = entry.get("nexthops", [])
                routes.append(
                    DaemonRoute(
                        prefix=ipaddress.ip_network(prefix),
                        nexthops=tuple(ipaddress.ip_address(h["ip"]) for h in hops if h.get("ip")),
                        interfaces=tuple(str(h["interfaceName"]) for h in hops if h.get("interfaceName")),
                        source=str(entry.get("protocol", "")),
                        best=bool(entry.get("selected")),
                    )
                )
        return routes
