"""The outbox worker under storms, slow and hanging channels, and a Redis restart: every page once, on time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from daemon.clock import SystemClock
from daemon.config.settings import Settings
from daemon.domain import AlertStatus, Source
from daemon.effects.outbox import OutboxWorker
from daemon.effects.supervisor import Supervisor
from daemon.engine.events import Action, AlertIn, AlertsReceived, Transition
from daemon.metrics import Metrics
from daemon.services import Services, start_services
from daemon.store import Store, open_store
from notifiers.channels import load_channels
from notifiers.sender import AppriseSender, make_asset
from tests.conftest import MakeTocsin
from tests.redis_server import RedisServer
from tests.sinks import HttpSink
from tests.support import am_alert, am_webhook, make_settings


def page_all(channel: str) -> dict[str, Any]:
    """Every SEV1/SEV2 incident pages ``channel`` once (one level, one round)."""
    return {"levels": [{"after": "0s", "notify": [channel]}], "repeat": 1}


def sev1(n: int) -> AlertIn:
    labels = {"alertname": "Storm", "service": f"svc-{n}", "severity": "critical", "env": "prod"}
    return AlertIn(
        f"storm-{n}", Source.ALERTMANAGER, AlertStatus.FIRING, labels, {"summary": f"storm {n}"}, datetime.now(UTC)
    )


def make_sender(settings: Settings) -> AppriseSender:
    assert settings.channels is not None
    asset = make_asset(settings.notify.retries, settings.notify.retry_wait)
    return AppriseSender(load_channels(settings.channels, asset), asset, settings.notify.timeout)


async def until(condition: Any, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


@pytest.fixture
async def services() -> AsyncIterator[list[Services]]:
    started: list[Services] = []
    yield started
    for svc in started:
        await svc.stop()


@pytest.mark.both_stores
async def test_a_channel_slower_than_the_lease_sends_every_page_once(
    tmp_path: Path, store_url: str | None, http_sink: HttpSink, services: list[Services], store_kind: str
) -> None:
    """Defect 2: with a lease shorter than one send, entries waiting their turn were claimed again and given
    up unsent. Now they are held while they wait and while they are sent."""
    http_sink.modes, http_sink.slow_delay = {"/slow": "slow"}, 0.6
    overrides: dict[str, Any] = {
        "notify": {"retries": 0, "timeout": "10s"},
        "policies": {"page-hard": page_all("slow")},
    }
    if store_url is not None:
        overrides["store"] = store_url
    urls = f"  - json://{http_sink.address}/slow:\n      - tag: slow\n"
    settings = make_settings(tmp_path, overrides, http_sink.address, urls)
    svc = await start_services(settings, SystemClock(), background=False)
    services.append(svc)
    stores: list[Store] = [svc.store]
    if store_kind == "redis":  # a second replica on the same Redis
        other = open_store(settings.store)
        await other.open()
        stores.append(other)
    registry = CollectorRegistry()
    supervisor = Supervisor(Metrics(registry))
    lease = timedelta(seconds=0.3)  # half a send
    pages = 12
    workers: list[OutboxWorker] = []
    for n, store in enumerate(stores):
        # Room for the whole storm: the first claim takes every page, most of which wait for one of 3 slots; on
        # Redis the other replica stands ready to take any whose lease lapses.
        worker = OutboxWorker(
            store, make_sender(settings), SystemClock(), supervisor.metrics, lease, per_channel=3, capacity=pages
        )
        workers.append(worker)
        supervisor.add(f"outbox-{n}", worker.step, worker.wake)
    await svc.pipeline.submit(AlertsReceived(tuple(sev1(n) for n in range(pages))))
    supervisor.start()
    try:
        await http_sink.wait_for("slow", pages, timeout=30)
        await asyncio.sleep(4 * lease.total_seconds())  # room for any second send
    finally:
        await supervisor.stop()
        for worker in workers:
            await worker.stop(grace=1.0)
        for store in stores[1:]:
            await store.close()
    titles = http_sink.titles("slow")
    assert len(titles) == pages
    assert len(set(titles)) == pages, "a page went out twice"
    assert registry.get_sample_value("tocsin_notifications_total", {"channel": "slow", "outcome": "given_up"}) in (
        None,
        0,
    )
    for n in range(1, pages + 1):
        view = await svc.store.get_incident(f"INC-{datetime.now(UTC).year}-{n:04d}")
        assert view is not None
        lines = [e.text for e in view.timeline if e.kind.value in ("notified", "notification_failed")]
        assert lines == ["page level 0 (round 1) → slow: delivered to 1 of 1 URL"]


@pytest.mark.both_stores
async def test_an_incidents_notifications_arrive_in_order_across_batches_and_replicas(
    tmp_path: Path, store_url: str | None, http_sink: HttpSink, services: list[Services], store_kind: str
) -> None:
    """Defect 6, second half: an acknowledgement decided while its page was being sent was claimed in a later
    batch (or by another replica) and could arrive before the page."""
    http_sink.modes = {"/held": "hold"}  # takes each post, answers once released
    overrides: dict[str, Any] = {
        "notify": {"retries": 0, "timeout": "10s"},
        "policies": {"page-hard": page_all("held")},
    }
    if store_url is not None:
        overrides["store"] = store_url
    urls = f"  - json://{http_sink.address}/held:\n      - tag: held\n"
    settings = make_settings(tmp_path, overrides, http_sink.address, urls)
    svc = await start_services(settings, SystemClock(), background=False)
    services.append(svc)
    # Two workers: on Redis two replicas, on SQLite two workers of one process. Each holds one entry at most,
    # so the one sending the page has no room for the acknowledgement and the other would take it.
    stores: list[Store] = [svc.store, svc.store]
    if store_kind == "redis":
        stores[1] = open_store(settings.store)
        await stores[1].open()
    supervisor = Supervisor(Metrics(CollectorRegistry()))
    lease = timedelta(seconds=5)
    workers = [
        OutboxWorker(store, make_sender(settings), SystemClock(), supervisor.metrics, lease, capacity=1)
        for store in stores
    ]
    for n, worker in enumerate(workers):
        svc.pipeline.listen(worker.on_decision)
        supervisor.add(f"outbox-{n}", worker.step, worker.wake)
    supervisor.start()
    try:
        decision = await svc.pipeline.submit(AlertsReceived((sev1(0),)))
        await http_sink.wait_for("held", timeout=10)  # the page is being sent, not yet answered
        await svc.pipeline.submit(Transition(decision.incident_id or "", Action.ACKNOWLEDGE, "alice"))
        await asyncio.sleep(0.5)  # room for the acknowledgement to overtake the page, were it free to
        assert http_sink.count("held") == 1
        http_sink.release_held()
        await http_sink.wait_for("held", 2, timeout=10)
    finally:
        await supervisor.stop()
        for worker in workers:
            await worker.stop(grace=1.0)
        if stores[1] is not svc.store:
            await stores[1].close()
    page, ack = http_sink.titles("held")
    assert "(acknowledged)" not in page
    assert "(acknowledged)" in ack


@pytest.mark.both_stores
async def test_a_hanging_channel_delays_only_itself(make_tocsin: MakeTocsin, http_sink: HttpSink) -> None:
    """Defect 6: 40 SEV1 pages to a channel that never answers used every send slot; a healthy channel's page
    waited behind them. Now each channel has its own slots."""
    http_sink.modes = {"/hang": "hang"}
    urls = f"  - json://{http_sink.address}/hang:\n      - tag: hanging\n"
    t = await make_tocsin(
        {"notify": {"retries": 0, "timeout": "3s"}, "policies": {"page-hard": page_all("hanging")}},
        sink=http_sink.address,
        extra_urls=urls,
    )
    storm = [am_alert(service=f"svc-{n}", fingerprint=f"hang-{n}") for n in range(40)]
    assert (await t.post_alertmanager(am_webhook(*storm))).status == 200
    healthy = am_alert("DiskFilling", service="wiki", severity="warning")  # SEV3: page-soft, team-chat
    assert (await t.post_alertmanager(am_webhook(healthy))).status == 200
    outbox = t.services.outbox
    assert outbox is not None
    sending = asyncio.create_task(outbox.drain())
    await http_sink.wait_for("team-chat", timeout=10)
    # Arrived while every hanging send was still waiting for an answer (or for its channel's slot).
    ended = [
        t.registry.get_sample_value("tocsin_notifications_total", {"channel": "hanging", "outcome": o})
        for o in ("timeout", "failed", "sent")
    ]
    assert ended == [0, 0, 0]
    assert not sending.done()
    http_sink.release_hanging()  # the hanging channel answers 504 from now on
    await sending
    [chat] = await t.incidents("service=wiki")
    timeline = (await t.incident(chat["id"]))["timeline"]
    assert "page level 0 (round 1) → team-chat: delivered to 1 of 1 URL" in [e["text"] for e in timeline]


@pytest.fixture
def aof_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own that survives a stop (appendfsync always), so the test can restart it."""
    directory = tmp_path / "redis"
    directory.mkdir()
    server = RedisServer(directory, appendfsync="always")
    server.start()
    yield server
    server.stop()


