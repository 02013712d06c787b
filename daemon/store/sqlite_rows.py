"""Many rows in few statements, for the writer thread.

Python's sqlite3 lets go of the GIL around every step of a statement: ``executemany`` over 700 alerts is 700
times the writer thread must win the GIL back from the event loop, which under a storm is busy parsing the next
webhooks and yields it only every switch interval (5 ms). Measured here, 700 rows took 8 ms with the loop idle
and 3.2 s with it busy by executemany, 60 ms as multi-row statements. So rows go in as ``VALUES (…), (…)``,
as many per statement as every SQLite build accepts parameters.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

MAX_VARIABLES = 999  # SQLITE_MAX_VARIABLE_NUMBER before 3.32; later builds accept more


def chunks(rows: Sequence[Any], width: int) -> list[Sequence[Any]]:
    per = max(1, MAX_VARIABLES // width)
    return [rows[i : i + per] for i in range(0, len(rows), per)]


def insert_rows(conn: sqlite3.Connection, head: str, rows: Sequence[Sequence[Any]], tail: str = "") -> None:
    """``head`` is ``INSERT … INTO t (columns) VALUES``; ``tail`` (an ON CONFLICT clause) follows the rows. Rows
    are taken in order, so a key twice behaves as with one statement per row (the later one meets the earlier)."""
    if not rows:
        return
    width = len(rows[0])
    marks = "(" + ", ".join("?" * width) + ")"
    for chunk in chunks(rows, width):
        conn.execute(f"{head} {', '.join([marks] * len(chunk))} {tail}", [v for row in chunk for v in row])


def delete_keys(conn: sqlite3.Connection, table: str, column: str, keys: Sequence[Any]) -> None:
    for chunk in chunks(keys, 1):
        conn.execute(f"DELETE FROM {table} WHERE {column} IN ({', '.join('?' * len(chunk))})", list(chunk))
