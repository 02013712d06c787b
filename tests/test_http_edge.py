"""The HTTP edge: what open endpoints say, and what slow, idle or numerous clients may hold (real sockets)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from daemon.clock import ManualClock
from daemon.http.app import build_app
from daemon.http.serving import Runner, connection_cap
from tests.conftest import MakeTocsin
from tests.process import free_port
from tests.rawhttp import exchange, head, read_answer
from tests.support import Tocsin, make_settings


async def test_readyz_says_unready_without_the_store_error(make_tocsin: MakeTocsin) -> None:
    port = free_port()  # nothing listens there: the store cannot be reached
    t = await make_tocsin({"channels": None, "store": f"redis://127.0.0.1:{port}/0"})
    response = await t.client.get("/readyz")
    assert response.status == 503
    assert response.headers["Retry-After"]
    text = await response.text()
    assert await response.json() == {"status": "unavailable", "store": "unavailable"}
    assert str(port) not in text  # addresses, paths and driver messages stay in the log


async def test_readyz_when_ready(tocsin: Tocsin) -> None:
    response = await tocsin.client.get("/readyz")
    assert (response.status, await response.json()) == (200, {"status": "ready"})


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[int, Runner]]:
    """The app served as ``tocsin run`` serves it (its Runner), with small bounds so the test is quick."""
    app = build_app(make_settings(tmp_path, {"channels": None}), clock=ManualClock(), background=False)
    runner = Runner(app, max_connections=3, keepalive_timeout=0.5, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    yield port, runner
    await runner.cleanup()


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bool:
    try:
        async with asyncio.timeout(within):
            return await reader.read(1024) == b""
    except TimeoutError:
        return False


async def test_slow_request_head_and_idle_connections_are_closed(served: tuple[int, Runner]) -> None:
    port, _ = served
    # A client that sends half a request line and stops.
    slow_reader, slow_writer = await asyncio.open_connection("127.0.0.1", port)
    slow_writer.write(b"POST /api/v1/alerts/alertman")
    # A client that asked once and keeps the connection idle.
    idle_reader, idle_writer = await asyncio.open_connection("127.0.0.1", port)
    idle_writer.write(head("GET", "/healthz", {}))
    assert (await read_answer(idle_reader)).status == 200
    try:
        assert await closed_by_server(slow_reader, within=5.0)
        assert await closed_by_server(idle_reader, within=5.0)
    finally:
        slow_writer.close()
        idle_writer.close()


async def test_connections_past_the_cap_get_503_and_the_rest_keep_working(served: tuple[int, Runner]) -> None:
    port, runner = served
    held = [await asyncio.open_connection("127.0.0.1", port) for _ in range(3)]
    try:
        # The cap is full of idle clients: one more is told to come back, at once and in JSON.
        answer = await exchange(port, head("GET", "/readyz", {}))
        assert answer.status == 503
        assert answer.headers["retry-after"] == "1"
        assert answer.json()["error"]["code"] == "too_many_connections"
    finally:
        for _, writer in held:
            writer.close()
    for _ in range(100):  # the server sees them go
        if runner.server is not None and not runner.server.connections:
            break
        await asyncio.sleep(0.02)
    assert (await exchange(port, head("GET", "/readyz", {}))).status == 200


def test_connection_cap_stays_below_the_open_file_limit() -> None:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    cap = connection_cap(10**9)
    assert cap < soft or soft == resource.RLIM_INFINITY
    assert connection_cap(5) == 5
