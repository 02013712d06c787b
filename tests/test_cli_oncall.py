"""`tocsin oncall`, `tocsin schedules`, `tocsin overrides` against a running daemon: the text a person reads."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import pytest

from tests.process import TocsinProcess
from tests.support import API_TOKEN

pytestmark = pytest.mark.e2e


async def cli(daemon: TocsinProcess, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TOCSIN_URL": daemon.url, "TOCSIN_API_TOKEN": API_TOKEN, "USER": "dave"}

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "daemon", *args], capture_output=True, text=True, env=env, timeout=30, check=False
        )

    return await asyncio.to_thread(run)


async def test_oncall_schedules_and_overrides_from_the_command_line(daemon: TocsinProcess) -> None:
    daemon.start()
    await daemon.wait_ready()
    # 2027-01-04 is week 52 after Monday 2026-01-05: primary bob (52 mod 3 = 1), secondary carol; Berlin is UTC+1.
    before = await cli(daemon, "oncall", "--at", "2027-01-05T12:00:00Z")
    assert before.returncode == 0, before.stderr
    assert before.stdout.splitlines() == [
        "platform/primary    bob (Bob Okafor)  until 2027-01-11 08:00Z; next: carol at 2027-01-11 08:00Z",
        "platform/secondary  carol (Carol Diaz)  until 2027-01-11 08:00Z; next: alice at 2027-01-11 08:00Z",
        "platform/daytime    alice (Alice Ng)  until 2027-01-05 17:00Z; next: carol at 2027-01-06 08:00Z",
    ]
    added = await cli(
        daemon, "overrides", "add", "platform", "--rotation", "primary", "--person", "carol",
        "--start", "2027-01-05T10:00:00Z", "--duration", "4h", "-m", "bob at the dentist",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert added.stdout == "ovr-1: carol on platform/primary 2027-01-05 10:00Z → 2027-01-05 14:00Z\n"
    during = await cli(daemon, "oncall", "--at", "2027-01-05T12:00:00Z")
    assert during.stdout.splitlines()[0] == (
        "platform/primary    carol (Carol Diaz), override ovr-1  until 2027-01-05 14:00Z;"
        " next: bob at 2027-01-05 14:00Z"
    )
    listed = await cli(daemon, "overrides", "list", "platform")
    assert listed.stdout == (
        "ovr-1  primary    carol    2027-01-05 10:00Z → 2027-01-05 14:00Z  by dave  “bob at the dentist”\n"
    )
    shown = await cli(daemon, "schedules", "show", "platform", "--start", "2027-01-05T00:00:00Z", "--days", "1")
    lines = shown.stdout.splitlines()
    assert lines[0] == "platform (Europe/Berlin)"
    assert lines[1].startswith("calendar: http://127.0.0.1:9097/calendar/platform.")
    assert lines[1].endswith(".ics")
    assert lines[2:] == [
        "Tue 2027-01-05 01:00 CET → Tue 2027-01-05 11:00 CET  primary    bob",
        "Tue 2027-01-05 01:00 CET → Wed 2027-01-06 01:00 CET  secondary  carol",
        "Tue 2027-01-05 09:00 CET → Tue 2027-01-05 18:00 CET  daytime    alice",
        "Tue 2027-01-05 11:00 CET → Tue 2027-01-05 15:00 CET  primary    carol  override ovr-1",
        "Tue 2027-01-05 15:00 CET → Wed 2027-01-06 01:00 CET  primary    bob",
    ]
    removed = await cli(daemon, "overrides", "rm", "platform", "ovr-1")
    assert removed.stdout == "deleted ovr-1\n"
    again = await cli(daemon, "overrides", "rm", "platform", "ovr-1")
    assert again.returncode == 1
    assert again.stderr == "tocsin: 404: platform has no override 'ovr-1'\n"
    bad = await cli(
        daemon, "overrides", "add", "platform", "--rotation", "primary", "--person", "mallory",
        "--start", "2027-01-05T10:00:00Z", "--end", "2027-01-05T09:00:00Z",
    )  # fmt: skip
    assert bad.returncode == 1
    assert "person: unknown person 'mallory'" in bad.stderr
    assert "end: must be later than start" in bad.stderr
