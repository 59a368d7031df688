"""The feed benchmark's lab: a server namespace between two BIRD "ToR" feeders, and the three receivers.

Owns: building `<prefix>-srv`, `<prefix>-tor1`, `<prefix>-tor2` (server eth0 in ToR1's 10.69.0.64/26,
eth1 in ToR2's 10.69.0.128/26, node0 = 10.69.0.2/32, iBGP AS 64600 as in TARGET.md), the ToR BIRD
config (passive iBGP route reflector with BFD 100 ms x 3, the feed's static protocols exported with
next-hop-self, no kernel protocol so the ToRs spend nothing on their own FIB), and one class per
receiver on the server with the same small interface: `start()`, `stop()`, `pid`, `established()`
(how many of the two sessions are up), `rib_paths()` (paths accepted from both ToRs) and
`kernel` (whether it installs into the kernel).
Receivers: pybgpd (TARGET.md config from `pybgp.testing.drivers.pybgpd.server_config`, kernel ECMP via
nexthop groups), BIRD (`pybgp.testing.birdconf.server_config`: kernel protocol with merge paths) and
ExaBGP 5 from the venv (receive only; a tiny API process counts the announced prefixes it is given).
Never does: measure (see `feed_server`) or send a packet outside its namespaces.
"""

from __future__ import annotations

import calendar
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from feed_data import Feed

from pybgp.testing import Lab
from pybgp.testing.birdconf import server_config as bird_server_config
from pybgp.testing.drivers.bird import BirdDriver
from pybgp.testing.drivers.pybgpd import PybgpdDriver
from pybgp.testing.drivers.pybgpd import server_config as pybgpd_server_config
from pybgp.testing.lab import Link, Node, stop_process
from pybgp.testing.topology import BfdTimers, BgpTimers, ServerSpec, Uplink

ASN = 64600
SERVER_ROUTER_ID = "10.69.0.2"
UPLINKS = (
    Uplink(
        tor_name="tor1",
        ifname="eth0",
        address="10.69.0.66/26",
        tor_address="10.69.0.65",
        subnet="10.69.0.64/26",
    ),
    Uplink(
        tor_name="tor2",
        ifname="eth1",
        address="10.69.0.130/26",
        tor_address="10.69.0.129",
        subnet="10.69.0.128/26",
    ),
)
BFD = BfdTimers(tx_ms=100, rx_ms=100, multiplier=3)
TIMERS = BgpTimers(connect_delay=1, connect_retry=1, error_wait_min=1, error_wait_max=5)
SPEC = ServerSpec(
    name="srv",
    rack=0,
    asn=ASN,
    router_id=SERVER_ROUTER_ID,
    node_address="10.69.0.2/32",
    uplinks=UPLINKS,
    bfd=BFD,
    timers=TIMERS,
)


class FeedLab:
    """The three namespaces and two links; `links[0]` is server eth0 <-> ToR1 (the one cut)."""

    def __init__(self, lab: Lab) -> None:
        self.lab = lab
        self.server = lab.node("srv", role="server")
        self.tors = [lab.node("tor1", role="tor", router=True), lab.node("tor2", role="tor", router=True)]
        self.links: list[Link] = []
        for up, tor in zip(UPLINKS, self.tors, strict=True):
            prefix_len = up.subnet.split("/")[1]
            self.links.append(
                lab.link(
                    self.server,
                    up.ifname,
                    tor,
                    "eth0",
                    a_addrs=[up.address],
                    b_addrs=[f"{up.tor_address}/{prefix_len}"],
                )
            )
        for link in self.links:
            link.pin_neighbors()  # no ARP in the timings
        lab.address_device(self.server, "node0", [SPEC.node_address])
        self.feeders: list[BirdDriver] = []

    def start_feeders(self, feed: Feed, timeout: float = 300.0) -> float:
        """(Re)start both ToR BIRDs with `feed`; returns once each holds every prefix (seconds taken)."""
        self.stop_feeders()
        t0 = time.monotonic()
        for up, tor in zip(UPLINKS, self.tors, strict=True):
            drv = BirdDriver(tor, tor_config(up, feed), neighbors={up.address.split("/")[0]: "srv"})
            drv.start(timeout=timeout)
            self.feeders.append(drv)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(bird_table_count(d) >= feed.prefixes for d in self.feeders):
                return time.monotonic() - t0
            time.sleep(0.5)
        raise TimeoutError(f"feeders did not load {feed.prefixes} routes in {timeout}s")

    def set_feeding(self, on: bool) -> None:
        """Enable/disable the ToRs' BGP protocol: the receiver starts idle, then both feeds begin."""
        for drv in self.feeders:
            drv.birdc(f"{'enable' if on else 'disable'} srv", check=False)

    def tor_sessions(self) -> int:
        """How many ToRs see their session to the server Established."""
        return sum(1 for d in self.feeders if d.established("srv"))

    def stop_feeders(self) -> None:
        for drv in self.feeders:
            drv.stop()
            if drv in drv.node.drivers:
                drv.node.drivers.remove(drv)
        self.feeders = []


