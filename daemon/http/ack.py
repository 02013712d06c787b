"""Acknowledge from the page: GET shows a button and never acknowledges (link unfurlers and mail scanners
fetch links); POST acknowledges. Tampered links get 403, expired ones 410, and so do links from before the
incident was resolved and reopened: a page about an earlier episode must not acknowledge a new problem."""

from __future__ import annotations

import html
from html import escape

from aiohttp import web

from daemon.engine.events import Action, Transition
from daemon.engine.state import IllegalTransition, LinkOutdated, link_outdated
from daemon.http.keys import SERVICES
from daemon.links import AckClaim, BadLink, ExpiredLink, verify
from daemon.store.base import IncidentView
from daemon.timefmt import iso

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<meta name="robots" content="noindex"><title>{title}</title>
<style>body{{font:16px system-ui,sans-serif;max-width:36em;margin:3em auto;padding:0 1em}}
button{{font-size:1.2em;padding:.6em 1.4em}}input{{font-size:1em;padding:.4em}}</style></head>
<body><h1>{title}</h1>{content}</body></html>"""


def page(status: int, title: str, content: str) -> web.Response:
    return web.Response(
        status=status,
        content_type="text/html",
        text=_PAGE.format(title=escape(title), content=content),
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )


def _claim(request: web.Request) -> AckClaim | web.Response:
    svc = request.app[SERVICES]
    try:
        return verify(svc.link_secret, request.match_info["token"], svc.clock.now())
    except ExpiredLink as exc:
        return page(
            410,
            "Link expired",
            f"<p>This acknowledge link for {escape(exc.incident_id)} has expired. "
            "Acknowledge with <code>tocsin incidents ack</code> or the API.</p>",
        )
    except BadLink:
        return page(403, "Invalid link", "<p>This acknowledge link is not valid.</p>")


def _outdated(view: IncidentView) -> web.Response:
    i = view.incident
    return page(
        410,
        "Link from an earlier episode",
        _summary(view) + "<p>This acknowledge link came with a page sent before the incident was resolved and "
        "reopened, so it cannot acknowledge what is happening now. Use the link of the latest page, or "
        f"<code>tocsin incidents ack {escape(i.id)}</code>.</p>",
    )


def _summary(view: IncidentView) -> str:
    i = view.incident
    return (
        f"<p><strong>{escape(i.id)}</strong> [{i.severity.value}] {escape(i.title)}<br>"
        f"state: {i.state.value}, {i.firing_alerts} alert(s) firing</p>"
        f'<p><a href="/incidents/{escape(i.id)}">Open {escape(i.id)} on the board</a></p>'
    )


def _done(view: IncidentView) -> web.Response | None:
    i = view.incident
    if i.acknowledged_at is not None:
        return page(
            200,
            f"{i.id} is acknowledged",
            _summary(view) + f"<p>Acknowledged by <strong>{escape(i.acknowledged_by or '?')}</strong> "
            f"at {iso(i.acknowledged_at)}.</p>",
        )
    if not i.state.is_open:
        when = iso(i.resolved_at) if i.resolved_at else "?"
        return page(200, f"{i.id} is resolved", _summary(view) + f"<p>Resolved at {when}; nothing to acknowledge.</p>")
    return None


async def show(request: web.Request) -> web.Response:
    claim = _claim(request)
    if isinstance(claim, web.Response):
        return claim
    view = await request.app[SERVICES].store.get_incident(claim.incident_id)
    if view is None:
        return page(404, "Unknown incident", "<p>This incident does not exist (any more).</p>")
    if link_outdated(view.incident, claim.episode):
        return _outdated(view)
    done = _done(view)
    if done is not None:
        return done
    if claim.person:
        who = request.app[SERVICES].settings.people.get(claim.person)
        shown = html.escape(who.name if who else claim.person)
        form = f'<form method="post"><p><button type="submit">Acknowledge as {shown}</button></p></form>'
    else:
        form = (
            '<form method="post"><p><label>Your name <input name="name" autocomplete="name"></label></p>'
            '<p><button type="submit">Acknowledge</button></p></form>'
        )
    return page(200, f"Acknowledge {view.incident.id}?", _summary(view) + form)


async def acknowledge(request: web.Request) -> web.Response:
    claim = _claim(request)
    if isinstance(claim, web.Response):
        return claim
    svc = request.app[SERVICES]
    form = await request.post()
    name = str(form.get("name", "")).strip()[:200]
    # A link sent to a person acknowledges as that person; otherwise whoever typed their name, if anyone.
    actor = claim.person or name or "ack link"
    outdated = False
    event = Transition(claim.incident_id, Action.ACKNOWLEDGE, actor, "from the page", link_episode=claim.episode)
    try:
        await svc.pipeline.submit(event)
    except LinkOutdated:
        outdated = True
    except IllegalTransition:
        pass  # resolved meanwhile: the page below says so
    view = await svc.store.get_incident(claim.incident_id)
    if view is None:
        return page(404, "Unknown incident", "<p>This incident does not exist (any more).</p>")
    if outdated:
        return _outdated(view)
    return _done(view) or page(200, "Acknowledged", _summary(view))
