"""Alertmanager webhook (version 4): a pure parser from the raw body to AlertIn reports."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.config.settings import LimitsConfig
from daemon.domain import AlertStatus, Source
from daemon.engine.events import AlertIn
from daemon.ingest import limits
from daemon.ingest.errors import IngestError, from_validation
from daemon.timefmt import utc


class _Alert(BaseModel):
    # Unknown fields are tolerated: newer Alertmanagers add some (notification_reason, routeLabels…).
    model_config = ConfigDict(extra="ignore", strict=False)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    # RFC 3339 strings only: a bare number would otherwise pass as a Unix time.
    startsAt: datetime = Field(strict=True)
    endsAt: datetime | None = Field(default=None, strict=True)
    generatorURL: str = ""
    # Alertmanager's are 16 hex digits; PagerDuty caps its dedup_key at 255 characters.
    fingerprint: str = Field(default="", max_length=255)


class _Webhook(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: str
    receiver: str = ""
    status: str = ""
    alerts: list[_Alert]
    # A uint64 in Alertmanager; bounded so that it can be counted and answered back.
    truncatedAlerts: int = Field(default=0, ge=0, le=2**64 - 1)


@dataclass(frozen=True, slots=True)
class Webhook:
    receiver: str
    alerts: tuple[AlertIn, ...]
    truncated: int


def fingerprint_of(labels: dict[str, str]) -> str:
    """For senders that give no fingerprint: a stable hash of the label set."""
    digest = hashlib.sha256()
    for name in sorted(labels):
        digest.update(name.encode() + b"\xff" + labels[name].encode() + b"\xff")
    return digest.hexdigest()[:16]


def _time(value: datetime | None, index: int, name: str) -> datetime | None:
    # Go's zero time (0001-01-01T00:00:00Z) means "unset".
    if value is None or value.year <= 1:
        return None
    try:
        return utc(value)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-01:00 has no UTC datetime
        raise IngestError(
            422,
            "invalid_body",
            "the body does not have the expected shape",
            [{"field": f"alerts.{index}.{name}", "problem": "time out of range"}],
        ) from None


def parse(raw: bytes, bounds: LimitsConfig) -> Webhook:
    try:
        body = _Webhook.model_validate_json(raw)
    except ValidationError as exc:
        raise from_validation(exc) from None
    if body.version != "4":
        raise IngestError(
            422, "unsupported_version", f'webhook version {body.version!r} is not supported (expected "4")'
        )
    limits.check_count(bounds, len(body.alerts))
    reports = []
    for i, alert in enumerate(body.alerts):
        if not alert.labels:
            raise IngestError(422, "invalid_body", f"alert {i} has no labels", {"alert": i})
        limits.check_alert(bounds, i, alert.labels, alert.annotations)
        limits.check_url(bounds, i, "generatorURL", alert.generatorURL)
        reports.append(
            AlertIn(
                fingerprint=alert.fingerprint or fingerprint_of(alert.labels),
                source=Source.ALERTMANAGER,
                status=AlertStatus(alert.status),
                labels=alert.labels,
                annotations=alert.annotations,
                starts_at=_time(alert.startsAt, i, "startsAt"),
                ends_at=_time(alert.endsAt, i, "endsAt"),
                generator_url=alert.generatorURL,
            )
        )
    return Webhook(body.receiver, tuple(reports), body.truncatedAlerts)