def tor_config(up: Uplink, feed: Feed) -> str:
    server_ip = up.address.split("/")[0]
    return (
        f"# feed benchmark ToR {up.tor_name}\n"
        "log stderr { warning, error, fatal, bug };\n"
        f"router id {up.tor_address};\n"
        "protocol device { scan time 10; }\n"
        "protocol bfd {\n"
        f'  interface "eth0" {{ min rx interval {BFD.rx_ms} ms; min tx interval {BFD.tx_ms} ms; '
        f"multiplier {BFD.multiplier}; }};\n"
        "}\n"
        f'include "{feed.bird_include}";\n'
        "protocol bgp srv {\n"
        f"  local {up.tor_address} as {ASN};\n"
        f"  neighbor {server_ip} as {ASN};\n"
        "  direct; passive on; rr client; bfd on; disabled on;\n"
        f"  error wait time {TIMERS.error_wait_min},{TIMERS.error_wait_max};\n"
        "  hold time 240; keepalive time 80;\n"
        "  ipv4 { import none; export where source = RTS_STATIC; next hop self; };\n"
        "}\n"
    )


_COUNT = re.compile(r"(\d+) of (\d+) routes")
_IMPORTED = re.compile(r"Routes:\s+(\d+) imported")
_BIRD_STOP = re.compile(r"<TRACE> tor\d: State changed to stop")


def bird_table_count(drv: BirdDriver) -> int:
    out = drv.birdc("show route count", check=False, timeout=60).stdout
    m = _COUNT.search(out)
    return int(m.group(2)) if m else 0


# -- receivers ----------------------------------------------------------------------------------
class PybgpdReceiver:
    name = "pybgpd"
    kernel = True

    def __init__(self, node: Node, feed_lab: FeedLab) -> None:
        self.driver = PybgpdDriver(node, "", neighbors={u.tor_address: u.tor_name for u in UPLINKS})
        self.driver.config = pybgpd_server_config(SPEC, socket_path=self.driver.sock_path, log_format="json")
        self.log_path = self.driver.log_path
        self.node = node

    def start(self) -> None:
        """Start pybgpd exactly as the lab driver does; with PYBGP_FEED_PROFILE=FILE through
        `feed_pybgpd_launch.py` under cProfile (stats written when SIGTERM ends it)."""
        self.driver.log_path.unlink(missing_ok=True)
        profile = os.environ.get("PYBGP_FEED_PROFILE")
        if not profile:
            self.driver.start(timeout=30)
            return
        self.driver.write_config()
        log = self.log_path.open("ab")
        argv = [sys.executable]
        if profile:
            argv += ["-m", "cProfile", "-o", f"{profile}.{self.name}"]
        argv.append(str(Path(__file__).resolve().parent / "feed_pybgpd_launch.py"))
        argv += ["-c", str(self.driver.conf_path), "-s", str(self.driver.sock_path)]
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self.driver.proc = self.node.popen(argv, stdout=log, stderr=log, env=env)
        self.driver._log = log
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not self.driver.sock_path.exists():
            time.sleep(0.05)

    def stop(self) -> None:
        self.driver.stop(timeout=60)
        keep = os.environ.get("PYBGP_FEED_KEEP_LOG")  # a directory: keep the daemon's log for reading
        if keep and self.log_path.exists():
            Path(keep).mkdir(parents=True, exist_ok=True)
            shutil.copy(self.log_path, Path(keep) / f"{self.name}-{int(time.time())}.log")

    @property
    def pid(self) -> int:
        assert self.driver.proc is not None
        return self.driver.proc.pid

    def _rows(self) -> list[dict[str, Any]]:
        try:
            rows: list[dict[str, Any]] = _control(self.driver.sock_path, "show neighbors")
        except (OSError, ValueError):
            return []
        return rows

    def established(self) -> int:
        return sum(
            1 for r in self._rows() if r.get("name") in ("tor1", "tor2") and r.get("state") == "established"
        )

    def rib_paths(self) -> int:
        return sum(
            int(r.get("prefixes_accepted") or 0) for r in self._rows() if r.get("name") in ("tor1", "tor2")
        )

    def bfd_down_times(self) -> list[float]:
        """Wall-clock times of BFD Down log lines (the daemon logs JSON with ms timestamps)."""
        out: list[float] = []
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return out
        for line in lines:
            if '"bfd-state"' not in line or not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
                if rec.get("old") != "up" or rec.get("new") != "down":
                    continue
                stamp = time.strptime(rec["time"][:19], "%Y-%m-%dT%H:%M:%S")
            except (ValueError, KeyError):
                continue
            out.append(calendar.timegm(stamp) + int(rec["time"][20:23]) / 1000)
        return out


    def session_gaps_ms(self) -> dict[str, float]:
        """From the log (ms timestamps): the later ToR's reconnect ("path is back") -> Connect -> OpenSent
        (its TCP connect done) and -> Established, and the first ToR's Established -> the second's; the
        0.1 s control-socket poll behind `second_up_s` cannot resolve these (issue 6, session 4)."""
        seen: dict[str, float] = {}
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return {}
        for line in lines:
            if '"pybgp.' not in line or not line.startswith("{"):
                continue
            try:
                rec = json.loads(line)
                message, stamp = rec["message"], time.strptime(rec["time"][:19], "%Y-%m-%dT%H:%M:%S")
                at = calendar.timegm(stamp) + int(rec["time"][20:23]) / 1000
            except (ValueError, KeyError):
                continue
            tor, _, text = message.partition(": ")
            key = {"path is back, connecting now": "go", "Connect -> OpenSent": "sent",
                   "OpenConfirm -> Established": "est"}.get(text)
            first = key is not None and f"{tor}.{key}" not in seen
            if tor in ("tor1", "tor2") and first and (key == "go" or f"{tor}.go" in seen):
                seen[f"{tor}.{key}"] = at
        ests = sorted((seen[f"{t}.est"], t) for t in ("tor1", "tor2") if f"{t}.est" in seen)
        if len(ests) < 2 or f"{ests[1][1]}.go" not in seen or f"{ests[1][1]}.sent" not in seen:
            return {}
        late = ests[1][1]
        return {
            "connect_ms": round(1000 * (seen[f"{late}.sent"] - seen[f"{late}.go"])),
            "open_exchange_ms": round(1000 * (seen[f"{late}.est"] - seen[f"{late}.sent"])),
            "first_to_second_established_ms": round(1000 * (ests[1][0] - ests[0][0])),
        }


