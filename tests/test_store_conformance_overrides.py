"""The store conformance suite, continued: on-call overrides behave the same on SQLite and on Redis."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from daemon.store import Store
from daemon.store.overrides import NewOverride
from tests.test_store_conformance import Open, open_stores, store  # noqa: F401 - the suite's fixtures

pytestmark = pytest.mark.both_stores

T0 = datetime(2026, 11, 23, 8, tzinfo=UTC)


def new(person: str, start: datetime, hours: float, schedule: str = "platform") -> NewOverride:
    return NewOverride(schedule, "primary", person, start, start + timedelta(hours=hours), "swap", "dave", T0)


async def test_overrides_are_numbered_in_creation_order_and_listed_so(store: Store) -> None:  # noqa: F811
    first = await store.add_override(new("alice", T0, 24))
    second = await store.add_override(new("carol", T0 + timedelta(hours=4), 2))
    assert (first.id, first.seq, second.id, second.seq) == ("ovr-1", 1, "ovr-2", 2)
    listed = await store.list_overrides("platform")
    assert listed == [first, second]
    assert (listed[0].person, listed[0].start, listed[0].end, listed[0].note, listed[0].actor) == (
        "alice",
        T0,
        T0 + timedelta(hours=24),
        "swap",
        "dave",
    )
    assert await store.list_overrides("elsewhere") == []
    # Only those still running after a time: carol's ended at 06:00 + 2h.
    assert [o.id for o in await store.list_overrides("platform", ending_after=T0 + timedelta(hours=7))] == ["ovr-1"]


async def test_deleting_an_override_is_for_its_schedule_only(store: Store) -> None:  # noqa: F811
    kept = await store.add_override(new("alice", T0, 1, schedule="other"))
    gone = await store.add_override(new("bob", T0, 1))
    assert await store.delete_override("other", gone.id) is False
    assert await store.delete_override("platform", gone.id) is True
    assert await store.delete_override("platform", gone.id) is False
    assert await store.list_overrides("platform") == []
    assert await store.list_overrides("other") == [kept]


async def test_replicas_share_overrides_and_never_reuse_a_number(open_stores: Open) -> None:  # noqa: F811
    one, two = await open_stores(), await open_stores()
    made = await asyncio.gather(*(s.add_override(new(f"p{i}", T0, 1)) for i, s in enumerate([one, two] * 10)))
    assert sorted(o.seq for o in made) == list(range(1, 21))
    assert [o.id for o in await two.list_overrides("platform")] == [f"ovr-{i}" for i in range(1, 21)]
