"""pytest plugin (entry point `pybgp_lab`): fixtures that give a test a ready lab.

Loaded automatically once pybgp is installed; the fixtures only create namespaces when a test asks.
Owns: `fake_clock` (a `FakeClock` for virtual-time tests), `lab_required` (skip with the reason
when root/ip/nft/bird are missing), `make_lab` and
`make_module_lab` (Lab factories whose labs are always closed at teardown), and `seed_fabric` (one
seed leaf-spine fabric per module, all sessions Established and ECMP in place).
Never does: pick a namespace prefix for you silently in shared runs: override the `lab_prefix`
fixture (module scope) in your test module, e.g. ``@pytest.fixture(scope="module")
def lab_prefix() -> str: return "bfd"``; and `seed_options` (module scope, dict of `seed_topology`
keyword arguments plus ``server_daemon``) to change the fabric.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pybgp.testing.clock import FakeClock
from pybgp.testing.lab import Lab


def lab_unavailable_reason() -> str | None:
    """None when namespace labs with BIRD can run here, else why not."""
    if os.geteuid() != 0:
        return "lab needs root (network namespaces)"
    for tool in ("ip", "nft", "bird", "birdc"):
        if shutil.which(tool) is None:
            return f"lab needs {tool!r} (make test installs it)"
    return None


@pytest.fixture
def fake_clock() -> FakeClock:
    """A `FakeClock` starting at 1000.0 s (non-zero, so "time 0" bugs show)."""
    return FakeClock(start=1000.0)


@pytest.fixture(scope="session")
def lab_required() -> None:
    """Skip the test (with the reason) when this machine cannot run namespace labs."""
    reason = lab_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="module")
def lab_prefix() -> str:
    """Namespace prefix for this module's labs; override it per area (default $PYBGP_LAB_PREFIX or "lab")."""
    return os.environ.get("PYBGP_LAB_PREFIX", "lab")


@pytest.fixture(scope="module")
def seed_options() -> dict[str, Any]:
    """Keyword arguments for `seed_topology` plus ``server_daemon``; override per module."""
    return {}


def _factory() -> tuple[Callable[[str], Lab], list[Lab]]:
    labs: list[Lab] = []

    def make(prefix: str) -> Lab:
        lab = Lab(prefix)
        labs.append(lab)
        return lab

    return make, labs


@pytest.fixture
def make_lab(lab_required: None) -> Iterator[Callable[[str], Lab]]:
    """`make_lab(prefix) -> Lab`; every lab made is closed (namespaces, daemons) after the test."""
    make, labs = _factory()
    try:
        yield make
    finally:
        for lab in labs:
            lab.close()


@pytest.fixture(scope="module")
def make_module_lab(lab_required: None) -> Iterator[Callable[[str], Lab]]:
    """Like `make_lab`, but the labs live until the end of the module."""
    make, labs = _factory()
    try:
        yield make
    finally:
        for lab in labs:
            lab.close()


@pytest.fixture(scope="module")
def seed_fabric(lab_required: None, lab_prefix: str, seed_options: dict[str, Any]) -> Iterator[Any]:
    """A running seed fabric (`pybgp.testing.fabric.Fabric`) with every session Established and
    every server's ECMP routes in place; torn down at the end of the module, also on failure."""
    from pybgp.testing.fabric import build_fabric
    from pybgp.testing.topology import seed_topology

    options = dict(seed_options)
    server_daemon = str(options.pop("server_daemon", "bird"))
    with Lab(lab_prefix) as lab:
        fabric = build_fabric(lab, seed_topology(**options), server_daemon=server_daemon)
        fabric.wait_established(timeout=60)
        fabric.wait_ecmp(timeout=60)
        yield fabric
