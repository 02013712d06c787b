"""tocsin's vocabulary as data: alerts, incidents, timeline entries, timers and outbox notifications.

These are plain dataclasses: the engine changes them, the store persists them, the API shows them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from rules.severity import Severity


class AlertStatus(StrEnum):
    FIRING = "firing"
    RESOLVED = "resolved"


class State(StrEnum):
    TRIGGERED = "triggered"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"

    @property
    def is_open(self) -> bool:
        return self is not State.RESOLVED


class Source(StrEnum):
    ALERTMANAGER = "alertmanager"
    PAGERDUTY = "pagerduty"
    MANUAL = "manual"
    HEARTBEAT = "heartbeat"
    GRAFANA_ONCALL = "grafana_oncall"


class Kind(StrEnum):
    """What a timeline entry records."""

    DECLARED = "declared"
    ALERT_JOINED = "alert_joined"
    ALERT_REFIRED = "alert_refired"
    ALERT_RESOLVED = "alert_resolved"
    SEVERITY_CHANGED = "severity_changed"
    ACKNOWLEDGED = "acknowledged"
    UNACKNOWLEDGED = "unacknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    REOPENED = "reopened"
    TITLE_CHANGED = "title_changed"
    COMMANDER_CHANGED = "commander_changed"
    VERIFICATION_STARTED = "verification_started"
    VERIFICATION_CANCELLED = "verification_cancelled"
    ESCALATED = "escalated"
    POLICY_CHANGED = "policy_changed"
    NOTIFIED = "notified"
    NOTIFICATION_FAILED = "notification_failed"
    STATUS_UPDATE = "status_update"
    STATUS_UPDATE_DUE = "status_update_due"
    NOTE = "note"
    LEVEL_SKIPPED = "level_skipped"


class TimerKind(StrEnum):
    ESCALATE = "escalate"  # the next escalation level is due
    VERIFY = "verify"  # verification of a resolution ends
    REMIND = "remind"  # a status update is due
    RAISE = "raise"  # a raise-by-duration rule may match
    PERSON = "person"  # the next step of a paged person's own ladder is due
    # Not an incident's: the ``incident_id`` of these timers names what they belong to (``silence:<id>``,
    # ``maintenance:<name>``, ``resume``, ``heartbeat:<name>``, ``tocsin``).
    SWEEP = "sweep"  # a silence or maintenance window ends: release the alerts it held, resume ladders
    HEARTBEAT = "heartbeat"  # a heartbeat's deadline: no ping came within expect_every + grace
    ALIVE = "alive"  # some replica is running: re-armed by whoever fires it (start-up reads how late it is)
    HANDOFF = "handoff"  # a handoff notice is due in a schedule (owner ``handoff:<schedule>``)


@dataclass(slots=True)
class Alert:
    fingerprint: str
    source: Source
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    severity: Severity
    rule: str | None
    correlation_key: str
    received_at: datetime
    count: int = 1
    incident_id: str | None = None
    links: list[dict[str, str]] = field(default_factory=list)
    version: int = 0

    @property
    def name(self) -> str:
        """What people call this alert in a timeline line."""
        base = self.labels.get("alertname") or self.annotations.get("summary") or self.fingerprint
        instance = self.labels.get("instance")
        return f"{base} ({instance})" if instance else base


@dataclass(slots=True)
class Ladder:
    """Where an incident's escalation stands: ``level`` of ``round`` is the next to page."""

    policy: str
    round: int
    level: int
    round_started_at: datetime
    # When the current unacknowledged stretch began (declaration, reopen, unacknowledge): pages of later levels
    # say how long nobody has answered. Kept across rounds and across a move to another policy.
    episode_started_at: datetime


@dataclass(slots=True)
class Incident:
    id: str
    title: str
    severity: Severity
    state: State
    service: str
    labels: dict[str, str]
    correlation_key: str
    declared_at: datetime
    source: Source
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    mitigated_at: datetime | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    commander: str | None = None
    firing_alerts: int = 0
    alert_count: int = 0
    # The raise rules that matched, so each raises once; a person's severity stands until a later raise.
    raises: list[str] = field(default_factory=list)
    # Grows at each reopen and policy change; part of every notification's idempotency key.
    episode: int = 1
    # The episode the current open stretch began with (1 at declaration, the new one at each reopen): an
    # acknowledge link signed in an earlier episode belongs to an earlier stretch and acknowledges nothing now.
    opened_episode: int = 1
    policy: str | None = None
    ladder: Ladder | None = None
    paged: list[str] = field(default_factory=list)
    verifying_until: datetime | None = None
    last_status_update_at: datetime | None = None
    status_phase: str | None = None
    # Each MTTx is observed once per incident, at its first transition (a reopen does not observe again).
    observed: list[str] = field(default_factory=list)
    mirrored: bool = False
    # When the current firing stretch began (declaration, reopen, or a re-fire after mitigation): raises by
    # duration count from here.
    firing_since: datetime | None = None
    last_reminded_at: datetime | None = None
    # Numbers the notifications that are not ladder steps, so each has its own idempotency key.
    notify_seq: int = 0
    version: int = 0


@dataclass(slots=True)
class TimelineEntry:
    incident_id: str
    at: datetime
    actor: str
    kind: Kind
    text: str


@dataclass(slots=True)
class Timer:
    key: str
    kind: TimerKind
    incident_id: str
    due_at: datetime
    data: dict[str, int | str] = field(default_factory=dict)


class NotifyReason(StrEnum):
    """Why a notification goes out; shown in the timeline, logs and metrics."""

    ESCALATION = "escalation"
    ACKNOWLEDGED = "acknowledged"
    MITIGATED = "mitigated"
    RESOLVED = "resolved"
    SEVERITY_CHANGED = "severity_changed"
    STATUS_UPDATE = "status_update"
    REMINDER = "reminder"
    HANDOFF = "handoff"  # a person's shift starts soon (no incident: its ``incident_id`` is ``handoff:<schedule>``)


@dataclass(slots=True)
class Notification:
    """An outbox entry: written in the commit of the decision that caused it, then sent once."""

    key: str
    incident_id: str
    reason: NotifyReason
    channels: list[str]
    title: str
    body: str
    created_at: datetime
    severity: Severity
    level: int | None = None
    round: int | None = None
    attempts: int = 0
    next_attempt_at: datetime | None = None
    # The page that makes its level an escalation step: counted in tocsin_escalations_total once it is sent.
    escalation_step: bool = False
    # Who holds it now (set by a claim, never stored in the entry's data): checked again before sending.
    claim: str = ""
