"""The shell around the engine: read the clock once, load, decide, render, commit, then act on effects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from daemon.clock import Clock
from daemon.dedup import SeenReports
from daemon.engine.engine import Engine
from daemon.engine.events import AlertIn, AlertsReceived, Event
from daemon.engine.state import Decision, Slice
from daemon.metrics import Metrics
from daemon.store.base import Store
from notifiers.render import Renderer

Listener = Callable[[Decision], None]


class Pipeline:
    def __init__(self, engine: Engine, store: Store, clock: Clock, renderer: Renderer, metrics: Metrics) -> None:
        self.engine = engine
        self.store = store
        self.clock = clock
        self.renderer = renderer
        self.metrics = metrics
        self.seen = SeenReports()
        self._listeners: list[Listener] = []

    def listen(self, listener: Listener) -> None:
        """Called after each commit (the scheduler and the notifier wake on new timers and outbox entries)."""
        self._listeners.append(listener)

    async def submit(self, event: Event) -> Decision:
        """Decide ``event`` and commit it; returns only once it is durable."""
        now = self.clock.now()
        engine, renderer = self.engine, self.renderer

        def decide(s: Slice) -> Decision:
            decision = engine.decide(s, event, now)
            # Rendered here so the outbox entry is written in the commit of the decision that caused it.
            decision.notifications = [renderer.render(intent, s, now) for intent in decision.intents]
            return decision

        decision = await self.store.decide(engine.needs(event), decide)
        if decision.alerts:
            self.seen.forget(decision.alerts)
        self.metrics.observe(decision.observations)
        for listener in self._listeners:
            listener(decision)
        return decision

    async def submit_alerts(self, reports: tuple[AlertIn, ...]) -> Decision:
        """Alerts from a source: those identical to what was last committed for them are answered at once,
        those identical to a decision under way wait for it; only the rest are decided."""
        fresh, waits, known = self.seen.sort(reports)
        decision = Decision()
        if fresh:
            pending = self.seen.begin(fresh)
            try:
                decision = await self.submit(AlertsReceived(tuple(fresh)))
            except BaseException as exc:
                self.seen.end(fresh, pending, exc)
                raise
            self.seen.end(fresh, pending, None)
        if waits:
            # Failed there means not stored here either: the sender gets the same 503 and retries.
            await asyncio.gather(*waits)
        decision.deduplicated += known
        return decision
