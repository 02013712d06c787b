"""A commit that outlasts the write timeout, and a full write queue, on both stores.

The store is really held: SQLite's write lock taken by another connection, Redis' writes paused with
``CLIENT PAUSE … WRITE`` (reads go on, so a decision loads, then its commit waits inside redis)."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from redis import asyncio as aioredis

from daemon.clock import ManualClock
from daemon.config.settings import Settings
from daemon.store.base import Store
from daemon.store.redis import RedisStore
from daemon.store.sqlite import SqliteStore, parse_sqlite_url
from tests.conftest import MakeTocsin
from tests.programs import until
from tests.redis_server import RedisServer
from tests.support import AM_TOKEN, SEV1, Tocsin, am_alert, am_webhook, make_settings, start_tocsin

pytestmark = pytest.mark.both_stores

WRITE_TIMEOUT = 0.5  # these stores answer 503 after this; the hold below outlasts it
HOLD_LONGEST = 1.5  # redis' pause ends by itself after this, should a test fail while holding it (< socket timeout)

Hold = Callable[[], Any]


@pytest.fixture
def settings(tmp_path: Path, store_url: str | None) -> Settings:
    return make_settings(tmp_path, {"channels": None, **({"store": store_url} if store_url else {})})


def store_for(settings: Settings, **limits: Any) -> Store:
    if settings.store.startswith("sqlite://"):
        return SqliteStore(settings.store, **limits)
    return RedisStore(settings.store, **limits)


@pytest.fixture
def hold(store_kind: str, request: pytest.FixtureRequest) -> Callable[[Settings], Any]:
    """``hold(settings)``: an async context in which the store takes no commit (reads still answer)."""

    @asynccontextmanager
    async def held(settings: Settings) -> AsyncIterator[None]:
        if store_kind == "sqlite":
            path: Path = parse_sqlite_url(settings.store)[0]
            other = sqlite3.connect(path, isolation_level=None)
            other.execute("BEGIN IMMEDIATE")  # the write lock: tocsin's next transaction waits for it
            try:
                yield
            finally:
                other.execute("ROLLBACK")
                other.close()
            return
        server: RedisServer = request.getfixturevalue("redis_server")
        client = aioredis.Redis(port=server.port)
        await client.execute_command("CLIENT", "PAUSE", int(HOLD_LONGEST * 1000), "WRITE")
        try:
            yield
        finally:
            await client.execute_command("CLIENT", "UNPAUSE")
            await client.aclose()

    return held


def mtta_count(tocsin: Tocsin) -> float:
    return sum(
        sample.value
        for metric in tocsin.registry.collect()
        for sample in metric.samples
        if sample.name == "tocsin_incident_time_to_acknowledge_seconds_count"
    )


async def acknowledge(tocsin: Tocsin, incident_id: str, actor: str) -> Any:
    return await tocsin.client.post(
        f"/api/v1/incidents/{incident_id}/acknowledge",
        json={"actor": actor},
        headers={"Authorization": "Bearer example-api-token"},
    )


async def test_acknowledge_answered_503_is_never_stored_uncounted(
    make_tocsin: MakeTocsin, hold: Callable[[Settings], Any], store_kind: str, settings: Settings
) -> None:
    """A 503 acknowledge either never happens, or happens with MTTA observed once: never an uncounted ack."""
    tocsin = await make_tocsin(settings=settings, store=store_for(settings, write_timeout=WRITE_TIMEOUT))
    await tocsin.send_fixture(SEV1)
    (incident,) = await tocsin.incidents()

    async with hold(settings):
        response = await acknowledge(tocsin, incident["id"], "alice")
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"]
    # The held commit is now free to land (or stays withdrawn); a retry after the 503 settles the question.
    response = await acknowledge(tocsin, incident["id"], "bob")
    assert response.status == 200, await response.text()

    view = await tocsin.incident(incident["id"])
    acks = [e for e in view["timeline"] if e["kind"] == "acknowledged"]
    assert len(acks) == 1, acks
    assert mtta_count(tocsin) == 1
    # SQLite withdraws a decision still waiting for the write lock; redis cannot recall a commit it was sent,
    # which lands when the pause ends, and is counted then.
    expected = "bob" if store_kind == "sqlite" else "alice"
    assert view["acknowledged_by"] == expected


async def test_a_full_write_queue_answers_503_at_once_and_stores_none_of_it(
    make_tocsin: MakeTocsin, hold: Callable[[Settings], Any], settings: Settings
) -> None:
    tocsin = await make_tocsin(settings=settings, store=store_for(settings, write_timeout=30.0, max_pending=4))
    sent = 12

    async def post(i: int) -> tuple[str, int, str | None]:
        fingerprint = f"queued-{i}"
        alert = am_alert(f"Queued{i}", f"svc{i}", severity="info", fingerprint=fingerprint)
        response = await tocsin.post_alertmanager(am_webhook(alert), AM_TOKEN)
        return fingerprint, response.status, response.headers.get("Retry-After")

    async def answered_while_held() -> list[tuple[str, int, str | None]] | None:
        done = [p.result() for p in posts if p.done()]
        return done if len(done) >= sent - 8 else None

    async with hold(settings):
        posts = [asyncio.create_task(post(i)) for i in range(sent)]
        # At most 4 wait (on SQLite, plus a batch of at most 4 waiting for the lock): the rest are answered now.
        refused = await until(answered_while_held, "the overflow to be answered while the store is held", 10)
    answers = await asyncio.gather(*posts)

    assert all(status == 503 and retry for _, status, retry in refused), refused
    accepted = {fp for fp, status, _ in answers if status == 200}
    turned_away = {fp for fp, status, _ in answers if status == 503}
    assert accepted, answers
    assert len(accepted) + len(turned_away) == sent, answers
    alerts = await tocsin.api("GET", "/api/v1/alerts?limit=100")
    assert {a["fingerprint"] for a in alerts["alerts"]} == accepted


async def test_redis_commit_whose_reply_is_lost_is_settled_once(
    tmp_path: Path, clock: ManualClock, redis_server: RedisServer
) -> None:
    """The commit reaches redis but its reply never comes back: the caller gets 503, and the decision is settled
    for good once redis answers again, either stored and counted once, or refused for ever."""
    admin = aioredis.Redis(port=redis_server.port)
    prefix = f"lost{uuid.uuid4().hex[:8]}"
    try:
        # Fast socket timeouts, so that the commit's reply is given up on while redis is busy.
        url = f"{redis_server.url}?prefix={prefix}&timeout=0.3"
        settings = make_settings(tmp_path, {"channels": None, "store": url})
        tocsin = await start_tocsin(settings, clock, store=RedisStore(url, write_timeout=5.0))
        await tocsin.send_fixture(SEV1)
        (incident,) = await tocsin.incidents()

        # Writes wait inside redis (reads go on): the acknowledgement loads, sends its commit, and waits.
        await admin.execute_command("CLIENT", "PAUSE", 500, "WRITE")
        ack = asyncio.create_task(acknowledge(tocsin, incident["id"], "alice"))
        await asyncio.sleep(0.2)
        # Then redis is busy past the pause (a read-only script spinning 1 s): tocsin's connection times out and
        # closes, and the commit it sent runs when the pause ends, its reply lost.
        await admin.execute_command("EVAL_RO", BUSY, 0, 1_000_000)
        response = await ack
        assert response.status == 503, await response.text()

        async def settled() -> bool | None:
            return True if await admin.keys(f"{{{prefix}}}:fenced:*") or mtta_count(tocsin) else None

        await until(settled, "the acknowledgement to be settled", 20)
        view = await tocsin.incident(incident["id"])
        if await admin.keys(f"{{{prefix}}}:fenced:*"):
            assert view["state"] == "triggered"
            assert mtta_count(tocsin) == 0
        else:
            assert view["acknowledged_by"] == "alice"
            assert mtta_count(tocsin) == 1
        response = await acknowledge(tocsin, incident["id"], "bob")
        assert response.status == 200, await response.text()
        view = await tocsin.incident(incident["id"])
        assert len([e for e in view["timeline"] if e["kind"] == "acknowledged"]) == 1
        assert mtta_count(tocsin) == 1
        await tocsin.client.close()
    finally:
        await admin.aclose()


# Spins for ARGV[1] microseconds: redis answers nobody meanwhile.
BUSY = """
local t = redis.call('TIME')
local start = t[1] * 1000000 + t[2]
while true do
  local n = redis.call('TIME')
  if n[1] * 1000000 + n[2] - start > tonumber(ARGV[1]) then return 1 end
end
"""
