from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from daemon.clock import ManualClock
from tests.support import Tocsin, make_settings, start_tocsin

MakeTocsin = Callable[..., Awaitable[Tocsin]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def make_tocsin(tmp_path: Path, clock: ManualClock) -> AsyncIterator[MakeTocsin]:
    """Start tocsin apps on the example config with overrides; all are closed at the end of the test."""
    started: list[Tocsin] = []

    async def make(overrides: dict[str, Any] | None = None, sink: str | None = None, **kw: Any) -> Tocsin:
        settings = kw.pop("settings", None) or make_settings(tmp_path, overrides, sink)
        t = await start_tocsin(settings, clock, **kw)
        started.append(t)
        return t

    yield make
    for t in reversed(started):
        await t.client.close()


@pytest.fixture
async def tocsin(make_tocsin: MakeTocsin) -> Tocsin:
    """tocsin on the example configuration; no channels, so notifications stay in the outbox unsent."""
    return await make_tocsin({"channels": None})
