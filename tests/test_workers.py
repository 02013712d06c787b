"""`workers: 2`: two processes on one port and one SQLite file behave as one tocsin."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.process import TocsinProcess, free_port
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, API_TOKEN, am_alert, am_webhook, write_config
from tests.test_ack_links import ACK

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
        children = workers_of(pid, 2)
        assert daemon.terminate() == 0
        await asyncio.sleep(0.2)
        assert all(not Path(f"/proc/{child}").exists() for child in children)
        # Each line says which worker wrote it; the parent's first line names them.
        records = [json.loads(line) for line in daemon.log.read_text().splitlines()]
        (started,) = [r for r in records if r["event"] == "workers_started"]
        assert (started["workers"], sorted(started["pids"])) == (2, sorted(children))
        assert sorted(r["worker"] for r in records if r["event"] in ("listening", "stopped")) == [1, 1, 2, 2]
    finally:
        daemon.stop()


async def test_workers_without_a_link_secret_all_honour_the_links_any_of_them_sent(
    tmp_path: Path, http_sink: HttpSink
) -> None:
    config = write_config(
        tmp_path, {"workers": 2, "link_secret": None, "notify": {"retries": 0}}, sink=http_sink.address
    )
    daemon = TocsinProcess(config, free_port())
    daemon.start()
    try:
        await daemon.wait_ready()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
            async with session.post(
                f"{daemon.url}/api/v1/alerts/alertmanager",
                json=am_webhook(am_alert("HighErrorRate", "checkout")),
                headers={"Authorization": f"Bearer {AM_TOKEN}"},
            ) as response:
                assert response.status == 200
            await http_sink.wait_for("oncall-primary")
            match = ACK.search(http_sink.received["/oncall-primary"][0]["message"])
            assert match is not None
            # Each on a new connection, which the kernel gives to either worker: both know the link.
            for _ in range(20):
                async with session.get(daemon.url + match.group(1)) as response:
                    assert response.status == 200
                    assert "Acknowledge INC-2026-0001?" in await response.text()
    finally:
        daemon.stop()


def workers_of(pid: int, count: int, timeout: float = 15.0) -> list[int]:
    """The worker processes of `tocsin run` ``pid``, as soon as there are ``count`` of them."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
        if len(children) >= count:
            return children
        time.sleep(0.005)
    raise TimeoutError(f"tocsin {pid} did not start {count} workers")


def running(pid: int) -> bool:
    try:
        return "zombie" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def gone(pids: list[int], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(running(p) for p in pids):
            return True
        time.sleep(0.02)
    return False


def test_a_stop_while_the_workers_are_still_starting_is_a_clean_stop(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"workers": 2})
    daemon = TocsinProcess(config, free_port())
    daemon.start()
    try:
        assert daemon.proc is not None
        workers = workers_of(daemon.proc.pid, 2)  # forked, far from handling SIGTERM in their event loops
        assert daemon.terminate() == 0, daemon.log.read_text()
        assert gone(workers)
        log = daemon.log.read_text()
        assert "worker_died" not in log
        # Each worker held the stop until its event loop took it, then drained (its timers and outbox may have
        # been at work already): none was cut down by the signal.
        assert log.count('"stopped"') == 2
    finally:
        daemon.stop()


async def test_workers_end_with_their_parent_when_it_is_killed(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"workers": 2})
    daemon = TocsinProcess(config, free_port())
    daemon.start()
    try:
        await daemon.wait_ready()
        assert daemon.proc is not None
        workers = workers_of(daemon.proc.pid, 2)
        daemon.kill()  # SIGKILL to the parent alone, as an operator's `kill -9 <MainPID>` or the OOM killer
        # No worker is left serving the port beside the next tocsin.
        assert gone(workers)
    finally:
        daemon.stop()


def test_a_port_another_tocsins_workers_serve_is_one_line_and_exit_1(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"workers": 2})
    with socket.socket() as taken:
        # As another tocsin's workers bind it: with SO_REUSEPORT, which these workers would share without a word.
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        run = subprocess.run(
            [sys.executable, "-m", "daemon", "run", "--config", str(config)],
            env={**os.environ, "TOCSIN_LISTEN": f"127.0.0.1:{port}"},
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1] == f"tocsin: cannot listen on 127.0.0.1:{port}: address already in use"


async def test_ctrl_c_in_a_terminal_drains_every_worker_once(tmp_path: Path) -> None:
    """A terminal sends SIGINT to its whole foreground process group; the workers must hear it from the parent
    alone, or the forwarded copy is a second signal, which ends a drain at once."""
    config = write_config(tmp_path, {"workers": 2})
    port = free_port()
    log = tmp_path / "tocsin.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(config)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "TOCSIN_LISTEN": f"127.0.0.1:{port}"},
            start_new_session=True,  # its own process group, as a shell's foreground job
        )
    try:
        daemon = TocsinProcess(config, port)
        daemon.proc = proc
        await daemon.wait_ready()
        workers_of(proc.pid, 2)
        deadline = time.monotonic() + 15
        while log.read_text().count('"listening"') < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        os.killpg(proc.pid, signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 30) == 0, log.read_text()
        text = log.read_text()
        assert "forced_exit" not in text
        assert text.count('"stopped"') == 2
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
