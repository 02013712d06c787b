"""A reload in flight (DESIGN §15): open incidents keep their state, and what is not yet paged follows the new
configuration. Decided like any event, from the slice alone: the settings in ``ctx`` are the new ones.

- a pending level's timer is recomputed from the new ``after``; one now in the past pages at once, once;
- an incident whose policy vanished is routed again, as at a severity change (triggered: a new episode whose
  ladder starts at level 0 of the policy it routes to; acknowledged or mitigated: only the policy changes,
  nobody is paged, as nobody would be at a severity change before a re-fire);
- a triggered incident that no route matched, and that one matches now, starts that policy at level 0;
- a paged person no longer configured has their remaining steps dropped, with a timeline entry; a person still
  configured has their next step recomputed from their new steps;
- a heartbeat no longer configured loses its deadline, and its open missed alert resolves;
- a schedule given a ``handoff_notice`` gets its first notice armed (as at start-up).
"""

from __future__ import annotations

from daemon.domain import AlertStatus, Incident, Kind, Ladder, Source, State, Timer, TimerKind
from daemon.engine import alerts, escalation, handoffs, heartbeats, people
from daemon.engine.context import Ctx
from daemon.engine.events import AlertIn, ConfigReloaded
from daemon.timefmt import iso, parse_iso

WHY = "configuration reloaded"


def apply(ctx: Ctx, event: ConfigReloaded) -> None:
    for name in event.removed_heartbeats:
        stand_down(ctx, name)
    for name in handoffs.noticed(ctx.settings.schedules):
        if handoffs.timer_key(name) not in ctx.s.timers:
            handoffs.arm(ctx, name)  # a handoff_notice new in this configuration
    for incident_id in event.incident_ids:
        incident = ctx.s.incidents.get(incident_id)
        if incident is None or not incident.state.is_open:
            continue  # resolved since it was listed
        follow(ctx, incident)


def follow(ctx: Ctx, incident: Incident) -> None:
    """One open incident brought in line with the configuration in force."""
    follow_people(ctx, incident)
    if _vanished(ctx, incident):
        reroute(ctx, incident)
    elif _unrouted(ctx, incident):
        # Nobody was paged because no route matched; the new configuration has one (the fix the operator made).
        ctx.log(incident, Kind.NOTE, f"a route matches it now ({WHY})")
        incident.episode += 1
        escalation.start_ladder(ctx, incident)
    elif incident.state is State.TRIGGERED and incident.ladder is not None:
        retime(ctx, incident)


def out_of_line(ctx: Ctx, incident: Incident, timer: Timer) -> bool:
    """The incident's escalation timer fired (not stale), and its ladder names a policy or a level this
    configuration no longer has. A reload's list can miss such an incident: another worker or replica not yet
    reloaded declared it, or a decision under way at the swap did. It is brought in line now, where run_ladder
    alone would end its ladder and page nobody ever again."""
    ladder = incident.ladder
    if (
        incident.state is not State.TRIGGERED
        or ladder is None
        or (timer.data.get("episode"), timer.data.get("round"), timer.data.get("level"))
        != (incident.episode, ladder.round, ladder.level)
    ):
        return False
    policy = ctx.settings.policies.get(ladder.policy)
    return policy is None or ladder.level >= len(policy.levels) or _vanished(ctx, incident)


def _vanished(ctx: Ctx, incident: Incident) -> bool:
    policies = ctx.settings.policies
    named = {incident.policy, incident.ladder.policy if incident.ladder else None} - {None}
    return any(name not in policies for name in named)


def _unrouted(ctx: Ctx, incident: Incident) -> bool:
    return (
        incident.state is State.TRIGGERED
        and incident.policy is None
        and incident.ladder is None
        and escalation.route_policy(ctx, incident) is not None
    )


