"""A schedule's shifts as an RFC 5545 calendar, built with the icalendar library (not by hand)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime

from icalendar import Calendar, Event

from daemon.roster import Shift


def shift_uid(schedule: str, shift: Shift) -> str:
    """Stable across fetches: the same shift (or override) keeps its UID, so calendar apps update in place."""
    basis = f"{schedule}|{shift.rotation}|{shift.person}|{shift.start.isoformat()}|{shift.override or ''}"
    return f"{hashlib.sha256(basis.encode()).hexdigest()[:32]}@tocsin"


def render_calendar(schedule: str, shifts: Sequence[Shift], names: Mapping[str, str], now: datetime) -> bytes:
    cal = Calendar()
    cal.add("prodid", "-//tocsin//on-call schedule//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", f"tocsin on-call: {schedule}")
    for shift in shifts:
        event = Event()
        who = names.get(shift.person, shift.person)
        extra = " (override)" if shift.override else ""
        event.add("uid", shift_uid(schedule, shift))
        event.add("dtstamp", now)
        event.add("dtstart", shift.start)
        event.add("dtend", shift.end)
        event.add("summary", f"On call: {schedule}/{shift.rotation}: {who}{extra}")
        cal.add_component(event)
    ical: bytes = cal.to_ical()
    return ical
