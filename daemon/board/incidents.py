"""The incident list and one incident's page, and the forms that act on it: all through the pipeline's events,
exactly as the API's handlers submit them (the actor is the signed-in person)."""

from __future__ import annotations

from urllib.parse import urlencode

from aiohttp import web

from daemon.board.auth import Form, action, page
from daemon.board.render import message_page, render, render_in_thread
from daemon.board.visitor import Visitor
from daemon.domain import Incident, State
from daemon.engine.engine import PHASE_TEMPLATES, PHASES
from daemon.engine.events import Action, AddNote, Event, Patch, PostStatusUpdate, Transition
from daemon.engine.state import IllegalTransition, NotFound
from daemon.http.api import silenced_now
from daemon.http.keys import SERVICES
from daemon.store.base import AlertWindow, IncidentFilter, IncidentView
from daemon.store.cursor import BadCursor
from rules.severity import Severity

PAGE_SIZE = 50
# Alerts on an incident's page, in order of arrival; the rest a page at a time. Fifty thousand of them made 72 MB
# of HTML and held the event loop (every webhook waiting) for 2.7-2.9 s, again at each live refresh.
ALERTS_SHOWN = 100
OPEN_SHOWN = 200  # open incidents listed per state above the resolved ones
OPEN_STATES = (State.TRIGGERED, State.ACKNOWLEDGED, State.MITIGATED)
LIVE_EVERY_MS = 3000
SILENCE_DURATIONS = ("1h", "2h", "4h", "8h", "1d", "3d", "1w")
MAX_TEXT = 4000


def _choice(value: str | None, allowed: list[str]) -> str | None:
    return value if value in allowed else None


@page
async def incident_list(request: web.Request, who: Visitor) -> web.StreamResponse:
    store = request.app[SERVICES].store
    q = request.query
    where = IncidentFilter(
        state=_choice(q.get("state"), [s.value for s in State]),
        severity=_choice(q.get("severity"), [s.value for s in Severity]),
        service=(q.get("service") or "").strip()[:200] or None,
    )
    cursor = q.get("cursor") or None
    open_: list[Incident] | None = None
    open_more = False
    listed_where = where
    if where.state is None:
        # Open first (worst first, then newest), then the resolved ones a page at a time.
        open_ = []
        if cursor is None:
            for state in OPEN_STATES:
                found = await store.list_incidents(
                    IncidentFilter(state.value, where.severity, where.service), OPEN_SHOWN, None
                )
                open_ += found.items
                open_more |= found.next_cursor is not None
            open_.sort(key=lambda i: (i.severity.rank, -i.declared_at.timestamp()))
        listed_where = IncidentFilter(State.RESOLVED.value, where.severity, where.service)
    try:
        listed = await store.list_incidents(listed_where, PAGE_SIZE, cursor)
    except BadCursor:
        return message_page(
            request, 400, "Bad page link", "This paging link is not valid; start from the first page.", who
        )
    kept = {k: v for k, v in (("state", where.state), ("severity", where.severity), ("service", where.service)) if v}
    next_url = "/?" + urlencode({**kept, "cursor": listed.next_cursor}) if listed.next_cursor else None
    return render(
        request,
        who,
        "incidents.html",
        title="Incidents",
        where=where,
        states=[s.value for s in State],
        severities=[s.value for s in Severity],
        open=open_ if cursor is None else None,
        open_more=open_more,
        listed=listed.items,
        cursor=cursor,
        next_url=next_url,
        first_url="/?" + urlencode(kept),
        live_every=LIVE_EVERY_MS,
    )


def _actions(i: Incident) -> list[tuple[str, str, str]]:
    """The lifecycle buttons that make sense in this state (DESIGN §5's table): (action, label, css class)."""
    found = []
    if i.state is State.TRIGGERED or (i.state is State.MITIGATED and i.acknowledged_at is None):
        found.append((Action.ACKNOWLEDGE.value, "Acknowledge", "primary big"))
    if i.state in (State.TRIGGERED, State.ACKNOWLEDGED):
        found.append((Action.MITIGATE.value, "Mitigate", ""))
    if i.state.is_open:
        found.append((Action.RESOLVE.value, "Resolve", ""))
    else:
        found.append((Action.REOPEN.value, "Reopen", ""))
    return found


def _next_phase(i: Incident) -> str:
    if i.state is State.RESOLVED:
        return "resolved"
    if i.status_phase in PHASES:
        return PHASES[min(PHASES.index(i.status_phase) + 1, len(PHASES) - 2)]
    return PHASES[0]


