"""Logging for pybgpd: plain text for people, one JSON object per line for log pipelines.

Owns: configuring the `pybgp` / `pybfd` loggers from `LoggingConfig`, and `event()`, the helper every
daemon component uses for the records that matter to operators (session state changes, BFD changes,
NOTIFICATIONs sent and received, kernel failures), so each carries machine-readable fields.
Never does: decide what is worth logging (the callers do) or rotate files (logrotate / journald do).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from pybgp.daemon.schema import LoggingConfig
from pybgp.wire.nlri import Prefix

_RESERVED = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (RFC 3339, UTC), level, logger, message and every extra field."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                # A `Prefix` is an int subclass, which `json.dumps` would write as its packed number.
                out[key] = str(value) if isinstance(value, Prefix) else value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


class TextFormatter(logging.Formatter):
    """`2026-11-26 05:00:00.123 INFO  pybgp.daemon: message key=value ...`."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s.%(msecs)03d %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        extras = [f"{k}={v}" for k, v in vars(record).items() if k not in _RESERVED and not k.startswith("_")]
        return f"{text} {' '.join(extras)}" if extras else text


def setup_logging(cfg: LoggingConfig) -> None:
    """Route the `pybgp` and `pybfd` loggers to stderr or `cfg.file` in the configured format."""
    handler: logging.Handler
    handler = logging.FileHandler(cfg.file) if cfg.file else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if cfg.format == "json" else TextFormatter())
    level = getattr(logging, cfg.level.upper(), logging.INFO)
    for name in ("pybgp", "pybfd"):
        logger = logging.getLogger(name)
        for old in list(logger.handlers):
            logger.removeHandler(old)
            old.close()
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False


def event(
    logger: logging.Logger, event_name: str, message: str, level: int = logging.INFO, **fields: Any
) -> None:
    """Log an operator-relevant event with structured fields (`event=...` plus the given keys)."""
    logger.log(level, message, extra={"event": event_name, **fields})
