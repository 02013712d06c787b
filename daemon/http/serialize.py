"""The API's JSON shapes of incidents, alerts and timeline entries."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from daemon.domain import Alert, Incident, Source, TimelineEntry
from daemon.ingest.pagerduty_events import dedup_key_of
from daemon.store.base import IncidentView
from daemon.timefmt import iso, iso_or_none

SilencedBy = Callable[[Alert], list[str]]


def alert_json(a: Alert, silenced_by: SilencedBy | None = None) -> dict[str, Any]:
    return {
        "fingerprint": a.fingerprint,
        # PagerDuty Events v2: the dedup_key as the sender gave it (the fingerprint scopes it to its integration).
        "dedup_key": dedup_key_of(a.fingerprint) if a.source is Source.PAGERDUTY else None,
        "status": a.status.value,
        "source": a.source.value,
        "labels": a.labels,
        "annotations": a.annotations,
        "starts_at": iso(a.starts_at),
        "ends_at": iso_or_none(a.ends_at),
        "count": a.count,
        "severity": a.severity.value,
        "rule": a.rule,
        "generator_url": a.generator_url,
        "links": a.links,
        "incident_id": a.incident_id,
        "received_at": iso(a.received_at),
        # DESIGN §12: the silences and maintenance windows holding it as the answer is made (empty: none).
        "silenced_by": silenced_by(a) if silenced_by is not None else [],
    }


def timeline_json(e: TimelineEntry) -> dict[str, Any]:
    return {"at": iso(e.at), "actor": e.actor, "kind": e.kind.value, "text": e.text}


def incident_summary(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "title": i.title,
        "severity": i.severity.value,
        "state": i.state.value,
        "service": i.service,
        "labels": i.labels,
        "source": i.source.value,
        "declared_at": iso(i.declared_at),
        "acknowledged_at": iso_or_none(i.acknowledged_at),
        "acknowledged_by": i.acknowledged_by,
        "mitigated_at": iso_or_none(i.mitigated_at),
        "resolved_at": iso_or_none(i.resolved_at),
        "resolved_by": i.resolved_by,
        "commander": i.commander,
        "firing_alerts": i.firing_alerts,
        "alert_count": i.alert_count,
        "policy": i.policy,
        "paged": i.paged,
        "verifying_until": iso_or_none(i.verifying_until),
        "status_phase": i.status_phase,
        "last_status_update_at": iso_or_none(i.last_status_update_at),
        "mirrored": i.mirrored,
    }


def incident_json(view: IncidentView, silenced_by: SilencedBy | None = None) -> dict[str, Any]:
    return {
        **incident_summary(view.incident),
        "alerts": [alert_json(a, silenced_by) for a in view.alerts],
        "timeline": [timeline_json(e) for e in view.timeline],
    }


def incident_body(view: IncidentView, silenced_by: SilencedBy | None = None, chunk: int = 500) -> list[bytes]:
    """``incident_json`` as JSON bytes in pieces (their concatenation is the document), the alerts serialised
    ``chunk`` at a time: made in a thread for an incident of many alerts, no single step holds the interpreter for
    long, and the pieces are sent one by one rather than copied into one body of tens of megabytes."""
    head = orjson.dumps(incident_summary(view.incident))
    parts = [head[:-1] + b',"alerts":[']
    for start in range(0, len(view.alerts), chunk):
        piece = orjson.dumps([alert_json(a, silenced_by) for a in view.alerts[start : start + chunk]])[1:-1]
        parts.append(piece if start == 0 else b"," + piece)
    parts.append(b'],"timeline":' + orjson.dumps([timeline_json(e) for e in view.timeline]) + b"}")
    return parts
