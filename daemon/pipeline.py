"""The shell around the engine: read the clock once, load, decide, render, commit, then act on effects."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace

from daemon import heap
from daemon.clock import Clock
from daemon.dedup import SeenReports
from daemon.domain import Alert
from daemon.engine import heartbeats
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

    async def submit(self, event: Event, look: Callable[[Slice], None] | None = None) -> Decision:
        """Decide ``event`` and commit it; returns only once it is durable. ``look`` sees the decided slice."""
        now = self.clock.now()
        engine, renderer = self.engine, self.renderer
        event = engine.prepare(event)

        def decide(s: Slice) -> Decision:
            decision = engine.decide(s, event, now)
            if look is not None:
                look(s)
            # Rendered here so the outbox entry is written in the commit of the decision that caused it.
            decision.notifications = [renderer.render(intent, s, now) for intent in decision.intents]
            return decision

        needs = engine.needs(event)
        if needs.silences:
            needs = replace(needs, silences_at=now)  # the silences in force at the decision's own now
        if needs.members:
            # A lifecycle or timer decision loads every firing alert of its incident: maybe tens of thousands.
            with heap.quiet():
                return await self.store.decide(needs, decide, self._committed)
        return await self.store.decide(needs, decide, self._committed)

    def _committed(self, decision: Decision) -> None:
        """The effects of a stored decision, applied by the store once it is stored: also when its caller was
        answered 503 first (its commit outlasted the write timeout), and never twice."""
        if decision.alerts:
            self.seen.forget(decision.alerts)
        self.metrics.observe(decision.observations)
        for source in decision.silenced:
            self.metrics.alerts_silenced.labels(source).inc()
        for listener in self._listeners:
            listener(decision)

    async def submit_alerts(self, reports: tuple[AlertIn, ...]) -> Decision:
        """Alerts from a source: those identical to what was last committed for them are answered at once,
        those identical to a decision under way wait for it; only the rest are decided."""
        # A heartbeat's alert is a ping at every delivery (DESIGN §13): never answered from the fast path.
        pings = [r for r in reports if heartbeats.of_labels(self.engine.settings, r.source, r.labels)]
        ping_ids = {id(r) for r in pings}
        fresh, waits, known = self.seen.sort(r for r in reports if id(r) not in ping_ids)
        fresh.extend(pings)
        if known and self.store.shared:
            # Others write this store too: skip only what is still as this process left it.
            stored = await self.store.alert_versions([r.fingerprint for r, _ in known])
            moved = [r for r, version in known if stored.get(r.fingerprint) != version]
            if moved:
                self.seen.forget(r.fingerprint for r in moved)
                fresh.extend(moved)
                known = [(r, v) for r, v in known if stored.get(r.fingerprint) == v]
        decision = Decision()
        if fresh:
            pending = self.seen.begin(fresh)
            seen: dict[str, Alert] = {}

            def look(s: Slice) -> None:
                seen.clear()
                seen.update((r.fingerprint, s.alerts[r.fingerprint]) for r in fresh if r.fingerprint in s.alerts)

            try:
                decision = await self.submit(AlertsReceived(tuple(fresh)), look)
            except BaseException as exc:
                self.seen.end(fresh, pending, {}, exc)
                raise
            # Read after the commit: a store may set the versions it wrote on these very objects.
            self.seen.end(fresh, pending, {fp: alert.version for fp, alert in seen.items()}, None)
        if waits:
            # Failed there means not stored here either: the sender gets the same 503 and retries. Shielded: this
            # request going away must not cancel what the others wait for.
            await asyncio.gather(*(asyncio.shield(w) for w in set(waits)))
        decision.deduplicated += len(known) + len(waits)
        return decision
