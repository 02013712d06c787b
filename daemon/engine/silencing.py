"""Which silences and maintenance windows hold an alert now, and when they let go (DESIGN §12). Pure.

A maintenance window acts as a silence named ``maintenance:<name>``, in force while ``now`` lies in one of its
``time_intervals`` (the evaluator the schedules' ``active`` uses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from rules.matchers import matches_all
from rules.oncall import MaintenanceWindow
from rules.silences import Silence
from rules.time_intervals import in_any

WINDOW_PREFIX = "maintenance:"
# The owner of the timers that resume a ladder which ran out while its incident was silenced.
RESUME_OWNER = "resume"
# A window's end is searched minute by minute (its times are whole minutes) up to this far ahead.
WINDOW_HORIZON = timedelta(days=31)


def window_id(window: MaintenanceWindow) -> str:
    return f"{WINDOW_PREFIX}{window.name}"


def window_active(window: MaintenanceWindow, now: datetime) -> bool:
    return in_any(window.time_intervals, now)


def window_end(window: MaintenanceWindow, now: datetime) -> datetime:
    """The first minute boundary after ``now`` at which the window is no longer in force."""
    at = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    limit = now + WINDOW_HORIZON
    while at < limit and window_active(window, at):
        at += timedelta(minutes=1)
    return at


def silenced_by(
    silences: Iterable[Silence], windows: Iterable[MaintenanceWindow], labels: Mapping[str, str], now: datetime
) -> list[str]:
    """The ids of the silences and windows that hold alerts with these labels at ``now`` (empty: none)."""
    found = [s.id for s in silences if s.silences(labels, now)]
    found += [window_id(w) for w in windows if matches_all(w.matchers, labels) and window_active(w, now)]
    return found


def held_until(
    silences: Iterable[Silence], windows: Iterable[MaintenanceWindow], labels: Mapping[str, str], now: datetime
) -> datetime | None:
    """When the earliest of the silences and windows holding these labels ends (None: nothing holds them).

    The earliest, not the latest: at that moment a sweep looks again, and waits for the next end if another
    one still holds them."""
    ends = [s.ends_at for s in silences if s.silences(labels, now)]
    ends += [window_end(w, now) for w in windows if matches_all(w.matchers, labels) and window_active(w, now)]
    return min(ends) if ends else None
