"""Several workers on one SQLite file: their writers take turns through a file lock, not SQLite's busy handler.

SQLite lets one connection write at a time; another that finds the file locked sleeps in its busy handler
(1, 2, 5, 10, 15, 20, 25 … 100 ms) and looks again, while the one that wrote often takes the lock straight back.
Two workers under a storm of new alerts took no more alerts per second than one, at a p99 of ~370 ms (measured
with `make bench`). A blocked ``flock`` is woken by the kernel as soon as its holder lets go, so the writers take
turns at the pace of their commits (about 1.3 times one worker's rate, p99 ~65 ms).

The lock only orders tocsin's writers: SQLite's own locking still guards the file (another program writing it, a
reader's snapshot, a checkpoint). A writer waits for it without bound, as it would for the disk: a worker stopped
while holding it stops the others' commits too, their callers are answered 503 at the write timeout (a job not
begun is withdrawn, never applied late), and the drain's watchdog ends a stuck process. The kernel lets go of the
lock of a process that dies.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + "-writer.lock")


class WriteLock:
    def __init__(self, db: Path) -> None:
        self.path = lock_path(db)
        self._fd: int | None = None

    def open(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def acquire(self) -> None:
        """Blocks the calling thread (the writer's, never the event loop) until no other writer holds it."""
        assert self._fd is not None, "WriteLock.open() first"
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def release(self) -> None:
        assert self._fd is not None
        fcntl.flock(self._fd, fcntl.LOCK_UN)
