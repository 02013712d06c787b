"""The on-call API and the calendar feed, on the example's schedules (the injected clock: Sunday 2026-11-22)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from icalendar import Calendar

from tests.redis_server import RedisServer
from tests.support import Tocsin

from .conftest import MakeTocsin


async def test_who_is_on_call_now_and_next(make_tocsin: MakeTocsin) -> None:
    tocsin: Tocsin = await make_tocsin()
    answer = await tocsin.api("GET", "/api/v1/oncall")
    assert answer["at"] == "2026-11-22T07:12:30Z"
    rows = {row["rotation"]: row for row in answer["oncall"]}
    # Week 45 after Monday 2026-01-05 (45 mod 3 = 0); Berlin is UTC+1 in November.
    assert rows["primary"] == {
        "schedule": "platform",
        "rotation": "primary",
        "person": "alice",
        "name": "Alice Ng",
        "since": "2026-11-16T08:00:00Z",
        "until": "2026-11-23T08:00:00Z",
        "override": None,
        "next": {"person": "bob", "at": "2026-11-23T08:00:00Z"},
    }
    assert rows["secondary"]["person"] == "bob"
    # Sunday: the weekday-only rotation has nobody; it is carol's on Monday (day 322, even).
    daytime = rows["daytime"]
    assert (daytime["person"], daytime["name"], daytime["since"], daytime["until"]) == (
        None,
        None,
        "2026-11-20T17:00:00Z",
        "2026-11-23T08:00:00Z",
    )
    assert daytime["next"] == {"person": "carol", "at": "2026-11-23T08:00:00Z"}
    later = await tocsin.api("GET", "/api/v1/oncall?at=2026-11-23T08:00:00Z")
    assert {r["rotation"]: r["person"] for r in later["oncall"]} == {
        "primary": "bob",
        "secondary": "carol",
        "daytime": "carol",
    }


async def test_schedules_and_their_shifts(make_tocsin: MakeTocsin) -> None:
    tocsin: Tocsin = await make_tocsin()
    listing = await tocsin.api("GET", "/api/v1/schedules")
    assert listing == {
        "schedules": [
            {"name": "platform", "timezone": "Europe/Berlin", "rotations": ["primary", "secondary", "daytime"]}
        ]
    }
    one = await tocsin.api("GET", "/api/v1/schedules/platform?from=2026-11-23T00:00:00Z&to=2026-11-24T00:00:00Z")
    assert one["calendar_url"].startswith("http://127.0.0.1:9097/calendar/platform.")
    assert [(s["rotation"], s["person"], s["start"], s["end"]) for s in one["shifts"]] == [
        ("primary", "alice", "2026-11-23T00:00:00Z", "2026-11-23T08:00:00Z"),
        ("secondary", "bob", "2026-11-23T00:00:00Z", "2026-11-23T08:00:00Z"),
        ("daytime", "carol", "2026-11-23T08:00:00Z", "2026-11-23T17:00:00Z"),
        ("primary", "bob", "2026-11-23T08:00:00Z", "2026-11-24T00:00:00Z"),
        ("secondary", "carol", "2026-11-23T08:00:00Z", "2026-11-24T00:00:00Z"),
    ]
    await tocsin.api("GET", "/api/v1/schedules/nope", status=404)
    bad = await tocsin.api("GET", "/api/v1/schedules/platform?from=yesterday", status=400)
    assert "RFC 3339" in bad["error"]["message"]
    await tocsin.api("GET", "/api/v1/schedules/platform?from=2026-11-24T00:00:00Z&to=2026-11-23T00:00:00Z", status=400)
    anonymous = await tocsin.client.get("/api/v1/oncall")
    assert anonymous.status == 401


async def test_the_calendar_feed_parses_and_its_link_cannot_be_forged(make_tocsin: MakeTocsin) -> None:
    tocsin: Tocsin = await make_tocsin()
    url = (await tocsin.api("GET", "/api/v1/schedules/platform"))["calendar_url"]
    path = url.removeprefix("http://127.0.0.1:9097")
    response = await tocsin.client.get(path)  # no API token: calendar apps have only the URL
    assert response.status == 200
    assert response.content_type == "text/calendar"
    calendar = Calendar.from_ical(await response.read())
    events = calendar.walk("VEVENT")
    summaries = {(str(e["SUMMARY"]), e.decoded("DTSTART"), e.decoded("DTEND")) for e in events}
    assert (
        "On call: platform/primary: Alice Ng",
        datetime(2026, 11, 16, 8, tzinfo=UTC),
        datetime(2026, 11, 23, 8, tzinfo=UTC),
    ) in summaries
    # From 14 days back to 90 ahead.
    assert min(e.decoded("DTSTART") for e in events) == datetime(2026, 11, 8, 7, 12, 30, tzinfo=UTC)
    assert max(e.decoded("DTEND") for e in events) == datetime(2027, 2, 20, 7, 12, 30, tzinfo=UTC)
    # UIDs are stable: the same shifts fetched again (an hour later) keep theirs.
    uids = {str(e["UID"]) for e in events if e.decoded("DTSTART") > datetime(2026, 11, 9, tzinfo=UTC)}
    tocsin.clock.advance(3600)
    again = Calendar.from_ical(await (await tocsin.client.get(path)).read())
    assert uids <= {str(e["UID"]) for e in again.walk("VEVENT")}
    assert len(uids) == len([e for e in events if e.decoded("DTSTART") > datetime(2026, 11, 9, tzinfo=UTC)])

    schedule, _, mac = path.removeprefix("/calendar/").removesuffix(".ics").partition(".")
    tampered = await tocsin.client.get(f"/calendar/{schedule}.{mac[::-1]}.ics")
    assert tampered.status == 403
    assert (await tampered.json())["error"]["code"] == "forbidden"
    unknown = await tocsin.client.get(f"/calendar/elsewhere.{mac}.ics")
    assert unknown.status == 404


async def test_raising_the_calendar_generation_revokes_old_feeds(make_tocsin: MakeTocsin) -> None:
    old = await make_tocsin()
    url = (await old.api("GET", "/api/v1/schedules/platform"))["calendar_url"]
    revoked = await make_tocsin({"schedules": {"platform": {"calendar_generation": 1}}})
    assert (await revoked.client.get(url.removeprefix("http://127.0.0.1:9097"))).status == 403
    fresh = (await revoked.api("GET", "/api/v1/schedules/platform"))["calendar_url"]
    assert fresh != url
    assert (await revoked.client.get(fresh.removeprefix("http://127.0.0.1:9097"))).status == 200


WEEK = "from=2026-11-24T00:00:00Z&to=2026-11-26T00:00:00Z"


def primary(shifts: list[dict[str, Any]]) -> list[tuple[str, str, str, str | None]]:
    return [(s["person"], s["start"], s["end"], s["override"]) for s in shifts if s["rotation"] == "primary"]


@pytest.mark.both_stores
async def test_overrides_stand_in_the_later_wins_and_deleting_restores(make_tocsin: MakeTocsin) -> None:
    tocsin: Tocsin = await make_tocsin()
    path = "/api/v1/schedules/platform/overrides"
    one = await tocsin.api(
        "POST",
        path,
        {
            "rotation": "primary",
            "person": "alice",
            "start": "2026-11-24T10:00:00Z",
            "end": "2026-11-25T10:00:00Z",
            "note": "bob at the dentist",
            "actor": "bob",
        },
        status=201,
    )
    assert (one["id"], one["person"], one["note"], one["actor"], one["stale"]) == (
        "ovr-1",
        "alice",
        "bob at the dentist",
        "bob",
        False,
    )
    two = await tocsin.api(
        "POST",
        path,
        {"rotation": "primary", "person": "carol", "start": "2026-11-25T00:00:00+01:00", "end": "2026-11-25T12:00:00Z"},
        status=201,
    )
    assert (two["start"], two["end"]) == ("2026-11-24T23:00:00Z", "2026-11-25T12:00:00Z")
    shown = await tocsin.api("GET", f"/api/v1/schedules/platform?{WEEK}")
    assert primary(shown["shifts"]) == [
        ("bob", "2026-11-24T00:00:00Z", "2026-11-24T10:00:00Z", None),
        ("alice", "2026-11-24T10:00:00Z", "2026-11-24T23:00:00Z", "ovr-1"),
        ("carol", "2026-11-24T23:00:00Z", "2026-11-25T12:00:00Z", "ovr-2"),
        ("bob", "2026-11-25T12:00:00Z", "2026-11-26T00:00:00Z", None),
    ]
    now = await tocsin.api("GET", "/api/v1/oncall?at=2026-11-24T12:00:00Z")
    row = next(r for r in now["oncall"] if r["rotation"] == "primary")
    assert (row["person"], row["override"], row["since"], row["until"]) == (
        "alice",
        "ovr-1",
        "2026-11-24T10:00:00Z",
        "2026-11-24T23:00:00Z",
    )
    assert row["next"] == {"person": "carol", "at": "2026-11-24T23:00:00Z"}
    listed = await tocsin.api("GET", path)
    assert [o["id"] for o in listed["overrides"]] == ["ovr-1", "ovr-2"]
    assert await tocsin.api("DELETE", f"{path}/ovr-2", status=204) == ""
    assert await tocsin.api("DELETE", f"{path}/ovr-1", status=204) == ""
    await tocsin.api("DELETE", f"{path}/ovr-1", status=404)
    shown = await tocsin.api("GET", f"/api/v1/schedules/platform?{WEEK}")
    assert primary(shown["shifts"]) == [("bob", "2026-11-24T00:00:00Z", "2026-11-26T00:00:00Z", None)]


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"rotation": "tertiary"}, "rotation: platform has no rotation 'tertiary'"),
        ({"person": "mallory"}, "person: unknown person 'mallory'"),
        ({"end": "2026-11-24T10:00:00Z"}, "end: must be later than start"),
        ({"end": "2026-11-24T09:00:00Z"}, "end: must be later than start"),
        ({"start": "2026-11-24T10:00:00"}, "start, end: need a time zone"),
    ],
)
async def test_a_bad_override_is_422_and_stores_nothing(
    make_tocsin: MakeTocsin, change: dict[str, str], named: str
) -> None:
    tocsin: Tocsin = await make_tocsin()
    good = {"rotation": "primary", "person": "alice", "start": "2026-11-24T10:00:00Z", "end": "2026-11-25T10:00:00Z"}
    refused = await tocsin.api("POST", "/api/v1/schedules/platform/overrides", {**good, **change}, status=422)
    assert named in refused["error"]["message"]
    assert (await tocsin.api("GET", "/api/v1/schedules/platform/overrides"))["overrides"] == []
    await tocsin.api("POST", "/api/v1/schedules/nope/overrides", good, status=404)


async def test_an_override_through_one_replica_is_used_by_the_other(
    make_tocsin: MakeTocsin, redis_server: RedisServer
) -> None:
    shared = {"store": f"{redis_server.url}?prefix=ovr"}
    one, two = await make_tocsin(shared), await make_tocsin(shared)
    await one.api(
        "POST",
        "/api/v1/schedules/platform/overrides",
        {"rotation": "primary", "person": "carol", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T12:00:00Z"},
        status=201,
    )
    row = next(
        r
        for r in (await two.api("GET", "/api/v1/oncall?at=2026-11-24T11:00:00Z"))["oncall"]
        if r["rotation"] == "primary"
    )
    assert (row["person"], row["override"]) == ("carol", "ovr-1")


async def test_the_calendar_shows_overrides(make_tocsin: MakeTocsin) -> None:
    tocsin: Tocsin = await make_tocsin()
    await tocsin.api(
        "POST",
        "/api/v1/schedules/platform/overrides",
        {"rotation": "primary", "person": "carol", "start": "2026-11-24T10:00:00Z", "end": "2026-11-24T12:00:00Z"},
        status=201,
    )
    url = (await tocsin.api("GET", "/api/v1/schedules/platform"))["calendar_url"]
    feed = Calendar.from_ical(await (await tocsin.client.get(url.removeprefix("http://127.0.0.1:9097"))).read())
    primary_events = sorted(
        (e.decoded("DTSTART"), str(e["SUMMARY"]))
        for e in feed.walk("VEVENT")
        if "platform/primary" in str(e["SUMMARY"]) and e.decoded("DTSTART").day == 24
    )
    assert primary_events == [
        (datetime(2026, 11, 24, 10, tzinfo=UTC), "On call: platform/primary: Carol Diaz (override)"),
        (datetime(2026, 11, 24, 12, tzinfo=UTC), "On call: platform/primary: Bob Okafor"),
    ]
