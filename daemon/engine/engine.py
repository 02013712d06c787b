"""The engine: ``decide(slice, event, now)`` returns what changes. Pure: no I/O, no clock, no randomness."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import datetime

from daemon.config.settings import Settings
from daemon.domain import AlertStatus, Incident, Kind, NotifyReason, Source, State, Timer, TimerKind
from daemon.engine import alerts, escalation, handoffs, heartbeats, incidents, lifecycle, mirror, people, reload
from daemon.engine.context import ACTOR, Ctx, correlation_key
from daemon.engine.events import (
    AcknowledgeAlert,
    Action,
    AddNote,
    AlertsReceived,
    Classified,
    ConfigReloaded,
    Declare,
    Event,
    HeartbeatPing,
    PagerDutyIncident,
    Patch,
    PostStatusUpdate,
    SaveSilences,
    StartedUp,
    TimerFired,
    Transition,
)
from daemon.engine.silencing import RESUME_OWNER, WindowsByMinute
from daemon.engine.state import Decision, LinkOutdated, Needs, NotFound, Slice, link_outdated
from daemon.engine.transitions import Event as TableEvent
from rules.evaluate import Verdicts
from rules.oncall import parse_target

PHASES = ("investigating", "identified", "monitoring", "resolved")
# DESIGN §7's templates for a status update posted without a message.
PHASE_TEMPLATES = {
    "investigating": "We are investigating reports of {title}.",
    "identified": "We have identified the cause of {title} and are working on a fix.",
    "monitoring": "A fix has been applied for {title}; we are monitoring the results.",
    "resolved": "This incident has been resolved: {title}.",
}


class Engine:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.verdicts = Verdicts(settings.severity.rules)
        self.windows = WindowsByMinute(list(settings.maintenance))
        # The schedules a page may have to consult: their overrides are read with every decision that may page.
        self.paged_schedules = frozenset(
            parse_target(target)[1]
            for policy in settings.policies.values()
            for level in policy.levels
            for target in level.notify
            if parse_target(target)[0] == "oncall"
        )

    def key_of(self, labels: dict[str, str]) -> str:
        return correlation_key(self.settings.correlation.group_by, labels)

    def needs(self, event: Event) -> Needs:
        """What the store must load before ``decide`` can take this event."""
        needs = self._needs(event)
        if self.paged_schedules and not isinstance(event, AcknowledgeAlert | PagerDutyIncident):
            needs = replace(needs, overrides=needs.overrides | self.paged_schedules)
        # Any decision may meet a silenced alert (hold it, skip a level, release it): the silences come along.
        return replace(needs, silences=True)

    def _heartbeat_needs(self, names: set[str]) -> tuple[frozenset[str], frozenset[str]]:
        """The missed alerts and deadline timers of these heartbeats."""
        if not names:
            return frozenset(), frozenset()
        return (
            frozenset(heartbeats.fingerprint(n) for n in names),
            frozenset(heartbeats.owner(n) for n in names) | {heartbeats.ALIVE_OWNER},
        )

    def _needs(self, event: Event) -> Needs:
        match event:
            case AlertsReceived(alerts=reports):
                counts = Counter(r.fingerprint for r in reports)
                known = self._classified(event)
                firing = frozenset(
                    (r.fingerprint, k.key) for r, k in zip(reports, known, strict=True) if r.status == "firing"
                )
                # A fingerprint twice in one batch may change state in between: read its key whatever it is.
                twice = {fp for fp, n in counts.items() if n > 1}
                pinged = {
                    beat.name
                    for r, k in zip(reports, known, strict=True)
                    if r.status == "firing"
                    and k.pings
                    and (beat := heartbeats.of_labels(self.settings, r.source, r.labels))
                }
                missed, owners = self._heartbeat_needs(pinged)
                return Needs(
                    fingerprints=frozenset(counts) | missed,
                    keys=frozenset(key for fp, key in firing if fp in twice),
                    firing=firing,
                    timer_owners=owners,
                )
            case AcknowledgeAlert(fingerprint=fp):
                return Needs(fingerprints=frozenset({fp}))
            case (
                Transition(incident_id=iid)
                | Patch(incident_id=iid)
                | PostStatusUpdate(incident_id=iid)
                | AddNote(incident_id=iid)
            ):
                return Needs(incident_ids=frozenset({iid}), members=True)
            case TimerFired(timer=timer) if timer.kind is TimerKind.SWEEP:
                return Needs(timer_owners=frozenset({timer.incident_id}), unplaced=True, resume=True, members=True)
            case TimerFired(timer=timer) if timer.kind is TimerKind.HEARTBEAT:
                name = timer.incident_id.removeprefix("heartbeat:")
                missed_alert = heartbeats.fingerprint(name)
                beat = heartbeats.named(self.settings, name)
                key = self.key_of(heartbeats.missed_labels(beat) if beat else {})
                return Needs(
                    fingerprints=frozenset({missed_alert}),
                    firing=frozenset({(missed_alert, key)}),
                    timer_owners=frozenset({timer.incident_id}),
                )
            case TimerFired(timer=timer) if timer.kind is TimerKind.HANDOFF:
                schedule = timer.incident_id.removeprefix("handoff:")
                return Needs(timer_owners=frozenset({timer.incident_id}), overrides=frozenset({schedule}))
            case TimerFired(timer=timer) if timer.kind is TimerKind.ALIVE:
                _, owners = self._heartbeat_needs({b.name for b in self.settings.heartbeats})
                return Needs(timer_owners=owners | {timer.incident_id})
            case TimerFired(timer=timer):
                return Needs(incident_ids=frozenset({timer.incident_id}), members=True)
            case SaveSilences():
                return Needs()
            case HeartbeatPing(name=name):
                missed, owners = self._heartbeat_needs({name})
                return Needs(fingerprints=missed, timer_owners=owners)
            case StartedUp():
                _, owners = self._heartbeat_needs({b.name for b in self.settings.heartbeats})
                notices = {handoffs.owner(name) for name in handoffs.noticed(self.settings.schedules)}
                return Needs(timer_owners=owners | notices)
            case ConfigReloaded(incident_ids=ids, removed_heartbeats=names):
                missed, owners = self._heartbeat_needs(set(names))
                notices = {handoffs.owner(name) for name in handoffs.noticed(self.settings.schedules)}
                return Needs(
                    incident_ids=frozenset(ids), members=True, fingerprints=missed, timer_owners=owners | notices
                )
            case Declare():
                return Needs(keys=frozenset({self.key_of(self._declare_labels(event))}))
            case PagerDutyIncident(incident_key=key, pd_id=pd_id, webhook_id=webhook_id):
                return Needs(
                    fingerprints=frozenset({key}) if key else frozenset(),
                    incident_ids=frozenset({key}) if key else frozenset(),
                    keys=frozenset({mirror.mirror_key(pd_id)}),
                    members=True,
                    webhook_ids=frozenset({webhook_id}),
                )
        raise TypeError(f"unknown event {event!r}")

    def decide(self, s: Slice, event: Event, now: datetime) -> Decision:
        ctx = Ctx(self.settings, s, Decision(), now, self.verdicts, self.windows)
        match event:
            case AlertsReceived():
                self._alerts(ctx, event)
            case AcknowledgeAlert():
                self._acknowledge_alert(ctx, event)
            case Transition():
                self._transition(ctx, event)
            case Declare():
                self._declare(ctx, event)
            case Patch():
                self._patch(ctx, event)
            case PostStatusUpdate():
                self._status_update(ctx, event)
            case AddNote():
                ctx.log(self._incident(ctx, event.incident_id), Kind.NOTE, event.text, event.actor)
            case TimerFired():
                self._timer(ctx, event)
            case PagerDutyIncident():
                mirror.apply(ctx, event)
            case SaveSilences():
                self._save_silences(ctx, event)
            case HeartbeatPing():
                self._heartbeat_ping(ctx, event)
            case StartedUp():
                heartbeats.started(ctx)
                for name in handoffs.noticed(self.settings.schedules):
                    if handoffs.timer_key(name) not in ctx.s.timers:
                        handoffs.arm(ctx, name)
            case ConfigReloaded():
                reload.apply(ctx, event)
                self._settle(ctx)
        return ctx.d

    # -- alerts -------------------------------------------------------------------------------------

    def prepare(self, event: Event) -> Event:
        """``event`` with what needs no stored state worked out now, by the caller (the store's write turn,
        where ``decide`` runs, is one for every worker). Pure, as ``decide``: the same either way."""
        if isinstance(event, AlertsReceived) and event.classified_by is not self.settings:
            return AlertsReceived(event.alerts, self._classified(event), self.settings)
        return event

    def _classified(self, event: AlertsReceived) -> tuple[Classified, ...]:
        """Each report's classification: as prepared under these settings, else worked out now (under others,
        before a reload, it may differ)."""
        if event.classified is not None and event.classified_by is self.settings:
            return event.classified
        return tuple(alerts.classify(self.settings, self.verdicts, r) for r in event.alerts)

    def _alerts(self, ctx: Ctx, event: AlertsReceived) -> None:
        for report, known in zip(event.alerts, self._classified(event), strict=True):
            alerts.apply(ctx, report, known)
        self._settle(ctx)

    def _settle(self, ctx: Ctx) -> None:
        ctx.flush_lines()
        for incident in list(ctx.touched.values()):
            incidents.settle(ctx, incident)

    # -- silences and heartbeats --------------------------------------------------------------------

    def _save_silences(self, ctx: Ctx, event: SaveSilences) -> None:
        """Stored with a sweep at each one's end: an expired one (ended now) sweeps at once."""
        ctx.d.silences = list(event.silences)
        for silence in event.silences:
            owner = f"silence:{silence.id}"
            ctx.d.set_timer(Timer(alerts.end_timer(owner), TimerKind.SWEEP, owner, silence.ends_at))

    def _sweep(self, ctx: Ctx) -> None:
        """A silence or window ended: the alerts it held that still fire and nothing else holds are taken as if
        they fired now (they may declare); ladders that ran out while silenced start again."""
        for alert in ctx.s.unplaced:
            if alert.status is not AlertStatus.FIRING or alert.incident_id is not None:
                continue  # placed meanwhile (it joined with another one of its key declaring)
            if heartbeats.is_ping_alert(alert) or ctx.silenced_by(alert.labels):
                continue
            if ctx.open_incident(alert.correlation_key) is None and alert.severity < self.settings.severity.declare_at:
                continue  # below declare_at: it stays kept and listed, as it was
            incidents.place_firing(ctx, alert, refire=False)
        self._settle(ctx)
        for timer in [t for t in ctx.s.timers.values() if t.incident_id == RESUME_OWNER]:
            escalation.resume_due(ctx, timer)

    def _heartbeat_ping(self, ctx: Ctx, event: HeartbeatPing) -> None:
        beat = heartbeats.named(self.settings, event.name)
        if beat is None:
            return  # removed from the configuration since the request was checked
        resolution = heartbeats.ping(ctx, beat)
        if resolution is not None:
            alerts.apply(ctx, resolution)
            self._settle(ctx)

    def _acknowledge_alert(self, ctx: Ctx, event: AcknowledgeAlert) -> None:
        alert = ctx.s.alerts.get(event.fingerprint)
        incident = ctx.s.incidents.get(alert.incident_id) if alert and alert.incident_id else None
        if incident is None or not incident.state.is_open:
            return  # nothing open to acknowledge; the source is told "processed" as PagerDuty would
        ctx.d.incident_id = incident.id
        lifecycle.acknowledge(ctx, incident, event.actor)

    # -- people -------------------------------------------------------------------------------------

    def _incident(self, ctx: Ctx, incident_id: str) -> Incident:
        incident = ctx.s.incidents.get(incident_id)
        if incident is None:
            raise NotFound(incident_id)
        ctx.d.incident_id = incident.id
        return incident

    def _transition(self, ctx: Ctx, event: Transition) -> None:
        incident = self._incident(ctx, event.incident_id)
        if event.link_episode is not None and link_outdated(incident, event.link_episode):
            # Checked inside the decision: a reopen between reading the page and pressing the button counts.
            raise LinkOutdated(incident.id)
        match event.action:
            case Action.ACKNOWLEDGE:
                lifecycle.acknowledge(ctx, incident, event.actor, event.note)
            case Action.UNACKNOWLEDGE:
                lifecycle.unacknowledge(ctx, incident, event.actor, event.note)
            case Action.MITIGATE:
                lifecycle.mitigate(ctx, incident, event.actor, event.note)
            case Action.RESOLVE:
                lifecycle.resolve(ctx, incident, event.actor, event.note)
            case Action.REOPEN:
                lifecycle.consult(incident, TableEvent.REOPEN)  # 409 unless resolved
                incidents.reopen(ctx, incident, event.actor, event.note)
                ctx.flush_lines()
                incidents.settle(ctx, incident)

    def _declare_labels(self, event: Declare) -> dict[str, str]:
        labels = dict(event.labels)
        if event.service:
            labels["service"] = event.service
        return labels

    def _declare(self, ctx: Ctx, event: Declare) -> None:
        labels = self._declare_labels(event)
        key = self.key_of(labels)
        incident_id = ctx.s.ids.next_incident_id(ctx.now)
        if ctx.open_incident(key) is not None:
            key = f"manual:{incident_id}"  # an open incident holds the key already; this one stands alone
        incident = Incident(
            id=incident_id,
            title=event.title,
            severity=event.severity,
            state=State.TRIGGERED,
            service=labels.get("service", ""),
            labels=labels,
            correlation_key=key,
            declared_at=ctx.now,
            source=Source.MANUAL,
            firing_since=ctx.now,
            commander=event.commander,
        )
        ctx.s.incidents[incident.id] = incident
        ctx.take_key(incident)
        ctx.fresh.add(incident.id)
        ctx.d.incident_id = incident.id
        note = f": {event.note}" if event.note else ""
        ctx.log(incident, Kind.DECLARED, f"declared {incident.severity} by {event.actor}{note}", event.actor)
        if event.note:
            ctx.declared_notes[incident.id] = event.note
        ctx.severity_by[incident.id] = event.actor
        ctx.declared.add(incident.id)
        for orphan in incidents.unsilenced_orphans(ctx, key):
            incidents.attach(ctx, incident, orphan, Kind.ALERT_JOINED)
        ctx.flush_lines()
        incidents.settle(ctx, incident)

    def _patch(self, ctx: Ctx, event: Patch) -> None:
        incident = self._incident(ctx, event.incident_id)
        if event.title is not None and event.title != incident.title:
            old = incident.title
            incident.title = event.title
            ctx.log(incident, Kind.TITLE_CHANGED, f"title {old!r} → {event.title!r}", event.actor)
        if event.commander is not None and event.commander != (incident.commander or ""):
            incident.commander = event.commander or None
            text = f"commander is {event.commander}" if event.commander else "commander cleared"
            ctx.log(incident, Kind.COMMANDER_CHANGED, text, event.actor)
        if event.severity is not None and event.severity != incident.severity:
            incidents.set_severity(ctx, incident, event.severity, event.actor, actor=event.actor)

    def _status_update(self, ctx: Ctx, event: PostStatusUpdate) -> None:
        incident = self._incident(ctx, event.incident_id)
        message = event.message.strip() or PHASE_TEMPLATES[event.phase].format(title=incident.title)
        incident.last_status_update_at = ctx.now
        incident.status_phase = event.phase
        ctx.log(incident, Kind.STATUS_UPDATE, f"[{event.phase}] {message}", event.actor)
        ctx.say("status_update_posted", incident, phase=event.phase, by=event.actor)
        escalation.notify(ctx, incident, NotifyReason.STATUS_UPDATE, list(self.settings.status_updates.notify), message)
        escalation.schedule_reminder(ctx, incident)

    # -- timers -------------------------------------------------------------------------------------

    def _timer(self, ctx: Ctx, event: TimerFired) -> None:
        timer = event.timer
        current = ctx.s.timers.get(timer.key)
        # Fire only the timer as it is stored now: one moved or cancelled since it was read is not due.
        if current is None or current.due_at != timer.due_at or current.data != timer.data:
            return
        ctx.d.cancel_timer(timer.key)
        match timer.kind:
            case TimerKind.SWEEP:
                self._sweep(ctx)
                return
            case TimerKind.HEARTBEAT:
                beat = heartbeats.named(self.settings, timer.incident_id.removeprefix("heartbeat:"))
                if beat is not None:
                    alerts.apply(ctx, heartbeats.missed(ctx, beat, timer))
                    self._settle(ctx)
                return
            case TimerKind.ALIVE:
                heartbeats.arm_alive(ctx)
                return
            case TimerKind.HANDOFF:
                handoffs.due(ctx, timer.incident_id.removeprefix("handoff:"))
                return
        incident = ctx.s.incidents.get(timer.incident_id)
        if incident is None:
            return
        match timer.kind:
            case TimerKind.ESCALATE if reload.out_of_line(ctx, incident, timer):
                reload.follow(ctx, incident)  # set under a configuration a reload has since replaced
            case TimerKind.ESCALATE:
                escalation.escalation_due(ctx, incident, timer)
            case TimerKind.VERIFY:
                lifecycle.verification_due(ctx, incident)
            case TimerKind.REMIND:
                escalation.reminder_due(ctx, incident)
            case TimerKind.RAISE:
                incidents.raise_check_due(ctx, incident, str(timer.data.get("rule", "")))
            case TimerKind.PERSON:
                people.step_due(ctx, incident, timer)


__all__ = ["ACTOR", "PHASES", "Engine"]
