"""The Redis store's silences (a mixin of RedisStore): one hash of JSON documents, written in a transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from daemon.store import silences as codec
from daemon.store.redis_keys import Keys
from rules.silences import Silence


class RedisSilences:
    keys: Keys
    r: Any
    _call: Callable[[Callable[[], Awaitable[Any]]], Awaitable[Any]]

    async def save_silences(self, silences: list[Silence]) -> None:
        async def work() -> None:
            # One MULTI/EXEC: replacing an active silence expires the old one and creates the new one together.
            async with self.r.pipeline(transaction=True) as pipe:
                for s in silences:
                    pipe.hset(self.keys.silences(), s.id, codec.encode(s))
                await pipe.execute()

        await self._call(work)

    async def get_silence(self, silence_id: str) -> Silence | None:
        async def work() -> Silence | None:
            raw = await self.r.hget(self.keys.silences(), silence_id)
            return None if raw is None else codec.decode(raw)

        result: Silence | None = await self._call(work)
        return result

    async def list_silences(self) -> list[Silence]:
        async def work() -> list[Silence]:
            return [codec.decode(raw) for raw in await self.r.hvals(self.keys.silences())]

        result: list[Silence] = await self._call(work)
        return result
