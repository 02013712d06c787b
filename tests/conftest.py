from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from daemon.clock import ManualClock
from tests.logcapture import LogLines, captured_log_lines
from tests.process import TocsinProcess, free_port
from tests.redis_server import RedisServer
from tests.sinks import HttpSink, SmtpSink
from tests.support import Tocsin, make_settings, start_tocsin, write_config

MakeTocsin = Callable[..., Awaitable[Tocsin]]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Tests marked both_stores run once on SQLite and once on Redis; the others on SQLite.
    if "store_kind" in metafunc.fixturenames:
        marked = metafunc.definition.get_closest_marker
        both = marked("both_stores") is not None and marked("sqlite_only") is None
        metafunc.parametrize("store_kind", ["sqlite", "redis"] if both else ["sqlite"])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server for the session; each test uses its own key prefix."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def store_url(store_kind: str, request: pytest.FixtureRequest) -> str | None:
    """The store the test's tocsin uses: None for the example's SQLite file, else a fresh Redis prefix."""
    if store_kind == "sqlite":
        return None
    server: RedisServer = request.getfixturevalue("redis_server")
    return f"{server.url}?prefix=t{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def make_tocsin(tmp_path: Path, clock: ManualClock, store_url: str | None) -> AsyncIterator[MakeTocsin]:
    """Start tocsin apps on the example config with overrides; all are closed at the end of the test."""
    started: list[Tocsin] = []

    async def make(
        overrides: dict[str, Any] | None = None, sink: str | None = None, extra_urls: str = "", **kw: Any
    ) -> Tocsin:
        if store_url is not None:
            overrides = {"store": store_url, **(overrides or {})}
        settings = kw.pop("settings", None)
        if settings is None:
            settings = make_settings(tmp_path, overrides, sink, extra_urls)
            kw.setdefault("config_path", tmp_path / "tocsin.yml")
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
def daemon(tmp_path: Path) -> Iterator[TocsinProcess]:
    """A real `tocsin run` on the example config (not started), paging a closed port."""
    config = write_config(tmp_path, {"notify": {"retries": 0}}, sink=f"127.0.0.1:{free_port()}")
    process = TocsinProcess(config, free_port())
    yield process
    process.stop()


@pytest.fixture
async def tocsin(make_tocsin: MakeTocsin) -> Tocsin:
    """tocsin on the example configuration; no channels, so notifications stay in the outbox unsent."""
    return await make_tocsin({"channels": None})


@pytest.fixture
def log_lines() -> Iterator[LogLines]:
    """The log lines tocsin writes (JSON, as `tocsin run` configures it), captured for the test to read."""
    with captured_log_lines() as captured:
        yield captured
