"""Alerts meet incidents: declaration, joining, reopening, severity raises, and settling a batch."""

from __future__ import annotations

from datetime import timedelta

from daemon.domain import Alert, AlertStatus, Incident, Kind, Source, State, Timer, TimerKind
from daemon.engine import escalation, lifecycle, silencing, transitions
from daemon.engine.context import ACTOR, Ctx
from daemon.engine.state import KeyInUse, Observation
from daemon.engine.transitions import Event, Outcome
from rules.durations import format_duration, spoken_duration
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


def unsilenced_orphans(ctx: Ctx, key: str) -> list[Alert]:
    """The firing alerts of ``key`` in no incident that may join one now: those a silence holds wait for its end."""
    return [o for o in ctx.s.orphans.pop(key, []) if o.status is AlertStatus.FIRING and not ctx.silenced_by(o.labels)]


def attach(ctx: Ctx, incident: Incident, alert: Alert, kind: Kind, quiet: bool = False) -> None:
    """Make ``alert`` (firing) a member of ``incident`` and count it; ``quiet`` when another line names it."""
    if alert.incident_id != incident.id:
        incident.alert_count += 1
    alert.incident_id = incident.id
    alert.version += 1
    ctx.d.touch_alert(alert)
    ctx.d.memberships.add((incident.id, alert.fingerprint))
    incident.firing_alerts += 1
    members = ctx.s.firing_members.get(incident.id)
    if members is not None and not any(a is alert for a in members):
        members.append(alert)  # where members were loaded, they stay the incident's firing alerts
    ctx.touched[incident.id] = incident
    if not quiet:
        ctx.note_alert(incident, kind, alert)
    best = ctx.candidates.get(incident.id)
    if best is None or alert.severity > best[0]:
        ctx.candidates[incident.id] = (alert.severity, f"rule {alert.rule}" if alert.rule else "no matching rule")


def declare(ctx: Ctx, alert: Alert) -> Incident:
    """A firing alert at or above ``declare_at`` with no open incident for its key declares one."""
    key = alert.correlation_key
    joining = [alert] + [o for o in unsilenced_orphans(ctx, key) if o is not alert]
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
        firing_since=ctx.now,
    )
    ctx.s.incidents[incident.id] = incident
    ctx.take_key(incident)
    ctx.fresh.add(incident.id)
    rule = f"rule {alert.rule}" if alert.rule else "no matching rule"
    ctx.log(incident, Kind.DECLARED, f"declared {incident.severity} by {rule}: {alert.name} firing")
    ctx.severity_by[incident.id] = rule
    ctx.declared.add(incident.id)
    ctx.d.incident_id = incident.id
    attach(ctx, incident, alert, Kind.ALERT_JOINED, quiet=True)
    for orphan in joining[1:]:
        attach(ctx, incident, orphan, Kind.ALERT_JOINED)
    return incident


def reopen(
    ctx: Ctx, incident: Incident, actor: str, why: str, by: Event = Event.REOPEN, notice: str | None = None
) -> None:
    """resolved → triggered: a new episode; firing alerts of its key join; the ladder restarts when settled.
    ``notice`` opens its level-0 page (by default who reopened it and why).

    At most one incident of a key is open: reopening one while another of its key is open is refused."""
    holder = ctx.open_incident(incident.correlation_key)
    if holder is not None and holder is not incident:
        raise KeyInUse(incident.id, holder.id)
    lifecycle.move(ctx, incident, by, State.TRIGGERED)
    incident.acknowledged_at = None
    incident.acknowledged_by = None
    incident.mitigated_at = None
    incident.resolved_at = None
    incident.resolved_by = None
    incident.episode += 1
    incident.opened_episode = incident.episode
    incident.firing_since = ctx.now
    # The status-update cadence counts afresh from the reopen, as if comms had just been reminded.
    incident.last_reminded_at = ctx.now
    ctx.take_key(incident)
    ctx.fresh.add(incident.id)
    ctx.touched[incident.id] = incident
    ctx.log(incident, Kind.REOPENED, f"reopened by {actor}: {why}" if why else f"reopened by {actor}", actor)
    ctx.reopened[incident.id] = notice or (f"Reopened by {actor}: {why}" if why else f"Reopened by {actor}")
    ctx.say("incident_reopened", incident, by=actor, why=why or None, severity=incident.severity.value)
    for orphan in unsilenced_orphans(ctx, incident.correlation_key):
        attach(ctx, incident, orphan, Kind.ALERT_JOINED)


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
        and ctx.now - latest.resolved_at <= ctx.settings.correlation.reopen_within
    ):
        after = spoken_duration(ctx.now - latest.resolved_at)
        rule = f" (rule {alert.rule})" if alert.rule else ""
        notice = f"Reopened: {alert.name} fired again {after} after the resolution{rule}"
        reopen(ctx, latest, ACTOR, f"{alert.name} fired within reopen_within of the resolution", Event.REFIRE, notice)
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
    if incident.id not in ctx.declared:  # the declaration's own line says the severity it settled on
        ctx.say("severity_changed", incident, False, **{"from": old.value, "to": severity.value, "by": why})
    # The incident's MTTx series move to the new severity; they must exist before their first observation.
    ctx.d.observations.append(Observation("severity_changed", severity, incident.service))
    if route:
        escalation.severity_changed(ctx, incident, f"{old} → {severity} by {why}")


