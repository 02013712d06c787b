"""Retention: forget incidents resolved longer ago than ``retention`` (with their alerts and timeline)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from daemon.clock import Clock
from daemon.store.base import Store

log = structlog.get_logger("tocsin.retention")
EVERY = timedelta(hours=1)


class Retention:
    def __init__(self, store: Store, clock: Clock, keep: timedelta) -> None:
        self.store = store
        self.clock = clock
        self.keep = keep
        self._never = asyncio.Event()

    async def purge(self) -> int:
        gone = await self.store.purge(self.clock.now() - self.keep)
        if gone:
            log.info("purged", incidents=gone, older_than=str(self.keep))
        return gone

    async def step(self) -> None:
        """One pass: purge, then wait an hour. Every replica may purge; purging twice is harmless."""
        await self.purge()
        await self.clock.sleep_until(self.clock.now() + EVERY, self._never)
