"""PagerDuty V3 mirror (DESIGN §9): PagerDuty's incidents onto tocsin's, tracked but never paged for."""

from __future__ import annotations

from daemon.domain import Incident, Kind, Source, State
from daemon.engine import incidents, lifecycle, transitions
from daemon.engine.context import Ctx
from daemon.engine.events import PagerDutyIncident
from daemon.engine.state import IllegalTransition, Observation
from daemon.engine.transitions import Event, Outcome


def mirror_key(pd_id: str) -> str:
    return f"pagerduty:{pd_id}"


def find(ctx: Ctx, event: PagerDutyIncident) -> Incident | None:
    """The incident whose id or alert fingerprint is PagerDuty's incident_key, else the one mirrored before."""
    key = event.incident_key
    if key:
        if key in ctx.s.incidents:
            return ctx.s.incidents[key]
        alert = ctx.s.alerts.get(key)
        if alert is not None and alert.incident_id in ctx.s.incidents:
            return ctx.s.incidents[alert.incident_id]
    mirrored = ctx.s.latest_by_key.get(mirror_key(event.pd_id))
    return ctx.s.incidents.get(mirrored) if mirrored else None


def _create(ctx: Ctx, event: PagerDutyIncident) -> Incident:
    labels = (
        {"service": event.service, "pagerduty_incident": event.pd_id}
        if event.service
        else {"pagerduty_incident": event.pd_id}
    )
    incident = Incident(
        id=ctx.s.ids.next_incident_id(ctx.now),
        title=event.title,
        severity=event.severity,
        state=State.TRIGGERED,
        service=event.service,
        labels=labels,
        correlation_key=mirror_key(event.pd_id),
        declared_at=ctx.now,
        source=Source.PAGERDUTY,
        mirrored=True,
    )
    ctx.s.incidents[incident.id] = incident
    ctx.take_key(incident)
    number = f" #{event.number}" if event.number is not None else ""
    ctx.log(
        incident,
        Kind.DECLARED,
        f"mirrored from PagerDuty incident{number} {event.url or event.pd_id} "
        f"as {incident.severity}; PagerDuty pages for it, tocsin does not",
        event.actor,
    )
    ctx.d.observations.append(Observation("declared", incident.severity, incident.service))
    incidents.say_declared(ctx, incident, "PagerDuty", event.actor, mirrored_from=event.url or event.pd_id)
    return incident


def apply(ctx: Ctx, event: PagerDutyIncident) -> None:
    if event.webhook_id in ctx.s.seen_webhooks:
        return  # a redelivery: processed already
    ctx.d.webhooks.add(event.webhook_id)
    incident = find(ctx, event)
    if incident is None:
        incident = _create(ctx, event)
        if event.event_type == "incident.triggered":
            ctx.d.incident_id = incident.id
            return
    ctx.d.incident_id = incident.id
    try:
        match event.event_type:
            case "incident.triggered":
                ctx.log(incident, Kind.NOTE, f"PagerDuty incident {event.url or event.pd_id} triggered", event.actor)
            case "incident.acknowledged":
                lifecycle.acknowledge(ctx, incident, event.actor, "in PagerDuty")
            case "incident.unacknowledged":
                lifecycle.unacknowledge(ctx, incident, event.actor, "in PagerDuty")
            case "incident.resolved":
                lifecycle.resolve(ctx, incident, event.actor, "in PagerDuty")
            case "incident.reopened":
                if transitions.outcome(incident.state, Event.REOPEN) is Outcome.TO_TRIGGERED:
                    incidents.reopen(ctx, incident, event.actor, "in PagerDuty")
                    ctx.flush_lines()
                    incidents.settle(ctx, incident)
            case "incident.priority_updated":
                incidents.set_severity(
                    ctx, incident, event.severity, f"{event.actor} (PagerDuty priority)", actor=event.actor
                )
    except IllegalTransition as exc:
        # PagerDuty cannot be told no; the mismatch is kept on the timeline.
        ctx.log(incident, Kind.NOTE, f"ignored {event.event_type} from PagerDuty: {exc}", event.actor)
