"""Drain the outbox: send each pending notification once and record what became of every channel.

A notification is in the outbox before anything is sent (written with its decision), so a crash
loses none; it is sent a second time only if tocsin dies between sending and recording.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import structlog

from daemon.clock import Clock
from daemon.domain import Kind, Notification, NotifyReason, TimelineEntry
from daemon.engine.state import Decision
from daemon.metrics import Metrics
from daemon.store.base import Delivery, Store, StoreUnavailable
from daemon.tasks import Background
from notifiers.sender import AppriseSender, ChannelOutcome

log = structlog.get_logger("tocsin.notifier")
ACTOR = "tocsin"
GIVE_UP_AFTER = 5  # claims that never got recorded (tocsin died while sending, each time)
# Look again at least this often: another replica may have queued a notification, or died holding one.
IDLE = timedelta(seconds=1)


def describe(n: Notification) -> str:
    if n.reason is NotifyReason.ESCALATION:
        return f"page level {n.level} (round {n.round})"
    return n.reason.value.replace("_", " ")


def timeline_for(n: Notification, outcomes: list[ChannelOutcome], clock: Clock) -> list[TimelineEntry]:
    entries = []
    now = clock.now()
    for o in outcomes:
        total = len(o.urls)
        sent = sum(1 for u in o.urls if u.outcome == "sent")
        if o.outcome == "sent":
            text = f"{describe(n)} → {o.channel}: delivered to {sent} of {total} URL{'s' if total != 1 else ''}"
            entries.append(TimelineEntry(n.incident_id, now, ACTOR, Kind.NOTIFIED, text))
        elif o.outcome == "no_match":
            text = f"{describe(n)} → {o.channel}: no Apprise URL has this tag"
            entries.append(TimelineEntry(n.incident_id, now, ACTOR, Kind.NOTIFICATION_FAILED, text))
        else:
            bad = ", ".join(f"{u.url} ({u.outcome})" for u in o.urls if u.outcome != "sent") or "no result"
            text = f"{describe(n)} → {o.channel}: {o.outcome}, {sent} of {total} delivered; {bad}"
            entries.append(TimelineEntry(n.incident_id, now, ACTOR, Kind.NOTIFICATION_FAILED, text))
    return entries


class Dispatcher:
    def __init__(
        self,
        store: Store,
        sender: AppriseSender,
        clock: Clock,
        metrics: Metrics,
        lease: timedelta,
        concurrency: int = 16,
    ) -> None:
        # Longer than a send can take (Apprise's call is bounded by notify.timeout), so that no other claim
        # takes an entry whose send is still under way.
        self.lease = lease
        self.store = store
        self.sender = sender
        self.clock = clock
        self.metrics = metrics
        self._limit = asyncio.Semaphore(concurrency)
        self._batch = concurrency * 2
        self._inflight: set[str] = set()
        self._wake = asyncio.Event()
        self._background = Background("notifier", self._loop)
        self._sends: set[asyncio.Task[None]] = set()

    def on_decision(self, decision: Decision) -> None:
        if decision.notifications:
            self._wake.set()

    async def deliver(self, n: Notification) -> Delivery | None:
        """Send a claimed entry (``attempts`` counts the claims, this one included); say what became of it.
        None when the claim lapsed while the entry waited its turn: someone else has it now."""
        now = self.clock.now()
        if not await self.store.hold_notification(n.key, n.claim, now + self.lease):
            return None
        if n.attempts > GIVE_UP_AFTER:
            text = f"{describe(n)}: given up after {n.attempts - 1} unfinished attempts"
            return Delivery(
                n.key, n.attempts, [TimelineEntry(n.incident_id, now, ACTOR, Kind.NOTIFICATION_FAILED, text)]
            )
        if n.reason is NotifyReason.ESCALATION:
            answered = await self._answered_since(n)
            if answered:
                text = f"{describe(n)}: not sent, {answered} since it was queued"
                return Delivery(n.key, n.attempts, [TimelineEntry(n.incident_id, now, ACTOR, Kind.NOTE, text)])
        outcomes = await self.sender.send(n)
        for o in outcomes:
            self.metrics.notifications.labels(o.channel, o.outcome).inc()
            log.info(
                "notified",
                incident=n.incident_id,
                reason=n.reason.value,
                channel=o.channel,
                outcome=o.outcome,
                level=n.level,
                round=n.round,
            )
        return Delivery(n.key, n.attempts, timeline_for(n, outcomes, self.clock))

    async def _answered_since(self, n: Notification) -> str | None:
        """A page queued before someone acknowledged, mitigated or resolved the incident is not sent."""
        incident = await self.store.get_incident_summary(n.incident_id)
        if incident is None:
            return "the incident is gone"
        for what, when in (
            ("acknowledged", incident.acknowledged_at),
            ("mitigated", incident.mitigated_at),
            ("resolved", incident.resolved_at),
        ):
            if when is not None and when > n.created_at:
                return what
        return None

    async def _record(self, delivery: Delivery) -> None:
        """Record until it sticks: a failed record must never make the page go out again."""
        delay = 0.5
        while True:
            try:
                await self.store.record_delivery(delivery)
                return
            except Exception as exc:
                log.warning("notification_not_recorded", key=delivery.key, error=str(exc), retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _guarded(self, chain: list[Notification]) -> None:
        """One incident's notifications in the order they were decided (a page before its resolution)."""
        for n in chain:
            try:
                async with self._limit:
                    delivery = await self.deliver(n)
                if delivery is not None:
                    await self._record(delivery)
            except StoreUnavailable as exc:
                log.warning("notifier_store_unavailable", key=n.key, error=str(exc))
            except Exception:
                log.exception("notification_failed", key=n.key)
            finally:
                self._inflight.discard(n.key)
        self._wake.set()

    async def run_pending(self) -> int:
        """Start sending everything due that is not already on its way; returns how many started.
        Different incidents go out in parallel, each incident's in order."""
        # No more than can soon be sent: a claim held long in the queue would lapse (and be taken elsewhere).
        claimed = await self.store.claim_notifications(self.clock.now(), self._batch, self.lease)
        chains: dict[str, list[Notification]] = {}
        for n in claimed:
            if n.key not in self._inflight:
                self._inflight.add(n.key)
                chains.setdefault(n.incident_id, []).append(n)
        for incident_id, chain in chains.items():
            task = asyncio.create_task(self._guarded(chain), name=f"notify:{incident_id}")
            self._sends.add(task)
            task.add_done_callback(self._sends.discard)
        return sum(len(chain) for chain in chains.values())

    async def drain(self) -> None:
        """Send what is pending now and wait for every send to be recorded (tests, and SIGTERM)."""
        while await self.run_pending() or self._sends:
            if self._sends:
                await asyncio.gather(*list(self._sends), return_exceptions=True)

    async def _loop(self) -> None:
        backoff = 0.5
        while True:
            self._wake.clear()
            try:
                await self.run_pending()
                backoff = 0.5
            except StoreUnavailable as exc:
                log.warning("notifier_store_unavailable", error=str(exc), retry_in=backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            await self.clock.sleep_until(self.clock.now() + IDLE, self._wake)

    def start(self) -> None:
        self._background.start()

    async def stop_claiming(self) -> None:
        """The first step of a drain: claim nothing more; sends under way go on."""
        await self._background.stop()

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking new work; let sends under way finish and be recorded (bounded by ``grace``)."""
        await self._background.stop()
        if self._sends:
            await asyncio.wait(list(self._sends), timeout=grace)
        for task in list(self._sends):
            # Past the grace: what is still unrecorded is sent again after the restart (DESIGN's one exception).
            task.cancel()
        if self._sends:
            # Bounded too: a send that does not end on cancel must not hold the shutdown.
            await asyncio.wait(list(self._sends), timeout=1.0)
