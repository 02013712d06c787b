"""Who is looking at the board: a signed session cookie, or ``board.trusted_header`` from a trusted proxy.

Only board routes call this; /api/v1 keeps its Bearer tokens and never reads the cookie or the header.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Awaitable, Callable

from aiohttp import web
from yarl import URL

from daemon.board import csrf, session
from daemon.board.render import message_page
from daemon.board.visitor import Visitor
from daemon.http.keys import SERVICES

MAX_NAME = session.MAX_NAME


Page = Callable[[web.Request, Visitor], Awaitable[web.StreamResponse]]
Form = dict[str, str]
Action = Callable[[web.Request, Visitor, Form], Awaitable[web.StreamResponse]]


def from_trusted_proxy(request: web.Request) -> bool:
    networks = request.app[SERVICES].settings.board.trusted_proxies
    try:
        address = ipaddress.ip_address((request.remote or "").split("%")[0])
    except ValueError:
        return False
    return any(address in network for network in networks)


def visitor(request: web.Request) -> Visitor | None:
    svc = request.app[SERVICES]
    header = svc.settings.board.trusted_header
    if header:
        # Behind an authenticating proxy there is no sign-in form: the proxy names the person, and only a proxy
        # we trust may (anyone else could send the header themselves).
        if not from_trusted_proxy(request):
            return None
        name = request.headers.get(header, "").strip()[:MAX_NAME]
        return Visitor(name, f"header:{name}") if name else None
    cookie = request.cookies.get(session.COOKIE)
    found = session.read(svc.link_secret, cookie, svc.clock.now(), svc.settings.api_tokens)
    return None if found is None else Visitor(found.person, f"session:{cookie}")


def safe_next(target: str | None) -> str:
    """Only a path on this site: never ``//host``, which browsers take for another site, nor a backslash or a
    control character anywhere (browsers read a backslash as a slash, and drop tabs and newlines)."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    if "\\" in target or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target):
        return "/"
    return target


def signin_url(request: web.Request) -> URL:
    return URL("/signin").with_query(next=request.path_qs)


def page(handler: Page) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A GET page: without a visitor, off to sign-in and back here afterwards."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        who = visitor(request)
        if who is None:
            if request.app[SERVICES].settings.board.trusted_header:
                return message_page(request, 403, "Not signed in", "Sign in through your organisation's proxy.")
            raise web.HTTPSeeOther(signin_url(request))
        return await handler(request, who)

    return wrapped


def action(handler: Action) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """A form POST: refused with 403, and nothing changed, without a visitor or a right CSRF token."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        who = visitor(request)
        if who is None:
            return message_page(request, 403, "Not signed in", "Sign in, then try again; nothing was changed.")
        form = await request.post()
        token = form.get(csrf.FIELD)
        if not csrf.valid(request.app[SERVICES].link_secret, who.binding, token if isinstance(token, str) else None):
            return message_page(
                request, 403, "Form refused", "This form was not issued to you (or is stale); nothing was changed."
            )
        fields = {k: v for k, v in form.items() if isinstance(v, str)}  # no board form uploads files
        return await handler(request, who, fields)

    return wrapped
