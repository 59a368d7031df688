"""Throwaway network namespaces for the kernel FIB tests (prefix "fib-"), removed even on failure."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from typing import Any

import pytest


def ip(netns: str, *args: str, check: bool = True) -> str:
    """Run `ip -n NETNS ARGS...` and return its stdout."""
    proc = subprocess.run(["ip", "-n", netns, *args], capture_output=True, text=True, timeout=30)
    if check and proc.returncode != 0:
        raise RuntimeError(f"ip -n {netns} {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout


def ip_json(netns: str, *args: str) -> Any:
    out = ip(netns, "-j", *args)
    return json.loads(out) if out.strip() else []


@pytest.fixture
def netns() -> Iterator[str]:
    """A namespace with two veth pairs, eth0<->peer0 (10.0.1.1/24) and eth1<->peer1 (10.0.2.1/24).

    Both ends of each pair stay in the namespace, so the links have carrier and the gateways
    10.0.1.2 / 10.0.2.2 (and 2001:db8:1::2 / 2001:db8:2::2) are in connected subnets; no traffic
    leaves the namespace.
    """
    yield from veth_netns("fib")


def veth_netns(prefix: str) -> Iterator[str]:
    """The `netns` fixture's namespace, named `<prefix>-<random>`; removed when the generator closes."""
    name = f"{prefix}-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True, timeout=30)
    try:
        ip(name, "link", "set", "lo", "up")
        for n in (0, 1):
            ip(name, "link", "add", "name", f"eth{n}", "type", "veth", "peer", "name", f"peer{n}")
            ip(name, "link", "set", f"peer{n}", "up")
            ip(name, "link", "set", f"eth{n}", "up")
            ip(name, "addr", "add", f"10.0.{n + 1}.1/24", "dev", f"eth{n}")
            ip(name, "addr", "add", f"2001:db8:{n + 1}::1/64", "dev", f"eth{n}", "nodad")
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], timeout=30, check=False)
