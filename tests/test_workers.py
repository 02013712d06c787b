"""`workers: 2`: two processes on one port and one SQLite file behave as one tocsin."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from tests.process import TocsinProcess, free_port
from tests.support import AM_TOKEN, API_TOKEN, am_alert, am_webhook, write_config

pytestmark = pytest.mark.e2e


async def test_two_workers_share_port_store_and_metrics(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"workers": 2, "notify": {"retries": 0}}, sink=f"127.0.0.1:{free_port()}")
    daemon = TocsinProcess(config, free_port())
    daemon.start()
    try:
        await daemon.wait_ready()
        bodies = [
            am_webhook(*[am_alert("Lag", f"svc-{n % 10}", severity="warning", instance=f"{n}-{i}") for i in range(5)])
            for n in range(100)
        ]
        headers = {"Authorization": f"Bearer {AM_TOKEN}"}
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=16, force_close=True)) as session:

            async def post(body: dict[str, object]) -> int:
                async with session.post(
                    f"{daemon.url}/api/v1/alerts/alertmanager", json=body, headers=headers
                ) as response:
                    return response.status

            # Each body twice: the second time a duplicate, whichever worker answers it.
            statuses = await asyncio.gather(*(post(b) for b in bodies + bodies))
            assert statuses == [200] * 200
            async with session.get(
                f"{daemon.url}/api/v1/incidents?limit=100", headers={"Authorization": f"Bearer {API_TOKEN}"}
            ) as response:
                incidents = (await response.json())["incidents"]
            assert sorted(i["service"] for i in incidents) == sorted(f"svc-{n}" for n in range(10))
            assert {i["alert_count"] for i in incidents} == {50}
            # Each worker counted what it answered; /metrics (from whichever worker) sums them.
            async with session.get(f"{daemon.url}/metrics") as response:
                text = await response.text()
            assert 'tocsin_alerts_received_total{source="alertmanager"} 1000.0' in text
            assert 'tocsin_alerts_deduplicated_total{source="alertmanager"} 500.0' in text
        assert daemon.proc is not None
        pid = daemon.proc.pid
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        assert len(children) == 2
        assert daemon.terminate() == 0
        await asyncio.sleep(0.2)
        assert all(not Path(f"/proc/{child}").exists() for child in children)
    finally:
        daemon.stop()
