"""`tocsin run`: serve until SIGTERM or SIGINT, then drain."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Callable

import structlog
from aiohttp import web

from daemon.config.settings import Settings
from daemon.http.app import build_app
from daemon.http.serving import Runner

log = structlog.get_logger("tocsin")


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an empty host means every interface


async def serve(settings: Settings, shutdown_timeout: float = 20.0, reuse_port: bool = False) -> None:
    app = build_app(settings)
    # Our own signal handling: stop accepting, let in-flight requests finish, then drain (cleanup_ctx).
    runner = Runner(app, handle_signals=False, shutdown_timeout=shutdown_timeout, access_log=None)
    await runner.setup()
    host, port = split_listen(settings.listen)
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_port=reuse_port or None)
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


def run_workers(settings: Settings, start: Callable[[], None]) -> int:
    """``workers`` processes on one port (SO_REUSEPORT): the kernel spreads connections among them.

    Each worker is the whole of tocsin on the one store: SQLite serialises their commits, timers and outbox
    entries are claimed so each fires once, and metrics are summed across them at scrape time. The parent only
    watches: SIGTERM and SIGINT go to every worker (each drains); if a worker dies, the others are stopped and
    the parent exits non-zero, so that the supervisor restarts tocsin whole.
    """
    children: list[int] = []
    for _ in range(settings.workers):
        pid = os.fork()
        if pid == 0:  # a worker
            code = 0
            try:
                start()
            except BaseException:
                log.exception("worker_failed", pid=os.getpid())
                code = 1
            os._exit(code)
        children.append(pid)
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    failed = False
    alive = set(children)
    while alive:
        try:
            pid, status = os.wait()
        except ChildProcessError:
            break
        alive.discard(pid)
        code = os.waitstatus_to_exitcode(status)
        if not stopping:
            log.error("worker_died", pid=pid, exit_code=code)
            failed = True
            forward(signal.SIGTERM, None)
        elif code != 0:
            failed = True
    return 1 if failed else 0