def stand_down(ctx: Ctx, name: str) -> None:
    """A heartbeat taken out of the configuration: nothing waits for its pings any more."""
    key = heartbeats.due_key(name)
    if key in ctx.s.timers:
        ctx.d.cancel_timer(key)
    missed = ctx.s.alerts.get(heartbeats.fingerprint(name))
    if missed is None or missed.status is not AlertStatus.FIRING:
        return
    incident = ctx.s.incidents.get(missed.incident_id) if missed.incident_id else None
    if incident is not None:
        ctx.log(incident, Kind.NOTE, f"heartbeat {name} is no longer in the configuration ({WHY}): its alert resolves")
    alerts.apply(
        ctx,
        AlertIn(
            fingerprint=missed.fingerprint,
            source=Source.HEARTBEAT,
            status=AlertStatus.RESOLVED,
            labels=dict(missed.labels),
            annotations=dict(missed.annotations),
            ends_at=ctx.now,
        ),
    )


def reroute(ctx: Ctx, incident: Incident) -> None:
    gone = incident.ladder.policy if incident.ladder else incident.policy
    ctx.log(incident, Kind.POLICY_CHANGED, f"escalation policy {gone} is no longer in the configuration ({WHY})")
    if incident.state is State.TRIGGERED:
        # As at a severity change: a new episode (the old ladder's timers and personal steps are stale) that
        # starts the routed policy at level 0.
        incident.episode += 1
        escalation.start_ladder(ctx, incident)
        return
    incident.ladder = None
    incident.policy = escalation.route_policy(ctx, incident)
    ctx.d.touch_incident(incident)
    if incident.policy is not None:
        ctx.log(incident, Kind.POLICY_CHANGED, f"escalation policy {incident.policy}")


def retime(ctx: Ctx, incident: Incident) -> None:
    """The pending level's timer from the new ``after``. ``run_ladder`` sets it, or pages the level now when the
    new time is already past (the latest level due pages once; earlier ones count as run)."""
    ladder = incident.ladder
    assert ladder is not None
    policy = ctx.settings.policies[ladder.policy]
    if ladder.level >= len(policy.levels):
        # The policy lost the levels this round had left: the round ends with its last level.
        if ladder.round < policy.repeat:
            start = ladder.round_started_at + policy.levels[-1].after + policy.repeat_after
            incident.ladder = Ladder(ladder.policy, ladder.round + 1, 0, start, ladder.episode_started_at)
            ctx.log(incident, Kind.NOTE, f"{ladder.policy} has fewer levels now ({WHY}): round {ladder.round} ends")
        else:
            ctx.log(incident, Kind.NOTE, f"{ladder.policy} has fewer levels now ({WHY}): its ladder ends")
            escalation.stop_ladder(ctx, incident, people_too=False)
            return
        escalation.run_ladder(ctx, incident)
        return
    ladder = incident.ladder
    assert ladder is not None
    due = ladder.round_started_at + policy.levels[ladder.level].after
    current = ctx.s.timers.get(escalation.timer_key(incident, TimerKind.ESCALATE))
    if current is not None and current.due_at == due:
        return
    when = "due now" if due <= ctx.now else f"due at {iso(due)}"
    ctx.log(incident, Kind.NOTE, f"level {ladder.level} (round {ladder.round}) of {ladder.policy} is {when} ({WHY})")
    escalation.run_ladder(ctx, incident)


def follow_people(ctx: Ctx, incident: Incident) -> None:
    prefix = f"{incident.id}/{TimerKind.PERSON.value}/"
    for key, timer in sorted(ctx.s.timers.items()):
        if not key.startswith(prefix) or timer.kind is not TimerKind.PERSON:
            continue
        if timer.data.get("episode") != incident.episode or incident.state is not State.TRIGGERED:
            continue  # their ladder ended with the episode or the acknowledgement: the timer will do nothing
        name = str(timer.data.get("person", ""))
        if name not in ctx.settings.people:
            ctx.d.cancel_timer(key)
            ctx.log(incident, Kind.NOTE, f"{name} is no longer in the configuration ({WHY}): their steps are dropped")
            continue
        _retime_person(ctx, incident, name, timer)


def _retime_person(ctx: Ctx, incident: Incident, name: str, timer: Timer) -> None:
    steps = people.steps_of(ctx, name)
    step = int(timer.data["step"])
    started_at = parse_iso(str(timer.data["started_at"]))
    if step >= len(steps):
        ctx.d.cancel_timer(timer.key)  # their ladder is shorter now, and its last step has paged
        return
    if started_at + steps[step].after == timer.due_at:
        return
    people.run(ctx, incident, name, step, started_at, int(timer.data["level"]), int(timer.data["round"]))
