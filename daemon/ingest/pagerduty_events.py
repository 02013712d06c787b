"""PagerDuty Events API v2 (``POST /v2/enqueue``): a pure parser from the raw body to one event.

A ``dedup_key`` names an alert within its integration only (as in PagerDuty, where it is scoped to the service
of the routing key). The alert's fingerprint is ``pagerduty:<integration>:<dedup_key>``, where <integration> is
a digest of the integration's service: two integrations sending the same dedup_key make two alerts, and no
routing key can reach an Alertmanager alert (whose fingerprints never start with ``pagerduty:``). The routing
key itself, a credential, appears nowhere. Several routing keys of one service are one integration, so that a
key can be rotated without losing the alerts triggered with the old one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.config.settings import LimitsConfig, PagerDutyIntegration
from daemon.domain import AlertStatus, Source
from daemon.engine.events import AlertIn
from daemon.ingest import limits
from daemon.ingest.errors import IngestError


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    summary: str = Field(min_length=1, max_length=1024)
    source: str = Field(min_length=1, max_length=255)
    severity: Literal["critical", "error", "warning", "info"]
    timestamp: str | None = None
    component: str | None = None
    group: str | None = None
    class_: str | None = Field(default=None, alias="class")
    custom_details: Any = None


class _Link(BaseModel):
    model_config = ConfigDict(extra="ignore")

    href: str
    text: str = ""


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")

    routing_key: str = Field(min_length=1)
    event_action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str | None = Field(default=None, max_length=255)
    payload: _Payload | None = None
    client: str | None = None
    client_url: str | None = None
    links: list[_Link] = Field(default_factory=list)


PREFIX = "pagerduty:"
_INTEGRATION_HEX = 12


def fingerprint(service: str, dedup_key: str) -> str:
    """The alert of ``dedup_key`` within the integration of ``service``."""
    integration = hashlib.sha256(b"tocsin pagerduty integration\0" + service.encode()).hexdigest()
    return f"{PREFIX}{integration[:_INTEGRATION_HEX]}:{dedup_key}"


def dedup_key_of(fingerprint: str) -> str | None:
    """The dedup_key as the sender gave it, for a fingerprint made by ``fingerprint``; None for others (such as
    PagerDuty alerts stored before fingerprints were scoped, whose fingerprint is the bare dedup_key)."""
    if not fingerprint.startswith(PREFIX):
        return None
    integration, sep, key = fingerprint[len(PREFIX) :].partition(":")
    return key if sep and len(integration) == _INTEGRATION_HEX else None


class PagerDutyError(IngestError):
    """Answered in PagerDuty's own shape: ``{"status", "message", "errors"}``."""

    def __init__(self, status: int, code: str, message: str, errors: list[str]) -> None:
        super().__init__(status, code, message, errors)
        self.errors = errors


@dataclass(frozen=True, slots=True)
class Event:
    action: Literal["trigger", "acknowledge", "resolve"]
    dedup_key: str
    service: str
    alert: AlertIn | None  # None for acknowledge
    fingerprint: str  # of the alert within the integration


def flatten(details: Any, prefix: str = "") -> dict[str, str]:
    """``custom_details`` as annotations: nested keys joined with '.', non-strings as JSON."""
    if not isinstance(details, Mapping):
        if details is None:
            return {}
        return {prefix or "custom_details": details if isinstance(details, str) else json.dumps(details)}
    out: dict[str, str] = {}
    for key, value in details.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping):
            out.update(flatten(value, name))
        else:
            out[name] = value if isinstance(value, str) else json.dumps(value)
    return out


# Label names as Prometheus spells them: a `name=value` line starts a label, any other line continues the value.
_LABEL_LINE = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)=(.*)")
LABELS_DETAIL = "labels"
# What the integration and the payload say is not the sender's to rewrite through custom_details.
_OWN_LABELS = frozenset({"service", "severity", "source", "component", "group", "class"})


