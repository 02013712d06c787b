"""The log lines tocsin writes, captured as written (JSON, one record per line) for tests to read."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import structlog

from daemon import logs


@dataclass
class LogLines:
    stream: io.StringIO = field(default_factory=io.StringIO)

    @property
    def text(self) -> str:
        return self.stream.getvalue()

    def records(self) -> list[dict[str, Any]]:
        """Every line, each parsed as one JSON object (a line that is not one fails the test)."""
        return [json.loads(line) for line in self.text.splitlines()]

    def named(self, *events: str) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["event"] in events]


@contextmanager
def captured_log_lines() -> Iterator[LogLines]:
    """tocsin's logging as `tocsin run` sets it up (JSON at info), into a buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    quiet = {name: logging.getLogger(name).level for name in logs.QUIET_LOGGERS}
    captured = LogLines()
    logs.configure("info", "json", stream=captured.stream)
    # Module-level loggers must not keep this test's stream once it ends.
    structlog.configure(cache_logger_on_first_use=False)
    try:
        yield captured
    finally:
        structlog.reset_defaults()
        structlog.contextvars.clear_contextvars()
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, was in quiet.items():
            logging.getLogger(name).setLevel(was)
