"""Dedup: how one reported alert changes the stored one (DESIGN §1)."""

from __future__ import annotations

from collections.abc import Mapping

from daemon.config.settings import HeartbeatConfig, Settings
from daemon.domain import Alert, AlertStatus, Kind, Source, Timer, TimerKind
from daemon.engine import heartbeats, incidents, silencing
from daemon.engine.context import Ctx, correlation_key
from daemon.engine.events import AlertIn, Classified
from daemon.ingest import grafana_oncall
from rules.evaluate import Verdicts
from rules.severity import Severity


def _verdict(
    settings: Settings, verdicts: Verdicts, source: Source, labels: Mapping[str, str]
) -> tuple[Severity, str | None]:
    """The severity rules' verdict; tocsin's own HeartbeatMissed alert has its heartbeat's severity instead."""
    if source is Source.HEARTBEAT:
        beat = heartbeats.named(settings, labels.get("heartbeat", ""))
        if beat is not None:
            return beat.severity, f"heartbeat:{beat.name}"
    if source is Source.GRAFANA_ONCALL:
        # An OnCall integration gives the severity of everything it receives, as it did in OnCall.
        integration = grafana_oncall.severity_of(settings.sources.grafana_oncall.integrations, labels)
        if integration is not None:
            return integration.severity, "grafana_oncall"
    return verdicts(labels)


def classify(settings: Settings, verdicts: Verdicts, report: AlertIn) -> Classified:
    """What these settings make of ``report`` before any stored state is read (``Engine.prepare``)."""
    severity, rule = _verdict(settings, verdicts, report.source, report.labels)
    key = correlation_key(settings.correlation.group_by, report.labels)
    pings = heartbeats.of_labels(settings, report.source, report.labels) is not None
    return Classified(key, severity, rule, pings)


def _new(ctx: Ctx, report: AlertIn, known: Classified | None = None) -> Alert:
    key, severity, rule, _ = known or classify(ctx.settings, ctx.verdicts, report)
    firing = report.status is AlertStatus.FIRING
    return Alert(
        fingerprint=report.fingerprint,
        source=report.source,
        status=report.status,
        labels=dict(report.labels),
        annotations=dict(report.annotations),
        starts_at=report.starts_at or ctx.now,
        ends_at=None if firing else (report.ends_at or ctx.now),
        generator_url=report.generator_url,
        severity=severity,
        rule=rule,
        correlation_key=key,
        received_at=ctx.now,
        links=list(report.links),
    )


def _refresh(alert: Alert, report: AlertIn) -> bool:
    """Take the report's annotations and links; True when anything visible changed."""
    changed = False
    if alert.annotations != report.annotations:
        alert.annotations = dict(report.annotations)
        changed = True
    if report.generator_url and alert.generator_url != report.generator_url:
        alert.generator_url = report.generator_url
        changed = True
    if report.links and alert.links != report.links:
        alert.links = list(report.links)
        changed = True
    return changed


def _is_new_episode(alert: Alert, report: AlertIn) -> bool:
    """A resolved alert fires again only when the firing body is newer than its resolution."""
    if report.starts_at is None:
        return True  # a source without timestamps (PagerDuty): a trigger after a resolve
    return alert.ends_at is None or report.starts_at > alert.ends_at


def end_timer(silence_or_window: str) -> str:
    return f"{silence_or_window}/end"


def _held(ctx: Ctx, alert: Alert) -> bool:
    """A firing episode starting under a silence or maintenance window: kept, in no incident, until a sweep at
    the end of what holds it places it as if it fired then (DESIGN §12)."""
    by = ctx.silenced_by(alert.labels)
    if not by:
        return False
    alert.incident_id = None
    ctx.d.touch_alert(alert)
    ctx.d.silenced.append(alert.source.value)
    # The sweeps at the ends: written again here (idempotent), so a silence stored before it had one gets it.
    for silence in ctx.s.silences:
        if silence.id in by:
            owner = f"silence:{silence.id}"
            ctx.d.set_timer(Timer(end_timer(owner), TimerKind.SWEEP, owner, silence.ends_at))
    for window in ctx.settings.maintenance:
        owner = silencing.window_id(window)
        if owner in by:
            ctx.d.set_timer(Timer(end_timer(owner), TimerKind.SWEEP, owner, ctx.window_end(window)))
    return True


