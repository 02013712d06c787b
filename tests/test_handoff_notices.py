"""Handoff notices: the incoming person hears an hour before their shift (example config, handoff_notice 1h; the
injected clock starts Sunday 2026-11-22 07:12:30Z; Berlin is UTC+1, so Monday's 09:00 handoffs are 08:00Z)."""

from __future__ import annotations

import pytest

from daemon.engine.events import StartedUp
from tests.sinks import HttpSink
from tests.support import Tocsin

from .conftest import MakeTocsin

pytestmark = pytest.mark.both_stores


def told(sink: HttpSink) -> tuple[int, ...]:
    return tuple(sink.count(c) for c in ("alice-push", "bob-push", "bob-mail", "carol-push", "carol-mail"))


async def test_the_incoming_person_is_told_an_hour_before_once(make_tocsin: MakeTocsin, http_sink: HttpSink) -> None:
    tocsin: Tocsin = await make_tocsin({"notify": {"retries": 0, "timeout": "5s"}}, sink=http_sink.address)
    monday_7 = (24 - 7) * 3600 - 12 * 60 - 30 + 7 * 3600  # from Sunday 07:12:30Z to Monday 07:00:00Z
    await tocsin.tick(monday_7 - 1)
    assert told(http_sink) == (0, 0, 0, 0, 0)
    await tocsin.tick(1)
    # Week 46 after 2026-01-05: primary bob takes over from alice, secondary carol from bob; the weekday
    # daytime rotation starts Monday with carol (day 322).
    assert told(http_sink) == (0, 1, 1, 2, 2)
    [to_bob] = http_sink.received["/bob-push"]
    assert to_bob["title"] == "On call from Mon 2026-11-23 09:00 CET: platform/primary"
    assert to_bob["message"] == (
        "Bob Okafor, you are on call for platform/primary from Mon 2026-11-23 09:00 CET, taking over from alice.\n"
        "See who is on call and swap shifts on the board's on-call page, or with `tocsin oncall`.\n"
        "On call: http://127.0.0.1:9097/oncall"
    )
    # A restart (the start-up decision again) and more ticks tell nobody twice.
    await tocsin.services.pipeline.submit(StartedUp())
    await tocsin.tick(60)
    assert told(http_sink) == (0, 1, 1, 2, 2)
    # Tuesday 07:00Z: the daytime rotation's next shift is alice's (day 323).
    await tocsin.tick(24 * 3600 - 60)
    assert told(http_sink) == (1, 1, 1, 2, 2)
    assert http_sink.titles("alice-push") == ["On call from Tue 2026-11-24 09:00 CET: platform/daytime"]


async def test_an_override_is_who_is_told(make_tocsin: MakeTocsin, http_sink: HttpSink) -> None:
    tocsin: Tocsin = await make_tocsin({"notify": {"retries": 0, "timeout": "5s"}}, sink=http_sink.address)
    await tocsin.api(
        "POST",
        "/api/v1/schedules/platform/overrides",
        {"rotation": "primary", "person": "alice", "start": "2026-11-23T08:00:00Z", "end": "2026-11-24T08:00:00Z"},
        status=201,
    )
    await tocsin.tick((24 - 7) * 3600 - 12 * 60 - 30 + 7 * 3600)
    # alice stays on through the override: bob is not told; the others are as before.
    assert http_sink.count("bob-push") == 0
    assert http_sink.count("carol-push") == 2
