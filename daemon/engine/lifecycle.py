"""Transitions of an incident: acknowledge, mitigate, resolve, reopen. Which ones exist is DESIGN §5's table in
``transitions``: each function asks it for its cell and changes state only through ``move``."""

from __future__ import annotations

from daemon.domain import AlertStatus, Incident, Kind, NotifyReason, State, Timer, TimerKind
from daemon.engine import escalation, transitions
from daemon.engine.context import ACTOR, Ctx
from daemon.engine.state import IllegalTransition, Observation
from daemon.engine.transitions import Event, Outcome
from rules.durations import format_duration

# Metric names of the three MTTx, observed once per incident each.
MTTA, MTTM, MTTR = "time_to_acknowledge", "time_to_mitigate", "time_to_resolve"


def _said(actor: str, note: str) -> str:
    return f" by {actor}" + (f": {note}" if note else "")


def consult(incident: Incident, event: Event) -> Outcome:
    """The table's cell for this incident now; a refused one raises (the API answers 409)."""
    cell = transitions.outcome(incident.state, event)
    if cell is Outcome.REFUSED:
        raise IllegalTransition(incident.id, event.value, incident.state.value)
    return cell


def move(ctx: Ctx, incident: Incident, event: Event, to: State) -> None:
    """The only way an incident changes state; the decision lists each step (the property tests check them)."""
    cell = transitions.outcome(incident.state, event)
    assert to in transitions.LEADS_TO[cell], f"{incident.state} --{event}--> {to} is not in the table ({cell})"
    ctx.d.transitions.append((incident.id, incident.state, to))
    incident.state = to


def observe(ctx: Ctx, incident: Incident, metric: str) -> None:
    if metric in incident.observed:
        return
    incident.observed.append(metric)
    seconds = max(0.0, (ctx.now - incident.declared_at).total_seconds())
    ctx.d.observations.append(Observation(metric, incident.severity, incident.service, seconds))


def acknowledge(ctx: Ctx, incident: Incident, actor: str, note: str = "") -> bool:
    cell = consult(incident, Event.ACKNOWLEDGE)
    if cell is Outcome.NO_CHANGE or incident.acknowledged_at is not None:
        return False  # acknowledged already (mitigated incidents keep the ack they had)
    incident.acknowledged_at = ctx.now
    incident.acknowledged_by = actor
    if cell is Outcome.TO_ACKNOWLEDGED:
        move(ctx, incident, Event.ACKNOWLEDGE, State.ACKNOWLEDGED)
        escalation.stop_ladder(ctx, incident)
    ctx.log(incident, Kind.ACKNOWLEDGED, "acknowledged" + _said(actor, note), actor)
    ctx.say("incident_acknowledged", incident, by=actor, note=note or None)
    observe(ctx, incident, MTTA)
    escalation.notify_paged(ctx, incident, NotifyReason.ACKNOWLEDGED, note="Acknowledged" + _said(actor, note))
    return True


def unacknowledge(ctx: Ctx, incident: Incident, actor: str, note: str = "") -> bool:
    if consult(incident, Event.UNACKNOWLEDGE) is Outcome.NO_CHANGE:
        return False
    move(ctx, incident, Event.UNACKNOWLEDGE, State.TRIGGERED)
    incident.acknowledged_at = None
    incident.acknowledged_by = None
    incident.episode += 1
    ctx.log(incident, Kind.UNACKNOWLEDGED, "unacknowledged" + _said(actor, note), actor)
    ctx.say("incident_unacknowledged", incident, by=actor, note=note or None)
    escalation.start_ladder(ctx, incident)
    return True


def mitigate(ctx: Ctx, incident: Incident, actor: str, note: str = "") -> bool:
    if consult(incident, Event.MITIGATE) is Outcome.NO_CHANGE:
        return False
    move(ctx, incident, Event.MITIGATE, State.MITIGATED)
    incident.mitigated_at = ctx.now
    escalation.stop_ladder(ctx, incident)
    ctx.log(incident, Kind.MITIGATED, "mitigated" + _said(actor, note), actor)
    ctx.say("incident_mitigated", incident, by=actor, note=note or None)
    observe(ctx, incident, MTTM)
    escalation.notify_paged(ctx, incident, NotifyReason.MITIGATED, note="Mitigated" + _said(actor, note))
    return True


def resolve(ctx: Ctx, incident: Incident, actor: str, note: str = "") -> bool:
    """Resolve now. By hand this is immediate and ends the firing alerts' episodes at this moment."""
    if consult(incident, Event.RESOLVE) is Outcome.NO_CHANGE:
        return False
    for alert in ctx.s.firing_members.get(incident.id, []):
        if alert.status is AlertStatus.FIRING and alert.incident_id == incident.id:
            # Older re-sent firing bodies are stale after this (startsAt before ends_at).
            alert.status = AlertStatus.RESOLVED
            alert.ends_at = ctx.now
            alert.version += 1
            ctx.d.touch_alert(alert)
    incident.firing_alerts = 0
    move(ctx, incident, Event.RESOLVE, State.RESOLVED)
    incident.resolved_at = ctx.now
    incident.resolved_by = actor
    incident.verifying_until = None
    if incident.mitigated_at is None:
        incident.mitigated_at = ctx.now
    escalation.cancel_all_timers(ctx, incident)
    ctx.log(incident, Kind.RESOLVED, "resolved" + _said(actor, note), actor)
    ctx.say("incident_resolved", incident, by=actor, note=note or None)
    observe(ctx, incident, MTTM)
    observe(ctx, incident, MTTR)
    escalation.notify_paged(ctx, incident, NotifyReason.RESOLVED, note="Resolved" + _said(actor, note))
    return True


def start_verification(ctx: Ctx, incident: Incident) -> None:
    """All alerts resolved and mitigated: resolve after the severity's verification period with no re-fire."""
    period = ctx.settings.resolution.verify_for[incident.severity]
    incident.verifying_until = ctx.now + period
    ctx.d.set_timer(
        Timer(escalation.timer_key(incident, TimerKind.VERIFY), TimerKind.VERIFY, incident.id, incident.verifying_until)
    )
    ctx.log(
        incident,
        Kind.VERIFICATION_STARTED,
        f"all alerts resolved: resolves at {incident.verifying_until:%H:%M:%S}Z unless an alert fires again",
    )


def cancel_verification(ctx: Ctx, incident: Incident) -> None:
    if incident.verifying_until is None:
        return
    incident.verifying_until = None
    ctx.d.cancel_timer(escalation.timer_key(incident, TimerKind.VERIFY))
    ctx.log(incident, Kind.VERIFICATION_CANCELLED, "an alert fired again: verification cancelled")


def verification_due(ctx: Ctx, incident: Incident) -> None:
    # Like Alertmanager's DeleteIfNotModified: resolve only what did not change under us.
    if (
        incident.state is State.MITIGATED
        and incident.firing_alerts == 0
        and incident.verifying_until is not None
        and incident.verifying_until <= ctx.now
    ):
        period = ctx.settings.resolution.verify_for.get(incident.severity)
        note = "verified: no alert fired again" + (f" for {format_duration(period)}" if period else "")
        resolve(ctx, incident, ACTOR, note)
