"""Alertmanager's ``time_intervals`` syntax and its evaluation, shared by rotations' ``active`` and maintenance.

The semantics follow Alertmanager's timeinterval package: every field given must match (fields left out match
anything), ranges are inclusive (``monday:friday``, ``1:5``), ``end_time`` is exclusive, negative days of month
count from the month's end, and ``location`` names the zone the interval is read in (UTC when absent).
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, Field, field_validator, model_validator

from rules.models import StrictModel

WEEKDAYS = {name: i for i, name in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday"))} | {
    "saturday": 5,
    "sunday": 6,
}
MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
DAY_MINUTES = 24 * 60


def _minutes(value: Any) -> int:
    # YAML 1.1 reads an unquoted 17:00 as the sexagesimal number 1020: that is 17:00 in minutes, so take it.
    if isinstance(value, int) and not isinstance(value, bool):
        minutes = value
    elif isinstance(value, str) and (match := _TIME.match(value.strip())):
        minutes = int(match.group(1)) * 60 + int(match.group(2))
        if int(match.group(2)) >= 60:
            raise ValueError(f"bad time {value!r} (expected HH:MM)")
    else:
        raise ValueError(f"bad time {value!r} (expected HH:MM)")
    if not 0 <= minutes <= DAY_MINUTES:
        raise ValueError(f"bad time {value!r} (expected 00:00 to 24:00)")
    return minutes


Minutes = Annotated[int, BeforeValidator(_minutes)]


class TimeRange(StrictModel):
    start_time: Minutes
    end_time: Minutes

    @model_validator(mode="after")
    def _ordered(self) -> TimeRange:
        if self.end_time <= self.start_time:
            raise ValueError("end_time must be later than start_time")
        return self


def _range(text: Any, names: dict[str, int] | None, low: int, high: int, what: str) -> tuple[int, int]:
    """``a`` or ``a:b`` (inclusive), each a number in [low, high] or one of ``names``."""

    def one(part: str) -> int:
        part = part.strip().lower()
        if names is not None and part in names:
            return names[part]
        try:
            number = int(part)
        except ValueError:
            raise ValueError(f"bad {what} {text!r}") from None
        if names is WEEKDAYS or not low <= number <= high or (number == 0 and low < 0):
            raise ValueError(f"bad {what} {text!r}")
        return number

    if isinstance(text, int) and not isinstance(text, bool):
        text = str(text)
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"bad {what} {text!r}")
    first, sep, last = text.partition(":")
    start = one(first)
    end = one(last) if sep else start
    # Negative days of month may pair with negative ones only; a range must not run backwards.
    if (start < 0) != (end < 0) or end < start:
        raise ValueError(f"bad {what} range {text!r}")
    return start, end


class TimeInterval(StrictModel):
    times: list[TimeRange] = Field(default_factory=list)
    weekdays: list[tuple[int, int]] = Field(default_factory=list)
    days_of_month: list[tuple[int, int]] = Field(default_factory=list)
    months: list[tuple[int, int]] = Field(default_factory=list)
    years: list[tuple[int, int]] = Field(default_factory=list)
    location: str | None = None

    @field_validator("weekdays", mode="before")
    @classmethod
    def _weekdays(cls, value: Any) -> list[tuple[int, int]]:
        return [_range(v, WEEKDAYS, 0, 6, "weekday") for v in _list(value)]

    @field_validator("days_of_month", mode="before")
    @classmethod
    def _days(cls, value: Any) -> list[tuple[int, int]]:
        return [_range(v, None, -31, 31, "day of month") for v in _list(value)]

    @field_validator("months", mode="before")
    @classmethod
    def _months(cls, value: Any) -> list[tuple[int, int]]:
        return [_range(v, MONTHS, 1, 12, "month") for v in _list(value)]

    @field_validator("years", mode="before")
    @classmethod
    def _years(cls, value: Any) -> list[tuple[int, int]]:
        return [_range(v, None, 1, 9999, "year") for v in _list(value)]

    @field_validator("location")
    @classmethod
    def _location(cls, value: str | None) -> str | None:
        if value is not None:
            zone(value)
        return value

    def contains(self, at: datetime, default_zone: str = "UTC") -> bool:
        """Whether the aware time ``at`` lies in this interval, read in ``location`` (else ``default_zone``)."""
        local = at.astimezone(zone(self.location or default_zone))
        if self.times:
            minute = local.hour * 60 + local.minute
            if not any(t.start_time <= minute < t.end_time for t in self.times):
                return False
        if self.weekdays and not any(a <= local.weekday() <= b for a, b in self.weekdays):
            return False
        if self.days_of_month:
            days = calendar.monthrange(local.year, local.month)[1]

            def absolute(day: int) -> int:
                return day if day > 0 else days + 1 + day

            if not any(absolute(a) <= local.day <= absolute(b) for a, b in self.days_of_month):
                return False
        if self.months and not any(a <= local.month <= b for a, b in self.months):
            return False
        return not self.years or any(a <= local.year <= b for a, b in self.years)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError("expected a list")
    return value


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (expected an IANA name such as Europe/Berlin)") from None


def in_any(intervals: list[TimeInterval], at: datetime, default_zone: str = "UTC") -> bool:
    return any(interval.contains(at, default_zone) for interval in intervals)