def detail_labels(details: Any) -> dict[str, str]:
    """The alert's own labels, when the sender put them in ``custom_details.labels``: a mapping (any Events v2
    client) or ``name=value`` lines, which is what an Alertmanager template can write (deploy/alertmanager.yml
    renders ``.CommonLabels`` so). A line that is not ``name=value`` belongs to the value above it."""
    if not isinstance(details, Mapping):
        return {}
    given = details.get(LABELS_DETAIL)
    found: dict[str, str] = {}
    if isinstance(given, Mapping):
        found = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in given.items()}
    elif isinstance(given, str):
        name = None
        for line in given.splitlines():
            match = _LABEL_LINE.fullmatch(line)
            if match:
                name = match.group(1)
                found[name] = match.group(2)
            elif name is not None:
                found[name] += "\n" + line
    return {k: v for k, v in found.items() if k and k not in _OWN_LABELS}


def _errors(exc: ValidationError) -> PagerDutyError:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return PagerDutyError(400, "malformed_json", "Event object is invalid", ["the body is not valid UTF-8 JSON"])
    messages = [f"'{'.'.join(str(p) for p in e['loc'])}': {e['msg']}" for e in errors[:20]]
    return PagerDutyError(400, "invalid_event", "Event object is invalid", messages)


def parse(
    raw: bytes,
    integrations: Mapping[str, PagerDutyIntegration],
    bounds: LimitsConfig,
    new_key: Callable[[], str],
) -> Event:
    try:
        event = _Event.model_validate_json(raw)
    except ValidationError as exc:
        raise _errors(exc) from None
    integration = integrations.get(event.routing_key)
    if integration is None:
        raise PagerDutyError(
            400,
            "unknown_routing_key",
            "Event object is invalid",
            ["'routing_key' does not name a configured integration"],
        )
    dedup_key = event.dedup_key
    if not dedup_key:
        if event.event_action != "trigger":
            raise PagerDutyError(
                400, "invalid_event", "Event object is invalid", [f"'dedup_key' is required for {event.event_action}"]
            )
        dedup_key = new_key()
    scoped = fingerprint(integration.service, dedup_key)
    alert = None
    if event.event_action == "trigger" and event.payload is None:
        raise PagerDutyError(400, "invalid_event", "Event object is invalid", ["'payload' is required for trigger"])
    if event.payload is not None and event.event_action != "acknowledge":
        p = event.payload
        own = detail_labels(p.custom_details)
        labels = {**own, "service": integration.service, "severity": p.severity, "source": p.source}
        for name, value in (("component", p.component), ("group", p.group), ("class", p.class_)):
            if value:
                labels[name] = value
        details = p.custom_details
        if own:
            # The labels became labels; whatever else the sender put in custom_details stays an annotation.
            details = {k: v for k, v in details.items() if k != LABELS_DETAIL}
        annotations = {"summary": p.summary, **flatten(details)}
        try:
            limits.check_alert(bounds, 0, labels, annotations)
            limits.check_url(bounds, 0, "client_url", event.client_url or "")
            for link in event.links:
                limits.check_url(bounds, 0, "links", link.href + link.text)
        except IngestError as exc:
            raise PagerDutyError(exc.status, exc.code, "Event object is invalid", [exc.message]) from None
        alert = AlertIn(
            fingerprint=scoped,
            source=Source.PAGERDUTY,
            status=AlertStatus.FIRING if event.event_action == "trigger" else AlertStatus.RESOLVED,
            labels=labels,
            annotations=annotations,
            generator_url=event.client_url or "",
            links=[{"href": link.href, "text": link.text} for link in event.links],
        )
    if alert is None and event.event_action == "resolve":
        alert = AlertIn(
            fingerprint=scoped,
            source=Source.PAGERDUTY,
            status=AlertStatus.RESOLVED,
            labels={"service": integration.service},
            annotations={},
        )
    return Event(event.event_action, dedup_key, integration.service, alert, scoped)
