"""A background loop with an explicit lifecycle: started with the services, cancelled when they stop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger("tocsin")
# After its cancel, a loop has this long to end; one that does not is left behind, so that a shutdown never
# waits on it without bound (the drain goes on, and exit ends it).
STOP_WITHIN = 1.0


class Background:
    def __init__(self, name: str, loop: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self._name = name
        self._loop = loop
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self._name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=STOP_WITHIN)
        if not done:
            log.error("loop_not_stopped", loop=self._name, waited=STOP_WITHIN)
        elif not task.cancelled() and task.exception() is not None:
            log.error("loop_failed", loop=self._name, exc_info=task.exception())
