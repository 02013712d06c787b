"""Who is on call across the configured schedules: the rows of /api/v1/oncall and the shifts of a schedule.

Pure: configuration, overrides and a time in; plain values out. The API, the calendar feed and (when people are
paged) the engine read the same answers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from daemon.config.settings import Settings
from rules.rotation import Override, Segment, on_call, segments


@dataclass(frozen=True, slots=True)
class OnCallRow:
    schedule: str
    rotation: str
    current: Segment
    next: Segment | None


@dataclass(frozen=True, slots=True)
class Shift:
    rotation: str
    person: str
    start: datetime
    end: datetime
    override: str | None


def _of(overrides: Iterable[Override], rotation: str) -> list[Override]:
    return [o for o in overrides if o.rotation == rotation]


def oncall_rows(settings: Settings, overrides: Mapping[str, Sequence[Override]], at: datetime) -> list[OnCallRow]:
    """One row per rotation of every schedule (``overrides`` by schedule name)."""
    rows = []
    for name, schedule in settings.schedules.items():
        for rotation_name, rotation in schedule.rotations.items():
            mine = _of(overrides.get(name, ()), rotation_name)
            current, upcoming = on_call(rotation, schedule.timezone, mine, at)
            rows.append(OnCallRow(name, rotation_name, current, upcoming))
    return rows


def shifts(
    settings: Settings, schedule_name: str, overrides: Sequence[Override], start: datetime, end: datetime
) -> list[Shift]:
    """Every stretch someone is on call in ``[start, end)``, overrides applied, in time order (gaps left out)."""
    schedule = settings.schedules[schedule_name]
    found = [
        Shift(rotation_name, s.person, s.start, s.end, s.override)
        for rotation_name, rotation in schedule.rotations.items()
        for s in segments(rotation, schedule.timezone, _of(overrides, rotation_name), start, end)
        if s.person is not None
    ]
    return sorted(found, key=lambda s: (s.start, s.rotation))