@pytest.mark.e2e
async def test_a_send_recorded_across_a_redis_restart_goes_out_once(
    tmp_path: Path, aof_redis: RedisServer, http_sink: HttpSink, services: list[Services]
) -> None:
    """Defect 4: the record of a send failed while Redis restarted; its retries backed off past the lease and
    another replica sent the page again. Now the record is retried every second at most, the lease renewed
    meanwhile, so the page goes out once as long as Redis is back within two thirds of the lease."""
    http_sink.modes = {"/held": "hold"}
    urls = f"  - json://{http_sink.address}/held:\n      - tag: held\n"
    overrides = {
        "store": aof_redis.url,
        "notify": {"retries": 0, "timeout": "10s"},
        "policies": {"page-hard": page_all("held")},
    }
    settings = make_settings(tmp_path, overrides, http_sink.address, urls)
    svc = await start_services(settings, SystemClock(), background=False)
    services.append(svc)
    other = open_store(settings.store)
    await other.open()
    supervisor = Supervisor(Metrics(CollectorRegistry()))
    lease = timedelta(seconds=6)
    workers = [
        OutboxWorker(store, make_sender(settings), SystemClock(), supervisor.metrics, lease)
        for store in (svc.store, other)
    ]
    for n, worker in enumerate(workers):
        supervisor.add(f"outbox-{n}", worker.step, worker.wake)
    supervisor.start()
    try:
        decision = await svc.pipeline.submit(AlertsReceived((sev1(0),)))
        await http_sink.wait_for("held", timeout=10)  # being sent, not yet answered
        await asyncio.to_thread(aof_redis.stop)
        http_sink.release_held()  # the send ends while Redis is away: its record fails
        await asyncio.sleep(2.5)
        await asyncio.to_thread(aof_redis.start)
        back = time.monotonic()

        async def recorded() -> bool:
            view = await other.get_incident(decision.incident_id or "")
            return view is not None and any(e.kind.value == "notified" for e in view.timeline)

        while not await recorded():
            assert time.monotonic() - back < lease.total_seconds(), "the send was not recorded within the lease"
            await asyncio.sleep(0.05)
        print(f"\nrecorded {time.monotonic() - back:.2f}s after Redis returned")
        await asyncio.sleep(lease.total_seconds() + 1)  # had the lease lapsed, the other replica sends again
    finally:
        await supervisor.stop()
        for worker in workers:
            await worker.stop(grace=1.0)
        await other.close()
    assert http_sink.count("held") == 1


