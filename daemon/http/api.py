"""The incident API: list, show, declare, transition, patch; list alerts."""

from __future__ import annotations

import asyncio

from aiohttp import web

from daemon import heap
from daemon.domain import Alert, AlertStatus, State
from daemon.engine import silencing
from daemon.engine.events import Action, AddNote, Declare, Patch, PostStatusUpdate, Transition
from daemon.engine.state import NotFound
from daemon.http.auth import Handler, api_token
from daemon.http.body import parse_json_body, query_int
from daemon.http.errors import json_response
from daemon.http.keys import SERVICES
from daemon.http.models import DeclareBody, NoteBody, PatchBody, StatusUpdateBody, TransitionBody
from daemon.http.serialize import SilencedBy, alert_json, incident_body, incident_json, incident_summary
from daemon.ingest.errors import IngestError
from daemon.store.base import IncidentFilter
from rules.severity import Severity

API_BODY_LIMIT = 1024 * 1024
BIG_INCIDENT = 1000  # alerts in an incident above which its JSON is made off the event loop


async def silenced_now(request: web.Request) -> SilencedBy:
    """Which silences and windows hold a firing alert now (computed when read, DESIGN's API table)."""
    svc = request.app[SERVICES]
    now = svc.clock.now()
    active = silencing.ActiveSilences(await svc.store.list_silences(), now)
    windows = svc.settings.maintenance

    def silenced_by(alert: Alert) -> list[str]:
        if alert.status is not AlertStatus.FIRING:
            return []
        return active.holding(alert.labels) + silencing.windows_holding(windows, alert.labels, now)

    return silenced_by


def _choice(request: web.Request, name: str, allowed: list[str]) -> str | None:
    value = request.query.get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise IngestError(400, "bad_query", f"{name} must be one of {', '.join(allowed)}")
    return value


async def _incident_response(request: web.Request, incident_id: str, status: int = 200) -> web.StreamResponse:
    # The incident may hold tens of thousands of alerts: they are gone (the answer's frame with them) when the
    # collector runs again.
    with heap.quiet():
        return await _incident_answer(request, incident_id, status)


async def _incident_answer(request: web.Request, incident_id: str, status: int) -> web.StreamResponse:
    view = await request.app[SERVICES].store.get_incident(incident_id)
    if view is None:
        raise NotFound(incident_id)
    headers = {"Location": f"/api/v1/incidents/{incident_id}"} if status == 201 else None
    silenced_by = await silenced_now(request)
    if len(view.alerts) <= BIG_INCIDENT:
        return json_response(incident_json(view, silenced_by), status, headers)
    # Tens of thousands of alerts take a second to serialise: in a thread, so that the event loop goes on; sent a
    # piece at a time.
    parts = await asyncio.to_thread(incident_body, view, silenced_by)
    heap.let_go_later(view.alerts)
    del view
    response = web.StreamResponse(status=status, headers=headers)
    response.content_type = "application/json"
    response.content_length = sum(len(p) for p in parts)
    await response.prepare(request)
    for part in parts:
        await response.write(part)
    await response.write_eof()
    return response


@api_token
async def list_incidents(request: web.Request) -> web.Response:
    where = IncidentFilter(
        state=_choice(request, "state", [*(s.value for s in State), "open"]),
        severity=_choice(request, "severity", [s.value for s in Severity]),
        service=request.query.get("service") or None,
    )
    limit = query_int(request, "limit", 50, 1, 500)
    page = await request.app[SERVICES].store.list_incidents(where, limit, request.query.get("cursor") or None)
    return json_response({"incidents": [incident_summary(i) for i in page.items], "next_cursor": page.next_cursor})


@api_token
async def get_incident(request: web.Request) -> web.StreamResponse:
    return await _incident_response(request, request.match_info["id"])


@api_token
async def declare_incident(request: web.Request) -> web.StreamResponse:
    body = await parse_json_body(request, DeclareBody, API_BODY_LIMIT)
    decision = await request.app[SERVICES].pipeline.submit(
        Declare(body.title, body.severity, body.actor, body.service, body.labels, body.note, body.commander)
    )
    assert decision.incident_id is not None
    return await _incident_response(request, decision.incident_id, 201)


def make_transition(action: Action) -> Handler:
    @api_token
    async def handler(request: web.Request) -> web.StreamResponse:
        body = await parse_json_body(request, TransitionBody, API_BODY_LIMIT)
        incident_id = request.match_info["id"]
        await request.app[SERVICES].pipeline.submit(Transition(incident_id, action, body.actor, body.note))
        return await _incident_response(request, incident_id)

    handler.__name__ = f"{action.value}_incident"
    return handler


@api_token
async def patch_incident(request: web.Request) -> web.StreamResponse:
    body = await parse_json_body(request, PatchBody, API_BODY_LIMIT)
    incident_id = request.match_info["id"]
    await request.app[SERVICES].pipeline.submit(
        Patch(incident_id, body.actor, body.severity, body.title, body.commander)
    )
    return await _incident_response(request, incident_id)


@api_token
async def list_alerts(request: web.Request) -> web.Response:
    status = _choice(request, "status", [s.value for s in AlertStatus])
    limit = query_int(request, "limit", 100, 1, 1000)
    page = await request.app[SERVICES].store.list_alerts(status, limit, request.query.get("cursor") or None)
    silenced_by = await silenced_now(request)
    return json_response({"alerts": [alert_json(a, silenced_by) for a in page.items], "next_cursor": page.next_cursor})


@api_token
async def post_status_update(request: web.Request) -> web.StreamResponse:
    body = await parse_json_body(request, StatusUpdateBody, API_BODY_LIMIT)
    incident_id = request.match_info["id"]
    await request.app[SERVICES].pipeline.submit(PostStatusUpdate(incident_id, body.phase, body.message, body.actor))
    return await _incident_response(request, incident_id, 201)


@api_token
async def post_note(request: web.Request) -> web.StreamResponse:
    body = await parse_json_body(request, NoteBody, API_BODY_LIMIT)
    incident_id = request.match_info["id"]
    await request.app[SERVICES].pipeline.submit(AddNote(incident_id, body.actor, body.text))
    return await _incident_response(request, incident_id, 201)


@api_token
async def postmortem(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    incident_id = request.match_info["id"]
    view = await svc.store.get_incident(incident_id)
    if view is None:
        raise NotFound(incident_id)
    return web.Response(text=svc.postmortems.render(view, svc.clock.now()), content_type="text/markdown")
