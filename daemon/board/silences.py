"""Silences: the list, one made from an alert's labels for a chosen time, and expiring one early.

The same rules (``rules.silences``) and store calls as Alertmanager's API v2 in daemon/http/silences.py.
"""

from __future__ import annotations

import structlog
from aiohttp import web

from daemon.board.auth import Form, action, page
from daemon.board.incidents import SILENCE_DURATIONS
from daemon.board.render import message_page, render
from daemon.board.visitor import Visitor
from daemon.engine.events import SaveSilences
from daemon.http.keys import SERVICES
from daemon.timefmt import iso
from rules.durations import parse_duration
from rules.matchers import Matcher, MatchType
from rules.silences import BadSilence, expire, listed, post

log = structlog.get_logger("tocsin.silences")
LIVE_EVERY_MS = 5000


@page
async def silences_page(request: web.Request, who: Visitor) -> web.StreamResponse:
    svc = request.app[SERVICES]
    found = listed(await svc.store.list_silences(), svc.clock.now())
    return render(request, who, "silences.html", title="Silences", silences=found, live_every=LIVE_EVERY_MS)


@action
async def create_from_alert(request: web.Request, who: Visitor, form: Form) -> web.StreamResponse:
    """Every label of the alert as an equality matcher (as Alertmanager's own UI proposes), from now on."""
    svc = request.app[SERVICES]
    view = await svc.store.get_incident(form.get("incident", ""))
    alert = next((a for a in view.alerts if a.fingerprint == form.get("fingerprint")), None) if view else None
    if view is None or alert is None:
        return message_page(request, 404, "Unknown alert", "This alert is not on that incident (any more).", who)
    if form.get("duration") not in SILENCE_DURATIONS:
        return message_page(request, 422, "Bad duration", "Choose how long the silence lasts.", who)
    now = svc.clock.now()
    matchers = tuple(Matcher.create(k, MatchType.EQUAL, v) for k, v in sorted(alert.labels.items()))
    comment = f"from the board, alert of {view.incident.id}"
    try:
        written = post(None, matchers, now, now + parse_duration(form["duration"]), who.person, comment, now)
    except BadSilence as exc:
        return message_page(request, 422, "Not silenced", str(exc), who)
    # Through the pipeline, as the API does: the silence and the timer at its end commit together.
    await svc.pipeline.submit(SaveSilences(tuple(written)))
    new = written[-1]
    log.info(
        "silence_saved",
        silence=new.id,
        matchers=[str(m) for m in matchers],
        ends_at=iso(new.ends_at),
        created_by=who.person,
    )
    raise web.HTTPSeeOther(f"/incidents/{view.incident.id}")


@action
async def expire_silence(request: web.Request, who: Visitor, form: Form) -> web.StreamResponse:
    svc = request.app[SERVICES]
    silence = await svc.store.get_silence(request.match_info["id"])
    if silence is None:
        return message_page(request, 404, "Unknown silence", "No such silence.", who)
    ended = expire(silence, svc.clock.now())
    if ended is not silence:
        await svc.pipeline.submit(SaveSilences((ended,)))
        log.info("silence_expired", silence=silence.id, actor=who.person)
    raise web.HTTPSeeOther("/silences")
