"""Heartbeat pings (``POST /api/v1/heartbeats/{name}``, ingest credentials) and states (``GET``, API token)."""

from __future__ import annotations

import structlog
from aiohttp import web

from daemon.engine import heartbeats
from daemon.engine.events import HeartbeatPing
from daemon.heartbeat_states import read_heartbeats
from daemon.http.auth import api_token
from daemon.http.errors import json_response
from daemon.http.keys import SERVICES
from daemon.ingest.auth import presented_secret, token_matches
from daemon.ingest.errors import IngestError, unauthorized
from daemon.timefmt import iso_or_none

log = structlog.get_logger("tocsin.heartbeats")


async def ping(request: web.Request) -> web.Response:
    """Credentials first, then the name (401 before 404); the body and its Content-Type are not read."""
    svc = request.app[SERVICES]
    tokens = svc.settings.sources.alertmanager.tokens
    if tokens and not token_matches(presented_secret(request.headers.get("Authorization")), tokens):
        raise unauthorized()
    name = request.match_info["name"]
    beat = heartbeats.named(svc.settings, name)
    if beat is None:
        raise IngestError(404, "unknown_heartbeat", f"no heartbeat named {name!r} is configured")
    await svc.pipeline.submit(HeartbeatPing(beat.name))
    log.debug("heartbeat_ping", heartbeat=beat.name)
    return json_response({"status": "success", "heartbeat": beat.name})


@api_token
async def list_heartbeats(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    views = await read_heartbeats(svc.settings, svc.store)
    return json_response(
        {
            "heartbeats": [
                {"name": v.name, "state": v.state, "last_ping": iso_or_none(v.last_ping), "due": iso_or_none(v.due)}
                for v in views
            ]
        }
    )