def _raising_count(ctx: Ctx, incident: Incident) -> int:
    """Firing alerts that count for a raise: those that joined before a silence count as firing, but not for
    raises (DESIGN §12). Known where the incident's members are loaded (lifecycle and timer decisions)."""
    members = ctx.s.firing_members.get(incident.id, [])
    return incident.firing_alerts - sum(1 for a in members if ctx.silenced_by(a.labels))


def _breadth(ctx: Ctx, incident: Incident) -> tuple[Severity, str] | None:
    """The most severe breadth raise that matches now; each raise rule matches once per incident."""
    best: tuple[Severity, str] | None = None
    firing = _raising_count(ctx, incident)
    for rule in ctx.settings.severity.raises:
        needed = rule.when.firing_alerts
        if needed is None or rule.name in incident.raises or firing < needed:
            continue
        if rule.when.firing_for is not None and not _firing_for(ctx, incident, rule.when.firing_for):
            continue
        if not matches_all(rule.matchers, incident.labels):
            continue
        if incident.id not in ctx.s.firing_members and ctx.anything_silenced():
            # Which members are silenced is known only with them loaded (not for every webhook: a storm would
            # read them all): a raise check due now decides, with them.
            key = escalation.timer_key(incident, TimerKind.RAISE, rule.name)
            ctx.d.set_timer(Timer(key, TimerKind.RAISE, incident.id, ctx.now, {"rule": rule.name}))
            continue
        incident.raises.append(rule.name)
        ctx.d.touch_incident(incident)
        if best is None or rule.severity > best[0]:
            best = (rule.severity, f"raise {rule.name} ({firing} alerts firing)")
    return best


def _firing_for(ctx: Ctx, incident: Incident, duration: timedelta) -> bool:
    """Still firing ``duration`` into its current firing stretch, and nobody has mitigated it."""
    return (
        incident.state in (State.TRIGGERED, State.ACKNOWLEDGED)
        and incident.firing_alerts > 0
        and incident.firing_since is not None
        and ctx.now - incident.firing_since >= duration
    )


def raise_check_due(ctx: Ctx, incident: Incident, rule_name: str) -> None:
    """A raise check fell due (by duration, or a breadth raise that waited for the members); if the incident is
    not firing now, a later re-fire sets it again."""
    rule = next((r for r in ctx.settings.severity.raises if r.name == rule_name), None)
    if rule is None or rule.name in incident.raises or not incident.state.is_open:
        return
    firing = _raising_count(ctx, incident)
    if rule.when.firing_alerts is not None and firing < rule.when.firing_alerts:
        return
    if rule.when.firing_for is not None and not _firing_for(ctx, incident, rule.when.firing_for):
        return
    if not matches_all(rule.matchers, incident.labels):
        return
    if ctx.all_silenced(incident):
        # Firing only under silences raises nothing: look again when the first of them ends.
        ends = [
            end
            for a in ctx.s.firing_members.get(incident.id, [])
            if (end := silencing.held_until(ctx.s.silences, ctx.settings.maintenance, a.labels, ctx.now)) is not None
        ]
        key = escalation.timer_key(incident, TimerKind.RAISE, rule.name)
        ctx.d.set_timer(Timer(key, TimerKind.RAISE, incident.id, min(ends), {"rule": rule.name}))
        return
    incident.raises.append(rule.name)
    ctx.d.touch_incident(incident)
    if rule.severity > incident.severity:
        if rule.when.firing_for is not None and incident.firing_since is not None:
            why = f"raise {rule.name} (still firing after {format_duration(ctx.now - incident.firing_since)})"
        else:
            why = f"raise {rule.name} ({firing} alerts firing)"
        set_severity(ctx, incident, rule.severity, why)


