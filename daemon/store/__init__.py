"""Durable state: the Store protocol and its implementations."""

from __future__ import annotations

from daemon.store.base import Store, StoreUnavailable


def open_store(url: str) -> Store:
    """The store a ``store:`` URL names (not yet opened)."""
    if url.startswith("sqlite://"):
        from daemon.store.sqlite import SqliteStore

        return SqliteStore(url)
    if url.startswith(("redis://", "rediss://", "redis+sentinel://", "unix://")):
        from daemon.store.redis import RedisStore

        return RedisStore(url)
    raise ValueError(f"unsupported store {url!r}")


__all__ = ["Store", "StoreUnavailable", "open_store"]
