"""The ingest fast path: redeliveries answered without a decision, concurrent twins waiting for one."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from daemon.dedup import SeenReports
from daemon.domain import AlertStatus, Source
from daemon.engine.events import AlertIn
from tests.support import Tocsin, am_alert, am_webhook

pytestmark = pytest.mark.both_stores


def report(fp: str = "a", summary: str = "s") -> AlertIn:
    return AlertIn(
        fp,
        Source.ALERTMANAGER,
        AlertStatus.FIRING,
        {"alertname": "A"},
        {"summary": summary},
        datetime(2026, 11, 22, 7, tzinfo=UTC),
    )


async def test_concurrent_identical_webhooks_make_one_decision(tocsin: Tocsin) -> None:
    body = am_webhook(*[am_alert(instance=f"web-{n}") for n in range(10)])
    responses = await asyncio.gather(*(tocsin.post_alertmanager(body) for _ in range(20)))
    assert [r.status for r in responses] == [200] * 20
    [incident] = await tocsin.incidents()
    detail = await tocsin.incident(incident["id"])
    assert len(detail["alerts"]) == 10
    assert {a["count"] for a in detail["alerts"]} == {1}
    assert [e["kind"] for e in detail["timeline"]].count("alert_joined") == 1
    deduplicated = tocsin.registry.get_sample_value("tocsin_alerts_deduplicated_total", {"source": "alertmanager"})
    assert deduplicated == 190


async def test_a_changed_annotation_is_not_skipped(tocsin: Tocsin) -> None:
    alert = am_alert()
    await tocsin.post_alertmanager(am_webhook(alert))
    changed = {**alert, "annotations": {"summary": "now 9% errors"}}
    await tocsin.post_alertmanager(am_webhook(changed))
    [incident] = await tocsin.incidents()
    [stored] = (await tocsin.incident(incident["id"]))["alerts"]
    assert stored["annotations"] == {"summary": "now 9% errors"}


async def test_twins_of_a_failed_decision_fail_too() -> None:
    seen = SeenReports()
    first = [report()]
    pending = seen.begin(first)
    fresh, waits, known = seen.sort([report(), report("b")])
    assert ([r.fingerprint for r in fresh], len(waits), known) == (["b"], 1, [])
    seen.end(first, pending, {}, ConnectionError("store down"))
    with pytest.raises(ConnectionError):
        await asyncio.gather(*waits)
    # Nothing was remembered: the next identical report is decided again.
    fresh, waits, known = seen.sort([report()])
    assert (len(fresh), waits, known) == (1, [], [])


async def test_memory_stays_bounded() -> None:
    seen = SeenReports(capacity=1000)
    for n in range(5000):
        reports = [report(f"fp{n}")]
        seen.end(reports, seen.begin(reports), {f"fp{n}": 1}, None)
    assert len(seen) <= 1000
    assert len(seen.sort([report("fp4999")])[2]) == 1  # the most recent are kept


async def test_a_waiting_twin_going_away_does_not_break_the_decision(tocsin: Tocsin) -> None:
    body = am_webhook(am_alert(instance="twin"))
    first = asyncio.ensure_future(tocsin.post_alertmanager(body))
    second = asyncio.ensure_future(tocsin.post_alertmanager(body))
    await asyncio.sleep(0)
    second.cancel()
    response = await first
    assert response.status == 200
    assert len(await tocsin.incidents()) == 1
