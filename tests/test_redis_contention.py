"""Redis with several writers: what the fast path must not hide, and decisions that must not starve."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import MakeTocsin
from tests.redis_server import RedisServer
from tests.support import Tocsin, am_alert, am_webhook


@pytest.fixture
async def shared(make_tocsin: MakeTocsin, redis_server: RedisServer) -> Tocsin:
    return await make_tocsin({"channels": None, "store": f"{redis_server.url}?prefix=x{uuid.uuid4().hex[:10]}"})


async def test_an_alert_the_store_lost_is_stored_again(shared: Tocsin) -> None:
    body = am_webhook(am_alert())
    await shared.post_alertmanager(body)
    # Redis restarted without persistence (or failed over to a replica that had not seen the write).
    await shared.services.store.r.flushall()  # type: ignore[attr-defined]
    response = await shared.post_alertmanager(body)
    assert response.status == 200
    [incident] = await shared.incidents()
    assert (await shared.incident(incident["id"]))["alerts"][0]["status"] == "firing"


async def test_a_change_made_by_another_replica_is_not_hidden(shared: Tocsin, make_tocsin: MakeTocsin) -> None:
    other = await make_tocsin(settings=shared.settings)
    three, four = am_alert(summary="3 pods down"), am_alert(summary="4 pods down")
    await shared.post_alertmanager(am_webhook(three))
    await other.post_alertmanager(am_webhook(four))
    await shared.post_alertmanager(am_webhook(three))  # seen committed here, but changed elsewhere since
    [incident] = await shared.incidents()
    [alert] = (await shared.incident(incident["id"]))["alerts"]
    assert alert["annotations"]["summary"] == "3 pods down"


async def test_one_webhook_may_declare_a_hundred_incidents(shared: Tocsin) -> None:
    body = am_webhook(*[am_alert(service=f"svc-{n}", instance="a") for n in range(100)])
    response = await shared.post_alertmanager(body)
    assert response.status == 200
    incidents = await shared.incidents("limit=500")
    assert sorted(i["id"] for i in incidents) == [f"INC-2026-{n:04d}" for n in range(1, 101)]


async def test_acknowledge_wins_against_a_storm_joining_the_incident(shared: Tocsin) -> None:
    big = [am_alert(instance=f"web-{n}") for n in range(800)]
    for start in range(0, len(big), 200):
        await shared.post_alertmanager(am_webhook(*big[start : start + 200]))
    [incident] = await shared.incidents()
    stop = asyncio.Event()

    async def storm(worker: int) -> None:
        n = 0
        while not stop.is_set():
            await shared.post_alertmanager(am_webhook(am_alert(instance=f"new-{worker}-{n}")))
            n += 1

    senders = [asyncio.create_task(storm(w)) for w in range(8)]
    try:
        await asyncio.sleep(0.2)
        acked = await shared.api("POST", f"/api/v1/incidents/{incident['id']}/acknowledge", {"actor": "alice"})
        assert acked["state"] == "acknowledged"
        fired = await shared.services.scheduler.run_due()  # nothing due; the scheduler keeps working meanwhile
        assert fired == 0
    finally:
        stop.set()
        await asyncio.gather(*senders)
