from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.clock import ManualClock
from tests.sinks import HttpSink, SmtpSink
from tests.support import Tocsin, make_settings, start_tocsin

MakeTocsin = Callable[..., Awaitable[Tocsin]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def make_tocsin(tmp_path: Path, clock: ManualClock) -> AsyncIterator[MakeTocsin]:
    """Start tocsin apps on the example config with overrides; all are closed at the end of the test."""
    started: list[Tocsin] = []

    async def make(
        overrides: dict[str, Any] | None = None, sink: str | None = None, extra_urls: str = "", **kw: Any
    ) -> Tocsin:
        settings = kw.pop("settings", None) or make_settings(tmp_path, overrides, sink, extra_urls)
        t = await start_tocsin(settings, clock, **kw)
        started.append(t)
        return t

    yield make
    for t in reversed(started):
        await t.client.close()


@pytest.fixture
async def http_sink() -> AsyncIterator[HttpSink]:
    sink = HttpSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def smtp_sink(monkeypatch: pytest.MonkeyPatch) -> Iterator[SmtpSink]:
    # Apprise spaces e-mails to one server 5.5 s apart (politeness to real SMTP relays); the local sink needs none.
    from apprise.plugins.email.base import NotifyEmail

    monkeypatch.setattr(NotifyEmail, "request_rate_per_sec", 0)
    sink = SmtpSink()
    sink.start()
    yield sink
    sink.stop()


@pytest.fixture
async def paging(make_tocsin: MakeTocsin, http_sink: HttpSink, smtp_sink: SmtpSink) -> Tocsin:
    mail = (
        f"  - mailto://127.0.0.1:{smtp_sink.port}?from=tocsin@example.com&to=oncall@example.com&mode=insecure:\n"
        "      - tag: oncall-primary\n"
    )
    return await make_tocsin({"notify": {"retries": 0, "timeout": "5s"}}, sink=http_sink.address, extra_urls=mail)


@pytest.fixture
async def tocsin(make_tocsin: MakeTocsin) -> Tocsin:
    """tocsin on the example configuration; no channels, so notifications stay in the outbox unsent."""
    return await make_tocsin({"channels": None})
