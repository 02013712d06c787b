"""The SQLite store's overrides (a mixin of SqliteStore: its writer and readers)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

import orjson

from daemon.store.overrides import NewOverride, StoredOverride

T = TypeVar("T")


class SqliteOverrides:
    _write: Callable[[Callable[[sqlite3.Connection], Any]], Any]
    _read: Callable[[Callable[[sqlite3.Connection], Any]], Any]

    async def add_override(self, new: NewOverride) -> StoredOverride:
        def work(conn: sqlite3.Connection) -> StoredOverride:
            conn.execute("INSERT OR IGNORE INTO sequences (name, value) VALUES ('override', 0)")
            (seq,) = conn.execute(
                "UPDATE sequences SET value = value + 1 WHERE name = 'override' RETURNING value"
            ).fetchone()
            stored = StoredOverride.make(seq, new)
            conn.execute(
                "INSERT INTO overrides (id, seq, schedule, ends_at, data) VALUES (?, ?, ?, ?, ?)",
                (stored.id, seq, new.schedule, new.end.timestamp(), orjson.dumps(stored.to_json())),
            )
            return stored

        result: StoredOverride = await self._write(work)
        return result

    async def list_overrides(self, schedule: str, ending_after: datetime | None = None) -> list[StoredOverride]:
        def work(conn: sqlite3.Connection) -> list[StoredOverride]:
            return overrides_of(conn, (schedule,), ending_after)

        result: list[StoredOverride] = await self._read(work)
        return result

    async def delete_override(self, schedule: str, override_id: str) -> bool:
        def work(conn: sqlite3.Connection) -> bool:
            gone = conn.execute("DELETE FROM overrides WHERE schedule = ? AND id = ?", (schedule, override_id))
            return gone.rowcount > 0

        result: bool = await self._write(work)
        return result


def overrides_of(
    conn: sqlite3.Connection, schedules: Sequence[str], ending_after: datetime | None = None
) -> list[StoredOverride]:
    marks = ",".join("?" * len(schedules))
    rows = conn.execute(
        f"SELECT data FROM overrides WHERE schedule IN ({marks}) AND ends_at > ? ORDER BY seq",
        (*schedules, ending_after.timestamp() if ending_after else float("-inf")),
    ).fetchall()
    return [StoredOverride.from_json(orjson.loads(row[0])) for row in rows]
