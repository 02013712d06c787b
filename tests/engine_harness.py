"""A pure harness for the engine: the whole state in memory, each event one decision, no store, no HTTP.

It does what the pipeline does around ``Engine.decide``: hands it a slice (here: everything), keeps the result only
when the decision is taken (a refused one leaves the world as it was), applies timers set and cancelled, and fires
due timers as the scheduler would, either on time (``advance``) or all at once after downtime (``jump``)."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from daemon.config.loader import load_settings
from daemon.config.settings import Settings
from daemon.domain import Alert, AlertStatus, Incident, Source, State, TimelineEntry, Timer, TimerKind
from daemon.engine.engine import Engine
from daemon.engine.events import Action, AlertIn, AlertsReceived, Event, TimerFired, Transition
from daemon.engine.state import Decision, NotifyIntent, Observation, Slice, format_incident_id
from tests.support import EXAMPLE

START = datetime(2026, 11, 22, 7, 0, tzinfo=UTC)


def example_settings() -> Settings:
    return load_settings(EXAMPLE, environ={})


class Ids:
    def __init__(self) -> None:
        self.last = 0

    def next_incident_id(self, now: datetime) -> str:
        self.last += 1
        return format_incident_id(now.year, self.last)


@dataclass
class World:
    settings: Settings
    now: datetime = START
    ids: Ids = field(default_factory=Ids)
    alerts: dict[str, Alert] = field(default_factory=dict)
    incidents: dict[str, Incident] = field(default_factory=dict)
    latest_by_key: dict[str, str] = field(default_factory=dict)
    timers: dict[str, Timer] = field(default_factory=dict)
    # Everything every taken decision produced, in order.
    intents: list[NotifyIntent] = field(default_factory=list)
    observations: list[Observation] = field(default_factory=list)
    timeline: list[TimelineEntry] = field(default_factory=list)
    transitions: list[tuple[str, State, State]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.engine = Engine(self.settings)

    # -- one decision -------------------------------------------------------------------------------

    def _slice(self) -> Slice:
        alerts, incidents, latest = copy.deepcopy((self.alerts, self.incidents, self.latest_by_key))
        s = Slice(self.ids, alerts, incidents, latest, timers=copy.deepcopy(self.timers))
        open_keys = {i.correlation_key for i in incidents.values() if i.state.is_open}
        for alert in alerts.values():
            if alert.status is not AlertStatus.FIRING:
                continue
            if alert.incident_id is None:
                if alert.correlation_key not in open_keys:
                    s.orphans.setdefault(alert.correlation_key, []).append(alert)
            else:
                s.firing_members.setdefault(alert.incident_id, []).append(alert)
        return s

    def decide(self, event: Event) -> Decision:
        """Take one event now; raises the engine's refusal (``EngineError``) with the world unchanged."""
        s = self._slice()
        d = self.engine.decide(s, self.engine.prepare(event), self.now)  # prepared, as the pipeline sends them
        self.alerts = {**s.alerts, **d.alerts}
        self.incidents = {**s.incidents, **d.incidents}
        self.latest_by_key = {**s.latest_by_key, **d.pointers}
        for key in d.timers_cancelled:
            self.timers.pop(key, None)
        self.timers.update(copy.deepcopy(d.timers_set))
        self.intents += d.intents
        self.observations += d.observations
        self.timeline += d.timeline
        self.transitions += d.transitions
        return d

    # -- time ---------------------------------------------------------------------------------------

    def fire_due(self) -> list[Decision]:
        """Fire every timer due now, earliest first, as the scheduler's claim would (each its own decision)."""
        decisions = []
        while due := sorted((t for t in self.timers.values() if t.due_at <= self.now), key=lambda t: t.due_at):
            decisions.append(self.decide(TimerFired(copy.deepcopy(due[0]))))
        return decisions

    def advance(self, seconds: float) -> None:
        """Time passes with tocsin up: each timer fires at its own due time."""
        end = self.now + timedelta(seconds=seconds)
        while nxt := [t.due_at for t in self.timers.values() if self.now < t.due_at <= end]:
            self.now = min(nxt)
            self.fire_due()
        self.now = end
        self.fire_due()

    def jump(self, seconds: float) -> None:
        """tocsin was down for ``seconds``: what fell due meanwhile fires late, once it is back."""
        self.now += timedelta(seconds=seconds)
        self.fire_due()

    # -- events -------------------------------------------------------------------------------------

    def report(self, name: str, service: str, severity: str, firing: bool = True, **labels: str) -> Decision:
        """One Alertmanager alert (fingerprint from name and service), firing or resolved, timestamped now."""
        return self.decide(
            AlertsReceived(
                (
                    AlertIn(
                        fingerprint=f"{name}@{service}",
                        source=Source.ALERTMANAGER,
                        status=AlertStatus.FIRING if firing else AlertStatus.RESOLVED,
                        labels={"alertname": name, "service": service, "severity": severity, "env": "prod", **labels},
                        annotations={},
                        starts_at=self.now,
                        ends_at=None if firing else self.now,
                    ),
                )
            )
        )

    def act(self, incident_id: str, action: Action, actor: str = "alice") -> Decision:
        return self.decide(Transition(incident_id, action, actor))

    def escalation_pending(self, incident_id: str) -> bool:
        return any(t.kind is TimerKind.ESCALATE and t.incident_id == incident_id for t in self.timers.values())
