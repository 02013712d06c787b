"""Heartbeats, the dead man's switch (DESIGN §13): pings reset a durable deadline; a miss fires tocsin's own alert.

A heartbeat's state lives in what the store already keeps: its deadline timer (``heartbeat:<name>/due``, with
the last ping in its data) while it is up, and its ``HeartbeatMissed`` alert (fingerprint ``heartbeat:<name>``)
once missed. No timer and no firing alert: inactive, it was never pinged."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from daemon.config.settings import HeartbeatConfig, Settings
from daemon.domain import Alert, AlertStatus, Source, Timer, TimerKind
from daemon.engine.context import Ctx
from daemon.engine.events import AlertIn
from daemon.timefmt import iso, parse_iso
from rules.durations import format_duration

MISSED_ALERTNAME = "HeartbeatMissed"
# The correlation key of an alert that is a ping (an Alertmanager Watchdog): no incident has it, so it never joins
# one, and no sweep places it.
PING_KEY_PREFIX = "heartbeat-ping:"
# The ``alive`` timer: whichever replica runs fires it and sets it again this much later. At start-up, one that is
# late by more than a period and a lease says no replica was running (see ``started``).
ALIVE_OWNER = "tocsin"
ALIVE_KEY = "tocsin/alive"
ALIVE_EVERY = timedelta(seconds=10)


def owner(name: str) -> str:
    return f"heartbeat:{name}"


def due_key(name: str) -> str:
    return f"{owner(name)}/due"


def fingerprint(name: str) -> str:
    """The fingerprint of the heartbeat's own ``HeartbeatMissed`` alert."""
    return f"heartbeat:{name}"


def period(beat: HeartbeatConfig) -> timedelta:
    return beat.expect_every + beat.grace


def service_of(beat: HeartbeatConfig) -> str:
    return beat.service or beat.name


def named(settings: Settings, name: str) -> HeartbeatConfig | None:
    return next((b for b in settings.heartbeats if b.name == name), None)


def of_labels(settings: Settings, source: Source, labels: Mapping[str, str]) -> HeartbeatConfig | None:
    """The heartbeat an Alertmanager alert pings (its ``alertname`` is the heartbeat's), if any."""
    if source is not Source.ALERTMANAGER or not settings.heartbeats:
        return None
    name = labels.get("alertname")
    for beat in settings.heartbeats:  # a loop, not next(genexpr): asked three times per alert of every webhook
        if beat.alertname is not None and beat.alertname == name:
            return beat
    return None


def is_ping_alert(alert: Alert) -> bool:
    return alert.correlation_key.startswith(PING_KEY_PREFIX)


def ping(ctx: Ctx, beat: HeartbeatConfig) -> AlertIn | None:
    """A ping: the deadline moves to a full period from now; returns the resolution of its missed alert, if any."""
    ctx.d.set_timer(
        Timer(
            due_key(beat.name),
            TimerKind.HEARTBEAT,
            owner(beat.name),
            ctx.now + period(beat),
            {"last_ping": iso(ctx.now)},
        )
    )
    if ALIVE_KEY not in ctx.s.timers:
        arm_alive(ctx)
    missed = ctx.s.alerts.get(fingerprint(beat.name))
    if missed is None or missed.status is not AlertStatus.FIRING:
        return None
    return AlertIn(
        fingerprint=missed.fingerprint,
        source=Source.HEARTBEAT,
        status=AlertStatus.RESOLVED,
        labels=dict(missed.labels),
        annotations=dict(missed.annotations),
        ends_at=ctx.now,
    )


def missed_labels(beat: HeartbeatConfig) -> dict[str, str]:
    return {"alertname": MISSED_ALERTNAME, "heartbeat": beat.name, "service": service_of(beat)}


def missed(ctx: Ctx, beat: HeartbeatConfig, timer: Timer) -> AlertIn:
    """The deadline passed without a ping: tocsin's own alert fires (it declares and pages like any alert)."""
    last = str(timer.data.get("last_ping", ""))
    annotations = {
        "summary": f"heartbeat {beat.name}: no ping within {format_duration(period(beat))}",
        "last_ping": last,
    }
    return AlertIn(
        fingerprint=fingerprint(beat.name),
        source=Source.HEARTBEAT,
        status=AlertStatus.FIRING,
        labels=missed_labels(beat),
        annotations=annotations,
        starts_at=ctx.now,
    )


def started(ctx: Ctx) -> None:
    """tocsin starts: if no replica was running (the ``alive`` timer is late, or there is none), each heartbeat
    that is up gets a full period from now before it can be missed — its pings had nowhere to go meanwhile. A
    replica that was running took those pings, so its deadlines stand."""
    alive = ctx.s.timers.get(ALIVE_KEY)
    if alive is not None and alive.due_at >= ctx.now - (ALIVE_EVERY + ctx.settings.timer_lease):
        return
    for beat in ctx.settings.heartbeats:
        timer = ctx.s.timers.get(due_key(beat.name))
        if timer is not None and timer.due_at < ctx.now + period(beat):
            ctx.d.set_timer(Timer(timer.key, timer.kind, timer.incident_id, ctx.now + period(beat), dict(timer.data)))
    arm_alive(ctx)


def arm_alive(ctx: Ctx) -> None:
    """Set while some heartbeat is up (its deadline is what start-up may have to extend): the ping that brings
    one up sets it, and it stops once none is."""
    if any(due_key(b.name) in ctx.s.timers or due_key(b.name) in ctx.d.timers_set for b in ctx.settings.heartbeats):
        ctx.d.set_timer(Timer(ALIVE_KEY, TimerKind.ALIVE, ALIVE_OWNER, ctx.now + ALIVE_EVERY))


@dataclass(frozen=True, slots=True)
class HeartbeatView:
    name: str
    state: str  # inactive, up, missed
    last_ping: datetime | None
    due: datetime | None


def view(beat: HeartbeatConfig, timer: Timer | None, alert: Alert | None) -> HeartbeatView:
    """What GET /api/v1/heartbeats shows, read from the deadline timer and the missed alert."""
    if alert is not None and alert.status is AlertStatus.FIRING:
        last = alert.annotations.get("last_ping") or ""
        return HeartbeatView(beat.name, "missed", parse_iso(last) if last else None, None)
    if timer is not None:
        last = str(timer.data.get("last_ping", ""))
        return HeartbeatView(beat.name, "up", parse_iso(last) if last else None, timer.due_at)
    return HeartbeatView(beat.name, "inactive", None, None)
