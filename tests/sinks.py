"""Real local sinks that Apprise delivers to: an HTTP sink for json:// and an SMTP sink for mailto://."""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
from collections import defaultdict
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    path: str
    body: dict[str, Any]


@dataclass
class HttpSink:
    """Collects Apprise json:// posts by path; a path can be set to fail (500), hang (never answer until the sink
    stops), be slow (answer after ``slow_delay`` seconds) or hold (take the post, answer once ``release_held()``)."""

    host: str = "127.0.0.1"
    port: int = 0
    received: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    modes: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # every answer waits this long first: a slow sink
    slow_delay: float = 1.0  # what a path in "slow" mode waits on top: one slow channel beside healthy ones
    started: int = 0  # requests that arrived, answered or not
    _runner: web.AppRunner | None = None
    _release: asyncio.Event = field(default_factory=asyncio.Event)
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _held: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    def titles(self, channel: str) -> list[str]:
        return [m["title"] for m in self.received.get(f"/{channel}", [])]

    def count(self, channel: str) -> int:
        return len(self.received.get(f"/{channel}", []))

    async def wait_for(self, channel: str, count: int = 1, timeout: float = 10.0) -> None:
        """Until ``channel`` has received ``count`` posts (real time: for tests with real timers)."""
        async with asyncio.timeout(timeout):
            while self.count(channel) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def _handle(self, request: web.Request) -> web.Response:
        self.started += 1
        mode = self.modes.get(request.path, "ok")
        if self.delay:
            await asyncio.sleep(self.delay)
        if mode == "hang":
            await self._release.wait()
            return web.Response(status=504)
        if mode == "fail":
            return web.Response(status=500, text="sink told to fail")
        if mode == "slow":
            await asyncio.sleep(self.slow_delay)
        self.received[request.path].append(await request.json())
        self._arrived.set()
        if mode == "hold":
            await self._held.wait()
        return web.Response(text="ok")

    def release_held(self) -> None:
        self._held.set()

    def release_hanging(self) -> None:
        """Hanging paths answer 504 from now on."""
        self._release.set()

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        server = site._server
        assert server is not None
        sockets: list[socket.socket] = server.sockets  # type: ignore[attr-defined]
        self.port = sockets[0].getsockname()[1]

    async def stop(self) -> None:
        self._release.set()
        self._held.set()
        if self._runner is not None:
            await self._runner.cleanup()


class _Collect:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"


class SmtpSink:
    """aiosmtpd on a free port, collecting what Apprise's mailto:// sends."""

    def __init__(self) -> None:
        self.handler = _Collect()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()
