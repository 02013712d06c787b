"""The SQLite store's silences (a mixin of SqliteStore: its writer and readers)."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import Any

from daemon.store import silences as codec
from rules.silences import Silence


def save_silences(conn: sqlite3.Connection, silences: list[Silence]) -> None:
    conn.executemany(
        "INSERT OR REPLACE INTO silences (id, ends_at, data) VALUES (?, ?, ?)",
        [(s.id, s.ends_at.timestamp(), codec.encode(s)) for s in silences],
    )


def silences_at(conn: sqlite3.Connection, at: datetime | None) -> list[Silence]:
    """The silences ending after ``at`` (all of them when None): those that may hold an alert from then on."""
    after = at.timestamp() if at is not None else float("-inf")
    return [codec.decode(row[0]) for row in conn.execute("SELECT data FROM silences WHERE ends_at > ?", (after,))]


class SqliteSilences:
    _write: Callable[[Callable[[sqlite3.Connection], Any]], Any]
    _read: Callable[[Callable[[sqlite3.Connection], Any]], Any]

    async def save_silences(self, silences: list[Silence]) -> None:
        """Write (insert or replace) these silences in one transaction."""

        await self._write(lambda conn: save_silences(conn, silences))

    async def get_silence(self, silence_id: str) -> Silence | None:
        def work(conn: sqlite3.Connection) -> Silence | None:
            row = conn.execute("SELECT data FROM silences WHERE id = ?", (silence_id,)).fetchone()
            return None if row is None else codec.decode(row[0])

        result: Silence | None = await self._read(work)
        return result

    async def list_silences(self) -> list[Silence]:
        def work(conn: sqlite3.Connection) -> list[Silence]:
            return [codec.decode(row[0]) for row in conn.execute("SELECT data FROM silences")]

        result: list[Silence] = await self._read(work)
        return result