async def _incident_page(
    request: web.Request, who: Visitor, view: IncidentView, status: int = 200, error: str = ""
) -> web.Response:
    svc = request.app[SERVICES]
    i = view.incident
    silenced_by = await silenced_now(request)
    phases = [(p, PHASE_TEMPLATES[p].format(title=i.title)) for p in PHASES]
    phase = _next_phase(i)
    return await render_in_thread(
        request,
        who,
        "incident.html",
        status,
        title=f"{i.id} {i.title}",
        view=view,
        error=error,
        actions=_actions(i),
        silenced={a.fingerprint: silenced_by(a) for a in view.alerts},
        alert_pages=_alert_pages(view),
        silence_durations=SILENCE_DURATIONS,
        phases=phases,
        next_phase=phase,
        phase_text=dict(phases)[phase],
        severities=[s.value for s in Severity],
        people=svc.settings.people,
        live_every=LIVE_EVERY_MS,
    )


def _alert_pages(view: IncidentView) -> dict[str, str | int] | None:
    """Where the alerts shown sit among all of them, and the links to the pages before and after; None when
    they are all shown."""
    first, shown, total = view.alerts_from, len(view.alerts), view.total_alerts
    if total == 0 or (first == 0 and shown >= total):
        return None
    incident_id = view.incident.id
    # Past the end (a stale link after a purge, a hand-made one): the earlier link leads to the last page.
    earlier = max(0, min(first, total) - ALERTS_SHOWN)
    return {
        "first": first + 1,
        "last": first + shown,
        "total": total,
        "earlier": f"/incidents/{incident_id}?alerts={earlier}#alerts" if first else "",
        "later": f"/incidents/{incident_id}?alerts={first + shown}#alerts" if shown and first + shown < total else "",
    }


def _alerts_from(request: web.Request) -> int:
    value = request.query.get("alerts", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else 0


async def _view(request: web.Request) -> IncidentView | None:
    window = AlertWindow(_alerts_from(request), ALERTS_SHOWN)
    return await request.app[SERVICES].store.get_incident(request.match_info["id"], window)


@page
async def incident_page(request: web.Request, who: Visitor) -> web.StreamResponse:
    view = await _view(request)
    if view is None:
        return message_page(request, 404, "Unknown incident", "This incident does not exist (any more).", who)
    return await _incident_page(request, who, view)


@page
async def postmortem(request: web.Request, who: Visitor) -> web.StreamResponse:
    svc = request.app[SERVICES]
    view = await svc.store.get_incident(request.match_info["id"])  # every alert: the draft counts them all
    if view is None:
        return message_page(request, 404, "Unknown incident", "This incident does not exist (any more).", who)
    text = svc.postmortems.render(view, svc.clock.now())
    return render(
        request, who, "postmortem.html", title=f"Postmortem {view.incident.id}", incident_id=view.incident.id, text=text
    )


def _event(kind: str, incident_id: str, who: Visitor, form: Form) -> Event | str:
    """The engine event a form asks for, or why the form is not acceptable."""
    if kind in {a.value for a in (Action.ACKNOWLEDGE, Action.MITIGATE, Action.RESOLVE, Action.REOPEN)}:
        return Transition(incident_id, Action(kind), who.person, "from the board")
    if kind == "severity":
        severity = _choice(form.get("severity"), [s.value for s in Severity])
        return Patch(incident_id, who.person, severity=Severity(severity)) if severity else "unknown severity"
    if kind == "commander":
        return Patch(incident_id, who.person, commander=form.get("commander", "").strip()[:200])
    if kind == "note":
        text = form.get("text", "").strip()[:MAX_TEXT]
        return AddNote(incident_id, who.person, text) if text else "the note is empty"
    if kind == "status-update":
        phase = _choice(form.get("phase"), list(PHASES))
        if phase is None:
            return "unknown phase"
        return PostStatusUpdate(incident_id, phase, form.get("message", "")[:10_000], who.person)
    return "unknown action"


@action
async def act(request: web.Request, who: Visitor, form: Form) -> web.StreamResponse:
    svc = request.app[SERVICES]
    incident_id = request.match_info["id"]
    event = _event(request.match_info["action"], incident_id, who, form)
    error, status = "", 200
    if isinstance(event, str):
        error, status = event, 422
    else:
        try:
            await svc.pipeline.submit(event)
        except NotFound:
            return message_page(request, 404, "Unknown incident", "This incident does not exist (any more).", who)
        except IllegalTransition as exc:
            error, status = f"Not done: {exc}", 409
    view = await svc.store.get_incident(incident_id, AlertWindow(0, ALERTS_SHOWN))
    if view is None:
        return message_page(request, 404, "Unknown incident", "This incident does not exist (any more).", who)
    if error:
        return await _incident_page(request, who, view, status, error)
    raise web.HTTPSeeOther(f"/incidents/{incident_id}")
