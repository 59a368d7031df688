"""Structured logs (text and JSON) and the metrics registry."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from pybgp.daemon.logsetup import JsonFormatter, TextFormatter, event, setup_logging
from pybgp.daemon.metrics import Metrics
from pybgp.daemon.schema import LoggingConfig
from pybgp.wire.nlri import Prefix


def record(logger: str = "pybgp.daemon") -> logging.LogRecord:
    captured: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, rec: logging.LogRecord) -> None:
            captured.append(rec)

    log = logging.getLogger(logger)
    handler = Keep()
    log.addHandler(handler)
    old = log.level
    log.setLevel(logging.INFO)
    try:
        event(log, "notification", "tor1: NOTIFICATION sent 6/10", neighbor="tor1", code=6, subcode=10)
    finally:
        log.removeHandler(handler)
        log.setLevel(old)
    return captured[0]


def test_json_lines_carry_event_fields() -> None:
    line = JsonFormatter().format(record())
    data = json.loads(line)
    assert data["event"] == "notification" and data["neighbor"] == "tor1" and data["code"] == 6
    assert data["level"] == "info" and data["message"] == "tor1: NOTIFICATION sent 6/10"
    assert data["time"].endswith("Z")


def test_json_lines_write_a_prefix_as_text() -> None:
    # `Prefix` is an int subclass: without the formatter's care JSON would carry its packed number.
    rec = record()
    rec.prefix = Prefix.parse("10.0.0.0/8")
    assert json.loads(JsonFormatter().format(rec))["prefix"] == "10.0.0.0/8"


def test_text_lines_carry_event_fields() -> None:
    line = TextFormatter().format(record())
    assert "tor1: NOTIFICATION sent 6/10" in line and "event=notification" in line and "subcode=10" in line


def test_setup_logging_to_file(tmp_path: Path) -> None:
    path = tmp_path / "pybgpd.log"
    setup_logging(LoggingConfig(level="debug", format="json", file=path))
    try:
        event(logging.getLogger("pybgp.daemon.test"), "started", "hello", pid=1)
        for handler in logging.getLogger("pybgp").handlers:
            handler.flush()
        assert json.loads(path.read_text().splitlines()[-1])["event"] == "started"
    finally:
        for name in ("pybgp", "pybfd"):
            lg = logging.getLogger(name)
            for handler in list(lg.handlers):
                lg.removeHandler(handler)
                handler.close()
            lg.propagate = True
            lg.setLevel(logging.NOTSET)


def test_metrics_states_and_forget() -> None:
    m = Metrics()
    m.set_session_state("tor1", "Established")
    m.set_bfd_state("tor1", "up")
    m.install_latency.observe(0.002)
    text = m.render().decode()
    assert 'pybgp_session_state{neighbor="tor1",state="established"} 1.0' in text
    assert 'pybgp_session_state{neighbor="tor1",state="idle"} 0.0' in text
    assert 'pybgp_bfd_state{neighbor="tor1",state="up"} 1.0' in text
    assert 'pybgp_kernel_install_seconds_bucket{le="0.005"} 1.0' in text
    m.forget_neighbor("tor1")
    assert 'neighbor="tor1"' not in m.render().decode()
