"""Rows written many to a statement land as one statement per row would have left them."""

from __future__ import annotations

import sqlite3

import pytest

from daemon.store.sqlite_rows import MAX_VARIABLES, delete_keys, insert_rows


@pytest.fixture
def conn() -> sqlite3.Connection:
    c = sqlite3.connect(":memory:", isolation_level=None)
    c.execute("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER, note TEXT)")
    c.execute("CREATE TABLE log (seq INTEGER PRIMARY KEY AUTOINCREMENT, text TEXT)")
    return c


def test_more_rows_than_one_statement_takes_all_land_in_order(conn: sqlite3.Connection) -> None:
    n = MAX_VARIABLES + 7  # one column: more rows than one statement may carry
    insert_rows(conn, "INSERT INTO log (text) VALUES", [(f"line {i}",) for i in range(n)])
    assert [r[0] for r in conn.execute("SELECT text FROM log ORDER BY seq")] == [f"line {i}" for i in range(n)]


def test_a_key_twice_meets_itself_as_with_one_statement_per_row(conn: sqlite3.Connection) -> None:
    upsert = "ON CONFLICT (k) DO UPDATE SET v = excluded.v"
    insert_rows(
        conn, "INSERT INTO t (k, v, note) VALUES", [("a", 1, "first"), ("b", 2, "b"), ("a", 3, "second")], upsert
    )
    assert conn.execute("SELECT k, v, note FROM t ORDER BY k").fetchall() == [("a", 3, "first"), ("b", 2, "b")]
    insert_rows(conn, "INSERT OR IGNORE INTO t (k, v, note) VALUES", [("a", 9, "x"), ("c", 4, "c"), ("c", 5, "y")])
    assert conn.execute("SELECT k, v FROM t ORDER BY k").fetchall() == [("a", 3), ("b", 2), ("c", 4)]


def test_nothing_to_write_runs_nothing(conn: sqlite3.Connection) -> None:
    insert_rows(conn, "INSERT INTO no_such_table (x) VALUES", [])
    delete_keys(conn, "no_such_table", "x", [])


def test_keys_deleted_past_one_statement(conn: sqlite3.Connection) -> None:
    n = MAX_VARIABLES * 2 + 1
    insert_rows(conn, "INSERT INTO t (k, v, note) VALUES", [(f"k{i}", i, "") for i in range(n)])
    delete_keys(conn, "t", "k", [f"k{i}" for i in range(n) if i % 3])
    assert [r[0] for r in conn.execute("SELECT v FROM t ORDER BY v")] == [i for i in range(n) if i % 3 == 0]
