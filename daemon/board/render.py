"""Pages from the board's Jinja templates, autoescaped, with headers that keep alert text from ever running."""

from __future__ import annotations

import asyncio
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from aiohttp import web
from markupsafe import Markup

from daemon.board.visitor import Visitor
from daemon.http.keys import SERVICES
from rules.durations import format_duration

TEMPLATES = Path(__file__).parent / "templates"

# No inline script or style anywhere (not even style attributes): whatever an alert smuggles into a page cannot run.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def web_link(value: object) -> str | None:
    """``value`` when it is an absolute http(s) URL: the only links taken from alerts (no ``javascript:``)."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    return text if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def age(since: datetime, now: datetime) -> str:
    seconds = max(0, int((now - since).total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h {seconds % 3600 // 60}m"
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h"


def utc(at: datetime | None) -> str:
    return "" if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def when(at: datetime | None) -> Markup:
    """A time in UTC as the page's text; board.js shows it in the reader's own time zone (UTC kept as its title):
    the person paged at 3 a.m. reads their own clock, and without JavaScript the page still says UTC."""
    if at is None:
        return Markup("")
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return Markup('<time datetime="{}" title="{}">{}</time>').format(stamp, utc(at), utc(at))


_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(TEMPLATES)),
    autoescape=True,  # everything from alerts is text, whatever it holds
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.filters.update(web_link=web_link, when=when, utc=utc, duration=format_duration)


def _page_context(request: web.Request, who: Visitor | None, context: dict[str, Any]) -> dict[str, Any]:
    svc = request.app[SERVICES]
    return {
        "visitor": who,
        "csrf": who.csrf(svc.link_secret) if who is not None else "",
        "now": svc.clock.now(),
        "age": age,
        "path": request.path,
        **{"live_every": None, "error": "", **context},
    }


def render(request: web.Request, who: Visitor | None, template: str, status: int = 200, **context: Any) -> web.Response:
    html = _env.get_template(template).render(_page_context(request, who, context))
    return web.Response(status=status, text=html, content_type="text/html", headers=HEADERS)


async def render_in_thread(
    request: web.Request, who: Visitor | None, template: str, status: int = 200, **context: Any
) -> web.Response:
    """``render`` for a page of many parts (an incident's hundred alerts took 30-45 ms): made in a thread, which
    hands the interpreter back to the event loop every few milliseconds."""
    html = await asyncio.to_thread(_env.get_template(template).render, _page_context(request, who, context))
    return web.Response(status=status, text=html, content_type="text/html", headers=HEADERS)


def message_page(request: web.Request, status: int, title: str, text: str, who: Visitor | None = None) -> web.Response:
    return render(request, who, "message.html", status, title=title, text=text)
