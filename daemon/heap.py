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
import concurrent.futures
import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_quiet = 0
_lock = threading.Lock()  # quiet stretches end in the let-go thread as well as on the event loop
_letting_go: set[concurrent.futures.Future[None]] = set()
# One thread: big frees one after another, never two at once competing with the event loop for the interpreter.
_letting_go_thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tocsin-let-go")
# Objects allocated between two young collections: a storm allocates a few dozen per alert, nearly all freed by
# reference counting, so CPython's default (700) ran a collection every few alerts (about a tenth of the CPU of
# a storm of new alerts, measured with `make bench`).
GC_YOUNG_THRESHOLD = 20_000


def _hold() -> bool:
    """Enter a quiet stretch; False when the collector was off already by someone else's hand (a test, an
    embedding program): theirs to turn back on, nothing to give back."""
    global _quiet
    with _lock:
        if _quiet == 0 and not gc.isenabled():
            return False
        _quiet += 1
        gc.disable()
        return True


def _release(held: bool) -> None:
    global _quiet
    if not held:
        return
    with _lock:
        _quiet -= 1
        if _quiet == 0:
            gc.enable()


@contextmanager
def quiet() -> Iterator[None]:
    """No cyclic collection until every quiet stretch under way has ended (entered and left in any thread)."""
    held = _hold()
    try:
        yield
    finally:
        _release(held)


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
    """``let_go`` in a thread of its own, not waited for: what the caller holds is emptied behind it. A quiet
    stretch lasts until it is done (a collection meanwhile would walk every object still to be freed, all young,
    made in a quiet stretch: 60-125 ms for 50,000 alerts), ended by that thread: the loop that started it may be
    gone by then."""
    held = _hold()
    try:
        future = _letting_go_thread.submit(let_go, *containers)
    except BaseException:  # the interpreter shutting down: nothing will end the stretch but this
        _release(held)
        raise
    with _lock:
        _letting_go.add(future)

    def done(f: concurrent.futures.Future[None]) -> None:
        _release(held)  # before it leaves the set: once gone() sees none, the collector is back
        with _lock:
            _letting_go.discard(f)

    future.add_done_callback(done)  # after the add: a future done already runs it here, at once


async def gone() -> None:
    """Once every ``let_go_later`` under way has ended (awaitable from any loop)."""
    while True:
        with _lock:
            pending = list(_letting_go)
        if not pending:
            return
        await asyncio.gather(*(asyncio.wrap_future(f) for f in pending))
