"""``POST /-/reload``: 200 with what changed once the new configuration is in force (in every worker); 400 with
the problems when it was refused (the running one stays); 503 when it is in force but incomplete."""

from __future__ import annotations

from aiohttp import web

from daemon.http.auth import api_token
from daemon.http.errors import error_response, json_response
from daemon.http.keys import RELOADER
from daemon.reloading import ReloadIncomplete, ReloadRefused


@api_token
async def reload(request: web.Request) -> web.Response:
    try:
        outcome = await request.app[RELOADER].everywhere()
    except ReloadRefused as exc:
        message = "the configuration was not reloaded: the running one stays in force"
        return error_response(400, "config_refused", message, {"problems": exc.problems})
    except ReloadIncomplete as exc:
        return error_response(503, "reload_incomplete", str(exc), None, {"Retry-After": "5"})
    return json_response(outcome)
