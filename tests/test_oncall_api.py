"""The on-call API and the calendar feed, on the example's schedules (the injected clock: Sunday 2026-11-22)."""

from __future__ import annotations

from datetime import UTC, datetime

from icalendar import Calendar

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
