"""The network-namespace lab: nodes, veth links, processes inside namespaces, and guaranteed teardown.

Owns: creating namespaces named ``<prefix>-<node>``, veth pairs (with IPv4/IPv6 addresses) between
them, bridges and ``node0``-style address devices (this kernel has no ``dummy``: a veth pair whose
peer stays in the same namespace), sysctls, running commands and long-lived processes inside a
namespace, silent link cuts with nftables ``netdev`` drop chains (this kernel has no netem), and
removing every namespace and process it created -- on ``close()``, at interpreter exit, on SIGTERM,
and later through ``python -m pybgp.testing cleanup`` using the state file it keeps in
``/run/pybgp-lab/<prefix>.json``.

Never does: send a packet outside its own namespaces, touch namespaces or processes it did not
create, or know anything about BGP (daemon drivers live in ``pybgp.testing.drivers``).

Usage::

    from pybgp.testing.lab import Lab

    with Lab("xyz") as lab:                       # namespaces xyz-a, xyz-b; removed on exit
        a, b = lab.node("a", router=True), lab.node("b")
        link = lab.link(a, "eth0", b, "eth0", a_addrs=["10.0.0.1/30"], b_addrs=["10.0.0.2/30"])
        lab.address_device(b, "node0", ["10.9.9.9/32"])
        print(b.run(["ping", "-c1", "-W1", "10.0.0.1"]).stdout)
        link.cut()                                # silent loss both ways, link stays up
        link.restore()
        link.down(); link.up()                    # carrier loss on both ends
        proc = a.popen(["sleep", "60"])           # tracked; killed and reaped at teardown
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

from pybgp.testing.proc import (  # re-exported: drivers and tests import them from here
    LabError,
    kill_pid,
    netns_list,
    netns_pids,
    process_alive,
    process_start_time,
    run_cmd,
    stop_process,
)

STATE_DIR = Path(os.environ.get("PYBGP_LAB_STATE", "/run/pybgp-lab"))
RUN_ROOT = Path(os.environ.get("PYBGP_LAB_RUN", "/tmp/pybgp-lab"))

_PREFIX_RE = re.compile(r"^[a-z][a-z0-9]{0,11}$")
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_]{0,15}$")
_IFNAME_RE = re.compile(r"^[A-Za-z0-9_.]{1,15}$")


__all__ = [
    "Lab",
    "LabError",
    "Link",
    "Node",
    "cleanup_prefix",
    "kill_pid",
    "netns_list",
    "netns_pids",
    "prefix_owner_alive",
    "process_alive",
    "process_start_time",
    "recorded_prefixes",
    "run_cmd",
    "stop_process",
]


class Node:
    """One network namespace: a router, a server or a plain host, with its own run directory.

    Create nodes through `Lab.node`; `run` and `popen` execute inside the namespace.
    """

    def __init__(self, lab: Lab, name: str, role: str, router: bool) -> None:
        self.lab = lab
        self.name = name
        self.role = role
        self.router = router
        self.netns = f"{lab.prefix}-{name}"
        self.run_dir = lab.run_dir / name
        self.processes: list[subprocess.Popen[Any]] = []
        self.interfaces: dict[str, list[str]] = {}
        self.drivers: list[Any] = []  # DaemonDriver objects stopped at teardown (duck-typed: .stop())

    def __repr__(self) -> str:
        return f"Node({self.netns!r}, role={self.role!r})"

    # -- commands ---------------------------------------------------------------------------------
    def exec_argv(self, argv: Sequence[str]) -> list[str]:
        """`argv` wrapped so that it runs inside this namespace."""
        return ["ip", "netns", "exec", self.netns, *argv]

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 30.0, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the namespace to completion (bounded by `timeout`)."""
        return run_cmd(self.exec_argv(argv), check=check, timeout=timeout, input=input)

    def ip(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`ip -n <netns> args...` (cheaper than `ip netns exec`)."""
        return run_cmd(["ip", "-n", self.netns, *args], check=check)

    def popen(
        self,
        argv: Sequence[str],
        *,
        stdout: int | IO[Any] | None = subprocess.DEVNULL,
        stderr: int | IO[Any] | None = subprocess.DEVNULL,
        stdin: int | IO[Any] | None = subprocess.DEVNULL,
        text: bool = False,
        env: dict[str, str] | None = None,
    ) -> subprocess.Popen[Any]:
        """Start a long-lived process inside the namespace, tracked so teardown stops and reaps it.

        The child gets its own session, so a Ctrl-C on the terminal reaches the test runner first and
        the orderly teardown (not a signal race) stops the daemons.
        """
        proc: subprocess.Popen[Any] = subprocess.Popen(
            self.exec_argv(argv),
            stdout=stdout,
            stderr=stderr,
            stdin=stdin,
            text=text,
            env=env,
            start_new_session=True,
        )
        self.processes.append(proc)
        self.lab._record()
        return proc

    def sysctl(self, key: str, value: str | int) -> None:
        """Set a sysctl inside the namespace (net.* keys are per namespace)."""
        self.run(["sysctl", "-qw", f"{key}={value}"])

    # -- interfaces and routes --------------------------------------------------------------------
    def add_address(self, ifname: str, cidr: str) -> None:
        """Add an IPv4/IPv6 address (idempotent: `ip addr replace`); IPv6 without DAD delay."""
        iface = ipaddress.ip_interface(cidr)
        args = ["addr", "replace", cidr, "dev", ifname]
        if iface.version == 6:
            args.append("nodad")
        self.ip(*args)
        addrs = self.interfaces.setdefault(ifname, [])
        if cidr not in addrs:
            addrs.append(cidr)

    def set_link(self, ifname: str, up: bool) -> None:
        """Administratively bring an interface up or down (carrier loss on the veth peer)."""
        self.ip("link", "set", "dev", ifname, "up" if up else "down")

    def has_link(self, ifname: str) -> bool:
        return self.ip("link", "show", "dev", ifname, check=False).returncode == 0

    def mac(self, ifname: str) -> str:
        """The interface's MAC address."""
        info = json.loads(self.ip("-j", "link", "show", "dev", ifname).stdout)
        return str(info[0]["address"])

    def add_neighbor(self, ip: str, mac: str, ifname: str) -> None:
        """A permanent neighbour entry: no ARP/ND for it, and no share of the host-wide gc_thresh3."""
        self.ip("neigh", "replace", ip, "lladdr", mac, "dev", ifname, "nud", "permanent")

    def routes(self, table: str | int = "main", family: int = 4) -> list[dict[str, Any]]:
        """The kernel routes of `table` as `ip -j route` dicts (dst, gateway/dev or nexthops, protocol)."""
        out = self.ip(f"-{family}", "-j", "route", "show", "table", str(table)).stdout
        result: list[dict[str, Any]] = json.loads(out) if out.strip() else []
        return result

    def route_nexthops(self, dst: str, table: str | int = "main") -> set[tuple[str, str]]:
        """The (gateway, dev) pairs of the kernel route to `dst` ("10.69.1.2", "10.0.0.0/8", "0.0.0.0/0")."""
        family = 6 if ":" in dst else 4
        want = dst if "/" in dst else f"{dst}/{32 if family == 4 else 128}"
        for route in self.routes(table, family):
            rdst = route.get("dst", "")
            if rdst == "default":
                rdst = "0.0.0.0/0" if family == 4 else "::/0"
            elif "/" not in rdst:
                rdst = f"{rdst}/{32 if family == 4 else 128}"
            if rdst != want:
                continue
            hops = route.get("nexthops") or [route]
            return {(str(h.get("gateway", "")), str(h.get("dev", ""))) for h in hops}
        return set()


class Link:
    """A veth pair between two nodes; can be cut silently (nftables) or taken down (carrier loss)."""

    def __init__(self, a: Node, a_if: str, b: Node, b_if: str) -> None:
        self.a, self.a_if, self.b, self.b_if = a, a_if, b, b_if
        self.is_cut = False

    def __repr__(self) -> str:
        return f"Link({self.a.name}:{self.a_if} <-> {self.b.name}:{self.b_if})"

    def _table(self) -> str:
        return f"pybgplab_cut_{self.a_if}".replace(".", "_")

    def cut(self) -> None:
        """Silent failure: drop every packet both ways at `a`'s end while both ends stay up.

        Only BFD (or the hold timer) can notice: carrier stays on and no RTM_NEWLINK is sent.
        Implemented as an nftables netdev table with ingress and egress hooks, policy drop.
        """
        if self.is_cut:
            return
        dev = self.a_if
        rules = (
            f'table netdev {self._table()} {{\n'
            f'  chain in {{ type filter hook ingress device "{dev}" priority -500; policy drop; }}\n'
            f'  chain out {{ type filter hook egress device "{dev}" priority -500; policy drop; }}\n'
            f'}}\n'
        )
        self.a.run(["nft", "-f", "-"], input=rules)
        self.is_cut = True

    def restore(self) -> None:
        """Undo `cut` (idempotent)."""
        self.a.run(["nft", "delete", "table", "netdev", self._table()], check=False)
        self.is_cut = False

    def pin_neighbors(self) -> int:
        """Permanent neighbour entries both ways for every address pair the two ends share a subnet in.

        Useful in scale labs (hundreds of BFD peers overflow the kernel's shared neighbour table) and
        to take ARP out of timing measurements. Returns the number of entries written.
        """
        count = 0
        ends = ((self.a, self.a_if, self.b, self.b_if), (self.b, self.b_if, self.a, self.a_if))
        for here, here_if, there, there_if in ends:
            there_mac = there.mac(there_if)
            for mine in here.interfaces.get(here_if, []):
                my_net = ipaddress.ip_interface(mine).network
                for theirs in there.interfaces.get(there_if, []):
                    their_ip = ipaddress.ip_interface(theirs).ip
                    if their_ip in my_net:
                        here.add_neighbor(str(their_ip), there_mac, here_if)
                        count += 1
        return count

    def down(self) -> None:
        """Carrier loss: set `a`'s end down, so both ends lose carrier (the veth peer goes NO-CARRIER)."""
        self.a.set_link(self.a_if, False)

    def up(self) -> None:
        """Undo `down`."""
        self.a.set_link(self.a_if, True)


_LIVE_LABS: list[Lab] = []
_LIVE_LOCK = threading.Lock()
_HOOKS_INSTALLED = False


def _close_live_labs() -> None:
    with _LIVE_LOCK:
        labs = list(_LIVE_LABS)
    for lab in labs:
        with contextlib.suppress(Exception):
            lab.close()


def _install_exit_hooks() -> None:
    """atexit teardown, and SIGTERM turned into SystemExit so `with Lab(...)` blocks unwind."""
    global _HOOKS_INSTALLED
    if _HOOKS_INSTALLED:
        return
    _HOOKS_INSTALLED = True
    atexit.register(_close_live_labs)
    in_main = threading.current_thread() is threading.main_thread()
    if in_main and signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):

        def _on_sigterm(signum: int, frame: object) -> None:
            raise SystemExit(128 + signum)

        signal.signal(signal.SIGTERM, _on_sigterm)


