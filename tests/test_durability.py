"""2xx means durably stored: a real `tocsin run` killed with SIGKILL mid-load loses no accepted alert."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from tests.process import TocsinProcess, stored_fingerprints
from tests.support import AM_TOKEN, API_TOKEN, am_alert, am_webhook

pytestmark = pytest.mark.e2e

WEBHOOKS = 300
PER_WEBHOOK = 5


async def all_alerts(session: aiohttp.ClientSession, url: str) -> set[str]:
    return await stored_fingerprints(session, url, API_TOKEN)


async def load_then(daemon: TocsinProcess, stop: str) -> tuple[set[str], int]:
    """Send webhooks concurrently; at a third of them, stop the daemon with ``stop``; return what got a 2xx."""
    accepted: set[str] = set()
    failed = 0
    done = asyncio.Event()

    async def send(session: aiohttp.ClientSession, i: int) -> None:
        nonlocal failed
        alerts = [
            am_alert(f"Load{i}", f"svc{i % 7}", instance=str(j), fingerprint=f"fp-{i}-{j}") for j in range(PER_WEBHOOK)
        ]
        try:
            async with session.post(
                f"{daemon.url}/api/v1/alerts/alertmanager",
                json=am_webhook(*alerts),
                headers={"Authorization": f"Bearer {AM_TOKEN}"},
            ) as response:
                if response.status == 200:
                    accepted.update(a["fingerprint"] for a in alerts)
                    if len(accepted) >= WEBHOOKS * PER_WEBHOOK // 3:
                        done.set()
                else:
                    failed += 1
        except aiohttp.ClientError:
            failed += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16)) as session:
        tasks = [asyncio.create_task(send(session, i)) for i in range(WEBHOOKS)]
        await asyncio.wait_for(done.wait(), 30)
        if stop == "kill":
            daemon.kill()  # while requests are still in flight
        else:
            code = await asyncio.to_thread(daemon.terminate)
            assert code == 0, daemon.log.read_text()[-2000:]
        await asyncio.gather(*tasks)
    return accepted, failed


async def test_sigkill_mid_load_loses_no_accepted_alert(daemon: TocsinProcess) -> None:
    daemon.start()
    await daemon.wait_ready()
    accepted, failed = await load_then(daemon, "kill")
    assert failed > 0, "the kill should have cut some requests off"
    assert accepted
    daemon.start()
    await daemon.wait_ready()
    async with aiohttp.ClientSession() as session:
        stored = await all_alerts(session, daemon.url)
    assert accepted <= stored, f"{len(accepted - stored)} accepted alerts lost"


async def test_sigterm_drains_and_exits_cleanly(daemon: TocsinProcess) -> None:
    daemon.start()
    await daemon.wait_ready()
    accepted, _ = await load_then(daemon, "term")
    assert "stopped" in daemon.log.read_text()
    daemon.start()
    await daemon.wait_ready()
    async with aiohttp.ClientSession() as session:
        stored = await all_alerts(session, daemon.url)
    assert accepted <= stored, f"{len(accepted - stored)} accepted alerts lost"
