"""SQLite-specific failure behaviour: a full disk is a fast 503 and tocsin recovers when space returns."""

from __future__ import annotations

import asyncio

from daemon.store.sqlite import SqliteStore
from tests.support import Tocsin, am_alert, am_webhook


async def set_max_pages(store: SqliteStore, pages: int | None) -> None:
    """Simulate a full disk: SQLite refuses to grow the file past ``pages`` (None: back to the default)."""

    def apply() -> None:
        assert store._wconn is not None
        if pages is None:
            store._wconn.execute("PRAGMA max_page_count = 4294967294")
        else:
            store._wconn.execute(f"PRAGMA max_page_count = {pages}")

    assert store._writer is not None
    await asyncio.get_running_loop().run_in_executor(store._writer, apply)


async def current_pages(store: SqliteStore) -> int:
    def read() -> int:
        assert store._wconn is not None
        return int(store._wconn.execute("PRAGMA page_count").fetchone()[0])

    assert store._writer is not None
    return await asyncio.get_running_loop().run_in_executor(store._writer, read)


async def test_full_disk_is_a_503_and_recovers(tocsin: Tocsin) -> None:
    store = tocsin.services.store
    assert isinstance(store, SqliteStore)
    await tocsin.post_alertmanager(am_webhook(am_alert(instance="before")))
    await set_max_pages(store, await current_pages(store))
    big = am_webhook(*[am_alert(instance=f"full-{n}", summary="x" * 2000) for n in range(200)])
    response = await tocsin.post_alertmanager(big)
    assert response.status == 503
    assert response.headers["Retry-After"]
    assert (await tocsin.client.get("/readyz")).status == 503
    # Nothing of the refused request was stored.
    alerts = (await tocsin.api("GET", "/api/v1/alerts?limit=1000"))["alerts"]
    assert [a["fingerprint"] for a in alerts] == ["higherrorrate-checkout-before"]

    await set_max_pages(store, None)  # space is back
    assert (await tocsin.client.get("/readyz")).status == 200
    response = await tocsin.post_alertmanager(big)
    assert response.status == 200
    alerts = (await tocsin.api("GET", "/api/v1/alerts?limit=1000"))["alerts"]
    assert len(alerts) == 201
