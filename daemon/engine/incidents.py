"""Alerts meet incidents: declaration, joining, reopening, severity raises, and settling a batch."""

from __future__ import annotations

from daemon.domain import Alert, AlertStatus, Incident, Kind, Source, State
from daemon.engine import escalation, lifecycle
from daemon.engine.context import ACTOR, Ctx
from daemon.engine.state import Observation
from rules.durations import format_duration
from rules.matchers import matches_all
from rules.severity import Severity


def title_of(alert: Alert) -> str:
    """``<alertname> on <service>`` of the declaring alert; PagerDuty's summary for its events."""
    if alert.source is Source.PAGERDUTY and alert.annotations.get("summary"):
        return alert.annotations["summary"]
    name = alert.labels.get("alertname") or alert.annotations.get("summary") or alert.fingerprint
    service = alert.labels.get("service")
    return f"{name} on {service}" if service else name


def _common_labels(alerts: list[Alert]) -> dict[str, str]:
    common = dict(alerts[0].labels)
    for alert in alerts[1:]:
        common = {k: v for k, v in common.items() if alert.labels.get(k) == v}
    return common


def attach(ctx: Ctx, incident: Incident, alert: Alert, kind: Kind, quiet: bool = False) -> None:
    """Make ``alert`` (firing) a member of ``incident`` and count it; ``quiet`` when another line names it."""
    if alert.incident_id != incident.id:
        incident.alert_count += 1
    alert.incident_id = incident.id
    alert.version += 1
    ctx.d.touch_alert(alert)
    ctx.d.memberships.add((incident.id, alert.fingerprint))
    incident.firing_alerts += 1
    ctx.touched[incident.id] = incident
    if not quiet:
        ctx.note_alert(incident, kind, alert)
    best = ctx.candidates.get(incident.id)
    if best is None or alert.severity > best[0]:
        ctx.candidates[incident.id] = (alert.severity, f"rule {alert.rule}" if alert.rule else "no matching rule")


def declare(ctx: Ctx, alert: Alert) -> Incident:
    """A firing alert at or above ``declare_at`` with no open incident for its key declares one."""
    key = alert.correlation_key
    joining = [alert] + [o for o in ctx.s.orphans.pop(key, []) if o is not alert and o.status is AlertStatus.FIRING]
    labels = _common_labels(joining)
    incident = Incident(
        id=ctx.s.ids.next_incident_id(ctx.now),
        title=title_of(alert),
        severity=alert.severity,
        state=State.TRIGGERED,
        service=labels.get("service", ""),
        labels=labels,
        correlation_key=key,
        declared_at=ctx.now,
        source=alert.source,
    )
    ctx.s.incidents[incident.id] = incident
    ctx.s.latest_by_key[key] = incident.id
    ctx.fresh.add(incident.id)
    rule = f"rule {alert.rule}" if alert.rule else "no matching rule"
    ctx.log(incident, Kind.DECLARED, f"declared {incident.severity} by {rule}: {alert.name} firing")
    ctx.d.observations.append(Observation("declared", incident.severity, incident.service))
    ctx.d.incident_id = incident.id
    attach(ctx, incident, alert, Kind.ALERT_JOINED, quiet=True)
    for orphan in joining[1:]:
        attach(ctx, incident, orphan, Kind.ALERT_JOINED)
    return incident


def reopen(ctx: Ctx, incident: Incident, actor: str, why: str) -> None:
    """resolved → triggered: a new episode; firing alerts of its key join; the ladder restarts when settled."""
    incident.state = State.TRIGGERED
    incident.acknowledged_at = None
    incident.acknowledged_by = None
    incident.mitigated_at = None
    incident.resolved_at = None
    incident.resolved_by = None
    incident.episode += 1
    ctx.fresh.add(incident.id)
    ctx.log(incident, Kind.REOPENED, f"reopened by {actor}: {why}" if why else f"reopened by {actor}", actor)
    if ctx.s.latest_by_key.get(incident.correlation_key) == incident.id:
        for orphan in ctx.s.orphans.pop(incident.correlation_key, []):
            if orphan.status is AlertStatus.FIRING:
                attach(ctx, incident, orphan, Kind.ALERT_JOINED)
        ctx.touched[incident.id] = incident


