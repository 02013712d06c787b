"""Rows a claim set aside because they could not be read: logged once (by the claim that moved them) and counted."""

from __future__ import annotations

from collections.abc import Iterable

import structlog

from daemon.metrics import Metrics
from daemon.store.base import SetAside

log = structlog.get_logger("tocsin.effects")


def report(rows: Iterable[SetAside], metrics: Metrics) -> None:
    for row in rows:
        log.error("row_set_aside", queue=row.queue.value, key=row.key, reason=row.reason)
        metrics.rows_set_aside.labels(row.queue.value).inc()
