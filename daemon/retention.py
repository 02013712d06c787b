"""Retention: forget incidents resolved longer ago than ``retention`` (with their alerts and timeline)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import structlog

from daemon.clock import Clock
from daemon.store.base import Store, StoreUnavailable
from daemon.tasks import Background

log = structlog.get_logger("tocsin.retention")
EVERY = timedelta(hours=1)


class Retention:
    def __init__(self, store: Store, clock: Clock, keep: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.keep = keep
        self._background = Background("retention", self._loop)

    async def purge(self) -> int:
        gone = await self.store.purge(self.clock.now() - self.keep)
        if gone:
            log.info("purged", incidents=gone, older_than=str(self.keep))
        return gone

    async def _loop(self) -> None:
        never = asyncio.Event()
        while True:
            # Every replica may purge; purging the same incident twice is harmless.
            with contextlib.suppress(StoreUnavailable):
                await self.purge()
            await self.clock.sleep_until(self.clock.now() + EVERY, never)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
