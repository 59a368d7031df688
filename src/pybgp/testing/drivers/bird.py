"""BIRD 2 driver: run `bird` inside a lab node, ask `birdc` for sessions and routes.

Owns: starting BIRD in the foreground as a child of the test process (``bird -f -c conf -s sock
-P pidfile`` under ``ip netns exec``, so it is reaped and never left ``<defunct>``), checking the
config with ``bird -p`` first (a typo fails loudly, not as a silent no-session), parsing
``birdc show protocols`` and ``birdc show route``, and the ``for_server`` factory the seed topology
uses for BIRD servers. The BIRD configuration text itself comes from `pybgp.testing.birdconf`.
Never does: build namespaces or links, or talk to anything outside its node.

Usage::

    driver = BirdDriver(node, config_text, neighbors={"10.69.0.65": "tor1"})
    driver.start()                       # writes the config, checks it, starts bird, waits for its socket
    wait_until(lambda: driver.established("10.69.0.65"), 15)
    for route in driver.routes(): ...
    driver.stop()
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import shutil
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pybgp.testing.drivers import DaemonRoute
from pybgp.testing.lab import LabError, Node, stop_process

if TYPE_CHECKING:
    from pybgp.testing.topology import ServerSpec

_ROUTE_HEAD = re.compile(r"^(?P<prefix>\S+/\d+)?\s+(?P<kind>\w+)\s+\[(?P<source>\S+)[^\]]*\](?P<rest>.*)$")
_VIA = re.compile(r"^\s+via\s+(?P<gw>\S+)\s+on\s+(?P<dev>\S+)")
_DEV = re.compile(r"^\s+dev\s+(?P<dev>\S+)")


def bird_available() -> str | None:
    """None when BIRD 2 can run here, else why not (tests skip with this reason)."""
    for tool in ("bird", "birdc"):
        if shutil.which(tool) is None:
            return f"{tool} not installed (Debian package bird2)"
    return None


class BirdDriver:
    """One BIRD 2 instance in one node. `neighbors` maps neighbor IP -> BIRD protocol name."""

    name = "bird"

    def __init__(self, node: Node, config: str, *, neighbors: dict[str, str] | None = None) -> None:
        self.node = node
        self.config = config
        self.neighbors = dict(neighbors or {})
        self.conf_path = node.run_dir / "bird.conf"
        self.sock_path = node.run_dir / "bird.ctl"
        self.pid_path = node.run_dir / "bird.pid"
        self.log_path = node.run_dir / "bird.log"
        self.proc: subprocess.Popen[Any] | None = None
        self._stderr: Any = None
        if self not in node.drivers:
            node.drivers.append(self)

    def __repr__(self) -> str:
        return f"BirdDriver({self.node.netns})"

    # -- lifecycle --------------------------------------------------------------------------------
    def write_config(self) -> Path:
        """Write bird.conf into the node's run dir and check it with `bird -p` (LabError if invalid)."""
        self.node.run_dir.mkdir(parents=True, exist_ok=True)
        self.conf_path.write_text(self.config)
        check = self.node.run(["bird", "-p", "-c", str(self.conf_path)], check=False)
        if check.returncode != 0:
            raise LabError(f"{self.node.netns}: invalid BIRD config: {check.stderr.strip()}")
        return self.conf_path

    def start(self, timeout: float = 10.0) -> None:
        """Start bird in the foreground (our child) and wait until its control socket answers."""
        if self.running():
            return
        self.write_config()
        with contextlib.suppress(OSError):
            self.sock_path.unlink()
        self._stderr = (self.node.run_dir / "bird.stderr").open("wb")
        self.proc = self.node.popen(
            ["bird", "-f", "-c", str(self.conf_path), "-s", str(self.sock_path), "-P", str(self.pid_path)],
            stderr=self._stderr,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = (self.node.run_dir / "bird.stderr").read_text(errors="replace")
                raise LabError(f"{self.node.netns}: bird exited rc={self.proc.returncode}: {err.strip()}")
            if self.sock_path.exists() and self.birdc("show status", check=False).returncode == 0:
                return
            time.sleep(0.05)
        raise LabError(f"{self.node.netns}: bird control socket not ready after {timeout}s")

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM bird and reap it (idempotent)."""
        if self.proc is not None:
            stop_process(self.proc, timeout)
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reconfigure(self, config: str) -> None:
        """Replace the config and tell the running bird to reload it (`birdc configure`)."""
        self.config = config
        self.write_config()
        self.birdc("configure")

    # -- queries ----------------------------------------------------------------------------------
    def birdc(
        self, command: str, *, check: bool = True, timeout: float = 10.0
    ) -> subprocess.CompletedProcess[str]:
        """Run one birdc command against this instance's socket."""
        return self.node.run(
            ["birdc", "-s", str(self.sock_path), *command.split()], check=check, timeout=timeout
        )

    def protocols(self) -> dict[str, tuple[str, str]]:
        """BIRD protocol name -> (state, info), e.g. {"tor1": ("up", "Established")}."""
        out = self.birdc("show protocols").stdout
        result: dict[str, tuple[str, str]] = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) < 4 or parts[0] in ("Name", "BIRD") or parts[0].endswith(":"):
                continue
            # Name Proto Table State Since Info...; Since is a time (and maybe a date), Info follows.
            info = " ".join(p for p in parts[5:] if not re.match(r"^\d[\d:.\-]*$", p))
            result[parts[0]] = (parts[3], info)
        return result

    def sessions(self) -> dict[str, bool]:
        """Neighbor IP -> Established, for every neighbor this driver was told about."""
        protos = self.protocols() if self.running() else {}
        return {
            ip: protos.get(name, ("", ""))[1].startswith("Established") for ip, name in self.neighbors.items()
        }

    def established(self, peer: str) -> bool:
        """Whether the BGP session to neighbor `peer` (an IP, or a BIRD protocol name) is Established."""
        name = self.neighbors.get(peer, peer)
        if not self.running():
            return False
        return self.protocols().get(name, ("", ""))[1].startswith("Established")

    def routes(self, table: str = "master4") -> list[DaemonRoute]:
        """Every route of BIRD table `table` (all candidates, `best` marks the primary one)."""
        return parse_show_route(self.birdc(f"show route table {table}").stdout)


