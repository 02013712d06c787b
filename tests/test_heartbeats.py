"""Heartbeats (DESIGN §13) on the injected clock: pings, misses, tocsin's own alert, restarts and replicas."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.engine.heartbeats import ALIVE_EVERY
from tests.conftest import MakeTocsin
from tests.redis_server import RedisServer
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, Tocsin, am_alert, am_webhook

# deploy/tocsin.yml: watchdog (alertname Watchdog, every 5m + 1m grace, SEV2, service monitoring) and
# nightly-backup (every 25h, SEV3, service backup).


def watchdog(t: Tocsin) -> dict[str, Any]:
    starts = t.clock.now().isoformat().replace("+00:00", "Z")
    return am_alert("Watchdog", service="", severity="none", instance="", starts_at=starts, fingerprint="watchdog")


async def ping(t: Tocsin, name: str, token: str | None = AM_TOKEN, data: bytes | None = None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if data is not None:
        headers["Content-Type"] = "text/plain"  # whatever it says, the body is not read
    return await t.client.post(f"/api/v1/heartbeats/{name}", headers=headers, data=data)


async def states(t: Tocsin) -> dict[str, dict[str, Any]]:
    return {h["name"]: h for h in (await t.api("GET", "/api/v1/heartbeats"))["heartbeats"]}


def iso(t: Tocsin, after: timedelta = timedelta(0)) -> str:
    return (t.clock.now() + after).isoformat().replace("+00:00", "Z")


@pytest.fixture
async def paged(make_tocsin: MakeTocsin, http_sink: HttpSink) -> Tocsin:
    return await make_tocsin({"notify": {"retries": 0, "timeout": "5s"}}, sink=http_sink.address)


async def test_a_heartbeat_is_inactive_before_its_first_ping_and_up_after(paged: Tocsin) -> None:
    before = await states(paged)
    assert {n: h["state"] for n, h in before.items()} == {"watchdog": "inactive", "nightly-backup": "inactive"}
    assert before["watchdog"]["last_ping"] is None
    assert before["watchdog"]["due"] is None
    response = await ping(paged, "nightly-backup", data=b"ignored")
    assert response.status == 200
    after = (await states(paged))["nightly-backup"]
    assert after == {
        "name": "nightly-backup",
        "state": "up",
        "last_ping": iso(paged),
        "due": iso(paged, timedelta(hours=25)),
    }
    # Never pinged: inactive however long tocsin waits.
    await paged.tick(24 * 3600)
    assert (await states(paged))["watchdog"]["state"] == "inactive"
    assert await paged.incidents() == []


async def test_a_missed_heartbeat_declares_one_incident_that_a_ping_resolves(
    paged: Tocsin, http_sink: HttpSink
) -> None:
    assert (await paged.post_alertmanager(am_webhook(watchdog(paged)))).status == 200
    await paged.tick(4 * 60)
    # The same Watchdog body again (Alertmanager's repeat_interval): a ping, not a duplicate to skip.
    assert (
        await paged.post_alertmanager(am_webhook(watchdog(paged) | {"startsAt": "2026-11-22T07:12:30Z"}))
    ).status == 200
    assert (await states(paged))["watchdog"]["due"] == iso(paged, timedelta(minutes=6))
    await paged.tick(6 * 60 - 1)
    assert (await states(paged))["watchdog"]["state"] == "up"
    assert await paged.incidents() == []
    await paged.tick(1)
    assert (await states(paged))["watchdog"]["state"] == "missed"
    await paged.tick(60)
    [incident] = await paged.incidents()
    assert incident["severity"] == "SEV2"  # the heartbeat's, not the severity rules'
    assert incident["service"] == "monitoring"
    assert incident["title"] == "HeartbeatMissed on monitoring"
    view = await paged.incident(incident["id"])
    [alert] = view["alerts"]
    assert alert["fingerprint"] == "heartbeat:watchdog"
    assert alert["labels"] == {"alertname": "HeartbeatMissed", "heartbeat": "watchdog", "service": "monitoring"}
    assert http_sink.count("oncall-primary") == 1  # SEV2 routes to page-hard

    # The Watchdog alert itself is stored but never correlated.
    listed = {a["fingerprint"]: a for a in (await paged.api("GET", "/api/v1/alerts"))["alerts"]}
    assert listed["watchdog"]["incident_id"] is None

    # The next ping: its alert resolves, the incident is mitigated, then resolved after verification (15m).
    assert (await ping(paged, "watchdog")).status == 200
    assert (await paged.incident(incident["id"]))["state"] == "mitigated"
    assert (await states(paged))["watchdog"]["state"] == "up"
    for _ in range(3):  # pinged on time through the verification period
        await paged.tick(5 * 60)
        await ping(paged, "watchdog")
    assert (await paged.incident(incident["id"]))["state"] == "resolved"
    assert len(await paged.incidents()) == 1


async def test_heartbeat_metrics(paged: Tocsin) -> None:
    await ping(paged, "nightly-backup")
    response = await paged.client.get("/metrics")
    text = await response.text()
    assert 'tocsin_heartbeat_up{heartbeat="nightly-backup"} 1.0' in text
    assert 'tocsin_heartbeat_up{heartbeat="watchdog"} 0.0' in text
    assert (
        paged.registry.get_sample_value("tocsin_heartbeat_last_ping_timestamp_seconds", {"heartbeat": "nightly-backup"})
        == paged.clock.now().timestamp()
    )
    assert paged.registry.get_sample_value("tocsin_silences", {"state": "active"}) == 0


async def test_a_silenced_watchdog_still_counts_as_a_ping(paged: Tocsin) -> None:
    body = {
        "matchers": [{"name": "alertname", "value": "Watchdog", "isRegex": False, "isEqual": True}],
        "startsAt": iso(paged),
        "endsAt": iso(paged, timedelta(hours=1)),
        "createdBy": "alice",
        "comment": "",
    }
    await paged.api("POST", "/api/v2/silences", body)
    await paged.post_alertmanager(am_webhook(watchdog(paged)))
    assert (await states(paged))["watchdog"]["state"] == "up"


async def test_a_restart_while_up_does_not_declare(make_tocsin: MakeTocsin, paged: Tocsin) -> None:
    await ping(paged, "watchdog")
    await paged.client.close()
    paged.clock.advance(10 * 60)  # down past the deadline: the pings had nowhere to go
    again = await make_tocsin(settings=paged.settings)
    await again.tick()
    assert (await states(again))["watchdog"] == {
        "name": "watchdog",
        "state": "up",
        "last_ping": iso(again, timedelta(minutes=-10)),
        "due": iso(again, timedelta(minutes=6)),  # a full period from start-up
    }
    assert await again.incidents() == []
    await again.tick(6 * 60)  # and a full period later, with no ping, it is missed
    assert len(await again.incidents()) == 1


async def test_bad_pings(paged: Tocsin) -> None:
    assert (await ping(paged, "nope")).status == 404
    assert (await ping(paged, "nope", token=None)).status == 401  # credentials before the name
    assert (await ping(paged, "watchdog", token="wrong")).status == 401
    assert (await paged.client.get("/api/v1/heartbeats")).status == 401
    assert (await states(paged))["watchdog"]["state"] == "inactive"


async def test_two_redis_replicas_declare_one_incident(make_tocsin: MakeTocsin, redis_server: RedisServer) -> None:
    shared = {"channels": None, "store": f"{redis_server.url}?prefix=t{uuid.uuid4().hex[:12]}"}
    one = await make_tocsin(shared)
    two = await make_tocsin(shared)
    await ping(one, "watchdog")
    assert (await states(two))["watchdog"]["state"] == "up"
    one.clock.advance(7 * 60)
    fired = await asyncio.gather(one.services.scheduler.run_due(), two.services.scheduler.run_due())
    assert sum(fired) >= 1
    assert len(await one.incidents()) == 1
    assert len(await two.incidents()) == 1
    # A replica alive meanwhile: another starting now does not move the deadline.
    await ping(two, "watchdog")
    one.clock.advance(ALIVE_EVERY.total_seconds())
    await one.tick()
    three = await make_tocsin(shared)
    assert (await states(three))["watchdog"]["due"] == iso(three, timedelta(minutes=6) - ALIVE_EVERY)


@pytest.mark.both_stores
async def test_an_alert_that_becomes_a_ping_no_longer_joins_incidents(make_tocsin: MakeTocsin) -> None:
    # Before a heartbeat named it, Watchdog (SEV4 here) was an ordinary alert kept in no incident.
    before = await make_tocsin({"channels": None, "heartbeats": []})
    dog = am_alert("Watchdog", service="monitoring", severity="info", fingerprint="watchdog")
    await before.post_alertmanager(am_webhook(dog))
    await before.client.close()
    after = await make_tocsin({"channels": None})
    await after.post_alertmanager(am_webhook(dog))  # now a ping of the watchdog heartbeat
    assert (await states(after))["watchdog"]["state"] == "up"
    await after.post_alertmanager(am_webhook(am_alert("HighLatency", service="monitoring")))
    [incident] = await after.incidents()
    view = await after.incident(incident["id"])
    assert [a["labels"]["alertname"] for a in view["alerts"]] == ["HighLatency"]


async def test_tocsin_starts_with_its_store_down_and_extends_deadlines_once_it_is_back(
    make_tocsin: MakeTocsin, tmp_path: Path
) -> None:
    server = RedisServer(tmp_path, appendfsync="always")
    server.start()
    try:
        store = {"channels": None, "store": server.url}
        first = await make_tocsin(store)
        await ping(first, "watchdog")
        await first.client.close()
        server.stop()
        first.clock.advance(10 * 60)
        again = await make_tocsin(store)  # starts, not ready: the start-up decision waits for the store
        assert (await again.client.get("/readyz")).status == 503
        server.start()
        await again.tick()  # the scheduler decides the start-up first, then the timers due
        assert (await states(again))["watchdog"]["due"] == iso(again, timedelta(minutes=6))
        assert await again.incidents() == []
    finally:
        server.stop()
