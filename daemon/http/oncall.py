"""On-call API: who is on call now and next, the schedules and their shifts, and the calendar feed."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from aiohttp import web

from daemon.config.settings import Settings
from daemon.http.auth import api_token
from daemon.http.body import parse_json_body
from daemon.http.errors import error_response, json_response
from daemon.http.keys import SERVICES
from daemon.http.models import OverrideBody
from daemon.ingest.errors import IngestError
from daemon.roster import oncall_rows, shifts
from daemon.services import Services
from daemon.signing import calendar_token, check_calendar_token
from daemon.store.overrides import NewOverride, StoredOverride
from daemon.timefmt import iso, parse_iso
from notifiers.calendar import render_calendar
from rules.oncall import Schedule
from rules.rotation import Override

log = structlog.get_logger("tocsin.oncall")
OVERRIDE_BODY_LIMIT = 64 * 1024
DEFAULT_RANGE = timedelta(days=14)
MAX_RANGE = timedelta(days=400)  # bounds the work one request can ask for
FEED_BACK, FEED_AHEAD = timedelta(days=14), timedelta(days=90)


def _time(request: web.Request, name: str, default: datetime) -> datetime:
    text = request.query.get(name)
    if not text:
        return default
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise IngestError(400, "bad_query", f"{name} must be an RFC 3339 time such as 2026-11-25T09:00:00Z") from None
    if at.tzinfo is None:
        raise IngestError(400, "bad_query", f"{name} needs a time zone (Z or ±HH:MM)")
    return parse_iso(at.isoformat())


async def overrides_in_force(services: Services, schedule: str) -> list[Override]:
    """The stored overrides of a schedule that still name a configured rotation and person."""
    found = await services.store.list_overrides(schedule)
    return [o.rule() for o in found if not _override_json(o, services.settings)["stale"]]


def _schedule_or_404(request: web.Request) -> tuple[str, Schedule]:
    name = request.match_info["name"]
    schedule = request.app[SERVICES].settings.schedules.get(name)
    if schedule is None:
        raise IngestError(404, "not_found", f"no schedule {name!r}")
    return name, schedule


def _override_json(o: StoredOverride, settings: Settings) -> dict[str, Any]:
    schedule = settings.schedules.get(o.schedule)
    # Kept when the configuration no longer names its rotation or person, but ignored and marked.
    stale = schedule is None or o.rotation not in schedule.rotations or o.person not in settings.people
    return {**o.to_json(), "stale": stale}


@api_token
async def add_override(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    name, schedule = _schedule_or_404(request)
    body = await parse_json_body(request, OverrideBody, OVERRIDE_BODY_LIMIT)
    problems = override_problems(services.settings, name, schedule, body.rotation, body.person, body.start, body.end)
    if problems:
        raise IngestError(422, "invalid_override", "; ".join(problems), problems)
    new = NewOverride(
        name,
        body.rotation,
        body.person,
        parse_iso(body.start.isoformat()),
        parse_iso(body.end.isoformat()),
        body.note,
        body.actor,
        services.clock.now(),
    )
    stored = await save_override(services, new)
    return json_response(_override_json(stored, services.settings), 201)


def override_problems(
    settings: Settings, name: str, schedule: Schedule, rotation: str, person: str, start: datetime, end: datetime
) -> list[str]:
    """Why an override cannot be added (the API answers 422 with these; the board shows them)."""
    problems = []
    if rotation not in schedule.rotations:
        problems.append(f"rotation: {name} has no rotation {rotation!r} ({', '.join(schedule.rotations)})")
    if person not in settings.people:
        problems.append(f"person: unknown person {person!r} ({', '.join(settings.people) or 'none'})")
    if start.tzinfo is None or end.tzinfo is None:
        problems.append("start, end: need a time zone (Z or ±HH:MM)")
    elif end <= start:
        problems.append("end: must be later than start")
    return problems


async def save_override(services: Services, new: NewOverride) -> StoredOverride:
    stored = await services.store.add_override(new)
    log.info(
        "override_added", schedule=new.schedule, rotation=new.rotation, person=new.person, id=stored.id, actor=new.actor
    )
    return stored


@api_token
async def list_overrides(request: web.Request) -> web.Response:
    """Current and future overrides (those that ended are history)."""
    services = request.app[SERVICES]
    name, _ = _schedule_or_404(request)
    found = await services.store.list_overrides(name, ending_after=services.clock.now())
    return json_response({"overrides": [_override_json(o, services.settings) for o in found]})


@api_token
async def delete_override(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    name, _ = _schedule_or_404(request)
    override_id = request.match_info["id"]
    if not await services.store.delete_override(name, override_id):
        raise IngestError(404, "not_found", f"{name} has no override {override_id!r}")
    log.info("override_deleted", schedule=name, id=override_id)
    return web.Response(status=204)


def _feed_url(request: web.Request, schedule: str) -> str:
    services = request.app[SERVICES]
    generation = services.settings.schedules[schedule].calendar_generation
    return f"{services.settings.public_url}/calendar/{calendar_token(services.link_secret, schedule, generation)}.ics"


@api_token
async def get_oncall(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    at = _time(request, "at", services.clock.now())
    overrides = {name: await overrides_in_force(request.app[SERVICES], name) for name in services.settings.schedules}
    rows = []
    for row in oncall_rows(services.settings, overrides, at):
        person = row.current.person
        rows.append(
            {
                "schedule": row.schedule,
                "rotation": row.rotation,
                "person": person,
                "name": services.settings.people[person].name if person in services.settings.people else None,
                "since": iso(row.current.start),
                "until": iso(row.current.end),
                "override": row.current.override,
                "next": None if row.next is None else {"person": row.next.person, "at": iso(row.next.start)},
            }
        )
    return json_response({"at": iso(at), "oncall": rows})


@api_token
async def list_schedules(request: web.Request) -> web.Response:
    schedules = request.app[SERVICES].settings.schedules
    return json_response(
        {
            "schedules": [
                {"name": name, "timezone": s.timezone, "rotations": list(s.rotations)} for name, s in schedules.items()
            ]
        }
    )


@api_token
async def get_schedule(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    name = request.match_info["name"]
    schedule = services.settings.schedules.get(name)
    if schedule is None:
        return error_response(404, "not_found", f"no schedule {name!r}")
    start = _time(request, "from", services.clock.now())
    end = _time(request, "to", start + DEFAULT_RANGE)
    if end <= start or end - start > MAX_RANGE:
        raise IngestError(400, "bad_query", "to must be after from, and at most 400 days later")
    found = shifts(services.settings, name, await overrides_in_force(request.app[SERVICES], name), start, end)
    return json_response(
        {
            "name": name,
            "timezone": schedule.timezone,
            "calendar_url": _feed_url(request, name),
            "shifts": [
                {
                    "rotation": s.rotation,
                    "person": s.person,
                    "start": iso(s.start),
                    "end": iso(s.end),
                    "override": s.override,
                }
                for s in found
            ],
        }
    )


async def calendar_feed(request: web.Request) -> web.Response:
    """No API token: calendar apps subscribe with the signed URL alone."""
    services = request.app[SERVICES]
    token = request.match_info["token"]
    schedules = services.settings.schedules
    name = token.partition(".")[0]
    if name not in schedules:
        return error_response(404, "not_found", "no such calendar")
    generations = {n: s.calendar_generation for n, s in schedules.items()}
    if check_calendar_token(services.link_secret, token, generations) is None:
        return error_response(403, "forbidden", "this calendar link is not valid (tampered, or revoked)")
    now = services.clock.now()
    found = shifts(
        services.settings,
        name,
        await overrides_in_force(request.app[SERVICES], name),
        now - FEED_BACK,
        now + FEED_AHEAD,
    )
    people = {key: person.name for key, person in services.settings.people.items()}
    body = render_calendar(name, found, people, now)
    return web.Response(body=body, content_type="text/calendar", charset="utf-8")
