"""The engine's inputs and outputs: what a decision needs loaded, the slice of state, the decision."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from daemon.domain import Alert, Incident, Kind, Notification, NotifyReason, State, TimelineEntry, Timer
from rules.rotation import Override
from rules.severity import Severity
from rules.silences import Silence


class IdSource(Protocol):
    """Hands out incident ids; the sequence is per year and may have gaps."""

    def next_incident_id(self, now: datetime) -> str: ...


def format_incident_id(year: int, number: int) -> str:
    return f"INC-{year}-{number:04d}"


@dataclass(frozen=True, slots=True)
class Needs:
    """What to load before deciding: alerts by fingerprint, incidents by id and by correlation key."""

    fingerprints: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    # (fingerprint, correlation key) of alerts reported firing. A duplicate of a firing alert only refreshes
    # it: its key and incident are read only for an alert that is new or resolved (a new firing episode).
    firing: frozenset[tuple[str, str]] = frozenset()
    incident_ids: frozenset[str] = frozenset()
    # Firing alerts and timers of every incident loaded (lifecycle and timer events need them).
    members: bool = False
    webhook_ids: frozenset[str] = frozenset()
    # Schedules whose overrides a page may need (those the policies name in oncall: targets).
    overrides: frozenset[str] = frozenset()
    # The silences in force or pending at ``silences_at`` (set by the shell to the decision's ``now``).
    silences: bool = False
    silences_at: datetime | None = None
    # Timers of these owners (a Timer's ``incident_id``: ``heartbeat:<name>``, ``silence:<id>``…).
    timer_owners: frozenset[str] = frozenset()
    # Every firing alert in no incident (a silence ended: those it held may be placed now), with their keys.
    unplaced: bool = False
    # The incidents whose ladder ran out while silenced (the ``resume`` timers), with their members and timers.
    resume: bool = False


@dataclass(slots=True)
class Slice:
    """The part of the state one decision may read; the engine changes it in place and says so in the Decision."""

    ids: IdSource
    alerts: dict[str, Alert] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    # Correlation key -> the most recent incident with that key (open, or resolved and so reopenable).
    latest_by_key: dict[str, str] = field(default_factory=dict)
    # Correlation key -> firing alerts in no incident; loaded only for keys without an open incident.
    orphans: dict[str, list[Alert]] = field(default_factory=dict)
    # Incident id -> its firing alerts (lifecycle and timer events: a resolve ends them, a page names them).
    firing_members: dict[str, list[Alert]] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    # Of the webhook ids asked for, those already processed.
    seen_webhooks: set[str] = field(default_factory=set)
    # Schedule -> its overrides, in the order they were created (when Needs.overrides asked for them).
    overrides: dict[str, list[Override]] = field(default_factory=dict)
    # Silences not yet ended (when Needs.silences asked for them); maintenance windows come from the settings.
    silences: list[Silence] = field(default_factory=list)
    # Firing alerts in no incident (when Needs.unplaced asked for them).
    unplaced: list[Alert] = field(default_factory=list)


class EngineError(Exception):
    """A decision that cannot be taken; nothing of it is stored."""


class NotFound(EngineError):
    def __init__(self, incident_id: str) -> None:
        super().__init__(f"no incident {incident_id}")
        self.incident_id = incident_id


class IllegalTransition(EngineError):
    def __init__(self, incident_id: str, action: str, state: str) -> None:
        super().__init__(f"cannot {action} {incident_id}: it is {state}")
        self.incident_id = incident_id
        self.action = action
        self.state = state


class LinkOutdated(EngineError):
    """An acknowledge link from before the incident was resolved and reopened: answer 410."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"this link for {incident_id} is from before it was resolved and reopened")
        self.incident_id = incident_id


def link_outdated(incident: Incident, link_episode: int) -> bool:
    """Signed in an episode before the current open stretch began (or in none this incident had)."""
    return not incident.opened_episode <= link_episode <= incident.episode


class KeyInUse(IllegalTransition):
    """At most one incident of a correlation key is open at a time."""

    def __init__(self, incident_id: str, holder: str) -> None:
        super().__init__(incident_id, "reopen", "resolved")
        self.args = (f"cannot reopen {incident_id}: {holder} is open for the same correlation key",)
        self.holder = holder


@dataclass(frozen=True, slots=True)
class NotifyIntent:
    """The engine's wish to notify; the shell renders it into an outbox Notification in the same commit."""

    key: str
    incident_id: str
    reason: NotifyReason
    channels: tuple[str, ...]
    level: int | None = None
    round: int | None = None
    note: str = ""
    # (round, level) of the ladder steps that fell due while tocsin was down, counted as run without paging.
    skipped: tuple[tuple[int, int], ...] = ()
    # A page to a person: their acknowledge link records them as the actor.
    person: str | None = None
    # A later step of that person's own ladder (0: their first page of this level).
    person_step: int = 0
    # The first page of a ladder step: counted as an escalation when it is sent (not if it is not).
    escalation_step: bool = False
    # A page of a later level or round: when nobody has acknowledged since (the ladder's episode start).
    unacknowledged_since: datetime | None = None
    # Level 0 of a reopened incident: who or what reopened it ("Reopened by dave: the fix did not hold").
    reopened: str = ""


