"""Structured logs (JSON lines by default) that never carry secrets."""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

# Apprise's own debug logging prints URLs, which may hold credentials.
QUIET_LOGGERS = {"apprise": logging.WARNING, "aiohttp.access": logging.WARNING}
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]*:[^/@\s]*@", re.IGNORECASE)


def redact(text: str) -> str:
    """Mask ``user:password@`` in any URL."""
    return _URL_CREDENTIALS.sub(r"\g<scheme>***:***@", text)


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in event.items():
        if isinstance(value, str) and "://" in value:
            event[key] = redact(value)
    return event


class LineWriter:
    """The one writer of the log stream: each record goes out in a single write, newline included, under one
    lock shared by structlog and the standard library's loggers, so that records logged at once from the event
    loop and from threads (SQLite, Apprise) never share a line."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write_line(self, line: str) -> None:
        with self._lock:
            self._stream.write(line + "\n")
            self._stream.flush()


class _LineLogger:
    """structlog's output end, writing through the shared LineWriter."""

    def __init__(self, out: LineWriter) -> None:
        self._out = out

    def msg(self, message: str) -> None:
        self._out.write_line(message)

    log = debug = info = warn = warning = msg
    fatal = failure = err = error = critical = exception = msg


class _LineHandler(logging.Handler):
    """The standard library's output end, writing through the same LineWriter."""

    def __init__(self, out: LineWriter) -> None:
        super().__init__()
        self._out = out

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._out.write_line(self.format(record))
        except Exception:
            self.handleError(record)


_worker: int | None = None  # with several workers, this process's number (1, 2, …); None in a single process


def name_worker(number: int) -> None:
    """Every line this process writes from now on says which worker wrote it."""
    global _worker
    _worker = number


def worker() -> int | None:
    return _worker


def _add_worker(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    if _worker is not None:
        event_dict.setdefault("worker", _worker)
    return event_dict


def configure(level: str = "info", fmt: str = "json", stream: TextIO | None = None) -> None:
    numeric = getattr(logging, level.upper())
    out = LineWriter(stream or sys.stderr)
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_worker,
        _redact_event,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=lambda *_: _LineLogger(out),
        cache_logger_on_first_use=True,
    )
    # Standard-library loggers (aiohttp, apprise) go through the same renderer, named, with the context variables
    # bound where they log (Apprise's threads copy the sender's: the incident and channel of the send).
    handler = _LineHandler(out)
    foreign = [*shared, structlog.stdlib.add_logger_name]
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(processor=renderer, foreign_pre_chain=foreign))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for name, quiet in QUIET_LOGGERS.items():
        logging.getLogger(name).setLevel(max(quiet, numeric))