def _ping(ctx: Ctx, report: AlertIn, beat: HeartbeatConfig) -> None:
    """An alert named by a heartbeat: stored, never correlated, and a ping at every firing delivery."""
    stored = ctx.s.alerts.get(report.fingerprint)
    if stored is None:
        stored = _new(ctx, report)
        ctx.s.alerts[stored.fingerprint] = stored
    elif report.status is AlertStatus.FIRING and stored.status is AlertStatus.RESOLVED:
        stored.status, stored.starts_at, stored.ends_at = AlertStatus.FIRING, report.starts_at or ctx.now, None
        stored.count += 1
    elif report.status is AlertStatus.RESOLVED and stored.status is AlertStatus.FIRING:
        stored.status, stored.ends_at = AlertStatus.RESOLVED, report.ends_at or ctx.now
    _refresh(stored, report)
    stored.correlation_key = heartbeats.PING_KEY_PREFIX + beat.name
    stored.incident_id = None
    stored.version += 1
    ctx.d.touch_alert(stored)
    if report.status is AlertStatus.FIRING:
        resolution = heartbeats.ping(ctx, beat)
        if resolution is not None:
            apply(ctx, resolution)


def apply(ctx: Ctx, report: AlertIn, known: Classified | None = None) -> None:
    """``known``: what ``classify`` made of the report under these settings, if it was asked before."""
    if known is None or known.pings:
        beat = heartbeats.of_labels(ctx.settings, report.source, report.labels)
        if beat is not None:
            _ping(ctx, report, beat)
            return
    stored = ctx.s.alerts.get(report.fingerprint)
    if stored is None and report.status is AlertStatus.RESOLVED and report.source is Source.PAGERDUTY:
        ctx.d.stale += 1  # PagerDuty too ignores a resolve for a dedup_key it never saw triggered
        return
    if stored is None:
        alert = _new(ctx, report, known)
        ctx.s.alerts[alert.fingerprint] = alert
        ctx.d.touch_alert(alert)
        if alert.status is AlertStatus.FIRING and not _held(ctx, alert):
            incidents.place_firing(ctx, alert, refire=False)
        return

    if report.status is AlertStatus.FIRING:
        if stored.status is AlertStatus.FIRING:
            # A duplicate: it may refresh annotations and pages no one.
            if _refresh(stored, report):
                stored.version += 1
                ctx.d.touch_alert(stored)
            else:
                ctx.d.deduplicated += 1
            return
        if not _is_new_episode(stored, report):
            ctx.d.stale += 1  # an older body re-sent after the resolution
            return
        stored.status = AlertStatus.FIRING
        stored.starts_at = report.starts_at or ctx.now
        stored.ends_at = None
        stored.count += 1
        # A new episode is judged on what the source says now (a PagerDuty re-trigger may change its severity;
        # an Alertmanager fingerprint's labels never change).
        if report.labels != stored.labels:
            stored.labels = dict(report.labels)
            stored.correlation_key = ctx.key_of(report.labels)
        stored.severity, stored.rule = _verdict(ctx.settings, ctx.verdicts, stored.source, stored.labels)
        _refresh(stored, report)
        stored.version += 1
        ctx.d.touch_alert(stored)
        if not _held(ctx, stored):
            incidents.place_firing(ctx, stored, refire=True)
        return

    # A resolved report.
    if stored.status is AlertStatus.RESOLVED:
        ctx.d.deduplicated += 1
        return
    if report.starts_at is not None and report.starts_at < stored.starts_at:
        ctx.d.stale += 1  # the resolution of an older episode, arriving late
        return
    stored.status = AlertStatus.RESOLVED
    stored.ends_at = report.ends_at or ctx.now
    _refresh(stored, report)
    stored.version += 1
    ctx.d.touch_alert(stored)
    incident = ctx.s.incidents.get(stored.incident_id) if stored.incident_id else None
    if incident is not None and incident.state.is_open:
        incident.firing_alerts = max(0, incident.firing_alerts - 1)
        ctx.note_alert(incident, Kind.ALERT_RESOLVED, stored)
        ctx.resolving.add(incident.id)
    elif stored.incident_id is None:
        # An orphan that resolves leaves the orphans of its key.
        orphans = ctx.s.orphans.get(stored.correlation_key)
        if orphans and stored in orphans:
            orphans.remove(stored)
