"""Queued rows written around the store's API: what a newer version or a damaged disk may leave behind."""

from __future__ import annotations

import sqlite3
from datetime import datetime

from daemon.store import Store
from daemon.store.base import Queue
from daemon.store.redis import RedisStore
from daemon.store.sqlite import SqliteStore


async def write_raw(store: Store, queue: Queue, key: str, incident_id: str, data: bytes, due: datetime) -> None:
    """A queued row as a newer version or a damaged disk left it, written around the store's API."""
    if isinstance(store, SqliteStore):
        conn = sqlite3.connect(store.path, isolation_level=None, timeout=5)
        try:
            if queue is Queue.TIMERS:
                conn.execute(
                    "INSERT INTO timers (key, incident_id, due_at, data) VALUES (?, ?, ?, ?)",
                    (key, incident_id, due.timestamp(), data),
                )
            else:
                conn.execute(
                    "INSERT INTO outbox (key, incident_id, status, attempts, next_attempt_at, data) "
                    "VALUES (?, ?, 'pending', 0, ?, ?)",
                    (key, incident_id, due.timestamp(), data),
                )
        finally:
            conn.close()
        return
    assert isinstance(store, RedisStore)
    r, k = store.r, store.keys
    if queue is Queue.TIMERS:
        await r.set(k.timer(key), data)
        await r.zadd(k.timers, {key: due.timestamp()})
        await r.sadd(k.itimers(incident_id), key)
    else:
        await r.hset(k.note(key), mapping={"d": data, "a": 0, "i": incident_id})
        await r.zadd(k.outbox, {key: due.timestamp()})
        await r.sadd(k.inotes(incident_id), key)
        await r.zadd(k.iorder(incident_id), {key: 0})  # first in its incident's line
