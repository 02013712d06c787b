"""Log output: one JSON record per line, whoever logs and from whichever thread."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from daemon import logs

THREADS = 4
EACH = 200
PAD = 20_000  # characters: more than a line-buffered stream's 8 KiB buffer


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    root.setLevel(level)


async def test_records_from_threads_and_the_loop_never_share_a_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, restore_logging: None
) -> None:
    path = tmp_path / "tocsin.log"
    # Records longer than the stream's buffer (a traceback, a big error) reach the OS in a write that lets
    # other threads run; with threads switching every microsecond rather than every 5 ms, every run shows it.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        await _log_from_everywhere(path, monkeypatch)
    finally:
        sys.setswitchinterval(previous)
    lines = path.read_text().split("\n")
    assert lines[-1] == ""
    records = [json.loads(line) for line in lines[:-1]]  # each line one whole JSON record
    assert len(records) == EACH * (THREADS + 1)
    events = [r["event"] for r in records]
    assert events.count("from_loop") == EACH
    assert events.count("from_thread") == THREADS * EACH // 2
    assert sum(e.startswith("from stdlib thread") for e in events) == THREADS * EACH // 2


async def _log_from_everywhere(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with path.open("w", buffering=1) as stream, monkeypatch.context() as patched:
        patched.setattr(sys, "stderr", stream)
        logs.configure("info", "json")
        loop_log = structlog.get_logger("tocsin.test")
        stdlib_log = logging.getLogger("tocsin.thread")  # as SQLite's and Apprise's threads log
        start = threading.Barrier(THREADS)

        def in_a_thread(n: int) -> None:
            start.wait()
            for i in range(EACH):
                if i % 2:
                    structlog.get_logger("tocsin.worker").info("from_thread", thread=n, i=i, pad="t" * PAD)
                else:
                    stdlib_log.warning("from stdlib thread %d record %d %s", n, i, "s" * PAD)

        async def on_the_loop() -> None:
            for i in range(EACH):
                loop_log.info("from_loop", i=i, pad="l" * PAD)
                if i % 50 == 0:
                    await asyncio.sleep(0)

        await asyncio.gather(on_the_loop(), *(asyncio.to_thread(in_a_thread, n) for n in range(THREADS)))
