"""Big structures are let go of a few items at a time in a thread, and the collector waits until they are gone."""

from __future__ import annotations

import gc

from daemon import heap


async def test_letting_go_later_empties_what_it_is_given_and_holds_the_collector_until_done() -> None:
    assert gc.isenabled()
    members = {f"fp-{n}": {"labels": {"instance": f"node-{n}"}} for n in range(20_000)}
    order = [members[f"fp-{n}"] for n in range(20_000)]
    heap.let_go_later(order, members)
    # A collection now would walk every object still to be freed: none runs until the thread is done.
    assert not gc.isenabled()
    await heap.gone()
    assert order == []
    assert members == {}
    assert gc.isenabled()


async def test_the_collector_stays_off_while_a_quiet_stretch_outlasts_the_let_go() -> None:
    with heap.quiet():
        heap.let_go_later([object() for _ in range(1000)])
        await heap.gone()
        assert not gc.isenabled()
    assert gc.isenabled()