def say_declared(
    ctx: Ctx,
    incident: Incident,
    severity_by: str | None,
    by: str,
    policy: str | None = None,
    mirrored_from: str | None = None,
) -> None:
    """The log line of a declaration (by rule, by hand, or mirrored from PagerDuty); None fields are left out."""
    ctx.say(
        "incident_declared",
        incident,
        title=incident.title,
        service=incident.service or None,
        severity=incident.severity.value,
        severity_by=severity_by,
        policy=policy,
        by=by,
        mirrored_from=mirrored_from,
    )


def _say_declared(ctx: Ctx, incident: Incident) -> None:
    by = next((e.actor for e in ctx.d.timeline if e.kind is Kind.DECLARED and e.incident_id == incident.id), ACTOR)
    say_declared(ctx, incident, ctx.severity_by.get(incident.id), by, policy=escalation.route_policy(ctx, incident))


def settle(ctx: Ctx, incident: Incident) -> None:
    """After all alerts of a decision are placed: re-fire transitions, one severity change, ladders, resolution."""
    fresh = incident.id in ctx.fresh
    restart = False
    back = not fresh and incident.id in ctx.refired
    if back and transitions.outcome(incident.state, Event.REFIRE) is Outcome.BACK_TO_FIRING:
        # A new firing stretch: verification ends, raises by duration count afresh.
        lifecycle.cancel_verification(ctx, incident)
        incident.firing_since = ctx.now
        escalation.schedule_raise_checks(ctx, incident)
        if incident.acknowledged_at is not None:
            lifecycle.move(ctx, incident, Event.REFIRE, State.ACKNOWLEDGED)
            ctx.log(incident, Kind.NOTE, "an alert fired again after mitigation: back to acknowledged")
        else:
            lifecycle.move(ctx, incident, Event.REFIRE, State.TRIGGERED)
            incident.episode += 1
            restart = True
            ctx.log(incident, Kind.NOTE, "an alert fired again after mitigation: back to triggered")
    # One change of severity per decision: the most severe of the joining alerts and the raises that match.
    target = ctx.candidates.get(incident.id)
    breadth = _breadth(ctx, incident)
    if breadth is not None and (target is None or breadth[0] > target[0]):
        target = breadth
    if target is not None and target[0] > incident.severity:
        # A ladder (re)starting in this decision routes by the final severity itself.
        set_severity(ctx, incident, target[0], target[1], route=not (fresh or restart))
        if incident.id in ctx.declared:
            ctx.severity_by[incident.id] = target[1]
    if incident.id in ctx.declared:
        # Counted at its severity once this decision settled it (a worse alert in the same webhook counts).
        ctx.d.observations.append(Observation("declared", incident.severity, incident.service))
        _say_declared(ctx, incident)
    if fresh or restart:
        escalation.start_ladder(ctx, incident)
        escalation.schedule_reminder(ctx, incident)
    if fresh:
        escalation.schedule_raise_checks(ctx, incident)
    if incident.id in ctx.resolving and incident.firing_alerts == 0 and incident.state.is_open:
        if not ctx.settings.resolution.verify_for.get(incident.severity):
            lifecycle.resolve(ctx, incident, ACTOR, "all alerts resolved")
            return
        if incident.state is not State.MITIGATED:
            lifecycle.mitigate(ctx, incident, ACTOR, "all alerts resolved")
        if incident.verifying_until is None:
            lifecycle.start_verification(ctx, incident)
