"""`tocsin run`: serve until SIGTERM or SIGINT, then drain within ``drain_timeout``; a second signal exits at once."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import NoReturn

import orjson
import structlog
from aiohttp import web

from daemon import heap, logs, sighup
from daemon.config.settings import Settings
from daemon.generations import Generations, shared_folder
from daemon.http.app import build_app
from daemon.http.keys import RELOADER, SERVICES
from daemon.http.serving import Runner
from daemon.http.tls import server_context

log = structlog.get_logger("tocsin")
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# Requests in flight may take this share of the drain; sends under way and the store's last commits the rest.
REQUESTS_SHARE = 0.5
# The drain did not finish within drain_timeout: the process was ended by its watchdog.
EXIT_DRAIN_OVERRUN = 3
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def split_listen(listen: str) -> tuple[str, int]:
    host, _, port = listen.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)  # noqa: S104 - an empty host means every interface


def _last_words(event: str, **fields: object) -> None:
    """One JSON log line written straight to stderr: from a signal handler or the watchdog thread, where the
    logger's lock may be held by the very code that was interrupted."""
    number = logs.worker()
    record = {"event": event, "level": "error", "timestamp": datetime.now(UTC).isoformat(), **fields}
    if number is not None:
        record["worker"] = number
    with contextlib.suppress(OSError):
        os.write(2, orjson.dumps(record) + b"\n")


def _force_exit(signum: int, _frame: FrameType | None) -> None:
    """The second SIGTERM or SIGINT: the operator will not wait for the drain. Commits not yet made are not
    answered 2xx, so nothing acknowledged is lost; sends under way may go out again after the restart."""
    _last_words("forced_exit", signal=signal.Signals(signum).name, exit_code=128 + signum)
    os._exit(128 + signum)


def _watchdog(drain: float) -> None:
    """A thread, so that it fires even if the event loop is stuck: the process ends within the drain bound."""

    def overrun() -> None:
        _last_words("drain_overrun", drain_timeout=drain, exit_code=EXIT_DRAIN_OVERRUN)
        os._exit(EXIT_DRAIN_OVERRUN)

    timer = threading.Timer(drain, overrun)
    timer.daemon = True
    timer.start()


async def serve(settings: Settings, reuse_port: bool = False, config_path: str | None = None) -> None:
    drain = settings.drain_timeout.total_seconds()
    app = build_app(settings, config_path=config_path)
    # Our own signal handling: stop claiming, stop accepting, let in-flight requests finish, then drain.
    runner = Runner(app, handle_signals=False, shutdown_timeout=drain * REQUESTS_SHARE, access_log=None)
    await runner.setup()
    host, port = split_listen(settings.listen)
    ssl_context = server_context(settings.tls) if settings.tls.enabled else None
    site = web.TCPSite(runner, host, port, backlog=1024, reuse_port=reuse_port or None, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError as exc:
        # A port already taken is the operator's everyday mistake: one line and exit 1, not a traceback.
        async with asyncio.timeout(5):
            await runner.cleanup()
        raise CannotListen.of(settings.listen, exc) from None
    heap.settle()
    log.info(
        "listening",
        listen=settings.listen,
        store=settings.store.split("?")[0].split("@")[-1],
        public_url=settings.public_url,
    )
    loop = asyncio.get_running_loop()
    reloader = app[RELOADER]
    reloader.ssl_context = ssl_context
    loop.add_signal_handler(signal.SIGHUP, reloader.on_sighup)
    if sighup.take():
        reloader.on_sighup()  # it came while tocsin started: the file may have changed since it was read
    reloader.watch()
    stop = asyncio.Event()
    received: list[signal.Signals] = []

    def first_signal(sig: signal.Signals) -> None:
        received.append(sig)
        stop.set()
        # Stopping: a reload now would only slow the drain, and SIGHUP's default action would cut it short.
        loop.remove_signal_handler(signal.SIGHUP)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        reloader.stop()
        for s in STOP_SIGNALS:
            # From now on a plain handler: it runs even while the event loop is busy with the drain.
            loop.remove_signal_handler(s)
            signal.signal(s, _force_exit)

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, first_signal, sig)
    # A worker holds stop signals from its fork until here (a single process has none held): one that came
    # meanwhile is taken now, and drains like any other.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    await stop.wait()
    deadline = loop.time() + drain
    _watchdog(drain)
    log.info("stopping", reason=received[0].name, drain_timeout=drain)
    await shutdown(runner, app, deadline)
    log.info("stopped")


async def shutdown(runner: web.AppRunner, app: web.Application, deadline: float) -> None:
    """Every await here is bounded, and all of them together by ``deadline``."""
    services = app[SERVICES]
    services.drain_by(deadline)
    try:
        async with asyncio.timeout_at(deadline):
            # First, no loop claims new work; then no new connection, requests in flight finish, and the
            # services drain (cleanup_ctx: sends under way are recorded, queued commits land, the store closes).
            await services.stop_claiming()
            await runner.cleanup()
    except TimeoutError:
        log.error("drain_overrun", hint="the drain did not finish within drain_timeout")