class PybgpdRxReceiver(PybgpdReceiver):
    """pybgpd receiving only: the same config with `[kernel] enabled = false`, so its "up -> RIB" is
    compared with ExaBGP's (which installs nothing) like for like; `pybgpd` is the full product."""

    name = "pybgpd-rx"
    kernel = False

    def __init__(self, node: Node, feed_lab: FeedLab) -> None:
        super().__init__(node, feed_lab)
        assert "\n[kernel]\n" in self.driver.config
        self.driver.config = self.driver.config.replace("\n[kernel]\n", "\n[kernel]\nenabled = false\n", 1)


class PybgpdUpdateDelayReceiver(PybgpdReceiver):
    """pybgpd with the startup kernel hold: the same config plus `[kernel] update_delay = 30`, so each
    prefix is written to the kernel once, as ECMP, after both ToRs' End-of-RIB (issue 6)."""

    name = "pybgpd-ud"

    def __init__(self, node: Node, feed_lab: FeedLab) -> None:
        super().__init__(node, feed_lab)
        assert "\n[kernel]\n" in self.driver.config
        self.driver.config = self.driver.config.replace("\n[kernel]\n", "\n[kernel]\nupdate_delay = 30\n", 1)


class PybgpdSyncReceiver(PybgpdReceiver):
    """pybgpd writing the kernel from the event loop (`[kernel] writer_thread = false`): the same config
    without the netlink writer thread, for same-run before/after figures (issue 6)."""

    name = "pybgpd-sync"

    def __init__(self, node: Node, feed_lab: FeedLab) -> None:
        super().__init__(node, feed_lab)
        assert "\n[kernel]\n" in self.driver.config
        kernel = "\n[kernel]\nwriter_thread = false\n"
        self.driver.config = self.driver.config.replace("\n[kernel]\n", kernel, 1)


