"""The composition root: build every part from the settings, start them in order, stop them in reverse."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from prometheus_client import CollectorRegistry

from daemon import lifecycle_log, signing
from daemon.clock import Clock, SystemClock
from daemon.config.settings import Settings
from daemon.effects.outbox import OutboxWorker
from daemon.effects.retention import Retention
from daemon.effects.scheduler import Scheduler
from daemon.effects.supervisor import Supervisor
from daemon.engine.engine import Engine
from daemon.engine.events import StartedUp
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.store import Store, open_store
from daemon.store.base import StoreUnavailable
from notifiers.channels import load_channels
from notifiers.postmortem import Postmortems
from notifiers.render import Renderer
from notifiers.sender import AppriseSender, make_asset, size_send_threads

log = structlog.get_logger("tocsin")
NOTIFY_LEASE_MARGIN = timedelta(seconds=30)
# Of the drain, what the store keeps for its last commits after sends under way had theirs (at most a quarter).
CLOSE_RESERVE = 5.0
LOOPS_STOP_WITHIN = 1.0  # seconds the background loops get to end once cancelled (they stop claiming at once)


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

    _drain_deadline: float | None = field(default=None, init=False)

    def reload(self, settings: Settings) -> None:
        """Put ``settings`` in force (checked already; what needs a restart kept as it runs). Everything is built
        first, then swapped with no await in between: a decision takes the engine and the renderer together when
        it starts, so none sees half of one configuration and half of the other."""
        if settings.link_secret is not None:
            link_secret = settings.link_secret.get_secret_value().encode()
        else:
            link_secret = self.link_secret  # the one made at start-up: links already sent keep working
        renderer = Renderer(settings.public_url, link_secret, settings.link_ttl, settings.templates)
        renderer.check()
        postmortems = Postmortems(settings.templates)
        postmortems.check()
        engine = Engine(settings)
        sender = None
        if self.outbox is not None and settings.channels is not None:
            sender, tags = _sender(settings)
            size_send_threads(max(32, 2 * settings.notify.per_channel * tags))
        self.pipeline.engine, self.pipeline.renderer = engine, renderer
        self.settings, self.engine, self.renderer, self.postmortems = settings, engine, renderer, postmortems
        self.link_secret = link_secret
        self.retention.keep, self.scheduler.lease = settings.retention, settings.timer_lease
        if self.outbox is not None and sender is not None:
            self.outbox.use_sender(sender, settings.notify.timeout + NOTIFY_LEASE_MARGIN)
            self.metrics.prepare_channels(sorted({channel for _, channel in settings.channel_references()}))

    async def stop_claiming(self) -> None:
        """The first step of a drain, taken as SIGTERM arrives: no loop claims new work (timers, outbox,
        retention). Each is cancelled and given LOOPS_STOP_WITHIN to end; sends already under way go on."""
        try:
            await self.supervisor.stop(LOOPS_STOP_WITHIN)
        except Exception:
            log.exception("stop_failed", part="loops")

    def drain_by(self, deadline: float) -> None:
        """``stop`` must be done by ``deadline`` (the event loop's clock): the server's drain bound."""
        self._drain_deadline = deadline

    async def stop(self) -> None:
        """SIGTERM drains: loops stop, sends under way are recorded, queued commits finish, the store closes;
        all of it by the drain deadline (``drain_timeout`` from now if the server set none), and nothing a loop
        or a send raised keeps the later steps from running."""
        loop = asyncio.get_running_loop()
        deadline = self._drain_deadline or loop.time() + self.settings.drain_timeout.total_seconds()
        # The store's last commits get the end of the drain, whatever the sends took.
        reserve = min(CLOSE_RESERVE, self.settings.drain_timeout.total_seconds() / 4)
        await self.stop_claiming()
        if self.outbox is not None:
            # Sends under way may finish and be recorded (so a restart does not page again) until the reserve;
            # then the rest are cancelled and the unsent claims given back, within half the reserve (what is not
            # given back by then returns when its lease ends).
            sends_end = deadline - reserve
            try:
                async with asyncio.timeout_at(sends_end + reserve / 2):
                    await self.outbox.stop(grace=max(0.0, sends_end - loop.time()))
            except TimeoutError:
                log.warning("outbox_not_stopped", hint="claims not given back return when their lease ends")
            except Exception:
                log.exception("stop_failed", part="outbox")
        try:
            async with asyncio.timeout_at(deadline):
                await self.store.close()
        except TimeoutError:
            # Queued commits whose callers got no answer: their senders retry. Nothing answered 2xx is in here.
            log.error("store_not_closed", hint="commits still queued at the drain deadline were dropped")


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
        # `tocsin run` said so once already, with its other configuration warnings (config_warning).
        link_secret = signing.made_at_start()
    renderer = Renderer(settings.public_url, link_secret, settings.link_ttl, settings.templates)
    renderer.check()
    postmortems = Postmortems(settings.templates)
    postmortems.check()
    store = store or open_store(settings.store, settings.workers)
    await store.open()
    engine = Engine(settings)
    pipeline = Pipeline(engine, store, clock, renderer, metrics)
    pipeline.listen(lifecycle_log.committed)
    stall = float(os.environ.get("TOCSIN_FAULT_TIMER_STALL", "0") or 0)  # failure drills only
    scheduler = Scheduler(store, pipeline, clock, metrics, settings.timer_lease, stall)
    retention = Retention(store, clock, settings.retention)
    supervisor = Supervisor(metrics)
    supervisor.add("timers", scheduler.step, scheduler.wake)
    supervisor.add("retention", retention.step)
    outbox = None
    if settings.channels is not None:
        sender, tags = _sender(settings)
        # Each channel's sends, and as many again abandoned at their timeout while their socket times out.
        size_send_threads(max(32, 2 * settings.notify.per_channel * tags))
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
    if settings.heartbeats or any(s.handoff_notice is not None for s in settings.schedules.values()):
        # Before any timer fires: after downtime, heartbeats get a full period from now (DESIGN §13). A store
        # down at start-up must not keep tocsin from starting: the scheduler then decides it first, once it can.
        try:
            await pipeline.submit(StartedUp())
        except StoreUnavailable as exc:
            log.warning(
                "startup_deferred", error=str(exc), hint="heartbeat deadlines are checked once the store is back"
            )
            scheduler.before_first = StartedUp()
    metrics.reload_successful.set(1)
    metrics.reload_success_time.set(clock.now().timestamp())
    if background:
        supervisor.start()
    return services


def _sender(settings: Settings) -> tuple[AppriseSender, int]:
    """Apprise with the channels file's URLs, and how many channels (tags) it has."""
    assert settings.channels is not None
    asset = make_asset(settings.notify.retries, settings.notify.retry_wait)
    channels = load_channels(settings.channels, asset)
    return AppriseSender(channels, asset, settings.notify.timeout), len(channels.tags)
