"""With ``workers`` > 1: which reload each worker has done, shared through small files in one folder.

The parent owns a counter, the *generation*: it raises it at each SIGHUP before forwarding the signal to every
worker. A worker reads the generation when its reload begins (so after the parent raised it, and before it reads
the configuration files) and, once done, writes what came of it under its own pid. The worker that answers
``POST /-/reload`` reads the generation, sends SIGHUP to the parent, and answers once every worker has reported a
generation at least one higher: each of them then runs a configuration read after the request arrived.

Files, not pipes: any worker may be the one asked, and a file written whole (a rename) is read whole by any.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson

ENV = "TOCSIN_RELOAD_DIR"
GENERATION = "generation"
POLL = 0.05  # seconds between looks at the workers' reports


class Generations:
    def __init__(self, folder: Path, workers: int) -> None:
        self.folder = folder
        self.workers = workers

    @classmethod
    def of_worker(cls, workers: int) -> Generations | None:
        """The parent's folder, in a worker (None when tocsin runs as one process)."""
        folder = os.environ.get(ENV)
        return cls(Path(folder), workers) if folder and workers > 1 else None

    def current(self) -> int:
        try:
            return int((self.folder / GENERATION).read_text() or 0)
        except FileNotFoundError:
            return 0

    def bump(self) -> int:
        """The parent, at SIGHUP (it alone writes the counter)."""
        generation = self.current() + 1
        _write(self.folder / GENERATION, str(generation).encode())
        return generation

    def report(self, generation: int, outcome: dict[str, Any]) -> None:
        """This worker finished the reload it began at ``generation``: ``outcome`` is what its answer would be."""
        body = orjson.dumps({"generation": generation, "pid": os.getpid(), "outcome": outcome})
        _write(self.folder / f"worker-{os.getpid()}.json", body)

    def reports(self) -> list[dict[str, Any]]:
        found = []
        for path in self.folder.glob("worker-*.json"):
            with contextlib.suppress(FileNotFoundError, orjson.JSONDecodeError):
                found.append(orjson.loads(path.read_bytes()))
        return found

    async def wait_for(self, generation: int) -> list[dict[str, Any]]:
        """Every worker's report once each reached ``generation`` (the caller bounds the wait)."""
        while True:
            done = [r for r in self.reports() if r["generation"] >= generation]
            if len(done) >= self.workers:
                return done
            await asyncio.sleep(POLL)


def _write(path: Path, body: bytes) -> None:
    """Whole or not at all: a reader never sees half a file."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "wb") as out:
        out.write(body)
    os.replace(temporary, path)


@contextlib.contextmanager
def shared_folder() -> Iterator[Generations]:
    """The parent's folder, named to the workers it forks through the environment, removed at the end."""
    folder = tempfile.mkdtemp(prefix="tocsin-reload-")
    os.environ[ENV] = folder
    try:
        yield Generations(Path(folder), 0)
    finally:
        os.environ.pop(ENV, None)
        shutil.rmtree(folder, ignore_errors=True)
