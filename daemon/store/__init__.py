"""Durable state: the Store protocol and its implementations."""

from __future__ import annotations

from daemon.store.base import Store, StoreUnavailable


def open_store(url: str, workers: int = 1) -> Store:
    """The store a ``store:`` URL names (not yet opened), for ``workers`` processes."""
    if url.startswith("sqlite://"):
        from daemon.store.sqlite import SqliteStore

        return SqliteStore(url, shared=workers > 1)
    if url.startswith(("redis://", "rediss://", "redis+sentinel://", "unix://")):
        from daemon.store.redis import RedisStore

        return RedisStore(url)
    raise ValueError(f"unsupported store {url!r}")


def prepare(url: str) -> None:
    """Work to do once before several processes open the store: SQLite's migrations."""
    if url.startswith("sqlite://"):
        import sqlite3

        from daemon.store.schema import migrate
        from daemon.store.sqlite import parse_sqlite_url

        path, _ = parse_sqlite_url(url)
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            migrate(conn)
        finally:
            conn.close()


__all__ = ["Store", "StoreUnavailable", "open_store", "prepare"]
