"""The board's routes; everything outside /api and the ingest paths that a person opens in a browser."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from daemon.board import heartbeats, incidents, oncall, signin, silences

STATIC = Path(__file__).parent / "static"


async def favicon(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC / "favicon.ico", headers={"Cache-Control": "max-age=86400"})


def add_routes(app: web.Application) -> None:
    """Each named ``board:…``, which tells them from the API's routes (the OpenAPI document covers only those)."""
    r = app.router
    r.add_get("/", incidents.incident_list, name="board:incidents")
    r.add_get("/incidents/{id}", incidents.incident_page, name="board:incident")
    r.add_get("/incidents/{id}/postmortem", incidents.postmortem, name="board:postmortem")
    r.add_post("/incidents/{id}/{action}", incidents.act, name="board:act")
    r.add_get("/oncall", oncall.oncall_page, name="board:oncall")
    r.add_post("/oncall/overrides", oncall.add_override, name="board:add-override")
    r.add_post("/oncall/overrides/{schedule}/{id}/remove", oncall.remove_override, name="board:remove-override")
    r.add_get("/silences", silences.silences_page, name="board:silences")
    r.add_post("/silences", silences.create_from_alert, name="board:silences")
    r.add_post("/silences/{id}/expire", silences.expire_silence, name="board:expire-silence")
    r.add_get("/heartbeats", heartbeats.heartbeats_page, name="board:heartbeats")
    r.add_get("/signin", signin.show, name="board:signin")
    r.add_post("/signin", signin.sign_in, name="board:signin")
    r.add_post("/signout", signin.sign_out, name="board:signout")
    r.add_get("/favicon.ico", favicon, name="board:favicon")
    r.add_static("/static/", STATIC, name="board:static")
