"""Handoff notices (DESIGN §11): the incoming person hears ``handoff_notice`` before their shift starts, once.

One durable timer per schedule (owner ``handoff:<schedule>``) is set for the next notice due; firing it tells the
incoming person of every rotation whose next shift starts within the notice, then sets the timer for the next.
Each notice's idempotency key names the schedule, rotation, shift start and person, so a restart, a replica or a
timer set again never tells anyone twice.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from daemon.domain import NotifyReason, Timer, TimerKind
from daemon.engine.context import Ctx
from daemon.engine.state import NotifyIntent
from rules.oncall import Rotation, Schedule
from rules.rotation import RotationClock, segments
from rules.time_intervals import zone

INSTANT = timedelta(seconds=1)


def owner(schedule: str) -> str:
    return f"handoff:{schedule}"


def timer_key(schedule: str) -> str:
    return f"{owner(schedule)}/notice"


def noticed(settings_schedules: dict[str, Schedule]) -> list[str]:
    return [name for name, s in settings_schedules.items() if s.handoff_notice is not None]


def _next_start(rotation: Rotation, timezone: str, after: datetime) -> datetime:
    """The first shift start strictly after ``after``."""
    clock = RotationClock(rotation, timezone)
    return clock.shift_start(clock.shift_index(after) + 1)


def arm(ctx: Ctx, name: str) -> None:
    """Set the schedule's timer for the next notice that is not yet due."""
    schedule = ctx.settings.schedules[name]
    notice = schedule.handoff_notice
    if notice is None:
        return
    due = min(_next_start(r, schedule.timezone, ctx.now + notice) for r in schedule.rotations.values()) - notice
    ctx.d.set_timer(Timer(timer_key(name), TimerKind.HANDOFF, owner(name), max(due, ctx.now), {"schedule": name}))


def due(ctx: Ctx, name: str) -> None:
    """Tell each incoming person whose shift starts within the notice, then arm the next notice."""
    schedule = ctx.settings.schedules.get(name)
    if schedule is None or schedule.handoff_notice is None:
        return  # removed from the configuration since the timer was set
    notice = schedule.handoff_notice
    overrides = [o for o in ctx.s.overrides.get(name, []) if o.person in ctx.settings.people]
    for rotation_name, rotation in schedule.rotations.items():
        start = _next_start(rotation, schedule.timezone, ctx.now)
        if start - notice > ctx.now:
            continue
        mine = [o for o in overrides if o.rotation == rotation_name]
        [before] = segments(rotation, schedule.timezone, mine, start - INSTANT, start)
        [incoming] = segments(rotation, schedule.timezone, mine, start, start + INSTANT)
        person = incoming.person
        if person is None or person == before.person:
            continue  # nobody comes on (a gap), or the same person stays on
        local = start.astimezone(zone(schedule.timezone)).strftime("%a %Y-%m-%d %H:%M %Z")
        title = f"On call from {local}: {name}/{rotation_name}"
        body = (
            f"{ctx.settings.people[person].name}, you are on call for {name}/{rotation_name} from {local}"
            + (f", taking over from {before.person}." if before.person else ".")
            + "\nSee who is on call and swap shifts on the board's on-call page, or with `tocsin oncall`."
        )
        ctx.d.intents.append(
            NotifyIntent(
                key=f"handoff/{name}/{rotation_name}/{start.isoformat()}/{person}",
                incident_id=owner(name),
                reason=NotifyReason.HANDOFF,
                channels=tuple(ctx.settings.people[person].contacts),
                note=f"{title}\n{body}",
                person=person,
            )
        )
    arm(ctx, name)
