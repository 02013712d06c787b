"""Who is on call: pure arithmetic over a rotation, its schedule's time zone, overrides and a time.

Shift ``k`` (any integer, negative before ``start``) begins at the first ``handoff`` on or after ``start`` plus
``k`` shifts and belongs to ``people[k mod n]``. Shifts of days or weeks are counted on the wall clock of the
schedule's zone (a Monday 09:00 handoff stays 09:00 across DST); shifts of hours are elapsed time. A wall-clock
handoff that does not exist (a DST gap) happens just after the gap; an ambiguous one at its first occurrence.
``active`` restricts a rotation to those times; an override covers all of its ``[start, end)``, and where
overrides overlap the one with the higher sequence number (created last) wins.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from rules.oncall import HANDOFF_DAYS, Rotation
from rules.time_intervals import TimeInterval, zone

DAY = timedelta(days=1)
# How far `next` looks for a different person.
NEXT_HORIZON = timedelta(days=90)


@dataclass(frozen=True, slots=True)
class Override:
    """One person standing in on a rotation for ``[start, end)``; ``seq`` orders overlapping ones."""

    id: str
    seq: int
    rotation: str
    person: str
    start: datetime
    end: datetime


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of time with one answer to "who is on call": ``person`` None is a gap."""

    start: datetime
    end: datetime
    person: str | None
    override: str | None = None  # the override's id when one stands in
    instead_of: str | None = None  # whom the override stands in for (None: it fills a gap)


def wall_to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    """A wall-clock time in ``tz`` as a UTC instant: ambiguous → first occurrence, nonexistent → the gap's end."""
    first = naive.replace(tzinfo=tz, fold=0)
    as_utc = first.astimezone(UTC)
    if as_utc.astimezone(tz).replace(tzinfo=None) == naive:
        return as_utc
    # In a gap: the instant the clocks jumped lies between the two readings; find it to the second.
    low = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = as_utc
    if low > high:
        low, high = high, low
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= naive:
            high = mid
        else:
            low = mid
    return high.replace(microsecond=0)


