"""One claimed outbox entry: decide whether it still goes out, begin the send (the attempt counts here), send
each channel in its own lane, and say what to record."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from datetime import timedelta

import structlog

from daemon.clock import Clock
from daemon.domain import Kind, Notification, NotifyReason
from daemon.effects.backoff import until_stored
from daemon.effects.lanes import Lanes
from daemon.metrics import Metrics
from daemon.store.base import Delivery, Store
from notifiers.sender import AppriseSender
from notifiers.timeline import describe, line, timeline_for, why_failed

log = structlog.get_logger("tocsin.notifier")
# Sends begun and never recorded (tocsin died while sending, each time) before an entry is given up.
GIVE_UP_AFTER = 5


class Sending:
    def __init__(
        self,
        store: Store,
        sender: AppriseSender,
        lanes: Lanes,
        clock: Clock,
        metrics: Metrics,
        lease: timedelta,
        stopping: Callable[[], bool],
    ) -> None:
        self.store = store
        self.sender = sender
        self.lanes = lanes
        self.clock = clock
        self.metrics = metrics
        self.lease = lease
        self._stopping = stopping

    async def deliver(self, n: Notification) -> Delivery | None:
        """Send a claimed entry; say what became of it. None when the claim lapsed before the send began:
        someone else has the entry now."""
        about = {"key": n.key}
        if n.reason is NotifyReason.ESCALATION:
            answered = await until_stored(lambda: self._answered_since(n), self._stopping, "read_incident", **about)
            if answered:
                text = f"not sent, {answered} since it was queued"
                return Delivery(n.key, n.attempts, [line(n, self.clock.now(), Kind.NOTE, text)])
        attempts = await until_stored(
            lambda: self.store.start_notification(n.key, n.claim, self.clock.now() + self.lease),
            self._stopping,
            "start_send",
            **about,
        )
        if attempts is None:
            log.info("claim_lapsed", key=n.key, incident=n.incident_id)
            return None
        if attempts > GIVE_UP_AFTER:
            for channel in n.channels:
                self.metrics.notifications.labels(channel, "given_up").inc()
            log.error("notification_given_up", key=n.key, incident=n.incident_id, sends_begun=attempts - 1)
            text = f"given up after {attempts - 1} sends begun and never recorded"
            return Delivery(n.key, attempts, [line(n, self.clock.now(), Kind.NOTIFICATION_FAILED, text)])
        outcomes = await asyncio.gather(
            *(self.lanes.run(ch, functools.partial(self.sender.send_one, n, ch)) for ch in n.channels)
        )
        if n.escalation_step and n.level is not None:
            self.metrics.escalations.labels(str(n.level)).inc()
        for o in outcomes:
            self.metrics.notifications.labels(o.channel, o.outcome).inc()
            if o.outcome == "sent":
                log.info("notified", incident=n.incident_id, notification=describe(n), channel=o.channel)
            else:
                log.warning(
                    "notification_failed",
                    incident=n.incident_id,
                    notification=describe(n),
                    channel=o.channel,
                    outcome=o.outcome,
                    reason=why_failed(o),
                )
        if n.reason is NotifyReason.HANDOFF:
            return Delivery(n.key, attempts, [])  # no incident to keep a timeline of: the log line above says it
        return Delivery(n.key, attempts, timeline_for(n, list(outcomes), self.clock.now()))

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
