"""People, on-call schedules and maintenance windows, as they appear in tocsin.yml."""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, Field, field_validator, model_validator

from rules.models import StrictModel
from rules.time_intervals import TimeInterval, zone
from rules.types import ChannelName, Duration, MatcherField

_NAME = re.compile(r"^[a-z0-9_]+$")
_HANDOFF = re.compile(r"^(?:(mon|tue|wed|thu|fri|sat|sun) )?(\d{2}):(\d{2})$")
HANDOFF_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _name(value: str) -> str:
    if not _NAME.match(value):
        raise ValueError(f"bad name {value!r} (lower-case letters, digits and '_' only)")
    return value


Name = Annotated[str, AfterValidator(_name)]


class PersonStep(StrictModel):
    after: Duration
    contacts: list[ChannelName] = Field(min_length=1)


class Person(StrictModel):
    name: str = Field(min_length=1)
    contacts: list[ChannelName] = Field(min_length=1)
    # Their own ladder while the incident stays unacknowledged; without one, every contact at once.
    notify: list[PersonStep] = Field(default_factory=list)

    @model_validator(mode="after")
    def _steps(self) -> Person:
        for i, step in enumerate(self.notify):
            if i and step.after < self.notify[i - 1].after:
                raise ValueError(f"notify[{i}].after is earlier than notify[{i - 1}].after")
            for contact in step.contacts:
                if contact not in self.contacts:
                    raise ValueError(f"notify[{i}].contacts: {contact!r} is not one of this person's contacts")
        return self


class Rotation(StrictModel):
    people: list[Name] = Field(min_length=1)
    shift: Duration
    handoff: str
    start: date
    active: list[TimeInterval] = Field(default_factory=list)

    @field_validator("shift")
    @classmethod
    def _shift(cls, value: timedelta) -> timedelta:
        # Days and weeks are counted on the wall clock, hours as elapsed time: either way a whole number of them.
        if value <= timedelta(0) or value % timedelta(hours=1):
            raise ValueError("shift must be a positive whole number of hours, days or weeks (12h, 1d, 1w)")
        return value

    @field_validator("handoff", mode="before")
    @classmethod
    def _handoff(cls, value: Any) -> str:
        if isinstance(value, int) and not isinstance(value, bool):  # YAML 1.1's sexagesimal 09:00 -> 540
            value = f"{value // 60:02d}:{value % 60:02d}"
        if not isinstance(value, str) or not (match := _HANDOFF.match(value.strip().lower())):
            raise ValueError(f'bad handoff {value!r} (expected "HH:MM" or, for weekly shifts, "mon 09:00")')
        if int(match.group(2)) > 23 or int(match.group(3)) > 59:
            raise ValueError(f"bad handoff {value!r}")
        return match.group(0)

    @model_validator(mode="after")
    def _weekday_needs_weeks(self) -> Rotation:
        if " " in self.handoff and self.shift % timedelta(weeks=1):
            raise ValueError("a handoff with a weekday needs a shift of whole weeks")
        return self


class Schedule(StrictModel):
    timezone: str
    rotations: dict[Name, Rotation] = Field(min_length=1)
    handoff_notice: Duration | None = None
    # Raising it revokes every calendar feed URL handed out before.
    calendar_generation: int = Field(default=0, ge=0)

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        zone(value)
        return value


class MaintenanceWindow(StrictModel):
    name: str = Field(min_length=1)
    matchers: list[MatcherField] = Field(min_length=1)
    time_intervals: list[TimeInterval] = Field(min_length=1)


def parse_target(target: str) -> tuple[str, str, str]:
    """A level's notify entry: ("channel", tag, ""), ("oncall", schedule, rotation) or ("person", name, "")."""
    if target.startswith("oncall:"):
        schedule, _, rotation = target.removeprefix("oncall:").partition("/")
        return "oncall", schedule, rotation
    if target.startswith("person:"):
        return "person", target.removeprefix("person:"), ""
    return "channel", target, ""
