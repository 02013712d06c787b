"""Which silences and maintenance windows hold an alert now, and when they let go (DESIGN §12). Pure.

A maintenance window acts as a silence named ``maintenance:<name>``, in force while ``now`` lies in one of its
``time_intervals`` (the evaluator the schedules' ``active`` uses)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from rules.matchers import MatchType, matches_all
from rules.oncall import MaintenanceWindow
from rules.silences import Silence, SilenceState
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


class WindowsByMinute:
    """The maintenance windows in force at a time, remembered for its minute: time intervals read times of day to
    the minute, and evaluating them (a time zone conversion per interval) cost ~60 µs per decision, several
    microseconds per alert of a storm, inside the store's write turn."""

    def __init__(self, windows: list[MaintenanceWindow]) -> None:
        self.windows = windows
        # (the time last asked, its minute, the windows in force then): one tuple, replaced whole, so that a
        # decision on another thread reads the old one or the new one.
        self._last: tuple[datetime | None, datetime | None, list[MaintenanceWindow]] = (None, None, [])

    def at(self, now: datetime) -> list[MaintenanceWindow]:
        last = self._last
        if now is last[0] or not self.windows:
            return last[2]  # a decision asks with its own ``now`` for every alert it holds or places
        minute = now.replace(second=0, microsecond=0)
        if minute != last[1]:
            last = (now, minute, [w for w in self.windows if window_active(w, minute)])
        else:
            last = (now, minute, last[2])
        self._last = last
        return last[2]


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
    return ActiveSilences(silences, now).holding(labels) + windows_holding(windows, labels, now)


def windows_holding(windows: Iterable[MaintenanceWindow], labels: Mapping[str, str], now: datetime) -> list[str]:
    return [window_id(w) for w in windows if matches_all(w.matchers, labels) and window_active(w, now)]


def held_until(
    silences: Iterable[Silence], windows: Iterable[MaintenanceWindow], labels: Mapping[str, str], now: datetime
) -> datetime | None:
    """When the earliest of the silences and windows holding these labels ends (None: nothing holds them).

    The earliest, not the latest: at that moment a sweep looks again, and waits for the next end if another
    one still holds them."""
    ends = [s.ends_at for s in silences if s.silences(labels, now)]
    ends += [window_end(w, now) for w in windows if matches_all(w.matchers, labels) and window_active(w, now)]
    return min(ends) if ends else None


class ActiveSilences:
    """The silences in force at one ``now``, indexed by an equality matcher each, so that finding those holding
    an alert costs a lookup per label rather than a scan of every silence (a decision asks once per alert)."""

    def __init__(self, silences: Iterable[Silence], now: datetime) -> None:
        self.by_pair: dict[tuple[str, str], list[tuple[int, Silence]]] = {}
        self.others: list[tuple[int, Silence]] = []
        for i, silence in enumerate(silences):
            if silence.state(now) is not SilenceState.ACTIVE:
                continue
            pair = next(((m.name, m.value) for m in silence.matchers if m.type is MatchType.EQUAL and m.value), None)
            if pair is None:
                self.others.append((i, silence))
            else:
                self.by_pair.setdefault(pair, []).append((i, silence))

    def any(self) -> bool:
        return bool(self.by_pair or self.others)

    def holding(self, labels: Mapping[str, str]) -> list[str]:
        """The ids of those holding alerts with these labels, in the order the silences were given."""
        found = [c for pair in labels.items() for c in self.by_pair.get(pair, ())]
        found += self.others
        return [s.id for _, s in sorted(found, key=lambda c: c[0]) if matches_all(s.matchers, labels)]
