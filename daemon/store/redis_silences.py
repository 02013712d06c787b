"""The Redis store's silences (a mixin of RedisStore): one hash of JSON documents, written in a transaction."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
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
                    pipe.zadd(self.keys.silence_ends(), {s.id: s.ends_at.timestamp()})
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

    async def silences_ending_after(self, at: datetime | None) -> list[Silence]:
        """Those that may hold an alert from ``at`` on, found by end in a sorted set beside the hash (filled
        from the hash if silences were stored before the set existed)."""
        k = self.keys
        if at is None:
            return await self.list_silences()
        pipe = self.r.pipeline(transaction=False)
        pipe.zrangebyscore(k.silence_ends(), f"({at.timestamp()}", "+inf")
        pipe.hlen(k.silences())
        pipe.zcard(k.silence_ends())
        ids, stored, indexed = await pipe.execute()
        if stored != indexed:
            everything = await self.list_silences()
            if everything:
                await self.r.zadd(k.silence_ends(), {s.id: s.ends_at.timestamp() for s in everything})
            return [s for s in everything if s.ends_at > at]
        if not ids:
            return []
        return [codec.decode(raw) for raw in await self.r.hmget(k.silences(), ids) if raw is not None]

    async def purge_silences(self, cutoff: float) -> None:
        """Forget silences that ended before ``cutoff`` (kept until then for ``retention``)."""
        k = self.keys
        old = await self.r.zrangebyscore(k.silence_ends(), "-inf", f"({cutoff}")
        if old:
            async with self.r.pipeline(transaction=True) as pipe:
                pipe.hdel(k.silences(), *old)
                pipe.zrem(k.silence_ends(), *old)
                await pipe.execute()
