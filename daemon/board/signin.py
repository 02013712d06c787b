"""Sign in with an API token and a name; sign out. Both forms carry CSRF tokens."""

from __future__ import annotations

import secrets

import structlog
from aiohttp import web

from daemon.board import csrf, session
from daemon.board.auth import Form, action, safe_next, visitor
from daemon.board.render import message_page, render
from daemon.board.visitor import Visitor
from daemon.http.keys import SERVICES
from daemon.ingest.auth import token_matches

log = structlog.get_logger("tocsin.board")
PRE_COOKIE = "tocsin_signin"  # binds the sign-in form's CSRF token before there is a session


def _secure(request: web.Request) -> bool:
    return request.app[SERVICES].settings.public_url.startswith("https://")


def _form(request: web.Request, status: int = 200, error: str = "", name: str = "", nxt: str = "/") -> web.Response:
    svc = request.app[SERVICES]
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        None,
        "signin.html",
        status,
        title="Sign in",
        error=error,
        name=name,
        next=nxt,
        signin_csrf=csrf.token(svc.link_secret, f"pre:{pre}"),
        people=svc.settings.people,
        ttl=svc.settings.board.session_ttl,
    )
    response.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="Lax", secure=_secure(request), path="/signin")
    return response


async def show(request: web.Request) -> web.StreamResponse:
    nxt = safe_next(request.query.get("next"))
    if request.app[SERVICES].settings.board.trusted_header:
        if visitor(request) is not None:
            raise web.HTTPSeeOther(nxt)
        return message_page(request, 403, "Not signed in", "Sign in through your organisation's proxy.")
    return _form(request, nxt=nxt)


async def sign_in(request: web.Request) -> web.StreamResponse:
    svc = request.app[SERVICES]
    if svc.settings.board.trusted_header:
        return message_page(request, 404, "No sign-in form", "Sign in through your organisation's proxy.")
    form = await request.post()
    fields = {k: v for k, v in form.items() if isinstance(v, str)}
    nxt = safe_next(fields.get("next"))
    name = fields.get("name", "").strip()[: session.MAX_NAME]
    pre = request.cookies.get(PRE_COOKIE, "")
    if not csrf.valid(svc.link_secret, f"pre:{pre}", fields.get(csrf.FIELD)):
        return message_page(request, 403, "Form refused", "This sign-in form is stale; reload it and try again.")
    token = fields.get("token", "")
    if not name:
        return _form(request, 400, "Say who you are: the timeline records your name.", name, nxt)
    if not token_matches(token, svc.settings.api_tokens):
        log.warning("board_signin_refused", remote=request.remote)
        return _form(request, 401, "That API token is not valid.", name, nxt)
    ttl = svc.settings.board.session_ttl
    cookie = session.issue(svc.link_secret, name, token, svc.clock.now(), ttl)
    log.info("board_signed_in", person=name)
    response = web.HTTPSeeOther(nxt)
    response.set_cookie(
        session.COOKIE,
        cookie,
        max_age=int(ttl.total_seconds()),
        httponly=True,
        samesite="Lax",  # Lax: a link followed from chat or mail arrives signed in
        secure=_secure(request),
        path="/",
    )
    response.del_cookie(PRE_COOKIE, path="/signin")
    raise response


@action
async def sign_out(request: web.Request, who: Visitor, form: Form) -> web.StreamResponse:
    response = web.HTTPSeeOther("/signin")
    response.del_cookie(session.COOKIE, path="/")
    raise response
