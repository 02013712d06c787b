"""PagerDuty V3 webhooks: verify the signature over the raw body, then parse one incident event."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.engine.events import PagerDutyIncident
from daemon.ingest.errors import IngestError, from_validation
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


def verify(raw: bytes, header: str | None, secrets: Sequence[str]) -> None:
    """``X-PagerDuty-Signature: v1=<hex>[,v1=<hex>…]`` (several during a secret rotation); 401 unless one matches."""
    if not header:
        raise IngestError(401, "missing_signature", "X-PagerDuty-Signature is missing")
    offered = [part.strip()[3:] for part in header.split(",") if part.strip().startswith("v1=")]
    expected = [hmac.new(s.encode(), raw, hashlib.sha256).hexdigest() for s in secrets]
    matched = False
    for signature in offered:
        for good in expected:
            matched |= hmac.compare_digest(signature.encode(), good.encode())
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
    occurred_at: str = ""
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


def parse(raw: bytes, webhook_id: str | None) -> PagerDutyIncident | None:
    """The incident event, or None for an event tocsin does not act on (other resources or types)."""
    try:
        envelope = _Envelope.model_validate_json(raw)
    except ValidationError as exc:
        raise from_validation(exc) from None
    event = envelope.event
    if event.resource_type != "incident" or event.event_type not in EVENTS:
        return None
    try:
        incident = _Incident.model_validate(event.data)
    except ValidationError as exc:
        raise from_validation(exc) from None
    agent = event.agent.summary if event.agent and event.agent.summary else "PagerDuty"
    return PagerDutyIncident(
        webhook_id=webhook_id or event.id,
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
