"""Per-channel send limits: each channel (Apprise tag) has its own slots, so a channel that hangs holds only its
own and every other channel's pages go out beside it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


class Lanes:
    def __init__(self, per_channel: int) -> None:
        self.per_channel = per_channel
        self._slots: dict[str, asyncio.Semaphore] = {}

    async def run(self, channel: str, send: Callable[[], Awaitable[T]]) -> T:
        # Apprise matches tags without regard to case: one lane per tag as Apprise sees it.
        slots = self._slots.setdefault(channel.lower(), asyncio.Semaphore(self.per_channel))
        async with slots:
            return await send()
