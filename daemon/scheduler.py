"""Durable timers: fire each due timer through the engine, once, including those that fell due while down."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from daemon.clock import Clock
from daemon.engine.events import Event, TimerFired
from daemon.engine.state import Decision
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.store.base import Store, StoreUnavailable
from daemon.tasks import Background

log = structlog.get_logger("tocsin.scheduler")
# Look again at least this often: another replica may have set a timer, or died holding one.
IDLE = timedelta(seconds=1)
BATCH = 100


class Scheduler:
    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        clock: Clock,
        metrics: Metrics,
        lease: timedelta = timedelta(seconds=30),
        stall: float = 0.0,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.clock = clock
        self.metrics = metrics
        self.lease = lease
        # Failure drills only (TOCSIN_FAULT_TIMER_STALL): hold claimed timers this long before firing them.
        self.stall = stall
        # Decided before the first timer is claimed (the start-up decision, if the store could not take it at
        # start): retried with the loop until the store answers.
        self.before_first: Event | None = None
        self._wake = asyncio.Event()
        self._background = Background("scheduler", self._loop)
        pipeline.listen(self._on_decision)

    def _on_decision(self, decision: Decision) -> None:
        if decision.timers_set:
            self._wake.set()

    async def run_due(self) -> int:
        """Claim and fire every timer due now; returns how many fired."""
        if self.before_first is not None:
            await self.pipeline.submit(self.before_first)
            self.before_first = None
        fired = 0
        while True:
            now = self.clock.now()
            # A claim holds each timer for the lease: another replica does not fire it meanwhile, and if this
            # one dies before its decision commits, the timer is due again when the lease ends.
            timers = await self.store.claim_due_timers(now, BATCH, self.lease)
            if timers and self.stall:
                log.warning("fault_timer_stall", seconds=self.stall, timers=len(timers))
                await asyncio.sleep(self.stall)
            for timer in timers:
                self.metrics.timer_lag.observe(max(0.0, (now - timer.due_at).total_seconds()))
                try:
                    await self.pipeline.submit(TimerFired(timer))
                except StoreUnavailable:
                    raise
                except Exception:
                    # One broken timer must not stop the others; still claimed, it is tried again after the lease.
                    log.exception("timer_failed", key=timer.key, kind=timer.kind.value)
                    continue
                fired += 1
            if len(timers) < BATCH:
                return fired

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            # Cleared before looking, so a timer committed while we look still wakes the next sleep.
            self._wake.clear()
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
            await self.clock.sleep_until(until, self._wake)

    def start(self) -> None:
        self._background.start()

    async def stop(self) -> None:
        await self._background.stop()
