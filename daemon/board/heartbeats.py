"""The configured heartbeats. Their state and last ping come with the heartbeats work (GET /api/v1/heartbeats)."""

from __future__ import annotations

from aiohttp import web

from daemon.board.auth import page
from daemon.board.render import render
from daemon.board.visitor import Visitor
from daemon.http.keys import SERVICES


@page
async def heartbeats_page(request: web.Request, who: Visitor) -> web.StreamResponse:
    return render(
        request, who, "heartbeats.html", title="Heartbeats", heartbeats=request.app[SERVICES].settings.heartbeats
    )
