"""`tocsin run`: serve until SIGTERM or SIGINT, then drain."""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from daemon.config.settings import Settings
from daemon.http.app import build_app

log = structlog.get_logger("tocsin")


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an empty host means every interface


async def serve(settings: Settings, shutdown_timeout: float = 20.0) -> None:
    app = build_app(settings)
    # Our own signal handling: stop accepting, let in-flight requests finish, then drain (cleanup_ctx).
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=shutdown_timeout, access_log=None)
    await runner.setup()
    host, port = split_listen(settings.listen)
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    log.info(
        "listening",
        listen=settings.listen,
        store=settings.store.split("?")[0].split("@")[-1],
        public_url=settings.public_url,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping", reason="signal")
    await runner.cleanup()
    log.info("stopped")
