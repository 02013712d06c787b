"""Pages to people: who is on call when a level pages, and each paged person's own ladder (DESIGN §11).

A level's ``oncall:<schedule>/<rotation>`` target is whoever is on call at ``now`` (overrides applied), a
``person:<name>`` target that person. Each paged person runs their own ladder of contact steps (all contacts at
once when they have none) on a durable timer, cancelled like levels are: acknowledge, mitigate, resolve or a
new episode end it, and a later level or round that pages them again starts it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from daemon.domain import Incident, Kind, NotifyReason, State, Timer, TimerKind
from daemon.engine.context import Ctx
from daemon.engine.state import NotifyIntent, Observation, notification_key
from daemon.timefmt import iso, parse_iso
from rules.oncall import PersonStep, parse_target
from rules.rotation import segments

INSTANT = timedelta(seconds=1)


@dataclass(frozen=True, slots=True)
class Targets:
    channels: list[str]
    people: list[str]  # in the order named, each once
    said: list[str]  # how each oncall target was resolved, for the timeline


def resolve(ctx: Ctx, incident: Incident, targets: list[str]) -> Targets:
    channels: list[str] = []
    people: list[str] = []
    said: list[str] = []
    for target in targets:
        kind, name, rotation_name = parse_target(target)
        if kind == "channel":
            if target not in channels:
                channels.append(target)
            continue
        if kind == "person":
            if name in ctx.settings.people and name not in people:
                people.append(name)
            continue
        where = f"{name}/{rotation_name}"
        schedule = ctx.settings.schedules.get(name)
        rotation = schedule.rotations.get(rotation_name) if schedule else None
        person = None
        if schedule is not None and rotation is not None:
            mine = [
                o
                for o in ctx.s.overrides.get(name, [])
                if o.rotation == rotation_name and o.person in ctx.settings.people
            ]
            [now] = segments(rotation, schedule.timezone, mine, ctx.now, ctx.now + INSTANT)
            person = now.person
            if person is not None:
                said.append(f"{where}: {person}" + (f" (override for {now.instead_of})" if now.instead_of else ""))
                if person not in people:
                    people.append(person)
                continue
        # A rotation with nobody on call: said and counted; the level's other targets still page.
        ctx.log(incident, Kind.NOTE, f"{where}: nobody on call")
        ctx.d.observations.append(Observation("page_without_oncall", incident.severity, incident.service, target=where))
    return Targets(channels, people, said)


def steps_of(ctx: Ctx, name: str) -> list[PersonStep]:
    person = ctx.settings.people[name]
    return person.notify or [PersonStep(after=timedelta(0), contacts=person.contacts)]


def timer_key(incident: Incident, name: str) -> str:
    return f"{incident.id}/{TimerKind.PERSON.value}/{name}"


def start(ctx: Ctx, incident: Incident, name: str, level: int, round_: int) -> list[str]:
    """Page ``name`` from the first step of their ladder (restarted if it ran); returns the contacts paged now."""
    return run(ctx, incident, name, 0, ctx.now, level, round_)


def run(ctx: Ctx, incident: Incident, name: str, step: int, started_at: datetime, level: int, round_: int) -> list[str]:
    """Page the step of ``name``'s ladder that is due now (a step passed while tocsin was down counts as run),
    then set the timer for the next one."""
    steps = steps_of(ctx, name)
    due_now = [i for i in range(step, len(steps)) if started_at + steps[i].after <= ctx.now]
    paged: list[str] = []
    if due_now and step > 0 and ctx.all_silenced(incident):
        # A later step of the person's own ladder, due while every firing alert is silenced: skipped like a
        # level (counted as run), their ladder goes on.
        current = due_now[-1]
        ctx.log(incident, Kind.LEVEL_SKIPPED, f"{name} (step {current}) skipped: every firing alert is silenced")
        step = current + 1
        due_now = []
    if due_now:
        current = due_now[-1]
        contacts = list(steps[current].contacts)
        ctx.d.intents.append(
            NotifyIntent(
                key=_key(incident, level, round_, name, current),
                incident_id=incident.id,
                reason=NotifyReason.ESCALATION,
                channels=tuple(contacts),
                level=level,
                round=round_,
                person=name,
                person_step=current,
                # A later step says since when nobody answered, as a later level does.
                unacknowledged_since=(incident.ladder.episode_started_at if incident.ladder else started_at)
                if current > 0
                else None,
            )
        )
        for contact in contacts:
            if contact not in incident.paged:
                incident.paged.append(contact)
        paged = contacts
        if step > 0 or current > 0:
            ctx.log(incident, Kind.ESCALATED, f"paged {name} (step {current}): {', '.join(contacts)}")
            ctx.say(
                "incident_escalated", incident, person=name, step=current, to_level=level, round=round_, paged=contacts
            )
        step = current + 1
    key = timer_key(incident, name)
    if step < len(steps):
        data: dict[str, int | str] = {
            "episode": incident.episode,
            "person": name,
            "step": step,
            "started_at": iso(started_at),
            "level": level,
            "round": round_,
        }
        ctx.d.set_timer(Timer(key, TimerKind.PERSON, incident.id, started_at + steps[step].after, data))
    else:
        ctx.d.cancel_timer(key)
    ctx.d.touch_incident(incident)
    return paged


def _key(incident: Incident, level: int, round_: int, name: str, step: int) -> str:
    return notification_key(incident, NotifyReason.ESCALATION, level=level, round_=round_, person=name, step=step)


def step_due(ctx: Ctx, incident: Incident, timer: Timer) -> None:
    data = timer.data
    if incident.state is not State.TRIGGERED or data.get("episode") != incident.episode:
        return  # acknowledged, mitigated, resolved or restarted since: the person's ladder ended with it
    name = str(data.get("person", ""))
    if name not in ctx.settings.people:
        ctx.log(incident, Kind.NOTE, f"{name} is no longer in the configuration: their remaining steps are dropped")
        return
    started_at = parse_iso(str(data["started_at"]))
    run(ctx, incident, name, int(data["step"]), started_at, int(data["level"]), int(data["round"]))


def cancel(ctx: Ctx, incident: Incident) -> None:
    prefix = f"{incident.id}/{TimerKind.PERSON.value}/"
    for key in ctx.s.timers:
        if key.startswith(prefix):
            ctx.d.cancel_timer(key)
