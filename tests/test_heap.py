"""Big structures are let go of a few items at a time in a thread, and the collector waits until they are gone."""

from __future__ import annotations

import asyncio
import concurrent.futures
import gc
import threading
from typing import ClassVar

import pytest

from daemon import heap


class Witness:
    """Notes, as it is freed, in which thread and whether the collector was on."""

    freed: ClassVar[list[tuple[str, bool]]] = []

    def __del__(self) -> None:
        Witness.freed.append((threading.current_thread().name, gc.isenabled()))


async def test_letting_go_later_empties_what_it_is_given_in_a_thread_with_the_collector_off() -> None:
    assert gc.isenabled()
    Witness.freed.clear()
    members = {f"fp-{n}": Witness() for n in range(2_000)}
    order = [Witness() for _ in range(2_000)]
    heap.let_go_later(order, members)
    await heap.gone()
    assert order == []
    assert members == {}
    assert len(Witness.freed) == 4_000
    # Not on the event loop's thread, and no collection could walk what was still to be freed meanwhile.
    assert {thread.split("_")[0] for thread, _ in Witness.freed} == {"tocsin-let-go"}
    assert not any(collector_on for _, collector_on in Witness.freed)
    assert gc.isenabled()


async def test_the_collector_stays_off_while_a_quiet_stretch_outlasts_the_let_go() -> None:
    with heap.quiet():
        heap.let_go_later([object() for _ in range(1000)])
        await heap.gone()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_let_go_gives_the_collector_back_though_the_loop_that_started_it_has_closed() -> None:
    # A request's loop may end (a test's, a worker shutting down) while its let-go still runs in the thread.
    async def start() -> None:
        heap.let_go_later([{"n": n} for n in range(300_000)])

    loop = asyncio.new_event_loop()
    loop.run_until_complete(start())
    loop.close()  # at once, not waiting for its threads
    asyncio.run(asyncio.wait_for(heap.gone(), 10))  # waited for from another loop
    assert gc.isenabled()


def test_a_let_go_that_cannot_start_gives_the_collector_back(monkeypatch: pytest.MonkeyPatch) -> None:
    closed = concurrent.futures.ThreadPoolExecutor(1)
    closed.shutdown()  # as at interpreter exit
    monkeypatch.setattr(heap, "_letting_go_thread", closed)
    with pytest.raises(RuntimeError):
        heap.let_go_later([object()])
    assert gc.isenabled()