def place_firing(ctx: Ctx, alert: Alert, refire: bool) -> None:
    """A firing episode starts: join the open incident of its key, reopen, declare, or stay an orphan."""
    key = alert.correlation_key
    incident = ctx.open_incident(key)
    if incident is not None:
        attach(
            ctx,
            incident,
            alert,
            Kind.ALERT_REFIRED if refire and alert.incident_id == incident.id else Kind.ALERT_JOINED,
        )
        ctx.refired.add(incident.id)
        return
    if alert.severity < ctx.settings.severity.declare_at:
        # Kept and listed, pages no one; it joins if an incident of its key is declared later.
        alert.incident_id = None
        ctx.s.orphans.setdefault(key, []).append(alert)
        return
    latest_id = ctx.s.latest_by_key.get(key)
    latest = ctx.s.incidents.get(latest_id) if latest_id else None
    if (
        latest is not None
        and latest.resolved_at is not None
        and not latest.mirrored
        and ctx.now - latest.resolved_at <= ctx.settings.correlation.reopen_within
    ):
        reopen(ctx, latest, ACTOR, f"{alert.name} fired within reopen_within of the resolution")
        attach(ctx, latest, alert, Kind.ALERT_REFIRED, quiet=True)
        return
    declare(ctx, alert)


def set_severity(
    ctx: Ctx, incident: Incident, severity: Severity, why: str, actor: str = ACTOR, route: bool = True
) -> None:
    old = incident.severity
    if severity == old:
        return
    incident.severity = severity
    ctx.log(incident, Kind.SEVERITY_CHANGED, f"severity {old} → {severity} by {why}", actor)
    if route:
        escalation.severity_changed(ctx, incident)


def _raise_by(ctx: Ctx, incident: Incident, route: bool, *, firing_for: bool) -> None:
    for rule in ctx.settings.severity.raises:
        condition = rule.when.firing_for if firing_for else rule.when.firing_alerts
        if condition is None or rule.name in incident.raises:
            continue
        if rule.when.firing_alerts is not None and incident.firing_alerts < rule.when.firing_alerts:
            continue
        if rule.when.firing_for is not None and (
            ctx.now - incident.declared_at < rule.when.firing_for
            or incident.firing_alerts == 0
            or incident.state not in (State.TRIGGERED, State.ACKNOWLEDGED)
        ):
            continue
        if not matches_all(rule.matchers, incident.labels):
            continue
        # Each raise matches once per incident, so a person's later choice of severity stands.
        incident.raises.append(rule.name)
        ctx.d.touch_incident(incident)
        if rule.severity > incident.severity:
            what = (
                f"{incident.firing_alerts} alerts firing"
                if not firing_for
                else f"still firing after {format_duration(ctx.now - incident.declared_at)}"
            )
            set_severity(ctx, incident, rule.severity, f"raise {rule.name} ({what})", route=route)


def raise_check_due(ctx: Ctx, incident: Incident) -> None:
    if incident.state.is_open:
        _raise_by(ctx, incident, route=True, firing_for=True)


def settle(ctx: Ctx, incident: Incident) -> None:
    """After all alerts of a decision are placed: timeline, re-fire transitions, raises, ladders, resolution."""
    fresh = incident.id in ctx.fresh
    restart = False
    if not fresh and incident.id in ctx.refired and incident.state is State.MITIGATED:
        lifecycle.cancel_verification(ctx, incident)
        if incident.acknowledged_at is not None:
            incident.state = State.ACKNOWLEDGED
            ctx.log(incident, Kind.NOTE, "an alert fired again after mitigation: back to acknowledged")
        else:
            incident.state = State.TRIGGERED
            incident.episode += 1
            restart = True
            ctx.log(incident, Kind.NOTE, "an alert fired again after mitigation: back to triggered")
    route = not (fresh or restart)
    candidate = ctx.candidates.get(incident.id)
    if candidate is not None and candidate[0] > incident.severity:
        set_severity(ctx, incident, candidate[0], candidate[1], route=route)
    _raise_by(ctx, incident, route=route, firing_for=False)
    if fresh or restart:
        escalation.start_ladder(ctx, incident)
    if fresh:
        escalation.schedule_reminder(ctx, incident)
        escalation.schedule_raise_checks(ctx, incident)
    elif not route:
        escalation.schedule_reminder(ctx, incident)
    if incident.id in ctx.resolving and incident.firing_alerts == 0 and incident.state.is_open:
        if incident.state is not State.MITIGATED:
            lifecycle.mitigate(ctx, incident, ACTOR, "all alerts resolved")
        if incident.verifying_until is None:
            lifecycle.start_verification(ctx, incident)
