"""DESIGN §5's transition table as data: (state, event) → outcome. The lifecycle code asks it, tests read it cell by
cell, and nothing else decides which transitions exist."""

from __future__ import annotations

from enum import StrEnum

from daemon.domain import State


class Event(StrEnum):
    """The columns of the table (``unacknowledge``, mirrored from PagerDuty, is the row below it)."""

    ACKNOWLEDGE = "acknowledge"
    UNACKNOWLEDGE = "unacknowledge"
    MITIGATE = "mitigate"  # by hand, or every alert of the incident resolved
    RESOLVE = "resolve"
    REFIRE = "re-fire"  # an alert of the incident fires again, or a new alert of its key fires
    REOPEN = "reopen"


class Outcome(StrEnum):
    REFUSED = "409"  # the API answers 409 Conflict; nothing changes
    NO_CHANGE = "200, no change"  # repeating the current state
    TO_ACKNOWLEDGED = "→ acknowledged, ladder stops"
    RECORD_ACK = "records the ack"  # mitigated stays mitigated; the ack is kept for a re-fire
    TO_MITIGATED = "→ mitigated, ladder stops"
    TO_RESOLVED = "→ resolved"
    TO_TRIGGERED = "→ triggered, ladder restarts"  # reopen; unacknowledge
    JOIN_NO_PAGE = "joins; no page"
    JOIN_TIMELINE = "joins; timeline only"
    # → acknowledged if it had been acked, else → triggered and the ladder restarts; verification cancelled.
    BACK_TO_FIRING = "→ acknowledged if acked, else → triggered"
    # Within reopen_within → triggered (reopen); else a new incident (this one stays resolved).
    REOPEN_OR_NEW = "reopen within reopen_within, else a new incident"


T, A, M, R = State.TRIGGERED, State.ACKNOWLEDGED, State.MITIGATED, State.RESOLVED

TABLE: dict[tuple[State, Event], Outcome] = {
    (T, Event.ACKNOWLEDGE): Outcome.TO_ACKNOWLEDGED,
    (T, Event.UNACKNOWLEDGE): Outcome.NO_CHANGE,
    (T, Event.MITIGATE): Outcome.TO_MITIGATED,
    (T, Event.RESOLVE): Outcome.TO_RESOLVED,
    (T, Event.REFIRE): Outcome.JOIN_NO_PAGE,
    (T, Event.REOPEN): Outcome.REFUSED,
    (A, Event.ACKNOWLEDGE): Outcome.NO_CHANGE,
    (A, Event.UNACKNOWLEDGE): Outcome.TO_TRIGGERED,
    (A, Event.MITIGATE): Outcome.TO_MITIGATED,
    (A, Event.RESOLVE): Outcome.TO_RESOLVED,
    (A, Event.REFIRE): Outcome.JOIN_TIMELINE,
    (A, Event.REOPEN): Outcome.REFUSED,
    (M, Event.ACKNOWLEDGE): Outcome.RECORD_ACK,
    (M, Event.UNACKNOWLEDGE): Outcome.REFUSED,
    (M, Event.MITIGATE): Outcome.NO_CHANGE,
    (M, Event.RESOLVE): Outcome.TO_RESOLVED,
    (M, Event.REFIRE): Outcome.BACK_TO_FIRING,
    (M, Event.REOPEN): Outcome.REFUSED,
    (R, Event.ACKNOWLEDGE): Outcome.REFUSED,
    (R, Event.UNACKNOWLEDGE): Outcome.REFUSED,
    (R, Event.MITIGATE): Outcome.REFUSED,
    (R, Event.RESOLVE): Outcome.NO_CHANGE,
    (R, Event.REFIRE): Outcome.REOPEN_OR_NEW,
    (R, Event.REOPEN): Outcome.TO_TRIGGERED,
}

# The states each outcome may leave the incident in (the property tests check every step against these).
LEADS_TO: dict[Outcome, frozenset[State]] = {
    Outcome.REFUSED: frozenset(),
    Outcome.NO_CHANGE: frozenset(),
    Outcome.TO_ACKNOWLEDGED: frozenset({A}),
    Outcome.RECORD_ACK: frozenset(),
    Outcome.TO_MITIGATED: frozenset({M}),
    Outcome.TO_RESOLVED: frozenset({R}),
    Outcome.TO_TRIGGERED: frozenset({T}),
    Outcome.JOIN_NO_PAGE: frozenset(),
    Outcome.JOIN_TIMELINE: frozenset(),
    Outcome.BACK_TO_FIRING: frozenset({A, T}),
    Outcome.REOPEN_OR_NEW: frozenset({T}),
}


def outcome(state: State, event: Event) -> Outcome:
    return TABLE[(state, event)]


def allowed(before: State, after: State) -> bool:
    """Whether some event of the table takes an incident from ``before`` to ``after``."""
    return before == after or any(after in LEADS_TO[o] for (s, _), o in TABLE.items() if s == before)
