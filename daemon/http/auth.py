"""Bearer API tokens for /api/v1 (but the ingest endpoints and the OpenAPI document)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable

from aiohttp import web

from daemon.http.errors import error_response
from daemon.http.keys import SERVICES
from daemon.ingest.auth import token_matches

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def api_token(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        tokens = request.app[SERVICES].settings.api_tokens
        if not token_matches(bearer(request), tokens):
            return error_response(
                401,
                "unauthorized",
                "missing or wrong API token (Authorization: Bearer …)",
                headers={"WWW-Authenticate": 'Bearer realm="tocsin"'},
            )
        return await handler(request)

    return wrapped
