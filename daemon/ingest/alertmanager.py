"""Alertmanager webhook (version 4): a pure parser from the raw body to AlertIn reports.

The limits are part of the validation schema (built once per LimitsConfig), so pydantic-core checks them
while it parses: the per-alert Python work is what is left. Limits are in bytes, pydantic counts characters:
the two agree for a body that is plain ASCII, and any other body also gets the exact byte check.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Annotated, Any, Literal, NotRequired

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError
from typing_extensions import TypedDict

from daemon.config.settings import LimitsConfig
from daemon.domain import AlertStatus, Source
from daemon.engine.events import AlertIn
from daemon.ingest import limits
from daemon.ingest.errors import IngestError, from_validation
from daemon.timefmt import utc

_ZERO = timedelta(0)
_STATUS = {"firing": AlertStatus.FIRING, "resolved": AlertStatus.RESOLVED}
# Fingerprints of other sources' alerts: an Alertmanager webhook may not name one of them.
RESERVED_PREFIXES = ("pagerduty:", "heartbeat:", "oncall:")


@dataclass(frozen=True, slots=True)
class Webhook:
    receiver: str
    alerts: tuple[AlertIn, ...]
    truncated: int


# Schemas are built at run time from the configured limits; to the type checker they are opaque.
_typed_dict: Any = TypedDict


def _text(max_length: int) -> Any:
    return Annotated[str, StringConstraints(max_length=max_length)]


def _mapping(key: Any, value: Any, most: int) -> Any:
    return Annotated[dict.__class_getitem__((key, value)), Field(max_length=most)]


@lru_cache(maxsize=8)
def _schema(bounds: LimitsConfig) -> TypeAdapter[Any]:
    """TypedDicts rather than models: pydantic-core then builds plain dicts, about twice as fast."""
    name = _text(bounds.max_label_name_bytes)
    alert = _typed_dict(
        "AlertmanagerAlert",
        {
            "status": Literal["firing", "resolved"],
            "labels": _mapping(name, _text(bounds.max_label_value_bytes), bounds.max_labels_per_alert),
            "annotations": NotRequired[
                _mapping(name, _text(bounds.max_annotation_value_bytes), bounds.max_annotations_per_alert)
            ],
            # RFC 3339 strings only: a bare number would otherwise pass as a Unix time.
            "startsAt": Annotated[datetime, Field(strict=True)],
            "endsAt": NotRequired[Annotated[datetime | None, Field(strict=True)]],
            "generatorURL": NotRequired[_text(bounds.max_annotation_value_bytes)],
            # Alertmanager's are 16 hex digits; PagerDuty caps its dedup_key at 255 characters.
            "fingerprint": NotRequired[_text(255)],
        },
    )
    webhook = _typed_dict(
        "AlertmanagerWebhook",
        {
            "version": str,
            "receiver": NotRequired[str],
            "status": NotRequired[str],
            "alerts": Annotated[list.__class_getitem__(alert), Field(max_length=bounds.max_alerts_per_request)],
            # A uint64 in Alertmanager; bounded so that it can be counted and answered back.
            "truncatedAlerts": NotRequired[Annotated[int, Field(ge=0, le=2**64 - 1)]],
        },
    )
    # Unknown fields are ignored: newer Alertmanagers add some (notification_reason, routeLabels…).
    return TypeAdapter(webhook)


# What a length error at a place in the body means, by the shape of its location.
def _limit_error(bounds: LimitsConfig, loc: tuple[int | str, ...], kind: str) -> IngestError | None:
    if loc == ("alerts",) and kind == "too_long":
        return IngestError(
            413,
            "too_many_alerts",
            f"the webhook exceeds max_alerts_per_request ({bounds.max_alerts_per_request})",
            {"limit": "max_alerts_per_request", "max": bounds.max_alerts_per_request},
        )
    if len(loc) < 3 or loc[0] != "alerts" or not isinstance(loc[1], int):
        return None
    index, field = loc[1], loc[2]
    if field in ("labels", "annotations") and len(loc) == 3 and kind == "too_long":
        which = "max_labels_per_alert" if field == "labels" else "max_annotations_per_alert"
        return limits.exceeded(which, getattr(bounds, which), index, f"its {field}")
    if kind != "string_too_long":
        return None
    if field == "generatorURL":
        return limits.exceeded("max_annotation_value_bytes", bounds.max_annotation_value_bytes, index, "generatorURL")
    if field in ("labels", "annotations") and len(loc) >= 4:
        if loc[-1] == "[key]":
            return limits.exceeded("max_label_name_bytes", bounds.max_label_name_bytes, index, f"a {field[:-1]} name")
        which = "max_label_value_bytes" if field == "labels" else "max_annotation_value_bytes"
        return limits.exceeded(which, getattr(bounds, which), index, f"{field[:-1]} {loc[3]!r}")
    return None


def _invalid(bounds: LimitsConfig, exc: ValidationError) -> IngestError:
    for error in exc.errors(include_url=False, include_input=False):
        found = _limit_error(bounds, tuple(error["loc"]), error["type"])
        if found is not None:
            return found
    return from_validation(exc)


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
    if value.utcoffset() == _ZERO:
        return value  # already UTC ("…Z"): aware datetimes compare and hash by their instant
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
        body: Any = _schema(bounds).validate_json(raw)
    except ValidationError as exc:
        raise _invalid(bounds, exc) from None
    if body["version"] != "4":
        raise IngestError(
            422, "unsupported_version", f'webhook version {body["version"]!r} is not supported (expected "4")'
        )
    # Characters and bytes agree for plain ASCII (no \\u escapes either); otherwise count the bytes too.
    exact = not raw.isascii() or b"\\u" in raw
    reports = []
    for i, alert in enumerate(body["alerts"]):
        labels = alert["labels"]
        if not labels:
            raise IngestError(422, "invalid_body", f"alert {i} has no labels", {"alert": i})
        annotations = alert.get("annotations", {})
        generator_url = alert.get("generatorURL", "")
        fingerprint = alert.get("fingerprint") or fingerprint_of(labels)
        if fingerprint.startswith(RESERVED_PREFIXES):
            raise IngestError(
                422,
                "invalid_body",
                f"alert {i}: its fingerprint names another source's alert",
                [
                    {
                        "field": f"alerts.{i}.fingerprint",
                        "problem": f"must not start with {' or '.join(RESERVED_PREFIXES)}",
                    }
                ],
            )
        if exact:
            limits.check_alert(bounds, i, labels, annotations)
            limits.check_url(bounds, i, "generatorURL", generator_url)
        reports.append(
            AlertIn(
                fingerprint,
                Source.ALERTMANAGER,
                _STATUS[alert["status"]],
                labels,
                annotations,
                _time(alert["startsAt"], i, "startsAt"),
                _time(alert.get("endsAt"), i, "endsAt"),
                generator_url,
            )
        )
    return Webhook(body.get("receiver", ""), tuple(reports), body.get("truncatedAlerts", 0))
