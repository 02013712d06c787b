"""Which reads build a Slice, written once and free of I/O: each store answers the queries its own way.

``plan(needs)`` is a generator that yields queries and receives their answers; the SQLite store
drives it synchronously inside its transaction, the Redis store asynchronously.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daemon.domain import Alert, AlertStatus, Incident, Timer
from daemon.engine.silencing import RESUME_OWNER
from daemon.engine.state import IdSource, Needs, Slice
from daemon.store.overrides import StoredOverride
from rules.silences import Silence


@dataclass(frozen=True, slots=True)
class AlertsByFingerprint:
    fingerprints: tuple[str, ...]  # answer: list[Alert]


@dataclass(frozen=True, slots=True)
class IncidentsById:
    ids: tuple[str, ...]  # answer: list[Incident]


@dataclass(frozen=True, slots=True)
class IncidentOfKey:
    keys: tuple[str, ...]  # answer: dict[str, str], the id of the incident holding each key that has one


@dataclass(frozen=True, slots=True)
class OrphansByKey:
    keys: tuple[str, ...]  # answer: list[Alert], firing alerts of these keys that are in no incident


@dataclass(frozen=True, slots=True)
class FiringMembersOf:
    incident_ids: tuple[str, ...]  # answer: list[tuple[str, Alert]], (incident id, a firing alert of it)


@dataclass(frozen=True, slots=True)
class TimersOf:
    incident_ids: tuple[str, ...]  # answer: list[Timer]


@dataclass(frozen=True, slots=True)
class SeenWebhooks:
    ids: tuple[str, ...]  # answer: set[str], those already processed


@dataclass(frozen=True, slots=True)
class OverridesOf:
    schedules: tuple[str, ...]  # answer: list[StoredOverride], every override of these schedules


@dataclass(frozen=True, slots=True)
class SilencesAt:
    at: datetime | None  # answer: list[Silence], those ending after ``at`` (every one kept when None)


@dataclass(frozen=True, slots=True)
class UnplacedFiring:
    """answer: list[Alert], every firing alert in no incident (orphans, and alerts a silence holds)."""


Query = (
    AlertsByFingerprint
    | IncidentsById
    | IncidentOfKey
    | OrphansByKey
    | FiringMembersOf
    | TimersOf
    | SeenWebhooks
    | OverridesOf
    | SilencesAt
    | UnplacedFiring
)
Plan = Generator[Query, Any, Slice]


def plan(needs: Needs, ids: IdSource) -> Plan:
    """Load what ``needs`` names; one object per alert and per incident however often it is reached."""
    s = Slice(ids=ids)

    def keep_alert(alert: Alert) -> Alert:
        return s.alerts.setdefault(alert.fingerprint, alert)

    def keep_incident(incident: Incident) -> Incident:
        return s.incidents.setdefault(incident.id, incident)

    if needs.fingerprints:
        found: list[Alert] = yield AlertsByFingerprint(tuple(sorted(needs.fingerprints)))
        for alert in found:
            keep_alert(alert)
    owners = set(needs.timer_owners) | ({RESUME_OWNER} if needs.resume else set())
    if owners:
        owned: list[Timer] = yield TimersOf(tuple(sorted(owners)))
        s.timers.update((t.key, t) for t in owned)
    unplaced_keys: set[str] = set()
    if needs.unplaced:
        loose: list[Alert] = yield UnplacedFiring()
        s.unplaced = [keep_alert(a) for a in loose]
        unplaced_keys = {a.correlation_key for a in s.unplaced}
    firing = {fp for fp, _ in needs.firing}
    starting = {key for fp, key in needs.firing if fp not in s.alerts or s.alerts[fp].status is AlertStatus.RESOLVED}
    resumed = {str(t.data.get("incident", "")) for t in s.timers.values() if t.incident_id == RESUME_OWNER}
    wanted = (
        set(needs.incident_ids)
        | (resumed - {""})
        | {
            a.incident_id
            for a in s.alerts.values()
            if a.incident_id and (a.fingerprint not in firing or a.status is AlertStatus.RESOLVED)
        }
    )
    if wanted:
        incidents: list[Incident] = yield IncidentsById(tuple(sorted(wanted)))
        for incident in incidents:
            keep_incident(incident)
    keys = set(needs.keys) | starting | unplaced_keys
    if needs.members:
        # Lifecycle events learn the keys of their incidents only now: a reopen must see who holds the key.
        keys |= {i.correlation_key for i in s.incidents.values()}
    if keys:
        holders: dict[str, str] = yield IncidentOfKey(tuple(sorted(keys)))
        # Usually the incidents of the alerts already loaded: read only the others.
        missing = tuple(sorted({i for i in holders.values() if i not in s.incidents}))
        if missing:
            more: list[Incident] = yield IncidentsById(missing)
            for incident in more:
                keep_incident(incident)
        for key, incident_id in holders.items():
            if incident_id in s.incidents:
                s.latest_by_key[key] = incident_id
        closed = tuple(
            sorted(k for k in keys if k not in s.latest_by_key or not s.incidents[s.latest_by_key[k]].state.is_open)
        )
        if closed:
            orphans: list[Alert] = yield OrphansByKey(closed)
            for alert in orphans:
                s.orphans.setdefault(alert.correlation_key, []).append(keep_alert(alert))
    if needs.webhook_ids:
        seen: set[str] = yield SeenWebhooks(tuple(sorted(needs.webhook_ids)))
        s.seen_webhooks = set(seen)
    if needs.overrides:
        # Who is on call is decided when a level pages: the overrides of every schedule a policy pages.
        overrides: list[StoredOverride] = yield OverridesOf(tuple(sorted(needs.overrides)))
        for o in overrides:
            s.overrides.setdefault(o.schedule, []).append(o.rule())
    if needs.silences:
        silences: list[Silence] = yield SilencesAt(needs.silences_at)
        s.silences = list(silences)
    if needs.members and s.incidents:
        ids_ = tuple(sorted(s.incidents))
        members: list[tuple[str, Alert]] = yield FiringMembersOf(ids_)
        for incident_id in ids_:
            s.firing_members[incident_id] = []
        # keep_alert inlined: tens of thousands of members, on the event loop of a store that awaits its reads.
        keep, lists = s.alerts.setdefault, s.firing_members
        for incident_id, alert in members:
            lists[incident_id].append(keep(alert.fingerprint, alert))
        timers: list[Timer] = yield TimersOf(ids_)
        s.timers.update((t.key, t) for t in timers)
    return s
