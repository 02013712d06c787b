"""Durable timers: fire each due timer through the engine, once, including those that fell due while down."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from datetime import timedelta

import structlog

from daemon.clock import Clock
from daemon.effects import aside
from daemon.engine.events import Event, TimerFired
from daemon.engine.state import Decision
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.store.base import Store, StoreUnavailable

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
        # Kept until a claim answers: a claim retried after a lost answer gets back what the lost one took.
        self._token = secrets.token_hex(8)
        pipeline.listen(self._on_decision)

    @property
    def wake(self) -> asyncio.Event:
        """Set when a decision set a timer."""
        return self._wake

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
            claimed = await self.store.claim_due_timers(now, BATCH, self.lease, self._token)
            token, self._token = self._token, secrets.token_hex(8)
            aside.report(claimed.set_aside, self.metrics)
            if claimed.items and self.stall:
                log.warning("fault_timer_stall", seconds=self.stall, timers=len(claimed.items))
                await asyncio.sleep(self.stall)
            for n, timer in enumerate(claimed.items):
                self.metrics.timer_lag.observe(max(0.0, (now - timer.due_at).total_seconds()))
                try:
                    await self.pipeline.submit(TimerFired(timer))
                except StoreUnavailable:
                    # Not fired: the rest go back to the queue now rather than at the end of their lease.
                    await self._release(token, [t.key for t in claimed.items[n:]])
                    raise
                except Exception:
                    # One broken timer must not stop the others; still claimed, it is tried again after the lease.
                    log.exception("timer_failed", key=timer.key, kind=timer.kind.value)
                    continue
                fired += 1
            if len(claimed.items) + len(claimed.set_aside) < BATCH:
                return fired

    async def _release(self, token: str, keys: list[str]) -> None:
        with contextlib.suppress(StoreUnavailable):  # the store is away: the lease brings them back
            await self.store.release_timers(token, keys, self.clock.now())

    async def step(self) -> None:
        """One pass of the loop: fire what is due, then sleep until the next timer (or a new one is set)."""
        # Cleared before looking, so a timer committed while we look still wakes the next sleep.
        self._wake.clear()
        await self.run_due()
        due = await self.store.next_timer_due()
        now = self.clock.now()
        until = min(due, now + IDLE) if due is not None else now + IDLE
        await self.clock.sleep_until(until, self._wake)
