"""`tocsin incidents …` against a running daemon, as an on-call engineer would use it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import aiohttp
import pytest

from tests.process import TocsinProcess
from tests.support import AM_TOKEN, API_TOKEN, SEV1, fixture

pytestmark = pytest.mark.e2e


async def cli(daemon: TocsinProcess, *args: str, token: str | None = API_TOKEN) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOCSIN_URL": daemon.url}
    env.pop("TOCSIN_API_TOKEN", None)
    if token:
        env["TOCSIN_API_TOKEN"] = token

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "daemon", "incidents", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
            check=False,
        )

    return await asyncio.to_thread(run)


async def test_list_show_ack_postmortem(daemon: TocsinProcess) -> None:
    daemon.start()
    await daemon.wait_ready()
    url = f"{daemon.url}/api/v1/alerts/alertmanager"
    headers = {"Authorization": f"Bearer {AM_TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, json=fixture(SEV1)["body"], headers=headers) as response,
    ):
        assert response.status == 200

    listed = await cli(daemon, "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["INC-2026-0001", "SEV1", "triggered", "HighErrorRate", "on", "checkout"]

    shown = await cli(daemon, "show", "INC-2026-0001")
    assert "firing    HighErrorRate x1 (7349553cd30785e8)" in shown.stdout
    assert "declared SEV1 by rule prod-critical" in shown.stdout

    acked = await cli(daemon, "ack", "INC-2026-0001", "--note", "on it", "--actor", "frank")
    assert acked.returncode == 0, acked.stderr
    assert "acknowledged" in acked.stdout.splitlines()[0]
    assert "acknowledged by frank: on it" in acked.stdout

    resolved = await cli(daemon, "resolve", "INC-2026-0001", "--actor", "frank")
    assert resolved.returncode == 0
    again = await cli(daemon, "ack", "INC-2026-0001")
    assert again.returncode == 1
    assert "409" in again.stderr
    assert "resolved" in again.stderr

    postmortem = await cli(daemon, "postmortem", "INC-2026-0001")
    assert postmortem.returncode == 0
    assert postmortem.stdout.startswith("# Postmortem: HighErrorRate on checkout")
    assert "| INC-2026-0001 |" in postmortem.stdout

    refused = await cli(daemon, "list", token="wrong")
    assert refused.returncode == 1
    assert "401" in refused.stderr
    missing = await cli(daemon, "show", "INC-2026-0404")
    assert missing.returncode == 1
    assert "404" in missing.stderr


async def test_unreachable_daemon_is_a_clear_error(daemon: TocsinProcess) -> None:
    result = await cli(daemon, "list")  # never started
    assert result.returncode == 1
    assert f"cannot reach {daemon.url}" in result.stderr
