"""The background-loop supervisor: each loop is a step run again and again; whatever a step raises is logged,
counted and followed by a restart after a capped backoff, and every loop's state is there for ``/healthz``.

A step that raises ``StoreUnavailable`` waits for the store (backoff capped at 1 s, so work resumes within a
second of the store's return); any other exception is a crash (logged with its traceback, backoff capped at 5 s).
A loop is *crash-looping* once ``CRASH_LOOP`` steps in a row crashed; a step that completes resets the count.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

import structlog

from daemon.effects.backoff import Backoff, for_crash, for_store
from daemon.metrics import Metrics
from daemon.store.base import StoreUnavailable

log = structlog.get_logger("tocsin.effects")
Step = Callable[[], Awaitable[None]]
CRASH_LOOP = 3  # crashes in a row that make a loop crash-looping (and /healthz answer 503)


class LoopState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"  # in a step (which includes the step's own wait for work)
    WAITING_FOR_STORE = "waiting_for_store"
    CRASHED = "crashed"  # restarting after a crash
    STOPPED = "stopped"


@dataclass
class LoopStatus:
    state: LoopState = LoopState.STARTING
    restarts: int = 0
    crashes_in_a_row: int = 0
    # The exception's class name only: its text may quote a row, a URL or a credential.
    last_error: str | None = None

    @property
    def crash_looping(self) -> bool:
        return self.crashes_in_a_row >= CRASH_LOOP

    def view(self) -> dict[str, object]:
        return {
            "state": self.state.value,
            "restarts": self.restarts,
            "crash_looping": self.crash_looping,
            "last_error": self.last_error,
        }


class Supervisor:
    def __init__(
        self,
        metrics: Metrics,
        store_backoff: Callable[[], Backoff] = for_store,
        crash_backoff: Callable[[], Backoff] = for_crash,
    ) -> None:
        self.metrics = metrics
        self._steps: dict[str, Step] = {}
        self._wakes: dict[str, asyncio.Event] = {}
        self._status: dict[str, LoopStatus] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._store_backoff = store_backoff
        self._crash_backoff = crash_backoff
        # Checked as well as cancelling: a step may swallow its cancellation (asyncio.wait_for on 3.11 can).
        self._stopping = False

    def add(self, name: str, step: Step, wake: asyncio.Event | None = None) -> None:
        """Run ``step`` as the loop ``name``; ``wake`` (if any) cuts a backoff short: new work came in."""
        self._steps[name] = step
        self._wakes[name] = wake or asyncio.Event()
        self._status[name] = LoopStatus()
        for reason in ("store_unavailable", "crash"):
            self.metrics.loop_restarts.labels(name, reason)

    def start(self) -> None:
        for name, step in self._steps.items():
            self._tasks[name] = asyncio.create_task(self._run(name, step), name=f"loop:{name}")

    def report(self) -> dict[str, LoopStatus]:
        return dict(self._status)

    def crash_looping(self) -> list[str]:
        return [name for name, status in self._status.items() if status.crash_looping]

    async def _run(self, name: str, step: Step) -> None:
        status = self._status[name]
        waiting, crashing = self._store_backoff(), self._crash_backoff()
        while not self._stopping:
            wakeable, was = False, status.state
            status.state = LoopState.RUNNING
            try:
                await step()
            except StoreUnavailable as exc:
                delay, wakeable = waiting.next(), True
                if was is not LoopState.WAITING_FOR_STORE:
                    log.warning("loop_waiting_for_store", loop=name, error=str(exc))
                status.state, status.last_error = LoopState.WAITING_FOR_STORE, type(exc).__name__
                self._restarted(name, status, "store_unavailable")
            except Exception as exc:
                delay = crashing.next()
                status.crashes_in_a_row += 1
                status.state, status.last_error = LoopState.CRASHED, type(exc).__name__
                log.exception("loop_crashed", loop=name, error=type(exc).__name__, restart_in=delay)
                self._restarted(name, status, "crash")
            else:
                if was is not LoopState.RUNNING:
                    log.info("loop_running", loop=name)
                status.crashes_in_a_row = 0
                waiting.reset()
                crashing.reset()
                await asyncio.sleep(0)  # a step that found nothing to wait for still lets the others run
                continue
            await self._pause(name, delay, wakeable)

    async def _pause(self, name: str, delay: float, wakeable: bool) -> None:
        """Wait out a backoff; new work ends a wait for the store early (the store may be back), never a crash's."""
        if not wakeable:
            await asyncio.sleep(delay)
            return
        # asyncio.timeout rather than wait_for: on 3.11 wait_for can swallow a cancellation (stop() relies on it).
        try:
            async with asyncio.timeout(delay):
                await self._wakes[name].wait()
        except TimeoutError:
            pass

    def _restarted(self, name: str, status: LoopStatus, reason: str) -> None:
        status.restarts += 1
        self.metrics.loop_restarts.labels(name, reason).inc()

    async def stop(self, within: float = 5.0) -> None:
        """Cancel every loop and wait at most ``within`` seconds for them to end; never raises what a loop raised."""
        self._stopping = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=within)
            if pending:
                log.error("loops_not_stopped", loops=sorted(t.get_name() for t in pending), waited=within)
        for status in self._status.values():
            status.state = LoopState.STOPPED
        self._tasks.clear()
