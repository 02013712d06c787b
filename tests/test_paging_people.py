"""Paging the person on call (example config; injected clock Sunday 2026-11-22 07:12:30Z, week 45 after
2026-01-05: primary alice, secondary bob; the weekday-only daytime rotation has nobody on Sundays)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.redis_server import RedisServer
from tests.sinks import HttpSink
from tests.support import Tocsin, am_alert, am_webhook

from .conftest import MakeTocsin

FAST = {"notify": {"retries": 0, "timeout": "5s"}}


def platform_alert() -> dict[str, Any]:
    return am_webhook(am_alert(service="api", team="platform"))


def counts(sink: HttpSink, *tags: str) -> tuple[int, ...]:
    return tuple(sink.count(tag) for tag in tags)


async def timeline(tocsin: Tocsin, incident_id: str = "INC-2026-0001") -> list[str]:
    return [e["text"] for e in (await tocsin.incident(incident_id))["timeline"]]


@pytest.mark.both_stores
async def test_the_schedule_pages_primary_then_secondary_then_carols_own_ladder(
    make_tocsin: MakeTocsin, http_sink: HttpSink
) -> None:
    tocsin = await make_tocsin(FAST, sink=http_sink.address)
    await tocsin.post_alertmanager(platform_alert())
    await tocsin.tick()
    people = ("alice-push", "alice-mail", "bob-push", "bob-mail", "carol-push", "carol-mail", "eng-manager")
    assert counts(http_sink, *people) == (1, 1, 0, 0, 0, 0, 0)
    assert (
        "paged level 0 (round 1) of page-platform: alice (alice-push, alice-mail) — platform/primary: alice"
        in await timeline(tocsin)
    )
    # Level 1 at 5m: the primary again (her ladder starts over) and the secondary.
    await tocsin.tick(5 * 60)
    assert counts(http_sink, *people) == (2, 2, 1, 1, 0, 0, 0)
    # Level 2 at 15m: carol's own ladder (push at once, mail two minutes later) and the manager's channel.
    await tocsin.tick(10 * 60)
    assert counts(http_sink, *people) == (2, 2, 1, 1, 1, 0, 1)
    await tocsin.tick(119)
    assert http_sink.count("carol-mail") == 0
    await tocsin.tick(1)
    assert http_sink.count("carol-mail") == 1
    assert "paged carol (step 1): carol-mail" in await timeline(tocsin)


async def test_acknowledging_through_carols_link_records_carol_and_ends_her_ladder(
    make_tocsin: MakeTocsin, http_sink: HttpSink
) -> None:
    tocsin = await make_tocsin(FAST, sink=http_sink.address)
    await tocsin.post_alertmanager(platform_alert())
    await tocsin.tick()
    await tocsin.tick(15 * 60)
    [push] = http_sink.received["/carol-push"]
    link = re.search(r"Acknowledge: http://127\.0\.0\.1:9097(/ack/\S+)", push["message"])
    assert link is not None
    shown = await tocsin.client.get(link.group(1))
    assert "Acknowledge as Carol Diaz" in await shown.text()
    done = await tocsin.client.post(link.group(1), data={})
    assert done.status == 200
    incident = await tocsin.incident("INC-2026-0001")
    assert (incident["state"], incident["acknowledged_by"]) == ("acknowledged", "carol")
    await tocsin.tick(10 * 60)
    assert http_sink.count("carol-mail") == 0  # her next step was cancelled with the ladder
    # Those already paged hear of the acknowledgement: the contact tags actually sent to.
    # (The clock jumped past level 1, which counts as passed.)
    assert counts(http_sink, "alice-push", "carol-push", "eng-manager") == (2, 2, 2)
    assert http_sink.titles("carol-push")[-1] == "[SEV1] INC-2026-0001 HighErrorRate on api (acknowledged)"


@pytest.mark.both_stores
async def test_a_rotation_gap_is_said_and_counted_and_the_rest_pages(
    make_tocsin: MakeTocsin, http_sink: HttpSink
) -> None:
    gap_policy = {"levels": [{"after": "0s", "notify": ["oncall:platform/daytime", "eng-manager"]},
                             {"after": "5m", "notify": ["oncall:platform/primary"]}]}  # fmt: skip
    tocsin = await make_tocsin({**FAST, "policies": {"page-platform": gap_policy}}, sink=http_sink.address)
    await tocsin.post_alertmanager(platform_alert())
    await tocsin.tick()
    assert "platform/daytime: nobody on call" in await timeline(tocsin)
    assert http_sink.count("eng-manager") == 1
    assert counts(http_sink, "carol-push", "alice-push") == (0, 0)
    counter = "tocsin_pages_without_oncall_total"
    assert tocsin.registry.get_sample_value(counter, {"schedule": "platform", "rotation": "daytime"}) == 1
    await tocsin.tick(5 * 60)  # the ladder went on
    assert http_sink.count("alice-push") == 1


async def test_an_override_made_through_one_replica_pages_on_the_other_once_per_step(
    make_tocsin: MakeTocsin, http_sink: HttpSink, redis_server: RedisServer
) -> None:
    shared = {**FAST, "store": f"{redis_server.url}?prefix=people"}
    one = await make_tocsin(shared, sink=http_sink.address)
    two = await make_tocsin(shared, sink=http_sink.address)
    await one.api(
        "POST",
        "/api/v1/schedules/platform/overrides",
        {"rotation": "primary", "person": "carol", "start": "2026-11-22T00:00:00Z", "end": "2026-11-23T00:00:00Z"},
        status=201,
    )
    await two.post_alertmanager(platform_alert())
    for tocsin in (one, two, one, two):
        await tocsin.tick()
    assert counts(http_sink, "carol-push", "carol-mail", "alice-push") == (1, 0, 0)
    assert "platform/primary: carol (override for alice)" in (await timeline(two))[2]
    # carol's mail step, two minutes on: both replicas look, one pages.
    for tocsin in (one, two):
        tocsin.clock.advance(120)
    await one.tick()
    await two.tick()
    await one.tick()
    assert counts(http_sink, "carol-push", "carol-mail") == (1, 1)
