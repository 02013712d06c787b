"""SQLite's write-ahead log is checkpointed by a thread of its own, not inside the writer's commits
(daemon/store/sqlite_checkpoint.py)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from daemon.store.sqlite import SqliteStore, parse_sqlite_url
from tests.conftest import MakeTocsin
from tests.programs import until
from tests.support import am_alert, am_webhook, make_settings


async def test_committed_alerts_reach_the_database_file_soon_after_their_commits(
    make_tocsin: MakeTocsin, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, {"channels": None})
    tocsin = await make_tocsin(settings=settings, store=SqliteStore(settings.store))
    db = parse_sqlite_url(settings.store)[0]
    for n in range(20):
        body = am_webhook(*(am_alert("Lag", f"svc-{n}", severity="warning", instance=f"host-{i}") for i in range(50)))
        assert (await tocsin.post_alertmanager(body)).status == 200

    async def in_the_file() -> bool | None:
        """Every commit in the database file itself while tocsin runs: a copy of the file alone, without its log,
        holds them all (the writer checkpoints itself only past 10,000 pages, far more than these)."""
        copy = tmp_path / "copy.db"
        copy.write_bytes(db.read_bytes())
        try:
            with contextlib.closing(sqlite3.connect(copy)) as conn:
                count = conn.execute("SELECT count(*) FROM alerts").fetchone()[0]
        except sqlite3.DatabaseError:
            return None  # copied before the tables were, or in the middle of a checkpoint's write
        finally:
            copy.unlink()
        return True if count == 1000 else None

    await until(in_the_file, "every committed alert to be copied from the log into the database file", 5)
