"""Who is on call, against expectations written out by hand (UTC instants worked out on paper, not by the code)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rules.oncall import Rotation
from rules.rotation import Override, Segment, on_call, segments, wall_to_utc
from rules.time_intervals import zone

BERLIN = "Europe/Berlin"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def rotation(**spec: Any) -> Rotation:
    return Rotation.model_validate(spec)


PRIMARY = rotation(people=["alice", "bob", "carol"], shift="1w", handoff="mon 09:00", start="2026-01-05")
DAYTIME = rotation(
    people=["carol", "alice"],
    shift="1d",
    handoff="09:00",
    start="2026-01-05",
    active=[{"weekdays": ["monday:friday"], "times": [{"start_time": "09:00", "end_time": "18:00"}]}],
)


def plain(found: list[Segment]) -> list[tuple[str, str, str | None]]:
    return [(s.start.strftime("%Y-%m-%dT%H:%MZ"), s.end.strftime("%Y-%m-%dT%H:%MZ"), s.person) for s in found]


def test_weekly_monday_handoff_stays_at_nine_in_berlin_across_both_dst_changes() -> None:
    # 2026-03-23 is week 11 after 2026-01-05 (carol); Berlin is UTC+1 until 2026-03-29, UTC+2 until 2026-10-25.
    spring = segments(PRIMARY, BERLIN, [], utc("2026-03-23T00:00Z"), utc("2026-04-06T12:00Z"))
    assert plain(spring) == [
        ("2026-03-23T00:00Z", "2026-03-23T08:00Z", "bob"),
        ("2026-03-23T08:00Z", "2026-03-30T07:00Z", "carol"),
        ("2026-03-30T07:00Z", "2026-04-06T07:00Z", "alice"),
        ("2026-04-06T07:00Z", "2026-04-06T12:00Z", "bob"),
    ]
    # 2026-10-19 is week 41 (41 mod 3 = 2: carol); after 2026-10-25 Berlin is UTC+1 again.
    autumn = segments(PRIMARY, BERLIN, [], utc("2026-10-19T12:00Z"), utc("2026-10-26T12:00Z"))
    assert plain(autumn) == [
        ("2026-10-19T12:00Z", "2026-10-26T08:00Z", "carol"),
        ("2026-10-26T08:00Z", "2026-10-26T12:00Z", "alice"),
    ]


def test_daily_rotation_restricted_to_weekdays_nine_to_six() -> None:
    # 2026-11-23 (Monday) is day 322 after 2026-01-05: even, carol; Tuesday alice. Berlin is UTC+1 in November.
    week = segments(DAYTIME, BERLIN, [], utc("2026-11-23T00:00Z"), utc("2026-11-24T23:00Z"))
    assert plain(week) == [
        ("2026-11-23T00:00Z", "2026-11-23T08:00Z", None),
        ("2026-11-23T08:00Z", "2026-11-23T17:00Z", "carol"),
        ("2026-11-23T17:00Z", "2026-11-24T08:00Z", None),
        ("2026-11-24T08:00Z", "2026-11-24T17:00Z", "alice"),
        ("2026-11-24T17:00Z", "2026-11-24T23:00Z", None),
    ]
    # Friday 2026-11-27 (day 326, carol) to Monday 2026-11-30 (day 329, alice): the weekend is one gap.
    weekend = segments(DAYTIME, BERLIN, [], utc("2026-11-27T12:00Z"), utc("2026-11-30T12:00Z"))
    assert plain(weekend) == [
        ("2026-11-27T12:00Z", "2026-11-27T17:00Z", "carol"),
        ("2026-11-27T17:00Z", "2026-11-30T08:00Z", None),
        ("2026-11-30T08:00Z", "2026-11-30T12:00Z", "alice"),
    ]


def test_twelve_hour_shifts_are_elapsed_time_across_dst() -> None:
    twelve = rotation(people=["alice", "bob"], shift="12h", handoff="09:00", start="2026-03-28")
    # Anchor 2026-03-28 09:00 CET = 08:00Z; then every 12 hours of real time, so 10:00 and 22:00 CEST after.
    found = segments(twelve, BERLIN, [], utc("2026-03-28T08:00Z"), utc("2026-03-29T20:00Z"))
    assert plain(found) == [
        ("2026-03-28T08:00Z", "2026-03-28T20:00Z", "alice"),
        ("2026-03-28T20:00Z", "2026-03-29T08:00Z", "bob"),
        ("2026-03-29T08:00Z", "2026-03-29T20:00Z", "alice"),
    ]


def test_times_before_start_belong_to_negative_shifts() -> None:
    # Shift -1 began Monday 2025-12-29 09:00 CET = 08:00Z and is people[-1 mod 3] = carol; shift -2 bob.
    found = segments(PRIMARY, BERLIN, [], utc("2025-12-22T00:00Z"), utc("2026-01-05T08:00Z"))
    assert plain(found) == [
        ("2025-12-22T00:00Z", "2025-12-22T08:00Z", "alice"),
        ("2025-12-22T08:00Z", "2025-12-29T08:00Z", "bob"),
        ("2025-12-29T08:00Z", "2026-01-05T08:00Z", "carol"),
    ]


def test_a_handoff_in_the_dst_gap_happens_just_after_it_and_an_ambiguous_one_at_its_first_occurrence() -> None:
    berlin = zone(BERLIN)
    # 2026-03-29: clocks go from 02:00 CET to 03:00 CEST (01:00Z); 02:30 does not exist.
    assert wall_to_utc(datetime(2026, 3, 29, 2, 30), berlin) == utc("2026-03-29T01:00Z")
    # 2026-10-25: 02:30 happens twice; the first is CEST, 00:30Z.
    assert wall_to_utc(datetime(2026, 10, 25, 2, 30), berlin) == utc("2026-10-25T00:30Z")
    nightly = rotation(people=["alice", "bob"], shift="1d", handoff="02:30", start="2026-03-27")
    found = segments(nightly, BERLIN, [], utc("2026-03-28T12:00Z"), utc("2026-03-30T12:00Z"))
    assert [s.start.strftime("%Y-%m-%dT%H:%MZ") for s in found] == [
        "2026-03-28T12:00Z",
        "2026-03-29T01:00Z",
        "2026-03-30T00:30Z",
    ]


def ov(seq: int, person: str, start: str, end: str) -> Override:
    return Override(f"ovr-{seq}", seq, "primary", person, utc(start), utc(end))


def test_an_override_stands_in_for_its_interval_and_the_later_of_two_wins() -> None:
    # Week of 2026-11-23 (week 46, 46 mod 3 = 1): bob.
    window = (utc("2026-11-24T00:00Z"), utc("2026-11-26T00:00Z"))
    one = ov(1, "alice", "2026-11-24T10:00Z", "2026-11-25T10:00Z")
    assert plain(segments(PRIMARY, BERLIN, [one], *window)) == [
        ("2026-11-24T00:00Z", "2026-11-24T10:00Z", "bob"),
        ("2026-11-24T10:00Z", "2026-11-25T10:00Z", "alice"),
        ("2026-11-25T10:00Z", "2026-11-26T00:00Z", "bob"),
    ]
    later = ov(2, "carol", "2026-11-25T00:00Z", "2026-11-25T12:00Z")
    found = segments(PRIMARY, BERLIN, [later, one], *window)
    assert plain(found) == [
        ("2026-11-24T00:00Z", "2026-11-24T10:00Z", "bob"),
        ("2026-11-24T10:00Z", "2026-11-25T00:00Z", "alice"),
        ("2026-11-25T00:00Z", "2026-11-25T12:00Z", "carol"),
        ("2026-11-25T12:00Z", "2026-11-26T00:00Z", "bob"),
    ]
    assert (found[2].override, found[2].instead_of) == ("ovr-2", "bob")
    # Deleting the overrides restores the rotation.
    assert plain(segments(PRIMARY, BERLIN, [], *window)) == [("2026-11-24T00:00Z", "2026-11-26T00:00Z", "bob")]


def test_an_override_covers_time_outside_active() -> None:
    saturday = Override("o", 1, "daytime", "bob", utc("2026-11-28T10:00Z"), utc("2026-11-28T14:00Z"))
    found = segments(DAYTIME, BERLIN, [saturday], utc("2026-11-28T00:00Z"), utc("2026-11-29T00:00Z"))
    assert plain(found) == [
        ("2026-11-28T00:00Z", "2026-11-28T10:00Z", None),
        ("2026-11-28T10:00Z", "2026-11-28T14:00Z", "bob"),
        ("2026-11-28T14:00Z", "2026-11-29T00:00Z", None),
    ]
    assert found[1].instead_of is None


def test_who_is_on_call_now_and_next() -> None:
    current, upcoming = on_call(PRIMARY, BERLIN, [], utc("2026-11-25T12:00Z"))
    assert (current.person, current.start, current.end) == ("bob", utc("2026-11-23T08:00Z"), utc("2026-11-30T08:00Z"))
    assert upcoming is not None
    assert (upcoming.person, upcoming.start) == ("carol", utc("2026-11-30T08:00Z"))
    # In a gap, next is the first person after it.
    gap, after = on_call(DAYTIME, BERLIN, [], utc("2026-11-28T12:00Z"))
    assert gap.person is None
    assert after is not None
    assert (after.person, after.start) == ("alice", utc("2026-11-30T08:00Z"))
