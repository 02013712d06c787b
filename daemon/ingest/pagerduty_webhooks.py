"""PagerDuty V3 webhooks: check the signature header, verify it over the raw body, then parse one incident event."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.engine.events import PagerDutyIncident
from daemon.ingest.errors import IngestError, from_validation
from rules.durations import format_duration
from rules.severity import Severity

EVENTS = (
    "incident.triggered",
    "incident.acknowledged",
    "incident.unacknowledged",
    "incident.resolved",
    "incident.reopened",
    "incident.priority_updated",
)
PRIORITIES = {"P1": Severity.SEV1, "P2": Severity.SEV2, "P3": Severity.SEV3, "P4": Severity.SEV4, "P5": Severity.SEV4}
URGENCIES = {"high": Severity.SEV2, "low": Severity.SEV4}
SIGNATURE_HEX = 64


def signatures(header: str | None) -> list[str]:
    """The ``v1=<hex>`` values of ``X-PagerDuty-Signature`` (several during a secret rotation), checked before
    the body is read: 401 unless the header is there and holds at least one well-formed signature."""
    if not header:
        raise IngestError(401, "missing_signature", "X-PagerDuty-Signature is missing")
    offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    # Only SHA-256 hex digests can match; anything else (non-ASCII bytes too) is not worth reading a body for.
    offered = [sig for sig in offered if len(sig) == SIGNATURE_HEX and sig.isascii() and _is_hex(sig)]
    if not offered:
        raise IngestError(401, "bad_signature", "X-PagerDuty-Signature holds no v1= HMAC-SHA256 signature")
    return offered


def _is_hex(text: str) -> bool:
    return all(c in "0123456789abcdefABCDEF" for c in text)


def verify(raw: bytes, offered: Sequence[str], secrets: Sequence[str]) -> None:
    """401 unless one offered signature is the HMAC-SHA256 of the raw body under one configured secret."""
    expected = [hmac.new(s.encode(), raw, hashlib.sha256).hexdigest() for s in secrets]
    matched = False
    for signature in offered:
        for good in expected:
            matched |= hmac.compare_digest(signature.lower().encode(), good.encode())
    if not matched:
        raise IngestError(401, "bad_signature", "X-PagerDuty-Signature does not match any configured secret")


class _Ref(BaseModel):
    model_config = ConfigDict(extra="ignore")
    summary: str = ""


class _Incident(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    number: int | None = None
    title: str = ""
    status: str = ""
    incident_key: str | None = None
    html_url: str = ""
    urgency: str | None = None
    priority: _Ref | None = None
    service: _Ref | None = None


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")
    id: str
    event_type: str
    resource_type: str = "incident"
    occurred_at: datetime
    agent: _Ref | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class _Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore")
    event: _Event


def severity_of(priority: str | None, urgency: str | None) -> Severity:
    """Priority P1..P4 → SEV1..SEV4 (P5 → SEV4); without a priority, urgency high → SEV2, low → SEV4."""
    if priority and priority.upper() in PRIORITIES:
        return PRIORITIES[priority.upper()]
    return URGENCIES.get((urgency or "high").lower(), Severity.SEV2)


def parse(raw: bytes, now: datetime, max_age: timedelta) -> PagerDutyIncident | None:
    """The incident event, or None for an event tocsin does not act on (other resources or types).

    The event's own ``id`` (inside the signed body) identifies it: a replay under a new ``X-Webhook-Id`` is
    the same event. One whose ``occurred_at`` is further than ``max_age`` from ``now`` is refused, so that a
    signed body captured once cannot be replayed after its id was forgotten.
    """
    try:
        envelope = _Envelope.model_validate_json(raw)
    except ValidationError as exc:
        raise from_validation(exc) from None
    event = envelope.event
    occurred = event.occurred_at if event.occurred_at.tzinfo else event.occurred_at.replace(tzinfo=UTC)
    if abs(now - occurred) > max_age:
        raise IngestError(
            422,
            "stale_event",
            f"the event's occurred_at is more than max_webhook_age ({format_duration(max_age)}) from now",
            {"limit": "max_webhook_age", "occurred_at": event.occurred_at.isoformat()},
        )
    if event.resource_type != "incident" or event.event_type not in EVENTS:
        return None
    try:
        incident = _Incident.model_validate(event.data)
    except ValidationError as exc:
        raise from_validation(exc) from None
    agent = event.agent.summary if event.agent and event.agent.summary else "PagerDuty"
    return PagerDutyIncident(
        webhook_id=event.id,
        event_type=event.event_type,
        pd_id=incident.id,
        number=incident.number,
        title=incident.title or f"PagerDuty incident {incident.id}",
        incident_key=incident.incident_key,
        service=incident.service.summary if incident.service else "",
        severity=severity_of(incident.priority.summary if incident.priority else None, incident.urgency),
        actor=f"pagerduty:{agent}",
        url=incident.html_url,
    )
