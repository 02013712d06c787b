"""The composition root: build every part from the settings, start them in order, stop them in reverse."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from datetime import timedelta

import structlog
from prometheus_client import CollectorRegistry

from daemon.clock import Clock, SystemClock
from daemon.config.settings import Settings
from daemon.effects.outbox import OutboxWorker
from daemon.effects.retention import Retention
from daemon.effects.scheduler import Scheduler
from daemon.effects.supervisor import Supervisor
from daemon.engine.engine import Engine
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.store import Store, open_store
from notifiers.channels import load_channels
from notifiers.postmortem import Postmortems
from notifiers.render import Renderer
from notifiers.sender import AppriseSender, make_asset, size_send_threads

log = structlog.get_logger("tocsin")
NOTIFY_LEASE_MARGIN = timedelta(seconds=30)
LOOPS_STOP_WITHIN = 5.0  # seconds the background loops get to end once cancelled


@dataclass
class Services:
    settings: Settings
    clock: Clock
    store: Store
    engine: Engine
    pipeline: Pipeline
    metrics: Metrics
    renderer: Renderer
    scheduler: Scheduler
    outbox: OutboxWorker | None
    link_secret: bytes
    background: bool
    postmortems: Postmortems
    retention: Retention
    supervisor: Supervisor

    @property
    def dispatcher(self) -> OutboxWorker | None:
        """The outbox worker, by its former name (tests and callers written before daemon.effects)."""
        return self.outbox

    async def stop(self) -> None:
        """SIGTERM drains: the loops stop, sends under way are recorded, queued commits finish, then the store
        closes. Bounded: about LOOPS_STOP_WITHIN + notify.timeout + 8 s in all; and nothing a loop or a send
        raised keeps the later steps from running."""
        try:
            await self.supervisor.stop(LOOPS_STOP_WITHIN)
        except Exception:
            log.exception("stop_failed", part="loops")
        if self.outbox is not None:
            try:
                # Long enough for a send under way to finish (Apprise's call is bounded by notify.timeout) and be
                # recorded, so that a restart does not page again.
                await self.outbox.stop(grace=self.settings.notify.timeout.total_seconds() + 5)
            except Exception:
                log.exception("stop_failed", part="outbox")
        await self.store.close()


async def start_services(
    settings: Settings,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
    store: Store | None = None,
    background: bool = True,
) -> Services:
    """Open the store and build the pipeline; with ``background`` the supervisor runs the timer, outbox and
    retention loops (tests leave it off and drive them through ``run_due()`` and ``drain()``)."""
    clock = clock or SystemClock()
    metrics = Metrics(registry if registry is not None else CollectorRegistry(), settings.metrics.max_services)
    if settings.link_secret is not None:
        link_secret = settings.link_secret.get_secret_value().encode()
    else:
        link_secret = secrets.token_bytes(32)
        log.warning("no_link_secret", message="link_secret is not set: acknowledge links stop working at restart")
    renderer = Renderer(settings.public_url, link_secret, settings.link_ttl, settings.templates)
    renderer.check()
    postmortems = Postmortems(settings.templates)
    postmortems.check()
    store = store or open_store(settings.store, settings.workers)
    await store.open()
    engine = Engine(settings)
    pipeline = Pipeline(engine, store, clock, renderer, metrics)
    stall = float(os.environ.get("TOCSIN_FAULT_TIMER_STALL", "0") or 0)  # failure drills only
    scheduler = Scheduler(store, pipeline, clock, metrics, settings.timer_lease, stall)
    retention = Retention(store, clock, settings.retention)
    supervisor = Supervisor(metrics)
    supervisor.add("timers", scheduler.step, scheduler.wake)
    supervisor.add("retention", retention.step)
    outbox = None
    if settings.channels is not None:
        asset = make_asset(settings.notify.retries, settings.notify.retry_wait)
        channels = load_channels(settings.channels, asset)
        sender = AppriseSender(channels, asset, settings.notify.timeout)
        # Each channel's sends, and as many again abandoned at their timeout while their socket times out.
        size_send_threads(max(32, 2 * settings.notify.per_channel * len(channels.tags)))
        lease = settings.notify.timeout + NOTIFY_LEASE_MARGIN
        outbox = OutboxWorker(store, sender, clock, metrics, lease, settings.notify.per_channel)
        pipeline.listen(outbox.on_decision)
        supervisor.add("outbox", outbox.step, outbox.wake)
        metrics.prepare_channels(sorted({channel for _, channel in settings.channel_references()}))
    services = Services(
        settings,
        clock,
        store,
        engine,
        pipeline,
        metrics,
        renderer,
        scheduler,
        outbox,
        link_secret,
        background,
        postmortems,
        retention,
        supervisor,
    )
    if background:
        supervisor.start()
    return services
