"""The cyclic garbage collector, kept from stalling the event loop.

A collection walks every live container object of its generations while holding the interpreter; loading 50,000
alerts (an incident being acknowledged, or its timer firing) set off full collections of 50-150 ms each, several
per decision, and each stalled the event loop, threads or not. Such work is rare (people and timers, not
webhooks), and its alerts form no reference cycles (they go when the decision is done), so the collector waits
until it is over. Storms of webhooks go on meanwhile; the little cyclic garbage they leave is collected after.

And what is alive once tocsin listens (modules, Apprise's hundreds of plugins, the configuration) lives as long as
the process: frozen out of the collector's sight, so that a full collection walks only what came after (it walked
all of it, about 50 ms, at every full collection).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_quiet = 0
_letting_go: set[asyncio.Future[None]] = set()
# Objects allocated between two young collections: a storm allocates a few dozen per alert, nearly all freed by
# reference counting, so CPython's default (700) ran a collection every few alerts (about a tenth of the CPU of
# a storm of new alerts, measured with `make bench`).
GC_YOUNG_THRESHOLD = 20_000


@contextmanager
def quiet() -> Iterator[None]:
    """No cyclic collection until every quiet stretch under way has ended (entered and left on the event loop)."""
    global _quiet
    if _quiet == 0 and not gc.isenabled():
        yield  # disabled by someone else (a test, an embedding program): theirs to turn back on
        return
    _quiet += 1
    gc.disable()
    try:
        yield
    finally:
        _quiet -= 1
        if _quiet == 0:
            gc.enable()


def settle() -> None:
    """Call once, when started: what is alive now is never walked by a collection again (nor collected, should it
    ever become cyclic garbage: a reload's old settings are the one case, small and rare); and young collections
    run per many allocations rather than per few alerts."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, 20, 10)


def let_go(*containers: list[Any] | dict[Any, Any]) -> None:
    """Empty ``containers`` an item at a time; call it in a thread. Freeing tens of thousands of objects at once
    is one call that holds the interpreter throughout (50,000 decoded alerts: 25 ms; their stored rows: 35 ms), so
    the event loop waits whichever thread does it; item by item, the interpreter changes hands between items."""
    for container in containers:
        if isinstance(container, dict):
            while container:
                container.popitem()
        else:
            while container:
                container.pop()


def let_go_later(*containers: list[Any] | dict[Any, Any]) -> None:
    """``let_go`` in a thread of the running loop, not waited for: what the caller holds is emptied behind it. A
    quiet stretch lasts until it is done: a collection meanwhile would walk every object still to be freed (all
    young, made in a quiet stretch: 60-125 ms for 50,000 alerts)."""
    stretch = quiet()
    stretch.__enter__()
    future = asyncio.get_running_loop().run_in_executor(None, let_go, *containers)
    _letting_go.add(future)

    def done(_: object) -> None:
        _letting_go.discard(future)
        stretch.__exit__(None, None, None)

    future.add_done_callback(done)


async def gone() -> None:
    """Once every ``let_go_later`` under way has ended."""
    while _letting_go:
        await asyncio.gather(*_letting_go)
