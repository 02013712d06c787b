"""The Redis store's overrides (a mixin of RedisStore): one hash per schedule, ids from one counter."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
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
            return [o for o in await self.overrides_of((schedule,)) if ending_after is None or o.end > ending_after]

        result: list[StoredOverride] = await self._call(work)
        return result

    async def overrides_of(self, schedules: Sequence[str]) -> list[StoredOverride]:
        pipe = self.r.pipeline(transaction=False)
        for name in schedules:
            pipe.hvals(self.keys.overrides(name))
        found = [StoredOverride.from_json(orjson.loads(v)) for values in await pipe.execute() for v in values]
        return sorted(found, key=lambda o: o.seq)

    async def delete_override(self, schedule: str, override_id: str) -> bool:
        async def work() -> bool:
            return bool(await self.r.hdel(self.keys.overrides(schedule), override_id))

        result: bool = await self._call(work)
        return result