def _control(path: Path, command: str) -> Any:
    """One request on pybgpd's control socket (JSON lines), without spawning pybgpctl."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(20)
        s.connect(str(path))
        s.sendall(json.dumps({"command": command, "args": {}}).encode() + b"\n")
        buf = b""
        for _ in range(100_000):
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
            if buf.endswith(b"\n"):
                break
    reply = json.loads(buf)
    if not reply.get("ok"):
        raise ValueError(reply.get("error"))
    return reply["result"]


class BirdReceiver:
    name = "bird"
    kernel = True

    def __init__(self, node: Node, feed_lab: FeedLab) -> None:
        conf = bird_server_config(SPEC)
        self.log_path = node.run_dir / "bird-server.log"
        conf = conf.replace(
            "log stderr all;",
            f'log "{self.log_path}" all;\ntimeformat log "%F %T.%3f";\ndebug protocols {{ states }};',
            1,
        )
        self.driver = BirdDriver(node, conf, neighbors={u.tor_address: u.tor_name for u in UPLINKS})

    def start(self) -> None:
        self.log_path.unlink(missing_ok=True)
        self.driver.start(timeout=30)

    def stop(self) -> None:
        self.driver.stop(timeout=60)  # BIRD flushes its kernel routes on exit

    @property
    def pid(self) -> int:
        assert self.driver.proc is not None
        return self.driver.proc.pid

    def established(self) -> int:
        return sum(1 for up in self.driver.sessions().values() if up)

    def rib_paths(self) -> int:
        out = self.driver.birdc('show protocols all "tor*"', check=False, timeout=60).stdout
        return sum(int(x) for x in _IMPORTED.findall(out))

    def bfd_down_times(self) -> list[float]:
        out: list[float] = []
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return out
        for line in lines:
            # BIRD traces no BFD message for BGP; a BFD Down stops the protocol at once:
            # "<TRACE> tor1: State changed to stop" (debug protocols { states })
            if _BIRD_STOP.search(line) is None:
                continue
            try:
                stamp = calendar.timegm(time.strptime(line[:19], "%Y-%m-%d %H:%M:%S"))
                out.append(stamp + int(line[20:23]) / 1000)
            except ValueError:
                continue
        return out


_COUNTER = """\
import os, sys, threading, time
out, seen = sys.argv[1], [0]
def flush():
    last = -1
    while True:
        if seen[0] != last:
            last = seen[0]
            with open(out + ".tmp", "w") as fh:
                fh.write(str(last))
            os.replace(out + ".tmp", out)
        time.sleep(0.05)
threading.Thread(target=flush, daemon=True).start()
for line in sys.stdin:
    seen[0] += line.count('"nlri"')
"""


class ExabgpReceiver:
    """ExaBGP 5 receive-only: no kernel, no BFD. The API process counts announced prefixes."""

    name = "exabgp"
    kernel = False

    def __init__(self, node: Node, feed_lab: FeedLab) -> None:
        self.node = node
        self.feed_lab = feed_lab
        self.dir = node.run_dir / "exabgp"
        self.count_path = self.dir / "count"
        self.proc: subprocess.Popen[Any] | None = None
        self._log: Any = None

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.count_path.unlink(missing_ok=True)
        (self.dir / "counter.py").write_text(_COUNTER)
        conf = [
            "process counter {",
            f"  run {sys.executable} {self.dir / 'counter.py'} {self.count_path};",
            "  encoder json;",
            "}",
        ]
        for up in UPLINKS:
            conf += [
                f"neighbor {up.tor_address} {{",
                f"  router-id {SERVER_ROUTER_ID};",
                f"  local-address {up.address.split('/')[0]};",
                f"  local-as {ASN};",
                f"  peer-as {ASN};",
                "  hold-time 240;",
                "  family { ipv4 unicast; }",
                "  api { processes [ counter ]; receive { parsed; update; } }",
                "}",
            ]
        (self.dir / "exabgp.conf").write_text("\n".join(conf) + "\n")
        env = dict(
            os.environ,
            **{
                "exabgp.daemon.daemonize": "false",
                "exabgp.daemon.drop": "false",
                "exabgp.daemon.user": "root",
                "exabgp.log.destination": str(self.dir / "exabgp.log"),
                "exabgp.log.level": "INFO",
                "exabgp.tcp.port": "179",
                "exabgp.api.ack": "false",
                "exabgp.cache.attributes": "true",
            },
        )
        self._log = (self.dir / "stdout.log").open("wb")
        exabgp = str(Path(sys.executable).parent / "exabgp")
        self.proc = self.node.popen(
            [exabgp, "server", str(self.dir / "exabgp.conf")], stdout=self._log, stderr=self._log, env=env
        )
        time.sleep(0.5)
        if self.proc.poll() is not None:
            raise RuntimeError(f"exabgp exited: {(self.dir / 'stdout.log').read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc, 10)
        if self._log is not None:
            self._log.close()
            self._log = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def established(self) -> int:
        """ExaBGP has no query interface here: the ToRs' `srv` protocols say whether it is up."""
        return self.feed_lab.tor_sessions()

    def rib_paths(self) -> int:
        try:
            return int(self.count_path.read_text() or 0)
        except (OSError, ValueError):
            return 0

    def bfd_down_times(self) -> list[float]:
        return []


RECEIVERS: dict[str, Any] = {
    "pybgpd": PybgpdReceiver,
    "pybgpd-rx": PybgpdRxReceiver,
    "pybgpd-ud": PybgpdUpdateDelayReceiver,
    "pybgpd-sync": PybgpdSyncReceiver,
    "bird": BirdReceiver,
    "exabgp": ExabgpReceiver,
}