class CannotListen(Exception):
    """The listen address cannot be bound (taken, or not this machine's)."""

    @classmethod
    def of(cls, listen: str, exc: OSError) -> CannotListen:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        return cls(f"cannot listen on {listen}: {reason}")


def probe_listen(listen: str) -> None:
    """Workers bind with SO_REUSEPORT, which another tocsin's workers on the port would share without a word:
    so the parent binds it once first, without, and a port taken is the one-line error of a single process."""
    host, port = split_listen(listen)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the workers' own sockets
            probe.bind(address)
    except OSError as exc:
        raise CannotListen.of(listen, exc) from None


def run(settings: Settings, reuse_port: bool = False, config_path: str | None = None) -> NoReturn:
    """Serve on a fresh event loop until drained, then end the process at once. Not ``asyncio.run``, nor a
    normal interpreter exit: both wait without bound for executor threads, and a send abandoned at the drain
    deadline may still block in one (Apprise runs its synchronous plugins in threads of its own)."""
    sighup.hold()  # until the event loop handles SIGHUP (`tocsin run` holds it from its start)
    loop = _new_loop()
    try:
        try:
            loop.run_until_complete(serve(settings, reuse_port, config_path))
        except CannotListen as exc:
            print(f"tocsin: {exc}", file=sys.stderr, flush=True)
            os._exit(1)
        leftovers = asyncio.all_tasks(loop)
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.wait(leftovers, timeout=1.0))
    finally:
        loop.close()  # does not wait for executor threads
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(0)


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is optional on platforms without it
        return asyncio.new_event_loop()
    loop: asyncio.AbstractEventLoop = uvloop.new_event_loop()
    return loop


def run_workers(settings: Settings, start: Callable[[], None]) -> int:
    """``workers`` processes on one port (SO_REUSEPORT): the kernel spreads connections among them.

    Each worker is the whole of tocsin on the one store: SQLite serialises their commits, timers and outbox
    entries are claimed so each fires once, and metrics are summed across them at scrape time. The parent only
    watches: SIGTERM and SIGINT go to every worker (each drains); if a worker dies, the others are stopped and
    the parent exits non-zero, so that the supervisor restarts tocsin whole. SIGHUP raises the reload
    generation (daemon.generations) and goes to every worker: each reloads the configuration itself.
    """
    with shared_folder() as generations:
        return _run_workers(settings, start, generations)


def end_with(parent: int) -> None:
    """A worker dies with its parent: killed whole (SIGKILL by an operator, an OOM kill), tocsin must not leave
    workers serving its port, beside the next tocsin's own. Linux only (prctl); elsewhere they live on."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return
    if os.getppid() != parent:  # it died before the prctl took effect
        os.kill(os.getpid(), signal.SIGKILL)


def _run_workers(settings: Settings, start: Callable[[], None], generations: Generations) -> int:
    children: list[int] = []
    parent = os.getpid()
    stopping = False

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    def reload(signum: int, _frame: object) -> None:
        if stopping:
            return  # the workers drain: SIGHUP would end them at once, and there is nothing left to reload
        generations.bump()
        for child in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signum)

    # A stop asked for while the workers are forked waits until every one of them is there to hear it.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    # Until a worker's event loop handles SIGHUP, it is held (the workers inherit this), not fatal.
    sighup.hold()
    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for number in range(1, settings.workers + 1):
        pid = os.fork()
        if pid == 0:  # a worker
            end_with(parent)
            logs.name_worker(number)
            sighup.take()  # one the parent held is the parent's to forward, through the generation
            # Stops come from the parent alone, once: a terminal's Ctrl-C (sent to its foreground process group)
            # would otherwise reach a worker twice, and a second stop signal ends a drain at once.
            with contextlib.suppress(OSError):  # a seccomp filter may refuse it: then Ctrl-C also reaches it
                os.setpgid(0, 0)
            # Held until its event loop takes them (serve()): its timers and outbox may be at work before that.
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)
            code = 0
            try:
                start()
            except BaseException:
                log.exception("worker_failed", pid=os.getpid())
                code = 1
            os._exit(code)
        children.append(pid)
    signal.signal(signal.SIGHUP, reload)
    log.info("workers_started", workers=len(children), pids=children)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
    if sighup.take():
        reload(signal.SIGHUP, None)  # it came while tocsin started: the workers may have read an older file
    status = 0  # the first failure's: a forced exit's 128 + signal, a drain overrun's 3; 1 for a worker that died
    alive = set(children)
    while alive:
        try:
            pid, wait_status = os.wait()
        except ChildProcessError:
            break
        if pid not in alive:
            continue  # not a worker: as PID 1 of a container, orphans of `docker exec` are reaped here too
        alive.discard(pid)
        code = os.waitstatus_to_exitcode(wait_status)
        if not stopping:
            log.error("worker_died", pid=pid, exit_code=code)
            status = status or 1
            forward(signal.SIGTERM, None)
        elif code != 0:
            status = status or (code if code > 0 else 1)
    return status
