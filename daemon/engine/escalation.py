"""Who hears about an incident and when: ladders, notifications, reminders and the timers behind them."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from daemon.domain import Incident, Kind, Ladder, NotifyReason, State, Timer, TimerKind
from daemon.engine import people, silencing
from daemon.engine.context import Ctx
from daemon.engine.silencing import RESUME_OWNER
from daemon.engine.state import NotifyIntent, notification_key, passed_while_down
from rules.durations import format_duration
from rules.evaluate import select_route
from rules.models import Policy


def timer_key(incident: Incident, kind: TimerKind, name: str = "") -> str:
    return f"{incident.id}/{kind.value}" + (f"/{name}" if name else "")


def route_policy(ctx: Ctx, incident: Incident) -> str | None:
    if incident.mirrored:
        return None  # PagerDuty already pages for a mirrored incident; paging back would loop
    route = select_route(ctx.settings.routes, incident.severity, incident.labels)
    return route.policy if route is not None else None


def _policy(ctx: Ctx, name: str) -> Policy | None:
    return ctx.settings.policies.get(name)


def page(
    ctx: Ctx,
    incident: Incident,
    targets: list[str],
    level: int,
    round_: int,
    skipped: tuple[tuple[int, int], ...] = (),
    since: datetime | None = None,
) -> bool:
    """One step of a ladder; its idempotency key makes it go out once, whatever happens later.

    ``skipped`` are the (round, level) steps that fell due while tocsin was down and are counted as run: this
    page says so instead of each of them paging now. ``since``: when nobody has acknowledged since, said by the
    pages of a later level or round. Returns False when the level was skipped because every firing alert of the
    incident is silenced (it counts as run: nothing sent, no escalation counted)."""
    if ctx.all_silenced(incident):
        held = sorted({by for a in ctx.s.firing_members[incident.id] for by in ctx.silenced_by(a.labels)})
        ctx.log(
            incident,
            Kind.LEVEL_SKIPPED,
            f"level {level} (round {round_}) of {incident.policy} skipped: every firing alert is silenced"
            f" ({', '.join(held)})",
        )
        return False
    found = people.resolve(ctx, incident, targets)
    channels = found.channels
    missed = f" ({passed_while_down(skipped)})" if skipped else ""
    whom = "; ".join(found.said)
    if not channels and not found.people:
        ctx.log(
            incident, Kind.ESCALATED, f"level {level} (round {round_}) of {incident.policy}: nobody to page{missed}"
        )
        ctx.say("incident_escalated", incident, True, to_level=level, round=round_, policy=incident.policy, paged=[])
        return True
    first = len(ctx.d.intents)
    if channels:
        ctx.d.intents.append(
            NotifyIntent(
                key=notification_key(incident, NotifyReason.ESCALATION, level=level, round_=round_),
                incident_id=incident.id,
                reason=NotifyReason.ESCALATION,
                channels=tuple(channels),
                level=level,
                round=round_,
                skipped=skipped,
            )
        )
        for channel in channels:
            if channel not in incident.paged:
                incident.paged.append(channel)
    # Each person named once in the level, whatever the targets that named them; paging them again restarts
    # their own ladder.
    paged_people = [f"{name} ({', '.join(people.start(ctx, incident, name, level, round_))})" for name in found.people]
    # The step's first page carries the count: it is an escalation once sent (a page not sent because someone
    # answered meanwhile is not; nor is a level with nobody to page, skipped while silenced or while down).
    if len(ctx.d.intents) > first:
        ctx.d.intents[first] = replace(ctx.d.intents[first], escalation_step=True)
    _say_why(ctx, incident, first, level, round_, since)
    paged = ", ".join([*channels, *paged_people])
    ctx.log(
        incident,
        Kind.ESCALATED,
        f"paged level {level} (round {round_}) of {incident.policy}: {paged}{missed}" + (f" — {whom}" if whom else ""),
    )
    ctx.say(
        "incident_escalated",
        incident,
        to_level=level,
        round=round_,
        policy=incident.policy,
        paged=[*channels, *found.people],
        passed_while_down=passed_while_down(skipped) if skipped else None,
    )
    return True


def _say_why(ctx: Ctx, incident: Incident, first: int, level: int, round_: int, since: datetime | None) -> None:
    """The pages of this step (channels and people) say why now: a later level since when nobody answered; level 0
    who reopened the incident, or the note of whoever declared it by hand."""
    for i in range(first, len(ctx.d.intents)):
        if level > 0 or round_ > 1:
            ctx.d.intents[i] = replace(ctx.d.intents[i], unacknowledged_since=since)
        else:
            reopened, note = ctx.reopened.get(incident.id, ""), ctx.declared_notes.get(incident.id, "")
            ctx.d.intents[i] = replace(ctx.d.intents[i], reopened=reopened, note=note)


# What would page someone about a mirrored incident (PagerDuty pages for it; paging back would loop).
PAGING = frozenset(
    {
        NotifyReason.ESCALATION,
        NotifyReason.ACKNOWLEDGED,
        NotifyReason.MITIGATED,
        NotifyReason.RESOLVED,
        NotifyReason.SEVERITY_CHANGED,
    }
)


def notify(ctx: Ctx, incident: Incident, reason: NotifyReason, channels: list[str], note: str = "") -> None:
    """A notification that is not a ladder step (ack, resolve, severity change, reminder, status update)."""
    if not channels or (incident.mirrored and reason in PAGING):
        return
    incident.notify_seq += 1
    ctx.d.touch_incident(incident)
    ctx.d.intents.append(
        NotifyIntent(
            key=notification_key(incident, reason, seq=incident.notify_seq),
            incident_id=incident.id,
            reason=reason,
            channels=tuple(channels),
            note=note,
        )
    )


def notify_paged(
    ctx: Ctx, incident: Incident, reason: NotifyReason, note: str = "", exclude: frozenset[str] = frozenset()
) -> None:
    notify(ctx, incident, reason, [c for c in incident.paged if c not in exclude], note)


def stop_ladder(ctx: Ctx, incident: Incident, people_too: bool = True) -> None:
    """The ladder stops; with ``people_too`` (acknowledge, mitigate, resolve) the paged people's own steps too.
    A ladder that ran out of rounds leaves them going: a person's steps outlast the policy's last round."""
    if incident.ladder is not None:
        incident.ladder = None
        ctx.d.touch_incident(incident)
    ctx.d.cancel_timer(timer_key(incident, TimerKind.ESCALATE))
    if people_too:
        people.cancel(ctx, incident)


def start_ladder(ctx: Ctx, incident: Incident, since: datetime | None = None) -> None:
    """Round 1 of the routed policy starts now; level 0 (after: 0s) pages at once. Nobody has acknowledged
    since ``since``; by default since a ladder still running began (a move to another policy), else now."""
    running = incident.ladder
    if since is None:
        since = running.episode_started_at if running is not None else ctx.now
    policy = route_policy(ctx, incident)
    if policy != incident.policy:
        incident.policy = policy
        if policy is not None:
            ctx.log(incident, Kind.POLICY_CHANGED, f"escalation policy {policy}")
    if policy is None:
        stop_ladder(ctx, incident)
        if not incident.mirrored:
            ctx.log(incident, Kind.NOTE, "no route matched: nobody is paged for this incident")
        return
    incident.ladder = Ladder(policy, 1, 0, ctx.now, since)
    run_ladder(ctx, incident)


def run_ladder(ctx: Ctx, incident: Incident) -> None:
    """Page the level due now, then set the timer for the next one (or end the ladder).

    Catch-up after downtime (DESIGN §6): when several levels fell due since the timer was set (tocsin was down
    past them), only the latest due pages; the earlier ones count as run and its page names them. Levels due
    in the same instant (equal ``after``, or level 0 at declaration) are not downtime and all page."""
    ctx.d.touch_incident(incident)
    due_now: list[tuple[int, int, list[str]]] = []  # (round, level, targets) due at ``latest``
    since = incident.ladder.episode_started_at if incident.ladder is not None else ctx.now
    skipped: list[tuple[int, int]] = []
    latest: datetime | None = None
    while (ladder := incident.ladder) is not None:
        policy = _policy(ctx, ladder.policy)
        if policy is None or ladder.level >= len(policy.levels):
            stop_ladder(ctx, incident)  # the policy went away in a reload
            break
        level = policy.levels[ladder.level]
        due = ladder.round_started_at + level.after
        if due > ctx.now:
            ctx.d.set_timer(
                Timer(
                    timer_key(incident, TimerKind.ESCALATE),
                    TimerKind.ESCALATE,
                    incident.id,
                    due,
                    {"episode": incident.episode, "round": ladder.round, "level": ladder.level},
                )
            )
            break
        if latest is not None and due > latest:
            skipped.extend((r, lv) for r, lv, _ in due_now)  # a later level fell due too: these passed
            due_now.clear()
        latest = due
        due_now.append((ladder.round, ladder.level, level.notify))
        if ladder.level + 1 < len(policy.levels):
            ladder.level += 1
        elif ladder.round < policy.repeat:
            next_start = ladder.round_started_at + policy.levels[-1].after + policy.repeat_after
            incident.ladder = Ladder(ladder.policy, ladder.round + 1, 0, next_start, ladder.episode_started_at)
        else:
            stop_ladder(ctx, incident, people_too=False)
    silenced = [
        not page(ctx, incident, targets, level_, round_, tuple(skipped), since) for round_, level_, targets in due_now
    ]
    if incident.ladder is None and silenced and silenced[-1]:
        # The ladder ran out while silenced: when the silence ends, a still-triggered incident starts it again.
        arm_resume(ctx, incident)


def resume_key(incident: Incident) -> str:
    return f"{RESUME_OWNER}/{incident.id}"


def arm_resume(ctx: Ctx, incident: Incident) -> None:
    ends = [
        end
        for a in ctx.s.firing_members.get(incident.id, [])
        if (end := silencing.held_until(ctx.s.silences, ctx.settings.maintenance, a.labels, ctx.now)) is not None
    ]
    if ends:
        timer = Timer(resume_key(incident), TimerKind.SWEEP, RESUME_OWNER, min(ends), {"incident": incident.id})
        ctx.d.set_timer(timer)


def resume_due(ctx: Ctx, timer: Timer) -> None:
    """A silence over an incident whose ladder ran out ended (or another sweep looks): still triggered and no
    longer all silenced, the ladder restarts (a new episode, level 0); still silenced, look again later."""
    incident = ctx.s.incidents.get(str(timer.data.get("incident", "")))
    ctx.d.cancel_timer(timer.key)
    if incident is None or incident.state is not State.TRIGGERED or incident.ladder is not None:
        return
    if ctx.all_silenced(incident):
        arm_resume(ctx, incident)
        return
    incident.episode += 1
    ctx.log(incident, Kind.NOTE, "the silence ended while the incident is still triggered: the ladder starts again")
    start_ladder(ctx, incident, incident.firing_since)


def escalation_due(ctx: Ctx, incident: Incident, timer: Timer) -> None:
    ladder = incident.ladder
    if (
        incident.state is not State.TRIGGERED
        or ladder is None
        or timer.data.get("episode") != incident.episode
        or timer.data.get("round") != ladder.round
        or timer.data.get("level") != ladder.level
    ):
        return  # a stale timer: the ladder moved on, stopped or restarted since it was set
    run_ladder(ctx, incident)


def severity_changed(ctx: Ctx, incident: Incident, note: str = "") -> None:
    """Route again after a change of severity (DESIGN §6); ``note`` says from, to and why, for those told."""
    schedule_reminder(ctx, incident)
    if incident.state is State.RESOLVED:
        return
    new_policy = route_policy(ctx, incident)
    if incident.state is State.TRIGGERED and new_policy != incident.policy:
        # Moves to the new policy and pages its level 0 at once; the others already paged hear of the change.
        incident.episode += 1
        already = frozenset(incident.paged)
        start_ladder(ctx, incident)
        fresh = frozenset(incident.paged) - already
        notify_paged(ctx, incident, NotifyReason.SEVERITY_CHANGED, note, exclude=fresh | _level0(ctx, incident))
        return
    if incident.state is State.ACKNOWLEDGED and new_policy is not None and new_policy != incident.policy:
        # Those already paged hear of it, and the new policy's level 0, without restarting the ladder.
        policy = _policy(ctx, new_policy)
        level0 = policy.levels[0].notify if policy else []
        notify_paged(ctx, incident, NotifyReason.SEVERITY_CHANGED, note, exclude=frozenset(level0))
        incident.episode += 1
        incident.policy = new_policy
        ctx.log(incident, Kind.POLICY_CHANGED, f"escalation policy {new_policy}")
        if level0:
            page(ctx, incident, level0, 0, 1)
        return
    # Same policy, or mitigated (its ladder stopped; a re-fire routes again): those already paged hear of it.
    notify_paged(ctx, incident, NotifyReason.SEVERITY_CHANGED, note)


def _level0(ctx: Ctx, incident: Incident) -> frozenset[str]:
    policy = _policy(ctx, incident.policy) if incident.policy else None
    return frozenset(policy.levels[0].notify) if policy else frozenset()


def _last_word(incident: Incident) -> datetime:
    """The latest of the last status update (or declaration) and the last reminder."""
    last = incident.last_status_update_at or incident.declared_at
    if incident.last_reminded_at is not None and incident.last_reminded_at > last:
        return incident.last_reminded_at
    return last


def schedule_reminder(ctx: Ctx, incident: Incident) -> None:
    """Remind the comms channel when no status update was posted within the severity's cadence, once per
    overdue period: the next reminder is a cadence after the last update or the last reminder."""
    key = timer_key(incident, TimerKind.REMIND)
    cadence = ctx.settings.status_updates.cadence.get(incident.severity)
    if cadence is None or not ctx.settings.status_updates.remind or not incident.state.is_open:
        ctx.d.cancel_timer(key)
        return
    ctx.d.set_timer(Timer(key, TimerKind.REMIND, incident.id, max(_last_word(incident) + cadence, ctx.now)))


def reminder_due(ctx: Ctx, incident: Incident) -> None:
    cadence = ctx.settings.status_updates.cadence.get(incident.severity)
    if cadence is None or not incident.state.is_open:
        return
    if _last_word(incident) + cadence > ctx.now:
        schedule_reminder(ctx, incident)  # an update or a reminder came since this timer was set
        return
    last = incident.last_status_update_at or incident.declared_at
    ctx.log(incident, Kind.STATUS_UPDATE_DUE, f"no status update for {format_duration(ctx.now - last)}: reminded comms")
    ctx.say("status_update_due", incident, since=format_duration(ctx.now - last))
    notify(ctx, incident, NotifyReason.REMINDER, list(ctx.settings.status_updates.remind))
    incident.last_reminded_at = ctx.now
    schedule_reminder(ctx, incident)


def schedule_raise_checks(ctx: Ctx, incident: Incident) -> None:
    for rule in ctx.settings.severity.raises:
        if rule.when.firing_for is None or rule.name in incident.raises:
            continue
        # Counted from the start of the current firing stretch, not from declaration: a reopened incident
        # that fires again has been firing for no time at all.
        due = max((incident.firing_since or incident.declared_at) + rule.when.firing_for, ctx.now)
        ctx.d.set_timer(
            Timer(
                timer_key(incident, TimerKind.RAISE, rule.name), TimerKind.RAISE, incident.id, due, {"rule": rule.name}
            )
        )


def cancel_all_timers(ctx: Ctx, incident: Incident) -> None:
    stop_ladder(ctx, incident)
    for kind in (TimerKind.VERIFY, TimerKind.REMIND):
        ctx.d.cancel_timer(timer_key(incident, kind))
    for rule in ctx.settings.severity.raises:
        if rule.when.firing_for is not None:
            ctx.d.cancel_timer(timer_key(incident, TimerKind.RAISE, rule.name))
    for key in ctx.s.timers:
        if key.startswith(f"{incident.id}/"):
            ctx.d.cancel_timer(key)
