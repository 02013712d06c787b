"""One log line per lifecycle event of an incident, written once the decision that made it is committed.

A decision retried or refused never reaches here: the store calls its listeners only for what it stored."""

from __future__ import annotations

import structlog

from daemon.engine.state import Decision

log = structlog.get_logger("tocsin.incidents")


def committed(decision: Decision) -> None:
    for said in decision.said:
        fields = {key: value for key, value in said.fields.items() if value is not None}
        if said.warning:
            log.warning(said.event, incident=said.incident_id, **fields)
        else:
            log.info(said.event, incident=said.incident_id, **fields)
