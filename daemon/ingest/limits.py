"""Bounds on what one alert may carry; exceeding one rejects the whole request and names the limit."""

from __future__ import annotations

from collections.abc import Mapping

from daemon.config.settings import LimitsConfig
from daemon.ingest.errors import IngestError


def exceeded(limit: str, maximum: int, index: int, what: str) -> IngestError:
    return IngestError(
        422,
        "limit_exceeded",
        f"alert {index}: {what} exceeds {limit} ({maximum})",
        {"limit": limit, "max": maximum, "alert": index},
    )


def _bytes(text: str) -> int:
    # Most label text is ASCII, whose length in UTF-8 is its length; encode only the rest.
    return len(text) if text.isascii() else len(text.encode())


def check_alert(limits: LimitsConfig, index: int, labels: Mapping[str, str], annotations: Mapping[str, str]) -> None:
    if len(labels) > limits.max_labels_per_alert:
        raise exceeded("max_labels_per_alert", limits.max_labels_per_alert, index, f"{len(labels)} labels")
    if len(annotations) > limits.max_annotations_per_alert:
        raise exceeded(
            "max_annotations_per_alert", limits.max_annotations_per_alert, index, f"{len(annotations)} annotations"
        )
    name_max, value_max = limits.max_label_name_bytes, limits.max_label_value_bytes
    annotation_max = limits.max_annotation_value_bytes
    # The common case in one C-speed pass: every string within a quarter of its limit in characters (a UTF-8
    # character is at most 4 bytes) is within the limit, with nothing to count one by one.
    if (
        max(map(len, labels), default=0) * 4 <= name_max
        and max(map(len, labels.values()), default=0) * 4 <= value_max
        and max(map(len, annotations), default=0) * 4 <= name_max
        and max(map(len, annotations.values()), default=0) * 4 <= annotation_max
    ):
        return
    for name, value in labels.items():
        # A string within a quarter of the limit in characters is within it in bytes: no need to count.
        if len(name) * 4 > name_max and _bytes(name) > name_max:
            raise exceeded("max_label_name_bytes", name_max, index, f"label name {name[:40]!r}…")
        if len(value) * 4 > value_max and _bytes(value) > value_max:
            raise exceeded("max_label_value_bytes", value_max, index, f"label {name!r}")
    for name, value in annotations.items():
        if len(name) * 4 > name_max and _bytes(name) > name_max:
            raise exceeded("max_label_name_bytes", name_max, index, f"annotation name {name[:40]!r}…")
        if len(value) * 4 > annotation_max and _bytes(value) > annotation_max:
            raise exceeded("max_annotation_value_bytes", annotation_max, index, f"annotation {name!r}")


def check_url(limits: LimitsConfig, index: int, name: str, value: str) -> None:
    """Links (generatorURL, PagerDuty's client_url and links) are bounded like annotation values."""
    if len(value) * 4 > limits.max_annotation_value_bytes and _bytes(value) > limits.max_annotation_value_bytes:
        raise exceeded("max_annotation_value_bytes", limits.max_annotation_value_bytes, index, name)


def check_count(limits: LimitsConfig, count: int) -> None:
    if count > limits.max_alerts_per_request:
        raise IngestError(
            413,
            "too_many_alerts",
            f"{count} alerts exceed max_alerts_per_request ({limits.max_alerts_per_request})",
            {"limit": "max_alerts_per_request", "max": limits.max_alerts_per_request},
        )
