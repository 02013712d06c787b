"""The configured heartbeats with their state, last ping and deadline, read as GET /api/v1/heartbeats reads them."""

from __future__ import annotations

from aiohttp import web

from daemon.board.auth import page
from daemon.board.incidents import LIVE_EVERY_MS
from daemon.board.render import render
from daemon.board.visitor import Visitor
from daemon.heartbeat_states import read_heartbeats
from daemon.http.keys import SERVICES


@page
async def heartbeats_page(request: web.Request, who: Visitor) -> web.StreamResponse:
    svc = request.app[SERVICES]
    views = {v.name: v for v in await read_heartbeats(svc.settings, svc.store)}
    rows = [(beat, views[beat.name]) for beat in svc.settings.heartbeats]
    return render(request, who, "heartbeats.html", title="Heartbeats", heartbeats=rows, live_every=LIVE_EVERY_MS)
