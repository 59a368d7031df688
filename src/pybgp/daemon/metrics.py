"""Prometheus metrics for pybgpd, in a registry of its own, served on an optional HTTP address.

Owns: the metric families (session state and uptime, prefixes received/accepted/installed, updates in and
out, BFD state and flaps, kernel install latency, config reloads) and the HTTP exporter.
Never does: compute anything: the daemon sets gauges from its own state at scrape time (`refresh`) or
counts events as they happen.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

SESSION_STATES = ("idle", "connect", "active", "opensent", "openconfirm", "established")
BFD_STATES = ("admindown", "down", "init", "up")


class Metrics:
    """All pybgpd metrics. One instance per daemon; tests read `render()`."""

    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.session_state = Gauge(
            "pybgp_session_state", "1 for the session's current FSM state", ["neighbor", "state"], registry=r
        )
        self.session_up = Gauge(
            "pybgp_session_established", "1 when the session is Established", ["neighbor"], registry=r
        )
        self.session_uptime = Gauge(
            "pybgp_session_uptime_seconds", "Seconds since Established (0 if not)", ["neighbor"], registry=r
        )
        self.session_flaps = Counter(
            "pybgp_session_down_total", "Times the session left Established", ["neighbor"], registry=r
        )
        self.prefixes_received = Gauge(
            "pybgp_prefixes_received", "Prefixes in Adj-RIB-In before policy", ["neighbor"], registry=r
        )
        self.prefixes_accepted = Gauge(
            "pybgp_prefixes_accepted", "Prefixes accepted by import policy", ["neighbor"], registry=r
        )
        self.prefixes_installed = Gauge(
            "pybgp_prefixes_installed",
            "Kernel routes with a nexthop from this neighbor",
            ["neighbor"],
            registry=r,
        )
        self.prefixes_advertised = Gauge(
            "pybgp_prefixes_advertised", "Prefixes in Adj-RIB-Out", ["neighbor"], registry=r
        )
        self.updates_in = Counter(
            "pybgp_updates_received_total", "UPDATE messages received", ["neighbor"], registry=r
        )
        self.updates_out = Counter(
            "pybgp_updates_sent_total", "UPDATE messages sent", ["neighbor"], registry=r
        )
        self.notifications = Counter(
            "pybgp_notifications_total",
            "NOTIFICATIONs sent or received",
            ["neighbor", "direction", "code", "subcode"],
            registry=r,
        )
        self.bfd_state = Gauge(
            "pybgp_bfd_state", "1 for the BFD session's current state", ["neighbor", "state"], registry=r
        )
        self.bfd_flaps = Counter(
            "pybgp_bfd_down_total", "BFD Up -> Down transitions", ["neighbor"], registry=r
        )
        self.routes_installed = Gauge(
            "pybgp_kernel_routes", "Routes pybgpd has installed in the kernel", registry=r
        )
        self.kernel_failures = Gauge("pybgp_kernel_failures", "Routes the kernel refused", registry=r)
        self.kernel_hold = Gauge(
            "pybgp_kernel_hold", "1 while [kernel] update_delay holds kernel writes or writes the held table",
            registry=r,
        )
        self.install_latency = Histogram(
            "pybgp_kernel_install_seconds",
            "Best-path change to kernel write completed",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.reloads = Counter(
            "pybgp_config_reloads_total", "Config reloads by result", ["result"], registry=r
        )
        self._server: Any = None
        self._updates_in_children: dict[str, Any] = {}

    def update_received(self, neighbor: str, count: int = 1) -> None:
        """Count `count` UPDATEs from `neighbor`. Runs per message or per read's batch (200k messages
        per feed (c)): the labelled child is looked up once per neighbor, not through `labels()` (a
        lock and a label check) every time."""
        child = self._updates_in_children.get(neighbor)
        if child is None:
            child = self._updates_in_children[neighbor] = self.updates_in.labels(neighbor)
        child.inc(count)

    def set_session_state(self, neighbor: str, state: str) -> None:
        for s in SESSION_STATES:
            self.session_state.labels(neighbor, s).set(1 if s == state.lower() else 0)
        self.session_up.labels(neighbor).set(1 if state.lower() == "established" else 0)

    def set_bfd_state(self, neighbor: str, state: str) -> None:
        for s in BFD_STATES:
            self.bfd_state.labels(neighbor, s).set(1 if s == state.lower() else 0)

    def forget_neighbor(self, neighbor: str) -> None:
        """Drop a deconfigured neighbor's series so dashboards do not show ghosts."""
        self._updates_in_children.pop(neighbor, None)
        for metric in (
            self.session_up,
            self.session_uptime,
            self.session_flaps,
            self.prefixes_received,
            self.prefixes_accepted,
            self.prefixes_installed,
            self.prefixes_advertised,
            self.updates_in,
            self.updates_out,
            self.bfd_flaps,
        ):
            try:
                metric.remove(neighbor)
            except KeyError:
                pass
        for s in SESSION_STATES:
            try:
                self.session_state.remove(neighbor, s)
            except KeyError:
                pass
        for s in BFD_STATES:
            try:
                self.bfd_state.remove(neighbor, s)
            except KeyError:
                pass

    def serve(self, host: str, port: int) -> None:
        """Start the HTTP exporter (a daemon thread inside prometheus-client)."""
        self._server = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        server = self._server
        if isinstance(server, tuple) and server:
            server[0].shutdown()
            server[0].server_close()
        self._server = None

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))
