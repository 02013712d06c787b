"""Which reads build a Slice, written once and free of I/O: each store answers the queries its own way.

``plan(needs)`` is a generator that yields queries and receives their answers; the SQLite store
drives it synchronously inside its transaction, the Redis store asynchronously.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from daemon.domain import Alert, Incident, Timer
from daemon.engine.state import IdSource, Needs, Slice


@dataclass(frozen=True, slots=True)
class AlertsByFingerprint:
    fingerprints: tuple[str, ...]  # answer: list[Alert]


@dataclass(frozen=True, slots=True)
class IncidentsById:
    ids: tuple[str, ...]  # answer: list[Incident]


@dataclass(frozen=True, slots=True)
class LatestIncidentByKey:
    keys: tuple[str, ...]  # answer: list[Incident], the newest incident of each key that has one


@dataclass(frozen=True, slots=True)
class OrphansByKey:
    keys: tuple[str, ...]  # answer: list[Alert], firing alerts of these keys that are in no incident


@dataclass(frozen=True, slots=True)
class MembersOf:
    incident_ids: tuple[str, ...]  # answer: list[tuple[str, Alert]], (incident id, member alert)


@dataclass(frozen=True, slots=True)
class TimersOf:
    incident_ids: tuple[str, ...]  # answer: list[Timer]


@dataclass(frozen=True, slots=True)
class SeenWebhooks:
    ids: tuple[str, ...]  # answer: set[str], those already processed


Query = AlertsByFingerprint | IncidentsById | LatestIncidentByKey | OrphansByKey | MembersOf | TimersOf | SeenWebhooks
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
    wanted = set(needs.incident_ids) | {a.incident_id for a in s.alerts.values() if a.incident_id}
    if wanted:
        incidents: list[Incident] = yield IncidentsById(tuple(sorted(wanted)))
        for incident in incidents:
            keep_incident(incident)
    keys = set(needs.keys)
    if needs.members:
        # Lifecycle events learn the keys of their incidents only now: a reopen must see who holds the key.
        keys |= {i.correlation_key for i in s.incidents.values()}
    if keys:
        latest: list[Incident] = yield LatestIncidentByKey(tuple(sorted(keys)))
        for incident in latest:
            s.latest_by_key[incident.correlation_key] = keep_incident(incident).id
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
    if needs.members and s.incidents:
        ids_ = tuple(sorted(s.incidents))
        members: list[tuple[str, Alert]] = yield MembersOf(ids_)
        for incident_id in ids_:
            s.members[incident_id] = []
        for incident_id, alert in members:
            s.members[incident_id].append(keep_alert(alert))
        timers: list[Timer] = yield TimersOf(ids_)
        s.timers = {t.key: t for t in timers}
    return s
