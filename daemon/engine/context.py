"""The working set of one decision: settings, the slice, the decision being built, and ``now``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from daemon.config.settings import Settings
from daemon.domain import Alert, Incident, Kind
from daemon.engine import silencing
from daemon.engine.state import Decision, Said, Slice
from rules.evaluate import Verdicts
from rules.matchers import matches_all
from rules.oncall import MaintenanceWindow
from rules.severity import Severity

ACTOR = "tocsin"  # the actor of every automatic decision
SHOWN_NAMES = 10  # alerts named in one timeline line


def correlation_key(group_by: list[str], labels: Mapping[str, str]) -> str:
    """Alertmanager's spelling of a group key: ``{service="checkout"}``; a missing label is empty."""
    parts = []
    for name in group_by:
        value = labels.get(name, "").replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'{name}="{value}"')
    return "{" + ",".join(parts) + "}"


@dataclass(slots=True)
class PendingLine:
    """How many alerts a timeline line of this decision is about, and the names of the first SHOWN_NAMES."""

    count: int = 0
    names: list[str] = field(default_factory=list)


@dataclass(slots=True)
class Ctx:
    settings: Settings
    s: Slice
    d: Decision
    now: datetime
    # The severity rules' verdicts, kept by the engine of these settings (a reload makes a new engine).
    verdicts: Verdicts
    # The maintenance windows in force, remembered minute by minute by the engine (shared by its decisions).
    windows: silencing.WindowsByMinute
    # Alerts that joined, re-fired or resolved in this decision, per incident and kind: one timeline line each.
    pending_lines: dict[tuple[str, Kind], PendingLine] = field(default_factory=dict)
    # Incidents whose alerts changed in this decision; checked for raises and resolution at the end.
    touched: dict[str, Incident] = field(default_factory=dict)
    # Incidents where an alert resolved in this decision (the trigger for "all alerts resolved").
    resolving: set[str] = field(default_factory=set)
    # Incidents declared or reopened in this decision: their ladder starts once, when the batch is settled.
    fresh: set[str] = field(default_factory=set)
    declared: set[str] = field(default_factory=set)
    # Said on the level-0 page of incidents declared by hand or reopened in this decision (their own note,
    # who or what reopened them).
    declared_notes: dict[str, str] = field(default_factory=dict)
    reopened: dict[str, str] = field(default_factory=dict)
    # What set the severity of each incident declared in this decision ("rule prod-critical", or the person).
    severity_by: dict[str, str] = field(default_factory=dict)
    # Incidents where an alert fired again or joined in this decision.
    refired: set[str] = field(default_factory=set)
    # The most severe alert that joined each incident in this decision, with the rule that classified it.
    candidates: dict[str, tuple[Severity, str]] = field(default_factory=dict)
    # The silences in force at ``now``, indexed once per decision (built at the first question).
    active: silencing.ActiveSilences | None = None
    # When each maintenance window in force now ends (searched minute by minute: once per decision).
    window_ends: dict[str, datetime] = field(default_factory=dict)

    def key_of(self, labels: Mapping[str, str]) -> str:
        return correlation_key(self.settings.correlation.group_by, labels)

    def silenced_by(self, labels: Mapping[str, str]) -> list[str]:
        """The silences and maintenance windows holding alerts with these labels now (DESIGN §12)."""
        if self.active is None:
            self.active = silencing.ActiveSilences(self.s.silences, self.now)
        held = self.active.holding(labels) if self.active.any() else []
        windows = self.windows.at(self.now)
        if windows:
            held += [silencing.window_id(w) for w in windows if matches_all(w.matchers, labels)]
        return held

    def anything_silenced(self) -> bool:
        """Whether some silence or maintenance window is in force now (whatever it matches)."""
        if self.active is None:
            self.active = silencing.ActiveSilences(self.s.silences, self.now)
        return self.active.any() or bool(self.windows.at(self.now))

    def window_end(self, window: MaintenanceWindow) -> datetime:
        name = silencing.window_id(window)
        if name not in self.window_ends:
            self.window_ends[name] = silencing.window_end(window, self.now)
        return self.window_ends[name]

    def all_silenced(self, incident: Incident) -> bool:
        """At least one firing alert, and every one of them silenced (needs the incident's members loaded)."""
        members = self.s.firing_members.get(incident.id, [])
        return bool(members) and all(self.silenced_by(a.labels) for a in members)

    def log(self, incident: Incident, kind: Kind, text: str, actor: str = ACTOR) -> None:
        self.d.log(incident, self.now, actor, kind, text)

    def say(
        self, event: str, incident: Incident, warning: bool = False, **fields: str | int | list[str] | None
    ) -> None:
        """A lifecycle event for the log, written once this decision is committed."""
        self.d.said.append(Said(event, incident.id, fields, warning))

    def note_alert(self, incident: Incident, kind: Kind, alert: Alert) -> None:
        self.touched[incident.id] = incident
        line = self.pending_lines.get((incident.id, kind))
        if line is None:
            line = self.pending_lines[(incident.id, kind)] = PendingLine()
        line.count += 1
        if len(line.names) < SHOWN_NAMES:  # a storm's line names ten, not twenty thousand
            line.names.append(alert.name)

    def take_key(self, incident: Incident) -> None:
        """``incident`` is now the incident of its correlation key (the one new alerts of the key meet)."""
        self.s.latest_by_key[incident.correlation_key] = incident.id
        self.d.pointers[incident.correlation_key] = incident.id

    def open_incident(self, key: str) -> Incident | None:
        incident_id = self.s.latest_by_key.get(key)
        incident = self.s.incidents.get(incident_id) if incident_id else None
        return incident if incident is not None and incident.state.is_open else None

    def flush_lines(self) -> None:
        """One timeline entry per incident and kind for the alerts of this decision (a storm stays readable)."""
        verbs = {Kind.ALERT_JOINED: "joined", Kind.ALERT_REFIRED: "fired again", Kind.ALERT_RESOLVED: "resolved"}
        for (incident_id, kind), line in self.pending_lines.items():
            incident = self.s.incidents[incident_id]
            if line.count == 1:
                text = f"{line.names[0]} {verbs[kind]}"
            else:
                more = line.count - len(line.names)
                shown = ", ".join(line.names) + (f" (+{more} more)" if more else "")
                text = f"{line.count} alerts {verbs[kind]}: {shown}"
            self.log(incident, kind, text)
        self.pending_lines.clear()
