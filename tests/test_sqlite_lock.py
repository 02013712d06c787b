"""Several workers on one SQLite file take turns writing through a file lock (daemon/store/sqlite_lock.py).

Each worker here is a tocsin app with its own SqliteStore (``shared=True``, as ``workers`` > 1 builds it) on the
one file; the lock is held by a real other process where a test needs it held."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from daemon.store.sqlite import SqliteStore, parse_sqlite_url
from daemon.store.sqlite_lock import lock_path
from tests.conftest import MakeTocsin
from tests.support import am_alert, am_webhook, make_settings

HOLDER = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o600)
fcntl.flock(fd, fcntl.LOCK_EX)
print("held", flush=True)
sys.stdin.readline()
"""


@contextmanager
def held_by_another_process(db: Path) -> Iterator[None]:
    """Another worker in the middle of its commit: the write lock taken by a separate process."""
    args = [sys.executable, "-c", HOLDER, str(lock_path(db))]
    with subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as holder:
        assert holder.stdin is not None
        assert holder.stdout is not None
        try:
            assert holder.stdout.readline().strip() == "held"
            yield
        finally:
            holder.stdin.close()  # it lets go as it exits
            holder.wait(10)


async def test_a_webhook_waits_for_another_workers_turn_and_is_answered_503_unstored_if_it_outlasts_it(
    make_tocsin: MakeTocsin, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, {"channels": None})
    tocsin = await make_tocsin(settings=settings, store=SqliteStore(settings.store, shared=True, write_timeout=0.5))
    db = parse_sqlite_url(settings.store)[0]
    body = am_webhook(am_alert("DiskFull", "db", instance="db-1"))

    with held_by_another_process(db):
        response = await tocsin.post_alertmanager(body)
        assert response.status == 503, await response.text()
        assert response.headers["Retry-After"]
        assert (await response.json())["error"]
    # Withdrawn while it waited: nothing of it was written when the turn came.
    assert await tocsin.incidents() == []
    assert (await tocsin.api("GET", "/api/v1/alerts"))["alerts"] == []

    # Alertmanager sends it again: stored now, one incident.
    response = await tocsin.post_alertmanager(body)
    assert response.status == 200, await response.text()
    (incident,) = await tocsin.incidents()
    assert incident["service"] == "db"


async def test_two_workers_writing_one_file_at_once_store_every_alert_and_one_incident_per_service(
    make_tocsin: MakeTocsin, tmp_path: Path
) -> None:
    settings = make_settings(tmp_path, {"channels": None})
    workers = [await make_tocsin(settings=settings, store=SqliteStore(settings.store, shared=True)) for _ in range(2)]
    # Both workers get alerts of the same services at once, as the kernel spreads Alertmanager's connections.
    bodies = [
        am_webhook(*(am_alert("Lag", f"svc-{n % 4}", severity="warning", instance=f"{n}-{i}") for i in range(10)))
        for n in range(40)
    ]
    responses = await asyncio.gather(
        *(workers[n % 2].post_alertmanager(body) for n, body in enumerate(bodies)),
    )
    assert [r.status for r in responses] == [200] * 40
    for worker in workers:
        incidents = await worker.incidents()
        assert sorted(i["service"] for i in incidents) == [f"svc-{s}" for s in range(4)]
        assert {i["alert_count"] for i in incidents} == {100}


async def test_shared_stores_give_back_the_switch_interval_whatever_order_they_close_in(tmp_path: Path) -> None:
    # Shared stores shorten the process's GIL switch interval while open (their writer holds every worker's
    # turn); a process that opens several (a test run) must get its own interval back once the last one closes.
    before = sys.getswitchinterval()
    url = f"sqlite:///{tmp_path}/switch.db"
    first, second = SqliteStore(url, shared=True), SqliteStore(url, shared=True)
    await first.open()
    await second.open()
    assert sys.getswitchinterval() < before
    await first.close()
    assert sys.getswitchinterval() < before  # the second is still open
    await second.close()
    assert sys.getswitchinterval() == before
