"""The effects stage under faults: rows that cannot be read, loops that crash, and stopping whatever they did."""

from __future__ import annotations

import asyncio
import time

import pytest

from daemon.effects.backoff import Backoff
from daemon.effects.supervisor import Supervisor
from daemon.services import LOOPS_STOP_WITHIN
from daemon.store.base import Queue, StoreUnavailable
from tests.conftest import MakeTocsin
from tests.damage import write_raw
from tests.sinks import HttpSink
from tests.support import SEV1, Tocsin


@pytest.mark.both_stores
async def test_an_unreadable_row_is_set_aside_and_the_other_timers_fire_on_time(
    make_tocsin: MakeTocsin, http_sink: HttpSink
) -> None:
    t = await make_tocsin({"notify": {"retries": 0}}, sink=http_sink.address, background=True)
    await t.send_fixture(SEV1)
    await http_sink.wait_for("oncall-primary")  # level 0, sent by the outbox loop by itself
    store, now = t.services.store, t.clock.now()
    # A timer of a kind a newer version wrote before a rollback, and an outbox entry the disk damaged.
    newer = b'{"key": "INC-2026-0001/snooze", "kind": "snooze", "incident_id": "INC-2026-0001", "due_at": "x"}'
    await write_raw(store, Queue.TIMERS, "INC-2026-0001/snooze", "INC-2026-0001", newer, now)
    await write_raw(store, Queue.OUTBOX, "INC-2026-0001/damaged", "INC-2026-0001", b'{"key": "INC-2', now)

    t.clock.advance(5 * 60)  # level 1 falls due, after the unreadable timer
    await http_sink.wait_for("oncall-secondary")
    health = await t.client.get("/healthz")
    assert health.status == 200
    loops = (await health.json())["loops"]
    assert {name: loop["state"] for name, loop in loops.items()} == {
        "timers": "running",
        "outbox": "running",
        "retention": "running",
    }
    sample = t.registry.get_sample_value
    assert sample("tocsin_rows_set_aside_total", {"queue": "timers"}) == 1
    assert sample("tocsin_rows_set_aside_total", {"queue": "outbox"}) == 1
    assert sample("tocsin_background_loop_restarts_total", {"loop": "timers", "reason": "crash"}) == 0
    kept = {(row.queue, row.key) for row in await store.set_aside_rows()}
    assert kept == {(Queue.TIMERS, "INC-2026-0001/snooze"), (Queue.OUTBOX, "INC-2026-0001/damaged")}
    # Later timers still fire: the loop lives on.
    t.clock.advance(10 * 60)
    await http_sink.wait_for("eng-manager")


async def until(condition: object, what: str, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not callable(condition) or not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.005)


async def test_a_crashing_loop_is_restarted_counted_and_fails_healthz_until_it_recovers(
    tocsin: Tocsin, capfd: pytest.CaptureFixture[str]
) -> None:
    svc = tocsin.services
    svc.supervisor = supervisor = Supervisor(svc.metrics, crash_backoff=lambda: Backoff(0.01, 0.01))
    broken = True

    async def step() -> None:
        if broken:
            raise RuntimeError("cannot read token=hunter2")  # a text that must not leave the log
        await asyncio.sleep(0.005)

    supervisor.add("flaky", step)
    supervisor.start()
    await until(lambda: supervisor.crash_looping() == ["flaky"], "the loop to crash three times in a row")
    health = await tocsin.client.get("/healthz")
    assert health.status == 503
    body = await health.json()
    assert body["status"] == "crash_looping"
    assert body["loops"]["flaky"]["state"] == "crashed"
    assert body["loops"]["flaky"]["last_error"] == "RuntimeError"
    assert "hunter2" not in await health.text()
    restarts = tocsin.registry.get_sample_value(
        "tocsin_background_loop_restarts_total", {"loop": "flaky", "reason": "crash"}
    )
    assert restarts is not None
    assert restarts >= 3
    out, err = capfd.readouterr()
    assert "loop_crashed" in out + err
    assert "flaky" in out + err

    broken = False  # it recovers: restarted, it runs again
    await until(lambda: not supervisor.crash_looping(), "a step to complete again")
    health = await tocsin.client.get("/healthz")
    assert health.status == 200
    assert (await health.json())["loops"]["flaky"] == {
        "state": "running",
        "restarts": tocsin.registry.get_sample_value(
            "tocsin_background_loop_restarts_total", {"loop": "flaky", "reason": "crash"}
        ),
        "crash_looping": False,
        "last_error": "RuntimeError",
    }


async def test_stopping_is_bounded_and_closes_the_store_whatever_the_loops_did(tocsin: Tocsin) -> None:
    svc = tocsin.services
    svc.supervisor = supervisor = Supervisor(svc.metrics, crash_backoff=lambda: Backoff(0.01, 0.01))
    let_go = asyncio.Event()

    async def crashing() -> None:
        raise KeyError("damaged")

    async def deaf() -> None:
        # Swallows its cancellation, as asyncio.wait_for can on Python 3.11.
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await let_go.wait()

    supervisor.add("crashing", crashing)
    supervisor.add("deaf", deaf)
    supervisor.start()
    await until(lambda: supervisor.crash_looping() == ["crashing"], "the loop to crash")
    await asyncio.sleep(0.01)  # the deaf loop is in its step
    started = time.monotonic()
    await tocsin.client.close()  # the app's cleanup: Services.stop()
    took = time.monotonic() - started
    let_go.set()
    assert took < LOOPS_STOP_WITHIN + 2, f"stop() took {took:.1f}s"
    # The store was closed all the same: it takes no more writes.
    with pytest.raises(StoreUnavailable):
        await svc.store.release_timers("t", ["INC-2026-0001/escalate"], tocsin.clock.now())
