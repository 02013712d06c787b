"""SIGTERM under load: a real `tocsin run` exits within its drain bound every time, a second signal at once,
and nothing answered 2xx is lost; a loop stops when told, even as it is woken."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from daemon.clock import SystemClock
from daemon.effects.supervisor import Supervisor
from daemon.metrics import Metrics
from tests.process import TocsinProcess, free_port
from tests.programs import until
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, am_alert, am_webhook, write_config
from tests.test_durability import all_alerts

DRAIN = 1.5  # seconds: the drain bound these tests configure
ROUNDS = 20
WEBHOOKS = 24  # per round, each declaring an incident that pages the slow sink


@pytest.fixture
async def slow_sink() -> AsyncIterator[HttpSink]:
    """Every page takes far longer than the drain: sends are under way whenever SIGTERM comes."""
    sink = HttpSink(delay=30.0)
    await sink.start()
    yield sink
    await sink.stop()


def tocsin_paging(tmp_path: Path, sink: HttpSink, drain: float) -> TocsinProcess:
    overrides = {"drain_timeout": f"{int(drain * 1000)}ms", "notify": {"retries": 0, "timeout": "30s"}}
    return TocsinProcess(write_config(tmp_path, overrides, sink=sink.address), free_port())


async def post_load(session: aiohttp.ClientSession, url: str, round_: int, accepted: set[str]) -> None:
    """Webhooks of SEV1 alerts, a new incident each; what is answered 200 goes into ``accepted``."""

    async def send(i: int) -> None:
        alert = am_alert(f"Term{round_}x{i}", f"svc-{round_}-{i}", fingerprint=f"term-{round_}-{i}")
        try:
            async with session.post(
                f"{url}/api/v1/alerts/alertmanager",
                json=am_webhook(alert),
                headers={"Authorization": f"Bearer {AM_TOKEN}"},
            ) as response:
                if response.status == 200:
                    accepted.add(alert["fingerprint"])
        except aiohttp.ClientError:
            pass  # cut off by the shutdown: not answered, so the sender retries

    await asyncio.gather(*(send(i) for i in range(WEBHOOKS)))


@pytest.mark.e2e
async def test_sigterm_under_load_exits_within_the_drain_bound_every_time(tmp_path: Path, slow_sink: HttpSink) -> None:
    daemon = tocsin_paging(tmp_path, slow_sink, DRAIN)
    try:
        await sigterm_rounds(daemon, slow_sink)
    finally:
        daemon.stop()


async def sigterm_rounds(daemon: TocsinProcess, slow_sink: HttpSink) -> None:
    accepted: set[str] = set()
    for round_ in range(ROUNDS):
        daemon.start()
        await daemon.wait_ready()
        paged = slow_sink.started

        async def pages_under_way(paged: int = paged) -> bool | None:
            return True if slow_sink.started > paged else None

        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:
            load = asyncio.create_task(post_load(session, daemon.url, round_, accepted))

            # SIGTERM once pages are under way, webhooks still arriving.
            await until(pages_under_way, "a page to reach the sink", 10)
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGTERM)
            code = await asyncio.to_thread(daemon.proc.wait, DRAIN + 5)
            await load
        log = daemon.log.read_text()
        # 0: drained in time; the watchdog's exit code 3 would mean the drain overran its bound.
        assert code == 0, f"round {round_}: exit {code}\n{log[-3000:]}"
        # Every loop ended on its cancel (on Python 3.11, wait_for could swallow it and the loop claim on).
        assert '"loop_not_stopped"' not in log, log[-3000:]
    assert "stopped" in daemon.log.read_text()
    assert accepted
    daemon.start()
    await daemon.wait_ready()
    async with aiohttp.ClientSession() as session:
        stored = await all_alerts(session, daemon.url)
    daemon.terminate()
    assert accepted <= stored, f"{len(accepted - stored)} accepted alerts lost"


@pytest.mark.e2e
async def test_a_second_sigterm_ends_a_long_drain_at_once(tmp_path: Path, slow_sink: HttpSink) -> None:
    # The drain would wait up to its bound for the pages under way; the operator does not.
    daemon = tocsin_paging(tmp_path, slow_sink, 25.0)
    try:
        await forced_out(daemon, slow_sink)
    finally:
        daemon.stop()


async def forced_out(daemon: TocsinProcess, slow_sink: HttpSink) -> None:
    daemon.start()
    await daemon.wait_ready()
    async with aiohttp.ClientSession() as session:
        accepted: set[str] = set()
        await post_load(session, daemon.url, 0, accepted)

    async def paged() -> bool | None:
        return True if slow_sink.started else None

    async def draining() -> bool | None:
        return True if '"stopping"' in daemon.log.read_text() else None

    await until(paged, "a page to reach the sink", 10)
    assert daemon.proc is not None
    daemon.proc.send_signal(signal.SIGTERM)
    await until(draining, "tocsin to start draining", 10)
    assert daemon.proc.poll() is None, "still draining: the pages under way hold it"
    daemon.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(daemon.proc.wait, 10)
    assert code == 128 + signal.SIGTERM
    assert '"forced_exit"' in daemon.log.read_text()
    # Forced out mid-drain, yet every alert answered 200 was committed before its answer.
    daemon.start()
    await daemon.wait_ready()
    async with aiohttp.ClientSession() as session:
        stored = await all_alerts(session, daemon.url)
    daemon.terminate()
    assert accepted
    assert accepted <= stored


async def test_a_loop_cancelled_as_it_is_woken_stops() -> None:
    """The race behind "stopping, and still claiming work 45 s later": a loop's sleep is woken (a decision set
    a timer) in the same turn of the event loop as the stop cancels it. The cancel must win."""
    clock = SystemClock()
    wake = asyncio.Event()
    rounds = 0

    async def step() -> None:
        nonlocal rounds
        rounds += 1
        await clock.sleep_until(clock.now() + timedelta(seconds=30), wake)
        wake.clear()

    supervisor = Supervisor(Metrics(CollectorRegistry()))
    supervisor.add("test-loop", step)
    supervisor.start()
    for _ in range(3):
        await asyncio.sleep(0)  # asleep in sleep_until
    wake.set()
    await supervisor.stop(1.0)
    for _ in range(3):
        await asyncio.sleep(0)
    assert rounds == 1, "the loop went round again after its cancel"
