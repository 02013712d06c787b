"""Capped exponential backoff, in real seconds (it paces retries against a store or a crash, not the clock)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog

from daemon.store.base import StoreUnavailable

T = TypeVar("T")
log = structlog.get_logger("tocsin.effects")


@dataclass
class Backoff:
    first: float
    cap: float
    _next: float = field(init=False, default=0.0)

    def __post_init__(self) -> None:
        self._next = self.first

    def next(self) -> float:
        delay = self._next
        self._next = min(self._next * 2, self.cap)
        return delay

    def reset(self) -> None:
        self._next = self.first


# The store came back: sends and timers resume within a second of its return.
def for_store() -> Backoff:
    return Backoff(0.05, 1.0)


# A bug: retry, but not in a hot loop that floods the log.
def for_crash() -> Backoff:
    return Backoff(0.5, 5.0)


async def until_stored(op: Callable[[], Awaitable[T]], give_up: Callable[[], bool], what: str, **about: str) -> T:
    """``op`` again (after a backoff capped at 1 s) for as long as the store is unavailable and ``give_up`` says
    not to stop: work already claimed goes on within a second of the store's return."""
    backoff = for_store()
    while True:
        try:
            return await op()
        except StoreUnavailable as exc:
            if give_up():
                raise
            delay = backoff.next()
            if delay == backoff.first:
                log.warning("store_unavailable", doing=what, error=str(exc), **about)
            await asyncio.sleep(delay)
