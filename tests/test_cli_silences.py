"""`tocsin silences` and `tocsin heartbeats` against a running daemon: the text a person reads."""

from __future__ import annotations

import re

import aiohttp
import pytest

from tests.process import TocsinProcess
from tests.support import AM_TOKEN
from tests.test_cli_oncall import cli

pytestmark = pytest.mark.e2e
UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


async def test_silences_added_listed_and_expired_from_the_command_line(daemon: TocsinProcess) -> None:
    daemon.start()
    await daemon.wait_ready()
    added = await cli(
        daemon, "silences", "add", "service=db", 'alertname=~"Disk.*"', "--duration", "2h", "-c", "migration"
    )
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()
    assert re.fullmatch(UUID, silence_id)

    listed = await cli(daemon, "silences", "list")
    [line] = listed.stdout.splitlines()
    assert line.startswith(f'{silence_id}  active   service="db", alertname=~"Disk.*"  ')
    assert line.endswith("  by dave  “migration”")

    expired = await cli(daemon, "silences", "expire", silence_id)
    assert expired.stdout == f"expired {silence_id}\n"
    assert (await cli(daemon, "silences", "list")).stdout == "no silences\n"
    assert (await cli(daemon, "silences", "list", "--expired")).stdout.startswith(f"{silence_id}  expired")

    bad = await cli(daemon, "silences", "add", 'service=~"("', "-c", "x")
    assert bad.returncode != 0
    assert "bad" in bad.stderr.lower() or "regex" in bad.stderr.lower()
    unknown = await cli(daemon, "silences", "expire", "nope")
    assert unknown.returncode == 1
    assert unknown.stderr.startswith("tocsin: 404: silence nope not found")


async def test_heartbeats_from_the_command_line(daemon: TocsinProcess) -> None:
    daemon.start()
    await daemon.wait_ready()
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            f"{daemon.url}/api/v1/heartbeats/nightly-backup", headers={"Authorization": f"Bearer {AM_TOKEN}"}
        ) as response,
    ):
        assert response.status == 200
    shown = await cli(daemon, "heartbeats")
    assert shown.returncode == 0, shown.stderr
    watchdog, backup = shown.stdout.splitlines()
    assert watchdog == "watchdog        inactive  never pinged"
    assert re.fullmatch(r"nightly-backup  up        last ping \S+ \S+Z; due \S+ \S+Z \(in 1d\S*\)", backup), backup
