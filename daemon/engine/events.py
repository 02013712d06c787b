"""What can happen to tocsin: each event is one decision of the engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NamedTuple

from daemon.domain import AlertStatus, Source, Timer
from rules.severity import Severity
from rules.silences import Silence


@dataclass(slots=True)
class AlertIn:
    """One alert as a source reported it; timestamps are None where the source gives none (PagerDuty)."""

    fingerprint: str
    source: Source
    status: AlertStatus
    labels: dict[str, str]
    annotations: dict[str, str]
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    generator_url: str = ""
    links: list[dict[str, str]] = field(default_factory=list)
    # What the ingest fast path compares with the last report committed (daemon/dedup.py), worked out once: it is
    # asked when the report is sorted, when its decision begins and when it ends. A report is never changed
    # once made (a scoped copy is a new report, with its own).
    digest: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.digest = hash(
            (
                self.fingerprint,
                self.status,
                self.starts_at,
                self.ends_at,
                self.generator_url,
                tuple(self.annotations.items()),
            )
        )


class Classified(NamedTuple):
    """What a configuration makes of one report, whatever the stored state: worked out by ``Engine.prepare``
    before the decision, so that the store's write turn (which every worker waits for) does not wait on it.
    A tuple: one is made per alert of every webhook (a frozen dataclass sets each field through a call)."""

    key: str  # its correlation key
    severity: Severity  # the severity rules' verdict, and the rule that gave it
    rule: str | None
    pings: bool  # it is a heartbeat's ping


@dataclass(frozen=True, slots=True)
class AlertsReceived:
    alerts: tuple[AlertIn, ...]
    # One per report, by the configuration ``classified_by`` (a reload between prepare and decide is ignored).
    classified: tuple[Classified, ...] | None = field(default=None, compare=False)
    classified_by: object = field(default=None, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class AcknowledgeAlert:
    """A source acknowledged one alert (PagerDuty ``event_action: acknowledge``): ack its incident."""

    fingerprint: str
    actor: str


class Action(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    UNACKNOWLEDGE = "unacknowledge"
    MITIGATE = "mitigate"
    RESOLVE = "resolve"
    REOPEN = "reopen"


@dataclass(frozen=True, slots=True)
class Transition:
    incident_id: str
    action: Action
    actor: str
    note: str = ""
    # The episode an acknowledge link was signed in: refused (LinkOutdated) once the incident resolved and
    # reopened since, so that an old page's link cannot acknowledge a new problem.
    link_episode: int | None = None


@dataclass(frozen=True, slots=True)
class Declare:
    title: str
    severity: Severity
    actor: str
    service: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    note: str = ""
    commander: str | None = None


@dataclass(frozen=True, slots=True)
class Patch:
    incident_id: str
    actor: str
    severity: Severity | None = None
    title: str | None = None
    commander: str | None = None


@dataclass(frozen=True, slots=True)
class PostStatusUpdate:
    incident_id: str
    phase: str
    message: str
    actor: str


@dataclass(frozen=True, slots=True)
class AddNote:
    """A person's note on the timeline (from the board); it changes nothing else."""

    incident_id: str
    actor: str
    text: str


@dataclass(frozen=True, slots=True)
class TimerFired:
    timer: Timer


@dataclass(frozen=True, slots=True)
class PagerDutyIncident:
    """A PagerDuty V3 webhook about one of its incidents, to mirror onto tocsin's."""

    webhook_id: str  # the event's id inside the signed body: the same event again changes nothing
    event_type: str
    pd_id: str
    number: int | None
    title: str
    incident_key: str | None
    service: str
    severity: Severity
    actor: str
    url: str


@dataclass(frozen=True, slots=True)
class SaveSilences:
    """Silences created, updated or expired through the API: stored with the timers at their ends, together."""

    silences: tuple[Silence, ...]


@dataclass(frozen=True, slots=True)
class HeartbeatPing:
    name: str


@dataclass(frozen=True, slots=True)
class StartedUp:
    """This process starts: heartbeats' deadlines may need a full period (DESIGN §13)."""


@dataclass(frozen=True, slots=True)
class ConfigReloaded:
    """A new configuration is in force: these open incidents follow it (a batch of them; the shell lists every
    open incident, a batch at a time), and the open alerts of these heartbeats, no longer configured, resolve."""

    incident_ids: tuple[str, ...] = ()
    removed_heartbeats: tuple[str, ...] = ()


Event = (
    AlertsReceived
    | AcknowledgeAlert
    | Transition
    | Declare
    | Patch
    | PostStatusUpdate
    | AddNote
    | TimerFired
    | PagerDutyIncident
    | SaveSilences
    | HeartbeatPing
    | StartedUp
    | ConfigReloaded
)