class Lab:
    """A set of namespaces sharing a prefix; a context manager that always tears down what it made.

    `prefix` must be short (lowercase letters/digits, at most 12) and owned by one caller at a time:
    a second live `Lab` with the same prefix in another process raises `LabError`; leftovers of a
    dead process with the same prefix are cleaned before starting.
    """

    def __init__(self, prefix: str, *, run_root: Path | None = None) -> None:
        if not _PREFIX_RE.match(prefix):
            raise ValueError(f"lab prefix {prefix!r} must match {_PREFIX_RE.pattern}")
        self.prefix = prefix
        self.run_dir = (run_root or RUN_ROOT) / prefix
        self.nodes: dict[str, Node] = {}
        self.links: list[Link] = []
        self.closed = False
        self._state_file = STATE_DIR / f"{prefix}.json"
        self._claim()
        with _LIVE_LOCK:
            _LIVE_LABS.append(self)
        _install_exit_hooks()

    # -- ownership and state ----------------------------------------------------------------------
    def _claim(self) -> None:
        with _LIVE_LOCK:
            if any(lab.prefix == self.prefix and not lab.closed for lab in _LIVE_LABS):
                raise LabError(f"lab prefix {self.prefix!r} is already open in this process")
        try:
            state = json.loads(self._state_file.read_text())
        except (OSError, ValueError):
            state = None
        if state is not None:
            owner = int(state.get("owner_pid", 0))
            if owner != os.getpid() and process_alive(owner):
                raise LabError(f"lab prefix {self.prefix!r} is in use by live pid {owner}")
            cleanup_prefix(self.prefix)
        # Namespaces with our prefix but no state file: leftovers of a run that lost its state dir.
        for ns in netns_list():
            if ns.startswith(f"{self.prefix}-"):
                _remove_netns(ns)
        if self.run_dir.exists():
            shutil.rmtree(self.run_dir, ignore_errors=True)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._record()

    def _record(self) -> None:
        """Write the state file that `python -m pybgp.testing cleanup` reads after a crash."""
        STATE_DIR.mkdir(parents=True, exist_ok=True)
        pids = [
            [p.pid, process_start_time(p.pid)]
            for n in self.nodes.values()
            for p in n.processes
            if p.poll() is None
        ]
        state = {
            "prefix": self.prefix,
            "owner_pid": os.getpid(),
            "namespaces": [n.netns for n in self.nodes.values()],
            "pids": pids,
            "run_dir": str(self.run_dir),
        }
        tmp = self._state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(self._state_file)

    # -- building ---------------------------------------------------------------------------------
    def node(self, name: str, *, role: str = "host", router: bool = False) -> Node:
        """Create (or return the existing) namespace `<prefix>-<name>` with lo up.

        Routers get ip_forward=1; every node gets rp_filter=0 explicitly (ECMP and asymmetric flows).
        """
        if self.closed:
            raise LabError("lab is closed")
        existing = self.nodes.get(name)
        if existing is not None:
            return existing
        if not _NAME_RE.match(name):
            raise ValueError(f"node name {name!r} must match {_NAME_RE.pattern}")
        node = Node(self, name, role, router)
        self.nodes[name] = node
        self._record()
        if node.netns not in netns_list():
            run_cmd(["ip", "netns", "add", node.netns])
        node.run_dir.mkdir(parents=True, exist_ok=True)
        node.ip("link", "set", "lo", "up")
        sysctls = {
            "net.ipv4.ip_forward": 1 if router else 0,
            "net.ipv6.conf.all.forwarding": 1 if router else 0,
            "net.ipv4.conf.all.rp_filter": 0,
            "net.ipv4.conf.default.rp_filter": 0,
            "net.ipv6.conf.default.accept_dad": 0,
        }
        script = "".join(f"{k}={v}\n" for k, v in sysctls.items())
        node.run(["sysctl", "-q", "-p", "-"], input=script)
        return node

    def link(
        self,
        a: Node,
        a_if: str,
        b: Node,
        b_if: str,
        *,
        a_addrs: Iterable[str] = (),
        b_addrs: Iterable[str] = (),
        b_bridge: str | None = None,
    ) -> Link:
        """A veth pair `a:a_if <-> b:b_if`, both ends up, with the given addresses (idempotent).

        With `b_bridge`, `b`'s end is enslaved to that bridge (see `bridge`) instead of carrying
        addresses: a ToR's server-facing ports sharing one /26.
        """
        for ifname in (a_if, b_if):
            if not _IFNAME_RE.match(ifname):
                raise ValueError(f"interface name {ifname!r} is not a valid Linux name")
        for link in self.links:
            if (link.a, link.a_if, link.b, link.b_if) == (a, a_if, b, b_if):
                return link
        if not a.has_link(a_if):
            a.ip("link", "add", "name", a_if, "type", "veth", "peer", "name", b_if, "netns", b.netns)
        for cidr in a_addrs:
            a.add_address(a_if, cidr)
        if b_bridge is not None:
            b.ip("link", "set", "dev", b_if, "master", b_bridge)
        for cidr in b_addrs:
            b.add_address(b_if, cidr)
        a.interfaces.setdefault(a_if, [])
        b.interfaces.setdefault(b_if, [])
        a.set_link(a_if, True)
        b.set_link(b_if, True)
        link = Link(a, a_if, b, b_if)
        self.links.append(link)
        return link

    def bridge(self, node: Node, name: str, addrs: Iterable[str] = ()) -> None:
        """A bridge in `node` (an L2 segment shared by several veth ends) with addresses, up."""
        if not node.has_link(name):
            node.ip("link", "add", "name", name, "type", "bridge")
        for cidr in addrs:
            node.add_address(name, cidr)
        node.set_link(name, True)

    def address_device(self, node: Node, name: str, addrs: Iterable[str], *, peer: str | None = None) -> None:
        """An always-up device carrying addresses, standing in for `dummy` (absent on this kernel).

        A veth pair whose peer (`<name>p` unless given) stays in the same namespace, both ends up:
        it has carrier, and BIRD's `direct` protocol (or pybgpd) picks its addresses up like a dummy.
        """
        peer = peer or f"{name}p"
        if not node.has_link(name):
            node.ip("link", "add", "name", name, "type", "veth", "peer", "name", peer)
        for cidr in addrs:
            node.add_address(name, cidr)
        node.set_link(peer, True)
        node.set_link(name, True)

    def find_link(self, a: str, a_if: str) -> Link:
        """The link whose end is node `a`, interface `a_if` (either side; returned oriented from `a`)."""
        for link in self.links:
            if link.a.name == a and link.a_if == a_if:
                return link
            if link.b.name == a and link.b_if == a_if:
                return Link(link.b, link.b_if, link.a, link.a_if)
        raise KeyError(f"no link at {a}:{a_if}")

    # -- teardown ---------------------------------------------------------------------------------
    def close(self) -> None:
        """Stop every driver and process, delete every namespace, forget the state file (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for node in self.nodes.values():
            for driver in reversed(node.drivers):
                with contextlib.suppress(Exception):
                    driver.stop()
        for node in self.nodes.values():
            for proc in node.processes:
                stop_process(proc)
        for node in self.nodes.values():
            _remove_netns(node.netns)
        with contextlib.suppress(OSError):
            self._state_file.unlink()
        with _LIVE_LOCK:
            if self in _LIVE_LABS:
                _LIVE_LABS.remove(self)

    def __enter__(self) -> Lab:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _remove_netns(netns: str) -> None:
    """Kill whatever still runs in `netns` (it is ours), then delete the namespace."""
    if netns not in netns_list():
        return
    for pid in netns_pids(netns):
        kill_pid(pid)
    run_cmd(["ip", "netns", "del", netns], check=False)


def cleanup_prefix(prefix: str) -> list[str]:
    """Remove what a (dead) lab with `prefix` left: recorded pids, its namespaces, its state file.

    Returns the namespaces removed. Only pids recorded in the state file and processes living inside
    our namespaces are killed; nothing else on the host is touched.
    """
    state_file = STATE_DIR / f"{prefix}.json"
    try:
        state = json.loads(state_file.read_text())
    except (OSError, ValueError):
        state = {}
    for entry in state.get("pids", []):
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], int):
            continue
        pid, started = entry
        # Only the very process we started: same pid *and* same start time (pids get reused).
        if pid != os.getpid() and started is not None and process_start_time(pid) == started:
            kill_pid(pid)
    removed = []
    wanted = set(state.get("namespaces", []))
    for ns in netns_list():
        if ns in wanted or ns.startswith(f"{prefix}-"):
            _remove_netns(ns)
            removed.append(ns)
    with contextlib.suppress(OSError):
        state_file.unlink()
    return removed


def recorded_prefixes() -> list[str]:
    """Every lab prefix that has a state file (live or leftover)."""
    if not STATE_DIR.is_dir():
        return []
    return sorted(p.stem for p in STATE_DIR.glob("*.json"))


def prefix_owner_alive(prefix: str) -> bool:
    """True when the process that created lab `prefix` is still running."""
    try:
        state = json.loads((STATE_DIR / f"{prefix}.json").read_text())
    except (OSError, ValueError):
        return False
    owner = int(state.get("owner_pid", 0))
    return owner > 0 and process_alive(owner)
