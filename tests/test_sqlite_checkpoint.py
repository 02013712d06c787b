"""SQLite's write-ahead log is checkpointed by a thread of its own, not inside the writer's commits
(daemon/store/sqlite_checkpoint.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from daemon.store.sqlite import SqliteStore, parse_sqlite_url
from daemon.store.sqlite_checkpoint import WRITER_CHECKPOINT_PAGES
from tests.conftest import MakeTocsin
from tests.programs import until
from tests.support import am_alert, am_webhook, make_settings


def log_pages(db: Path) -> int:
    return db.with_name(db.name + "-wal").stat().st_size // 4096


async def test_committed_alerts_reach_the_database_file_soon_after_their_commits(
    make_tocsin: MakeTocsin, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, {"channels": None})
    tocsin = await make_tocsin(settings=settings, store=SqliteStore(settings.store))
    db = parse_sqlite_url(settings.store)[0]
    empty = db.stat().st_size
    for n in range(20):
        body = am_webhook(*(am_alert("Lag", f"svc-{n}", severity="warning", instance=f"host-{i}") for i in range(50)))
        assert (await tocsin.post_alertmanager(body)).status == 200
    # Far below the writer's own threshold: without the checkpointer it all would still be in the log only.
    assert log_pages(db) < WRITER_CHECKPOINT_PAGES

    async def copied() -> bool | None:
        return True if db.stat().st_size > empty + 200 * 1024 else None

    await until(copied, "the log's pages to be copied into the database file", 5)
    # Every commit is in the file itself now, while tocsin runs: read a copy of the file alone, without its log.
    copy = tmp_path / "copy.db"
    copy.write_bytes(db.read_bytes())
    with sqlite3.connect(copy) as conn:
        assert conn.execute("SELECT count(*) FROM alerts").fetchone()[0] == 1000
