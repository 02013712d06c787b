"""Dataclasses to JSON bytes and back, shared by every store implementation."""

from __future__ import annotations

from typing import Any

import orjson

from daemon.domain import (
    Alert,
    AlertStatus,
    Incident,
    Kind,
    Ladder,
    Notification,
    NotifyReason,
    Source,
    State,
    TimelineEntry,
    Timer,
    TimerKind,
)
from daemon.timefmt import parse_iso, parse_iso_or_none
from rules.severity import Severity

_OPTS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC
# Enum lookups by value, without Enum.__call__'s cost (decoding is on the hot path of every decision).
_SEVERITY = {s.value: s for s in Severity}
_STATE = {s.value: s for s in State}
_ALERT_STATUS = {s.value: s for s in AlertStatus}
_SOURCE = {s.value: s for s in Source}


def dumps(obj: Any) -> bytes:
    return orjson.dumps(obj, option=_OPTS)


def loads(data: bytes | str) -> Any:
    return orjson.loads(data)


def alert_from(d: dict[str, Any]) -> Alert:
    return Alert(
        fingerprint=d["fingerprint"],
        source=_SOURCE[d["source"]],
        status=_ALERT_STATUS[d["status"]],
        labels=d["labels"],
        annotations=d["annotations"],
        starts_at=parse_iso(d["starts_at"]),
        ends_at=parse_iso_or_none(d["ends_at"]),
        generator_url=d["generator_url"],
        severity=_SEVERITY[d["severity"]],
        rule=d["rule"],
        correlation_key=d["correlation_key"],
        received_at=parse_iso(d["received_at"]),
        count=d["count"],
        incident_id=d["incident_id"],
        links=d["links"],
        version=d["version"],
    )


def incident_from(d: dict[str, Any]) -> Incident:
    ladder = d["ladder"]
    return Incident(
        id=d["id"],
        title=d["title"],
        severity=_SEVERITY[d["severity"]],
        state=_STATE[d["state"]],
        service=d["service"],
        labels=d["labels"],
        correlation_key=d["correlation_key"],
        declared_at=parse_iso(d["declared_at"]),
        source=_SOURCE[d["source"]],
        acknowledged_at=parse_iso_or_none(d["acknowledged_at"]),
        acknowledged_by=d["acknowledged_by"],
        mitigated_at=parse_iso_or_none(d["mitigated_at"]),
        resolved_at=parse_iso_or_none(d["resolved_at"]),
        resolved_by=d["resolved_by"],
        commander=d["commander"],
        firing_alerts=d["firing_alerts"],
        alert_count=d["alert_count"],
        raises=d["raises"],
        episode=d["episode"],
        policy=d["policy"],
        ladder=None if ladder is None else _ladder_from(ladder),
        paged=d["paged"],
        verifying_until=parse_iso_or_none(d["verifying_until"]),
        last_status_update_at=parse_iso_or_none(d["last_status_update_at"]),
        status_phase=d["status_phase"],
        observed=d["observed"],
        mirrored=d["mirrored"],
        # Later additions: absent from incidents stored by older versions.
        firing_since=parse_iso_or_none(d.get("firing_since")),
        last_reminded_at=parse_iso_or_none(d.get("last_reminded_at")),
        notify_seq=d["notify_seq"],
        # Stored before links were bound to episodes: only links of the current episode are taken as this one's.
        opened_episode=d.get("opened_episode", d["episode"]),
        version=d["version"],
    )


def _ladder_from(d: dict[str, Any]) -> Ladder:
    round_started_at = parse_iso(d["round_started_at"])
    # Stored before ladders kept their episode's start: the round's start is the best known.
    started = d.get("episode_started_at")
    return Ladder(
        d["policy"],
        d["round"],
        d["level"],
        round_started_at,
        round_started_at if started is None else parse_iso(started),
    )


def timeline_from(d: dict[str, Any]) -> TimelineEntry:
    return TimelineEntry(d["incident_id"], parse_iso(d["at"]), d["actor"], Kind(d["kind"]), d["text"])


def timer_from(d: dict[str, Any]) -> Timer:
    return Timer(d["key"], TimerKind(d["kind"]), d["incident_id"], parse_iso(d["due_at"]), d["data"])


def notification_from(d: dict[str, Any]) -> Notification:
    return Notification(
        key=d["key"],
        incident_id=d["incident_id"],
        reason=NotifyReason(d["reason"]),
        channels=d["channels"],
        title=d["title"],
        body=d["body"],
        created_at=parse_iso(d["created_at"]),
        severity=_SEVERITY[d["severity"]],
        level=d["level"],
        round=d["round"],
        attempts=d["attempts"],
        next_attempt_at=parse_iso_or_none(d["next_attempt_at"]),
        escalation_step=d.get("escalation_step", False),
    )