def passed_while_down(skipped: tuple[tuple[int, int], ...]) -> str:
    """``levels 1-2 of round 1 and level 0 of round 2 passed while tocsin was down`` (steps in ladder order)."""
    by_round: dict[int, list[int]] = {}
    for round_, level in skipped:
        by_round.setdefault(round_, []).append(level)
    parts = []
    for round_, levels in by_round.items():
        # Consecutive by construction: the ladder skips levels in order.
        span = f"level {levels[0]}" if len(levels) == 1 else f"levels {levels[0]}–{levels[-1]}"  # noqa: RUF001 - a range, as people write it
        parts.append(f"{span} of round {round_}")
    listed = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return f"{listed} passed while tocsin was down"


@dataclass(frozen=True, slots=True)
class Observation:
    """A metric to record once the decision is committed."""

    # "declared", "severity_changed", "time_to_acknowledge", "time_to_mitigate", "time_to_resolve",
    # "page_without_oncall"
    metric: str
    severity: Severity
    service: str
    value: float = 0.0
    target: str = ""  # "page_without_oncall": "<schedule>/<rotation>", or "person/<name>"


@dataclass(frozen=True, slots=True)
class Said:
    """A lifecycle event of an incident (declared, acknowledged, escalated…), logged once its decision is
    committed: one log line, for the person reading the log at 3 a.m."""

    event: str
    incident_id: str
    fields: dict[str, str | int | list[str] | None]
    warning: bool = False


@dataclass(slots=True)
class Decision:
    """Everything one event changed; stored in one atomic commit."""

    alerts: dict[str, Alert] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    memberships: set[tuple[str, str]] = field(default_factory=set)
    timeline: list[TimelineEntry] = field(default_factory=list)
    timers_set: dict[str, Timer] = field(default_factory=dict)
    timers_cancelled: set[str] = field(default_factory=set)
    intents: list[NotifyIntent] = field(default_factory=list)
    # The intents rendered into outbox entries by the shell, inside the same commit.
    notifications: list[Notification] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    said: list[Said] = field(default_factory=list)
    # Every change of state, in order: (incident id, from, to); each is a cell of the transition table.
    transitions: list[tuple[str, State, State]] = field(default_factory=list)
    # Correlation key -> the incident that now holds it (declared, or reopened).
    pointers: dict[str, str] = field(default_factory=dict)
    # Webhook deliveries processed by this decision (recorded so a redelivery changes nothing).
    webhooks: set[str] = field(default_factory=set)
    deduplicated: int = 0
    stale: int = 0
    # Silences written in the same commit (created, updated or expired through the API).
    silences: list[Silence] = field(default_factory=list)
    # The source of each alert that fired into an active silence or maintenance window (a metric).
    silenced: list[str] = field(default_factory=list)
    # The incident the event was about, for the API's answer.
    incident_id: str | None = None

    @property
    def changed(self) -> bool:
        return bool(
            self.alerts
            or self.incidents
            or self.memberships
            or self.timeline
            or self.timers_set
            or self.timers_cancelled
            or self.intents
            or self.webhooks
            or self.pointers
            or self.silences
        )

    def touch_alert(self, alert: Alert) -> None:
        self.alerts[alert.fingerprint] = alert

    def touch_incident(self, incident: Incident) -> None:
        self.incidents[incident.id] = incident

    def log(self, incident: Incident, at: datetime, actor: str, kind: Kind, text: str) -> None:
        self.touch_incident(incident)
        self.timeline.append(TimelineEntry(incident.id, at, actor, kind, text))

    def set_timer(self, timer: Timer) -> None:
        self.timers_cancelled.discard(timer.key)
        self.timers_set[timer.key] = timer

    def cancel_timer(self, key: str) -> None:
        self.timers_set.pop(key, None)
        self.timers_cancelled.add(key)


def notification_key(
    incident: Incident,
    reason: NotifyReason,
    *,
    level: int | None = None,
    round_: int | None = None,
    seq: int | None = None,
    person: str | None = None,
    step: int | None = None,
) -> str:
    """DESIGN §6's idempotency key: (incident, episode, reason, level, round[, person, step]).

    A ladder step is keyed by its round and level; any other notification by its sequence number. Person and
    step are appended only for pages to a person, so every key written before they existed stays byte-identical
    (stored outbox entries keep matching)."""
    key = f"{incident.id}/e{incident.episode}/{reason.value}"
    if level is not None and round_ is not None:
        key += f"/r{round_}/l{level}"
    if seq is not None:
        key += f"/n{seq}"
    if person is not None:
        key += f"/p{person}" + (f"/s{step}" if step is not None else "")
    return key
