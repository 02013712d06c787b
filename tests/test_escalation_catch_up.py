# ruff: noqa: RUF001 - the pages write level ranges with an en dash, as people do
"""Catch-up after downtime (DESIGN §6): a timer firing late pages the one level due now, naming those it passed.

The clock jumps with no tick in between, as when tocsin was stopped: the escalation timer stored at declaration
fires once, long after its level fell due, like the first timer claim after a restart."""

from __future__ import annotations

import pytest

from tests.sinks import HttpSink
from tests.support import SEV1, Tocsin, am_alert, am_webhook

from .conftest import MakeTocsin

pytestmark = pytest.mark.both_stores

# page-hard: level 0 at 0m (primary), 1 at 5m (primary + secondary), 2 at 15m (manager); round 2 starts 10m after
# the last level (25m): its levels at 25m, 30m and 40m.
MANAGER, PRIMARY, SECONDARY = "eng-manager", "oncall-primary", "oncall-secondary"


def pages(sink: HttpSink) -> tuple[int, int, int]:
    return sink.count(PRIMARY), sink.count(SECONDARY), sink.count(MANAGER)


def escalated(incident: dict[str, object]) -> list[str]:
    timeline = incident["timeline"]
    assert isinstance(timeline, list)
    return [e["text"] for e in timeline if e["kind"] == "escalated"]


def escalations(t: Tocsin, level: int) -> float | None:
    return t.registry.get_sample_value("tocsin_escalations_total", {"level": str(level)})


async def test_ladder_resumes_with_the_one_level_due_now(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    assert pages(http_sink) == (1, 0, 0)  # a declaration is not downtime: level 0 pages at once

    await paging.tick(32 * 60)  # down past levels 1-2 of round 1 and level 0 of round 2; level 1 of round 2 due
    # One page: round 2's level 1 (primary and secondary), not the four steps that fell due meanwhile.
    assert pages(http_sink) == (2, 1, 0)
    [late] = http_sink.received["/oncall-secondary"]
    assert late["message"].startswith("Unacknowledged for 32m — escalating to level 1 of round 2.\n")
    assert (
        "Levels 1–2 of round 1 and level 0 of round 2 passed while tocsin was down; this page is level 1 of round 2."
        in late["message"]
    )
    assert http_sink.received["/oncall-primary"][1]["message"] == late["message"]
    assert escalated(await paging.incident("INC-2026-0001"))[-1] == (
        "paged level 1 (round 2) of page-hard: oncall-primary, oncall-secondary "
        "(levels 1–2 of round 1 and level 0 of round 2 passed while tocsin was down)"
    )

    # Then the ladder goes on as usual: level 2 of round 2 at 40m, on time, naming nothing skipped; then the end.
    await paging.tick(7.9 * 60)
    assert pages(http_sink) == (2, 1, 0)
    await paging.tick(0.1 * 60)
    assert pages(http_sink) == (2, 1, 1)
    [last] = http_sink.received["/eng-manager"]
    assert "passed while tocsin was down" not in last["message"]
    assert escalated(await paging.incident("INC-2026-0001"))[-1] == "paged level 2 (round 2) of page-hard: eng-manager"
    await paging.tick(3600)
    assert pages(http_sink) == (2, 1, 1)
    # Skipped levels page no one and are not counted as escalations.
    assert (escalations(paging, 0), escalations(paging, 1), escalations(paging, 2)) == (1, 1, 1)


async def test_down_past_every_level_pages_the_last_one_once(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    await paging.tick(40 * 60)  # past several levels and a round: the last level of the last round is due
    assert pages(http_sink) == (1, 0, 1)
    [page] = http_sink.received["/eng-manager"]
    assert (
        "Levels 1–2 of round 1 and levels 0–1 of round 2 passed while tocsin was down; "
        "this page is level 2 of round 2." in page["message"]
    )
    # The skipped steps count as run: the ladder has finished its rounds and pages nobody again.
    for _ in range(6):
        await paging.tick(10 * 60)
    assert pages(http_sink) == (1, 0, 1)
    incident = await paging.incident("INC-2026-0001")
    assert len(escalated(incident)) == 2


async def test_a_level_with_nobody_to_page_is_not_an_escalation(make_tocsin: MakeTocsin, http_sink: HttpSink) -> None:
    # Levels 0 and 1 name only the weekday-only daytime rotation, which has nobody on call on a Sunday (the
    # clock's day); level 2 pages the manager.
    nobody = {"after": "0s", "notify": ["oncall:platform/daytime"]}
    policy = {"levels": [nobody, {**nobody, "after": "5m"}, {"after": "15m", "notify": [MANAGER]}]}
    paging = await make_tocsin(
        {"notify": {"retries": 0, "timeout": "5s"}, "policies": {"page-platform": policy}}, sink=http_sink.address
    )
    await paging.post_alertmanager(am_webhook(am_alert(service="api", team="platform")))
    await paging.tick()
    await paging.tick(5 * 60)
    assert (escalations(paging, 0), escalations(paging, 1)) == (None, None)
    await paging.tick(10 * 60)
    assert http_sink.count(MANAGER) == 1
    assert escalations(paging, 2) == 1
