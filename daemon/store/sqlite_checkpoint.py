"""Checkpoints of SQLite's write-ahead log, taken by a thread of their own rather than by the writer.

By default the connection whose commit takes the log past 1,000 pages copies them into the database file then
and there, inside that commit: under a storm of new alerts that was about 60% of a commit's time (6 of 10 µs
per alert stored, measured on the store's own tables), all of it while the writer held the write lock that the
other workers wait for. Here a PASSIVE checkpoint (it waits for no reader and no writer) runs every
``period`` seconds after commits, on its own connection and thread, and the writer only checkpoints itself
once the log passes ``WRITER_CHECKPOINT_PAGES`` (this one fell behind, or is stuck). A checkpoint changes
nothing of what is committed: it moves committed pages from the log into the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import structlog

log = structlog.get_logger("tocsin")

PERIOD = 0.1  # seconds between checkpoints while commits go on
WRITER_CHECKPOINT_PAGES = 10_000  # ~40 MB of log: past this the writer checkpoints in its commit, as by default


class Checkpointer:
    def __init__(self, connect: Callable[[], sqlite3.Connection], period: float = PERIOD) -> None:
        self._connect = connect
        self.period = period
        self._commits = 0  # raised by the writer thread after each commit
        self._done = 0  # commits up to which a checkpoint has looked
        self._pool: ThreadPoolExecutor | None = None
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None

    def committed(self) -> None:
        self._commits += 1

    def start(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="tocsin-sqlite-checkpoint")
        self._task = asyncio.create_task(self._run(), name="sqlite-checkpoint")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._pool is not None:
            # After a checkpoint under way, without holding up the event loop meanwhile.
            await asyncio.get_running_loop().run_in_executor(self._pool, self._close)
            self._pool.shutdown(wait=False)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.period)
            commits = self._commits
            if commits == self._done:
                continue
            if await loop.run_in_executor(self._pool, self._checkpoint):
                self._done = commits  # else looked at again next time, commits or not

    def _checkpoint(self) -> bool:
        """Whether the whole log was copied (not when a reader's snapshot or another worker's checkpoint held
        part of it back)."""
        try:
            if self._conn is None:
                self._conn = self._connect()
            busy, logged, copied = self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        except sqlite3.Error as exc:
            # The disk, or the file gone: the writer's own checkpoint is the fallback.
            log.debug("checkpoint_skipped", error=str(exc))
            return False
        return not busy and copied >= logged

    def _close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