@pytest.mark.e2e
async def test_pages_due_during_a_redis_outage_go_out_when_it_returns(
    tmp_path: Path, aof_redis: RedisServer, http_sink: HttpSink, services: list[Services]
) -> None:
    ladder = {
        "levels": [{"after": "0s", "notify": ["oncall-primary"]}, {"after": "2s", "notify": ["oncall-secondary"]}],
        "repeat": 1,
    }
    overrides = {"store": aof_redis.url, "notify": {"retries": 0}, "policies": {"page-hard": ladder}}
    settings = make_settings(tmp_path, overrides, http_sink.address)
    svc = await start_services(settings, SystemClock(), background=True)
    services.append(svc)
    await svc.pipeline.submit(AlertsReceived((sev1(0),)))
    await http_sink.wait_for("oncall-primary", timeout=10)
    await asyncio.to_thread(aof_redis.stop)
    await asyncio.sleep(3.5)  # level 1 falls due at 2 s, while Redis is away
    await asyncio.to_thread(aof_redis.start)
    back = time.monotonic()
    await http_sink.wait_for("oncall-secondary", timeout=15)
    late = time.monotonic() - back
    print(f"\nlevel 1 went out {late:.2f}s after Redis returned")
    # About a second by design (every retry against the store waits 1 s at most); generous for a busy machine.
    assert late < 3.0
    await asyncio.sleep(1.0)
    assert http_sink.count("oncall-secondary") == 1
