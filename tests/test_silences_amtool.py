"""The real amtool 0.25 (Debian's prometheus-alertmanager) manages silences in a running tocsin."""

from __future__ import annotations

import asyncio
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.process import TocsinProcess, free_port
from tests.programs import require
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, API_TOKEN, am_alert, am_webhook, write_config

pytestmark = pytest.mark.e2e


async def amtool(daemon: TocsinProcess, http_config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [require("amtool"), f"--alertmanager.url={daemon.url}", f"--http.config.file={http_config}", *args]
    return await asyncio.to_thread(subprocess.run, command, capture_output=True, text=True, timeout=30, check=False)


@pytest.fixture
def http_config(tmp_path: Path) -> Path:
    path = tmp_path / "amtool-http.yml"
    path.write_text(f"authorization:\n  credentials: {API_TOKEN}\n")
    return path


async def test_amtool_adds_queries_and_expires_silences(daemon: TocsinProcess, http_config: Path) -> None:
    daemon.start()
    await daemon.wait_ready()
    added = await amtool(
        daemon, http_config, "silence", "add", "service=db", 'alertname=~"Disk.*"',
        "--duration=2h", "--comment=migrating the database", "--author=dave",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    silence_id = added.stdout.strip()
    assert len(silence_id) == 36  # a UUID, as Alertmanager's

    other = await amtool(daemon, http_config, "silence", "add", "team=storage", "--duration=1h", "--comment=x")
    assert other.returncode == 0, other.stderr

    query = await amtool(daemon, http_config, "-o", "json", "silence", "query", "service=db")
    assert query.returncode == 0, query.stderr
    [found] = json.loads(query.stdout)
    assert found["id"] == silence_id
    assert found["status"]["state"] == "active"
    assert found["createdBy"] == "dave"
    assert found["comment"] == "migrating the database"
    assert {(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in found["matchers"]} == {
        ("service", "db", False, True),
        ("alertname", "Disk.*", True, True),
    }
    quiet = await amtool(daemon, http_config, "silence", "query", "-q")
    assert sorted(quiet.stdout.split()) == sorted([silence_id, other.stdout.strip()])

    expired = await amtool(daemon, http_config, "silence", "expire", silence_id)
    assert expired.returncode == 0, expired.stderr
    active = await amtool(daemon, http_config, "silence", "query", "-q")
    assert active.stdout.split() == [other.stdout.strip()]
    everything = await amtool(daemon, http_config, "-o", "json", "silence", "query", "--expired")
    assert [s["id"] for s in json.loads(everything.stdout)] == [silence_id]


async def test_amtool_without_the_api_token_is_refused(daemon: TocsinProcess, tmp_path: Path) -> None:
    daemon.start()
    await daemon.wait_ready()
    nothing = tmp_path / "none.yml"
    nothing.write_text("{}\n")
    refused = await amtool(daemon, nothing, "silence", "add", "service=db", "--comment=x")
    assert refused.returncode != 0
    assert "401" in refused.stderr or "Unauthorized" in refused.stderr


async def _post(session: aiohttp.ClientSession, url: str, payload: Any) -> None:
    headers = {"Authorization": f"Bearer {AM_TOKEN}"}
    async with session.post(f"{url}/api/v1/alerts/alertmanager", json=payload, headers=headers) as response:
        assert response.status == 200, await response.text()


async def _get(session: aiohttp.ClientSession, url: str, path: str) -> Any:
    async with session.get(f"{url}{path}", headers={"Authorization": f"Bearer {API_TOKEN}"}) as response:
        assert response.status == 200
        return await response.json()


async def test_an_amtool_silence_holds_a_matching_alert_until_it_is_expired(
    tmp_path: Path, http_config: Path, http_sink: HttpSink
) -> None:
    config = write_config(tmp_path, {"notify": {"retries": 0}}, sink=http_sink.address)
    daemon = TocsinProcess(config, free_port())
    try:
        daemon.start()
        await daemon.wait_ready()
        added = await amtool(daemon, http_config, "silence", "add", "service=checkout", "--duration=2h", "--comment=x")
        assert added.returncode == 0, added.stderr
        silence_id = added.stdout.strip()
        now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
        alert = am_alert(starts_at=now)  # SEV1 on checkout: it would page oncall-primary at once
        async with aiohttp.ClientSession() as session:
            await _post(session, daemon.url, am_webhook(alert))
            [stored] = (await _get(session, daemon.url, "/api/v1/alerts"))["alerts"]
            assert stored["silenced_by"] == [silence_id]
            assert (await _get(session, daemon.url, "/api/v1/incidents"))["incidents"] == []
            assert http_sink.started == 0  # no sink was paged

            expired = await amtool(daemon, http_config, "silence", "expire", silence_id)
            assert expired.returncode == 0, expired.stderr
            # The still-firing alert is taken as if it fired now: it declares and pages at once.
            await http_sink.wait_for("oncall-primary")
            [incident] = (await _get(session, daemon.url, "/api/v1/incidents"))["incidents"]
            assert incident["severity"] == "SEV1"
            [stored] = (await _get(session, daemon.url, "/api/v1/alerts"))["alerts"]
            assert stored["silenced_by"] == []
        assert set(http_sink.received) == {"/oncall-primary"}
    finally:
        daemon.stop()
