"""The shell around the engine: read the clock once, load, decide, render, commit, then act on effects."""

from __future__ import annotations

from collections.abc import Callable

from daemon.clock import Clock
from daemon.engine.engine import Engine
from daemon.engine.events import Event
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
        self.metrics.observe(decision.observations)
        for listener in self._listeners:
            listener(decision)
        return decision
