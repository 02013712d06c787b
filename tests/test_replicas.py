"""Several `tocsin run` replicas on one real Redis: one incident per key, each step paged once, a dead
replica's timer fired by another, and a Redis outage answered with 503s and survived without a restart."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis

from tests.process import TocsinProcess, free_port, stored_fingerprints
from tests.redis_server import RedisServer
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, API_TOKEN, SEV1, am_alert, am_webhook, fixture, write_config

pytestmark = pytest.mark.e2e

# page-hard with short real timers: 0s, 2s, 4s; one round.
LADDER = {
    "levels": [
        {"after": "0s", "notify": ["oncall-primary"]},
        {"after": "2s", "notify": ["oncall-secondary"]},
        # Well after level 1: a timer fired a little late must not find level 2 due too (that would be a catch-up
        # after downtime, which pages level 2 only).
        {"after": "6s", "notify": ["eng-manager"]},
    ],
    "repeat": 1,
}


@pytest.fixture
def replicas(tmp_path: Path) -> Iterator[Callable[..., TocsinProcess]]:
    started: list[TocsinProcess] = []

    def make(config: Path, env: dict[str, str] | None = None) -> TocsinProcess:
        process = TocsinProcess(config, free_port(), env=env)
        started.append(process)
        return process

    yield make
    for process in started:
        process.stop()


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    s = HttpSink()
    await s.start()
    yield s
    await s.stop()


def config(directory: Path, store: str, sink: HttpSink, **more: Any) -> Path:
    overrides = {"store": store, "notify": {"retries": 0}, "policies": {"page-hard": LADDER}, **more}
    return write_config(directory, overrides, sink=sink.address)


async def post(session: aiohttp.ClientSession, url: str, body: dict[str, Any]) -> int:
    try:
        async with session.post(
            f"{url}/api/v1/alerts/alertmanager", json=body, headers={"Authorization": f"Bearer {AM_TOKEN}"}
        ) as response:
            await response.read()
            return response.status
    except aiohttp.ClientError:
        return 0


async def incidents(session: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    async with session.get(
        f"{url}/api/v1/incidents?limit=500", headers={"Authorization": f"Bearer {API_TOKEN}"}
    ) as response:
        return list((await response.json())["incidents"])


async def test_burst_across_two_replicas_makes_one_incident_paged_once_per_level(
    tmp_path: Path, redis_server: RedisServer, replicas: Callable[..., TocsinProcess], sink: HttpSink
) -> None:
    path = config(tmp_path, f"{redis_server.url}?prefix=r{uuid.uuid4().hex[:8]}", sink)
    a, b = replicas(path), replicas(path)
    a.start()
    b.start()
    await asyncio.gather(a.wait_ready(), b.wait_ready())
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=32)) as session:
        bodies = [
            am_webhook(am_alert("HighErrorRate", instance=f"web-{n}", fingerprint=f"burst-{n}")) for n in range(60)
        ]
        statuses = await asyncio.gather(*(post(session, (a, b)[n % 2].url, body) for n, body in enumerate(bodies)))
        assert statuses == [200] * 60
        [incident] = await incidents(session, a.url)
        assert incident["alert_count"] == 60
        assert incident["firing_alerts"] == 60
        assert await incidents(session, b.url) == [incident]
        await sink.wait_for("eng-manager", timeout=15)
        await asyncio.sleep(1.5)  # room for any second page to arrive
    assert (sink.count("oncall-primary"), sink.count("oncall-secondary"), sink.count("eng-manager")) == (1, 1, 1)


async def test_dead_replicas_timer_is_fired_by_the_other_once(
    tmp_path: Path, redis_server: RedisServer, replicas: Callable[..., TocsinProcess], sink: HttpSink
) -> None:
    prefix = f"k{uuid.uuid4().hex[:8]}"
    lease = 4.0
    # Level 2 far off: the level-1 timer fires late here on purpose (after A's lease), and must find only
    # level 1 due, not catch up past it.
    late_ladder = {**LADDER, "levels": [*LADDER["levels"][:2], {"after": "60s", "notify": ["eng-manager"]}]}
    path = config(
        tmp_path,
        f"{redis_server.url}?prefix={prefix}",
        sink,
        timer_lease=f"{int(lease)}s",
        policies={"page-hard": late_ladder},
    )
    # A claims the level-1 timer and then hangs holding it (a failure drill), until it is killed.
    a = replicas(path, env={"TOCSIN_FAULT_TIMER_STALL": "60"})
    b = replicas(path)
    a.start()
    await a.wait_ready()
    async with aiohttp.ClientSession() as session:
        assert await post(session, a.url, fixture(SEV1)["body"]) == 200
    await sink.wait_for("oncall-primary")

    # Wait until A holds the lease: the timer's place in the queue moves past its due time.
    client = redis.Redis(port=redis_server.port)
    queue = "{" + prefix + "}:timers"
    due = None
    deadline = time.monotonic() + 10
    claimed_at = 0.0
    while time.monotonic() < deadline:
        timers = dict(client.zrange(queue, 0, -1, withscores=True))
        escalate = next((score for key, score in timers.items() if key.endswith(b"/escalate")), None)
        if escalate is not None:
            if due is None:
                due = escalate
            elif escalate > due:
                claimed_at = time.time()
                break
        await asyncio.sleep(0.02)
    else:
        raise AssertionError("replica A never claimed the timer")
    client.close()

    b.start()
    await b.wait_ready()
    a.kill()
    await sink.wait_for("oncall-secondary", timeout=lease + 5)
    fired_after = time.time() - claimed_at
    assert fired_after <= lease + 1.0, f"fired {fired_after:.1f}s after the claim (lease {lease}s)"
    await asyncio.sleep(1.5)
    assert sink.count("oncall-secondary") == 1


async def test_redis_outage_during_load(tmp_path: Path, replicas: Callable[..., TocsinProcess], sink: HttpSink) -> None:
    server = RedisServer(tmp_path, appendfsync="always")
    server.start()
    try:
        path = config(tmp_path, server.url, sink)
        daemon = replicas(path)
        daemon.start()
        await daemon.wait_ready()
        accepted: set[str] = set()
        answers: list[int] = []
        stop = asyncio.Event()

        async def load(session: aiohttp.ClientSession, worker: int) -> None:
            n = 0
            while not stop.is_set():
                fp = f"outage-{worker}-{n}"
                status = await post(session, daemon.url, am_webhook(am_alert("Load", instance=fp, fingerprint=fp)))
                answers.append(status)
                if status == 200:
                    accepted.add(fp)
                n += 1
                await asyncio.sleep(0.005)

        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            workers = [asyncio.create_task(load(session, w)) for w in range(8)]
            await asyncio.sleep(1.0)
            server.kill()  # a crash: AOF with appendfsync always keeps every acknowledged write
            await asyncio.sleep(1.5)
            async with session.get(f"{daemon.url}/readyz") as response:
                assert response.status == 503
            refused = len([s for s in answers if s != 200])
            server.start()
            deadline = time.monotonic() + 10
            while True:  # tocsin recovers by itself, without a restart
                async with session.get(f"{daemon.url}/readyz") as response:
                    if response.status == 200:
                        break
                assert time.monotonic() < deadline, "tocsin did not recover"
                await asyncio.sleep(0.1)
            await asyncio.sleep(1.0)
            stop.set()
            await asyncio.gather(*workers)

            stored = await stored_fingerprints(session, daemon.url, API_TOKEN)
        assert refused > 0, "the outage should have refused some requests"
        assert set(answers) <= {200, 503}, f"answers other than 200/503: {set(answers) - {200, 503}}"
        assert accepted <= stored, f"{len(accepted - stored)} accepted alerts lost"
        assert daemon.proc is not None
        assert daemon.proc.poll() is None  # still running
    finally:
        server.stop()
