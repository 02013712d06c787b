"""Bounds on what one alert may carry; exceeding one rejects the whole request and names the limit."""

from __future__ import annotations

from collections.abc import Mapping

from daemon.config.settings import LimitsConfig
from daemon.ingest.errors import IngestError


def _exceeded(limit: str, maximum: int, index: int, what: str) -> IngestError:
    return IngestError(
        422,
        "limit_exceeded",
        f"alert {index}: {what} exceeds {limit} ({maximum})",
        {"limit": limit, "max": maximum, "alert": index},
    )


def check_alert(limits: LimitsConfig, index: int, labels: Mapping[str, str], annotations: Mapping[str, str]) -> None:
    if len(labels) > limits.max_labels_per_alert:
        raise _exceeded("max_labels_per_alert", limits.max_labels_per_alert, index, f"{len(labels)} labels")
    if len(annotations) > limits.max_annotations_per_alert:
        raise _exceeded(
            "max_annotations_per_alert", limits.max_annotations_per_alert, index, f"{len(annotations)} annotations"
        )
    for name, value in labels.items():
        if len(name.encode()) > limits.max_label_name_bytes:
            raise _exceeded("max_label_name_bytes", limits.max_label_name_bytes, index, f"label name {name[:40]!r}…")
        if len(value.encode()) > limits.max_label_value_bytes:
            raise _exceeded("max_label_value_bytes", limits.max_label_value_bytes, index, f"label {name!r}")
    for name, value in annotations.items():
        if len(name.encode()) > limits.max_label_name_bytes:
            raise _exceeded(
                "max_label_name_bytes", limits.max_label_name_bytes, index, f"annotation name {name[:40]!r}…"
            )
        if len(value.encode()) > limits.max_annotation_value_bytes:
            raise _exceeded(
                "max_annotation_value_bytes", limits.max_annotation_value_bytes, index, f"annotation {name!r}"
            )


def check_url(limits: LimitsConfig, index: int, name: str, value: str) -> None:
    """Links (generatorURL, PagerDuty's client_url and links) are bounded like annotation values."""
    if len(value.encode()) > limits.max_annotation_value_bytes:
        raise _exceeded("max_annotation_value_bytes", limits.max_annotation_value_bytes, index, name)


def check_count(limits: LimitsConfig, count: int) -> None:
    if count > limits.max_alerts_per_request:
        raise IngestError(
            413,
            "too_many_alerts",
            f"{count} alerts exceed max_alerts_per_request ({limits.max_alerts_per_request})",
            {"limit": "max_alerts_per_request", "max": limits.max_alerts_per_request},
        )
