"""The operator's first hour at the command line: every message and exit status a person meets."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.process import TocsinProcess, free_port
from tests.support import API_TOKEN
from tests.test_config import write_example

pytestmark = pytest.mark.e2e


def tocsin(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")} | env
    return subprocess.run(
        [sys.executable, "-m", "daemon", *args], capture_output=True, text=True, env=environ, cwd=cwd, timeout=30
    )


def test_check_config_without_a_path_checks_the_default_or_fails(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    nothing = tocsin("check-config", cwd=empty)
    assert nothing.returncode == 2
    assert nothing.stdout == ""
    assert nothing.stderr.startswith("tocsin: no configuration: name one (tocsin check-config FILE")
    write_example(tmp_path / "here")
    found = tocsin("check-config", cwd=tmp_path / "here")
    assert found.returncode == 0, found.stderr
    assert found.stdout.startswith("ok: 4 severity rules")


def test_a_configuration_that_pages_nobody_is_warned_about(tmp_path: Path) -> None:
    def nothing_to_page(d: dict[str, object]) -> None:
        d.pop("channels")
        d.update(routes=[], policies={}, status_updates={}, people={}, schedules={})

    path = write_example(tmp_path, nothing_to_page)
    run = tocsin("check-config", str(path))
    assert run.returncode == 0, run.stderr
    assert "warning: channels is not set: nothing will page anyone (no notification can be sent)" in run.stderr
    assert "warning: routes is empty: no incident will page anyone" in run.stderr


@pytest.mark.parametrize(
    ("public_url", "warned"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://localhost:9098", True),
        ("https://tocsin.example.com", False),  # behind a proxy: ports may differ
        ("http://127.0.0.1:9097", False),
    ],
)
def test_a_public_url_that_cannot_reach_tocsin_is_warned_about(tmp_path: Path, public_url: str, warned: bool) -> None:
    path = write_example(tmp_path, lambda d: d.update(public_url=public_url))
    run = tocsin("check-config", str(path))
    assert run.returncode == 0
    line = f"warning: public_url {public_url} names port"
    assert (line in run.stderr) is warned, run.stderr
    if warned:
        assert "links in notifications (acknowledge, incident) will not reach it" in run.stderr


def test_a_busy_port_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = write_example(tmp_path, lambda d: d.update(listen=f"127.0.0.1:{port}", store="sqlite:///./t.db"))
        run = tocsin("run", "--config", str(path), TOCSIN_LOG_LEVEL="error")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == f"tocsin: cannot listen on 127.0.0.1:{port}: address already in use"
    assert "Traceback" not in run.stderr


def test_invalid_configuration_is_exit_2_for_run_and_check_config(tmp_path: Path) -> None:
    path = write_example(tmp_path, lambda d: d["routes"][0].update(policy="page-everyone"))
    for command in (["check-config", str(path)], ["run", "--config", str(path)]):
        result = tocsin(*command)
        assert result.returncode == 2, command
        assert "routes[0].policy: unknown policy 'page-everyone'" in result.stderr


def test_version_and_a_missing_token(tmp_path: Path) -> None:
    version = tocsin("--version")
    assert version.returncode == 0
    assert version.stdout.strip() == "tocsin 0.1.0"
    missing = tocsin("incidents", "list")
    assert missing.returncode != 0
    assert missing.stderr.strip() == "tocsin: set TOCSIN_API_TOKEN to one of the daemon's api_tokens"


async def test_the_whole_incident_from_the_command_line(daemon: TocsinProcess) -> None:
    daemon.start()
    await daemon.wait_ready()

    async def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return await asyncio.to_thread(tocsin, *args, TOCSIN_API_TOKEN=API_TOKEN, USER="erin")

    declared = await cli("incidents", "--url", daemon.url, "declare", "Checkout slow", "--severity", "sev2",
                         "--service", "checkout", "-m", "customers report timeouts")  # fmt: skip
    assert declared.returncode == 0, declared.stderr
    assert declared.stdout.splitlines()[0] == "INC-2026-0001  SEV2  triggered    Checkout slow"
    # Global options after the subcommand too; ids in any case.
    commander = await cli("incidents", "commander", "inc-2026-0001", "frank", "--url", daemon.url)
    assert "commander is frank" in commander.stdout
    severity = await cli("--url", daemon.url, "incidents", "severity", "INC-2026-0001", "sev1")
    assert severity.stdout.splitlines()[0].startswith("INC-2026-0001  SEV1")
    assert "SEV2 → SEV1 by erin" in severity.stdout
    update = await cli("--url", daemon.url, "incidents", "status-update", "INC-2026-0001", "identified")
    assert update.returncode == 0, update.stderr
    assert "[identified] We have identified the cause of Checkout slow" in update.stdout
    listed = await cli("--url", daemon.url, "incidents", "list", "--state", "open", "--service", "checkout")
    assert listed.stdout.split() == ["INC-2026-0001", "SEV1", "triggered", "Checkout", "slow"]
    none = await cli("--url", daemon.url, "incidents", "list", "--service", "db")
    assert none.stdout == "no incidents\n"
    alerts = await cli("--url", daemon.url, "alerts")
    assert alerts.stdout == "no alerts\n"
    note = await cli("--url", daemon.url, "incidents", "note", "INC-2026-0001", "rollback started")
    assert note.returncode == 0, note.stderr
    assert "erin       note                 rollback started" in note.stdout
    acked = await cli("--url", daemon.url, "incidents", "ack", "INC-2026-0001")
    assert "acknowledged by erin" in acked.stdout  # the actor defaults to $USER
    gone = await cli("--url", f"http://127.0.0.1:{free_port()}", "incidents", "list")
    assert gone.returncode == 1
    assert "cannot reach" in gone.stderr
