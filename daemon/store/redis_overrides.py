"""The Redis store's overrides (a mixin of RedisStore): one hash per schedule, ids from one counter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import orjson

from daemon.store.overrides import NewOverride, StoredOverride
from daemon.store.redis_keys import Keys

T = TypeVar("T")


class RedisOverrides:
    keys: Keys
    r: Any
    _call: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]

    async def add_override(self, new: NewOverride) -> StoredOverride:
        async def work() -> StoredOverride:
            seq = int(await self.r.incr(self.keys.override_counter()))
            stored = StoredOverride.make(seq, new)
            await self.r.hset(self.keys.overrides(new.schedule), stored.id, orjson.dumps(stored.to_json()))
            return stored

        result: StoredOverride = await self._call(work)
        return result

    async def list_overrides(self, schedule: str, ending_after: datetime | None = None) -> list[StoredOverride]:
        async def work() -> list[StoredOverride]:
            raw = await self.r.hvals(self.keys.overrides(schedule))
            found = [StoredOverride.from_json(orjson.loads(value)) for value in raw]
            return sorted((o for o in found if ending_after is None or o.end > ending_after), key=lambda o: o.seq)

        result: list[StoredOverride] = await self._call(work)
        return result

    async def delete_override(self, schedule: str, override_id: str) -> bool:
        async def work() -> bool:
            return bool(await self.r.hdel(self.keys.overrides(schedule), override_id))

        result: bool = await self._call(work)
        return result