class RotationClock:
    """Shift boundaries of one rotation in one zone."""

    def __init__(self, rotation: Rotation, timezone: str) -> None:
        self.rotation = rotation
        self.tz = zone(timezone)
        self.wall = rotation.shift % DAY == timedelta(0)
        weekday, _, hhmm = rotation.handoff.rpartition(" ")
        hours, minutes = (int(x) for x in hhmm.split(":"))
        self._time = time(hours, minutes)
        first = rotation.start
        if weekday:
            first += timedelta(days=(HANDOFF_DAYS.index(weekday) - first.weekday()) % 7)
        self._first_day: date = first
        self._anchor = wall_to_utc(datetime.combine(first, self._time), self.tz)

    def shift_start(self, k: int) -> datetime:
        if self.wall:
            day = self._first_day + k * timedelta(days=self.rotation.shift // DAY)
            return wall_to_utc(datetime.combine(day, self._time), self.tz)
        return self._anchor + k * self.rotation.shift

    def shift_index(self, at: datetime) -> int:
        """The k whose shift holds ``at``."""
        k = (at - self._anchor) // self.rotation.shift
        # DST moves a wall-clock boundary by an hour at most: the estimate is off by one at most.
        while self.shift_start(k) > at:
            k -= 1
        while self.shift_start(k + 1) <= at:
            k += 1
        return k

    def person(self, k: int) -> str:
        return self.rotation.people[k % len(self.rotation.people)]


def _active_spans(
    intervals: Sequence[TimeInterval], start: datetime, end: datetime, tz: str
) -> list[tuple[datetime, datetime]]:
    """The parts of ``[start, end)`` inside any of ``intervals`` (each read in its location, else ``tz``)."""
    spans: list[tuple[datetime, datetime]] = []
    for interval in intervals:
        z = zone(interval.location or tz)
        day = start.astimezone(z).date() - DAY
        last = end.astimezone(z).date() + DAY
        while day <= last:
            noon = wall_to_utc(datetime.combine(day, time(12)), z)
            if interval.model_copy(update={"times": []}).contains(noon, tz):
                ranges = [(t.start_time, t.end_time) for t in interval.times] or [(0, 24 * 60)]
                for a, b in ranges:
                    lo = wall_to_utc(datetime.combine(day, time()) + timedelta(minutes=a), z)
                    hi = wall_to_utc(datetime.combine(day, time()) + timedelta(minutes=b), z)
                    lo, hi = max(lo, start), min(hi, end)
                    if lo < hi:
                        spans.append((lo, hi))
            day += DAY
    spans.sort()
    merged: list[tuple[datetime, datetime]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(hi, merged[-1][1]))
        else:
            merged.append((lo, hi))
    return merged


def rotation_segments(rotation: Rotation, timezone: str, start: datetime, end: datetime) -> list[Segment]:
    """The rotation alone over ``[start, end)``: shifts clipped to ``active``, gaps where nobody is on call."""
    clock = RotationClock(rotation, timezone)
    out: list[Segment] = []
    k = clock.shift_index(start)
    while (shift_start := clock.shift_start(k)) < end:
        lo, hi = max(shift_start, start), min(clock.shift_start(k + 1), end)
        person = clock.person(k)
        if not rotation.active:
            out.append(Segment(lo, hi, person))
        else:
            cursor = lo
            for a, b in _active_spans(rotation.active, lo, hi, timezone):
                if cursor < a:
                    out.append(Segment(cursor, a, None))
                out.append(Segment(a, b, person))
                cursor = b
            if cursor < hi:
                out.append(Segment(cursor, hi, None))
        k += 1
    return _merge(out)


def segments(
    rotation: Rotation,
    timezone: str,
    overrides: Iterable[Override],
    start: datetime,
    end: datetime,
) -> list[Segment]:
    """Who is on call over ``[start, end)``, overrides applied (this rotation's only: callers filter by name)."""
    base = rotation_segments(rotation, timezone, start, end)
    mine = sorted((o for o in overrides if o.start < end and o.end > start), key=lambda o: o.seq)
    if not mine:
        return base
    cuts = {start, end} | {s.start for s in base}
    cuts |= {max(o.start, start) for o in mine} | {min(o.end, end) for o in mine}
    points = sorted(cuts)
    out: list[Segment] = []
    i = 0
    for lo, hi in pairwise(points):
        while base[i].end <= lo:
            i += 1
        under = base[i].person
        winner = next((o for o in reversed(mine) if o.start <= lo and o.end >= hi), None)
        if winner is None:
            out.append(Segment(lo, hi, under))
        else:
            out.append(Segment(lo, hi, winner.person, winner.id, under))
    return _merge(out)


def _merge(parts: list[Segment]) -> list[Segment]:
    merged: list[Segment] = []
    for s in parts:
        last = merged[-1] if merged else None
        if (
            last
            and last.end == s.start
            and (last.person, last.override, last.instead_of)
            == (
                s.person,
                s.override,
                s.instead_of,
            )
        ):
            merged[-1] = Segment(last.start, s.end, s.person, s.override, s.instead_of)
        else:
            merged.append(s)
    return merged


def on_call(
    rotation: Rotation, timezone: str, overrides: Iterable[Override], at: datetime
) -> tuple[Segment, Segment | None]:
    """The segment holding ``at``, and the first later one with a different, non-null person within 90 days."""
    overrides = list(overrides)
    window_end = at + NEXT_HORIZON
    clock = RotationClock(rotation, timezone)
    index = clock.shift_index(at)
    back = 1
    while True:
        # The current segment may reach back past its shift (a gap over a weekend, an override): look back
        # until it starts inside the window, within the horizon.
        look_from = min(clock.shift_start(index - back + 1), at)
        found = segments(rotation, timezone, overrides, look_from, window_end)
        current = next(s for s in found if s.start <= at < s.end)
        if current.start > look_from or at - look_from > NEXT_HORIZON:
            break
        back *= 2
    later = (s for s in found if s.start >= current.end and s.person is not None and s.person != current.person)
    return current, next(later, None)