def parse_show_route(text: str) -> list[DaemonRoute]:
    """Parse `birdc show route` output (BIRD 2.0) into `DaemonRoute`s; unknown lines are skipped."""
    routes: list[DaemonRoute] = []
    prefix: str | None = None
    current: dict[str, Any] | None = None

    def flush() -> None:
        if current is not None:
            routes.append(
                DaemonRoute(
                    prefix=current["prefix"],
                    nexthops=tuple(current["gws"]),
                    interfaces=tuple(current["devs"]),
                    source=current["source"],
                    best=current["best"],
                    kind=current["kind"],
                )
            )

    for line in text.splitlines():
        if not line.strip() or line.startswith(("BIRD ", "Table ")):
            continue
        head = _ROUTE_HEAD.match(line)
        if head is not None and "[" in line:
            flush()
            if head.group("prefix"):
                prefix = head.group("prefix")
            if prefix is None:
                current = None
                continue
            try:
                net = ipaddress.ip_network(prefix.split("-")[0], strict=False)
            except ValueError:
                current = None
                continue
            current = {
                "prefix": net,
                "gws": [],
                "devs": [],
                "source": head.group("source"),
                "best": head.group("rest").lstrip().startswith("*"),
                "kind": head.group("kind"),
            }
            continue
        if current is None:
            continue
        via = _VIA.match(line)
        if via is not None:
            with contextlib.suppress(ValueError):
                current["gws"].append(ipaddress.ip_address(via.group("gw")))
            current["devs"].append(via.group("dev"))
            continue
        dev = _DEV.match(line)
        if dev is not None:
            current["devs"].append(dev.group("dev"))
    flush()
    return routes


def for_server(node: Node, spec: ServerSpec) -> BirdDriver:
    """The seed topology's server daemon factory: BIRD with TARGET.md's server configuration."""
    from pybgp.testing.birdconf import server_config

    neighbors = {up.tor_address: up.tor_name for up in spec.uplinks}
    return BirdDriver(node, server_config(spec), neighbors=neighbors)
