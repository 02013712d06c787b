"""Durable timers: fire each due timer through the engine, once, including those that fell due while down."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime, timedelta

import structlog

from daemon.clock import Clock
from daemon.engine.events import TimerFired
from daemon.engine.state import Decision
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.store.base import Store, StoreUnavailable

log = structlog.get_logger("tocsin.scheduler")
IDLE = timedelta(seconds=30)
RETRY_FAILED = timedelta(seconds=30)  # look again at least this often (another replica may have set a timer)
BATCH = 100


class Scheduler:
    def __init__(self, store: Store, pipeline: Pipeline, clock: Clock, metrics: Metrics) -> None:
        self.store = store
        self.pipeline = pipeline
        self.clock = clock
        self.metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # Timers whose decision raised: left stored, tried again after a pause instead of in a hot loop.
        self._failed: dict[str, datetime] = {}
        pipeline.listen(self._on_decision)

    def _on_decision(self, decision: Decision) -> None:
        if decision.timers_set:
            self._wake.set()

    async def run_due(self) -> int:
        """Fire every timer due now; returns how many fired."""
        fired = 0
        while True:
            now = self.clock.now()
            timers = await self.store.due_timers(now, BATCH)
            for timer in timers:
                if self._failed.get(timer.key, now) > now:
                    continue
                self.metrics.timer_lag.observe(max(0.0, (now - timer.due_at).total_seconds()))
                try:
                    await self.pipeline.submit(TimerFired(timer))
                except StoreUnavailable:
                    raise
                except Exception:
                    # One broken timer must not stop the others; it stays stored and is tried again.
                    log.exception("timer_failed", key=timer.key, kind=timer.kind.value)
                    self._failed[timer.key] = now + RETRY_FAILED
                    continue
                self._failed.pop(timer.key, None)
                fired += 1
            if len(timers) < BATCH or all(t.key in self._failed for t in timers):
                return fired

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            try:
                await self.run_due()
                due = await self.store.next_timer_due()
                backoff = 0.5
            except StoreUnavailable as exc:
                log.warning("scheduler_store_unavailable", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            now = self.clock.now()
            until = min(due, now + IDLE) if due is not None else now + IDLE
            if until <= now and self._failed:
                # What is due now is a timer that just failed: wait for its retry instead of spinning.
                until = max(now, min(self._failed.values()))
            self._wake.clear()
            await self.clock.sleep_until(until, self._wake)

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
