"""The app on a socket, with bounds on what clients may hold: connections, time to send a request, idle time.

- ``IDLE_TIMEOUT``: aiohttp's keep-alive timer runs from the moment a connection opens and again after each
  answer, and closes the connection if no complete request head has arrived by then. So it bounds both the
  time a client may take to send a request's line and headers, and how long an idle keep-alive connection is
  kept. (The body has its own bound once the handler reads it: ``daemon.http.body.BODY_READ_TIMEOUT``.)
- ``max_connections``: past it, a new connection is answered 503 with Retry-After and closed at once, so a
  flood of idle or slow clients cannot exhaust the process's file descriptors (then even ``/readyz`` and the
  store's own sockets would fail). It stays below the process's open-file limit.
"""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import orjson
import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

log = structlog.get_logger("tocsin.http")

IDLE_TIMEOUT = 30.0  # seconds: request head and idle keep-alive bound (Go's and Python's clients reconnect)
MAX_CONNECTIONS = 1000
FD_RESERVE = 100  # descriptors kept for the store, Apprise's sockets, log files
_BUSY_BODY = orjson.dumps(
    {"error": {"code": "too_many_connections", "message": "too many open connections; retry later", "details": None}}
)
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
    b"Connection: close\r\nContent-Length: " + str(len(_BUSY_BODY)).encode() + b"\r\n\r\n" + _BUSY_BODY
)


def connection_cap(wanted: int = MAX_CONNECTIONS) -> int:
    """``wanted``, or fewer when the open-file limit would not leave room for the store and the channels."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return wanted
    return max(1, min(wanted, soft - FD_RESERVE))


class CappedServer(web.Server):
    """aiohttp's server, refusing connections past ``max_connections``."""

    def __init__(self, *args: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_connections = max_connections
        self.refused = 0

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        if len(self.connections) >= self.max_connections:
            self.refused += 1
            if self.refused == 1 or self.refused % 1000 == 0:  # a flood logs a line per thousand, not per socket
                log.warning(
                    "connection_refused", reason="max_connections", max=self.max_connections, refused=self.refused
                )
            # Once the handler's task has taken its first step (so it sees the close and ends quietly).
            asyncio.get_running_loop().call_soon(_refuse, handler, transport)
            return
        super().connection_made(handler, transport)


def _refuse(handler: RequestHandler, transport: asyncio.Transport) -> None:
    if not transport.is_closing():
        transport.write(_BUSY)
    handler.force_close()


class Runner(web.AppRunner):
    """``web.AppRunner`` with the bounds above; used by ``tocsin run``."""

    def __init__(
        self,
        app: web.Application,
        *,
        max_connections: int | None = None,
        keepalive_timeout: float = IDLE_TIMEOUT,
        **kwargs: Any,
    ) -> None:
        super().__init__(app, keepalive_timeout=keepalive_timeout, **kwargs)
        self.max_connections = max_connections if max_connections is not None else connection_cap()

    async def _make_server(self) -> web.Server:
        # AppRunner's own server (the application started, its handler and request factory), re-made capped.
        plain = await super()._make_server()
        return CappedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=asyncio.get_running_loop(),
            max_connections=self.max_connections,
            **self._kwargs,
        )
