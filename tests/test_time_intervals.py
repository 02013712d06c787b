"""Alertmanager's time_intervals, evaluated by hand-written expectations (shared by rotations and maintenance)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from daemon.engine.silencing import WindowsByMinute, window_active
from rules.oncall import MaintenanceWindow
from rules.time_intervals import TimeInterval


def interval(**spec: Any) -> TimeInterval:
    return TimeInterval.model_validate(spec)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


PATCHING = {
    "weekdays": ["tuesday"],
    "times": [{"start_time": "02:00", "end_time": "04:00"}],
    "location": "Europe/Berlin",
}


@pytest.mark.parametrize(
    ("moment", "inside"),
    [
        ("2026-11-24T01:00:00+00:00", True),  # Tuesday 02:00 in Berlin (CET, UTC+1)
        ("2026-11-24T02:59:59+00:00", True),  # 03:59:59 Berlin
        ("2026-11-24T03:00:00+00:00", False),  # 04:00 Berlin: end_time is exclusive
        ("2026-11-24T00:59:59+00:00", False),  # 01:59:59 Berlin
        ("2026-07-07T00:00:00+00:00", True),  # summer (CEST, UTC+2): 02:00 Berlin is 00:00Z
        ("2026-11-25T01:30:00+00:00", False),  # Wednesday
    ],
)
def test_maintenance_window_in_berlin(moment: str, inside: bool) -> None:
    assert interval(**PATCHING).contains(at(moment)) is inside


def test_weekday_ranges_days_of_month_from_the_end_months_and_years() -> None:
    workdays = interval(weekdays=["monday:friday"])
    assert workdays.contains(at("2026-11-27T12:00:00+00:00"))  # Friday
    assert not workdays.contains(at("2026-11-28T12:00:00+00:00"))  # Saturday
    last_days = interval(days_of_month=["-3:-1"])
    assert last_days.contains(at("2026-02-26T00:00:00+00:00"))  # February 2026 has 28 days: 26, 27, 28
    assert not last_days.contains(at("2026-02-25T23:59:00+00:00"))
    assert last_days.contains(at("2026-01-29T00:00:00+00:00"))  # 31-day January: 29, 30, 31
    summer = interval(months=["may:august"], years=["2026"])
    assert summer.contains(at("2026-08-31T23:00:00+00:00"))
    assert not summer.contains(at("2026-09-01T00:00:00+00:00"))
    assert not summer.contains(at("2027-06-01T00:00:00+00:00"))


def test_unquoted_yaml_times_are_taken_as_minutes() -> None:
    # YAML 1.1 reads `end_time: 17:00` unquoted as 1020.
    evening = interval(times=[{"start_time": 1020, "end_time": "24:00"}])
    assert evening.contains(at("2026-11-24T17:00:00+00:00"))
    assert evening.contains(at("2026-11-24T23:59:59+00:00"))
    assert not evening.contains(at("2026-11-24T16:59:59+00:00"))


def test_an_interval_without_location_is_utc_unless_the_caller_gives_its_zone() -> None:
    nine_to_six = interval(times=[{"start_time": "09:00", "end_time": "18:00"}])
    assert nine_to_six.contains(at("2026-11-24T08:30:00+00:00"), "Europe/Berlin")  # 09:30 Berlin
    assert not nine_to_six.contains(at("2026-11-24T08:30:00+00:00"))


@pytest.mark.parametrize(
    "spec",
    [
        {"weekdays": ["friday:monday"]},
        {"weekdays": ["1"]},
        {"days_of_month": ["0"]},
        {"days_of_month": ["-1:5"]},
        {"months": ["13"]},
        {"times": [{"start_time": "18:00", "end_time": "09:00"}]},
        {"times": [{"start_time": "25:00", "end_time": "26:00"}]},
        {"location": "Mars/Olympus"},
        {"hours": ["1"]},
    ],
)
def test_bad_intervals_are_refused(spec: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        interval(**spec)


@settings(max_examples=400, deadline=None, derandomize=True, database=None)
@given(st.lists(st.integers(0, 8 * 24 * 3600 - 1), min_size=1, max_size=30))
def test_windows_remembered_by_minute_answer_as_if_evaluated_each_time(seconds: list[int]) -> None:
    # The engine asks which windows are in force once per decision, remembering the answer for its minute; asked
    # at any second, in any order, it must answer as the intervals themselves do (boundaries are minutes).
    windows = [
        MaintenanceWindow.model_validate(
            {"name": "patching", "matchers": ['team="storage"'], "time_intervals": [PATCHING]}
        ),
        MaintenanceWindow.model_validate(
            {
                "name": "nights",
                "matchers": ["env=prod"],
                "time_intervals": [{"times": [{"start_time": "23:59", "end_time": "24:00"}]}],
            }
        ),
    ]
    memo = WindowsByMinute(windows)
    start = datetime(2026, 11, 23, 0, 0, tzinfo=UTC)
    for s in seconds:
        now = start + timedelta(seconds=s, microseconds=s % 997)
        assert [w.name for w in memo.at(now)] == [w.name for w in windows if window_active(w, now)]
