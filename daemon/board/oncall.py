"""Who is on call now and next, per rotation, and the form that adds an override (as the API does)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import structlog
from aiohttp import web

from daemon.board.auth import Form, action, page
from daemon.board.render import render
from daemon.board.visitor import Visitor
from daemon.http.keys import SERVICES
from daemon.http.oncall import override_problems, overrides_in_force, save_override
from daemon.roster import oncall_rows
from daemon.store.overrides import NewOverride
from daemon.timefmt import utc
from rules.durations import parse_duration

log = structlog.get_logger("tocsin.oncall")
OVERRIDE_DURATIONS = ("1h", "2h", "4h", "8h", "12h", "1d", "2d", "1w")
LIVE_EVERY_MS = 5000


async def _page(request: web.Request, who: Visitor, status: int = 200, error: str = "") -> web.Response:
    svc = request.app[SERVICES]
    settings = svc.settings
    now = svc.clock.now()
    overrides = {name: await overrides_in_force(svc, name) for name in settings.schedules}

    def name_of(person: str | None) -> str | None:
        return settings.people[person].name if person in settings.people else person

    rows = [
        {
            "schedule": r.schedule,
            "rotation": r.rotation,
            "person": r.current.person,
            "name": name_of(r.current.person),
            "since": r.current.start,
            "until": r.current.end,
            "override": r.current.override,
            "next_person": r.next.person if r.next else None,
            "next_name": name_of(r.next.person) if r.next else None,
            "next_at": r.next.start if r.next else None,
        }
        for r in oncall_rows(settings, overrides, now)
    ]
    # Current and future overrides, so that one added by mistake can be taken back here.
    listed = [o for name in settings.schedules for o in await svc.store.list_overrides(name, ending_after=now)]
    return render(
        request,
        who,
        "oncall.html",
        status,
        title="On call",
        rows=rows,
        overrides=listed,
        error=error,
        people=settings.people,
        override_durations=OVERRIDE_DURATIONS,
        live_every=LIVE_EVERY_MS,
    )


@page
async def oncall_page(request: web.Request, who: Visitor) -> web.StreamResponse:
    return await _page(request, who)


def _start(text: str, zone: str, now: datetime) -> datetime | None:
    """The form's local time in the schedule's zone; empty means now; None when it is no time."""
    if not text.strip():
        return now
    try:
        local = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return utc(local.replace(tzinfo=ZoneInfo(zone)) if local.tzinfo is None else local)


@action
async def add_override(request: web.Request, who: Visitor, form: Form) -> web.StreamResponse:
    svc = request.app[SERVICES]
    settings = svc.settings
    schedule_name, _, rotation = form.get("rotation", "").partition("/")
    schedule = settings.schedules.get(schedule_name)
    if schedule is None:
        return await _page(request, who, 422, f"unknown schedule {schedule_name!r}")
    if form.get("duration") not in OVERRIDE_DURATIONS:
        return await _page(request, who, 422, "choose how long the override lasts")
    now = svc.clock.now()
    start = _start(form.get("start", ""), schedule.timezone, now)
    if start is None:
        return await _page(request, who, 422, "the start is not a time")
    end = start + parse_duration(form["duration"])
    person = form.get("person", "")
    problems = override_problems(settings, schedule_name, schedule, rotation, person, start, end)
    if problems:
        return await _page(request, who, 422, "; ".join(problems))
    note = form.get("note", "").strip()[:4000]
    await save_override(svc, NewOverride(schedule_name, rotation, person, start, end, note, who.person, now))
    raise web.HTTPSeeOther("/oncall")


@action
async def remove_override(request: web.Request, who: Visitor, form: Form) -> web.StreamResponse:
    svc = request.app[SERVICES]
    schedule, override_id = request.match_info["schedule"], request.match_info["id"]
    if not await svc.store.delete_override(schedule, override_id):
        return await _page(request, who, 404, f"{schedule} has no override {override_id!r} (any more)")
    log.info("override_deleted", schedule=schedule, id=override_id, actor=who.person)
    raise web.HTTPSeeOther("/oncall")
