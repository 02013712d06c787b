"""Reload of a real `tocsin run` (SIGHUP, several workers, the TLS certificate swapped into a running server), and
a reload that meets its store down."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import ssl
import stat
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from daemon.clock import ManualClock
from daemon.generations import shared_folder
from tests.process import TocsinProcess, free_port
from tests.redis_server import RedisServer
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, API_TOKEN, am_alert, am_webhook, make_settings, start_tocsin, write_config

pytestmark = pytest.mark.e2e

RELOADED = "tocsin_config_last_reload_successful"
RELOADED_AT = "tocsin_config_last_reload_success_timestamp_seconds"
NOTIFY = {"notify": {"retries": 0}}


async def until(check: Callable[[], Awaitable[bool]], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "not within the timeout"
        await asyncio.sleep(0.05)


async def gauge(session: aiohttp.ClientSession, url: str, name: str = RELOADED, **ssl_: Any) -> float:
    async with session.get(f"{url}/metrics", **ssl_) as response:
        text = await response.text()
    [line] = [line for line in text.splitlines() if line.startswith(f"{name} ")]
    return float(line.split()[1])


async def fire(session: aiohttp.ClientSession, url: str, alert: dict[str, Any]) -> None:
    headers = {"Authorization": f"Bearer {AM_TOKEN}"}
    async with session.post(f"{url}/api/v1/alerts/alertmanager", json=am_webhook(alert), headers=headers) as response:
        assert response.status == 200, await response.text()


def break_config(path: Path) -> None:
    path.write_text("routes:\n  - policy: no-such-policy\n")


def soft(after: str) -> dict[str, Any]:
    """page-soft (where warnings go) with a level 1 to the manager ``after`` the first page."""
    levels = [{"after": "0s", "notify": ["team-chat"]}, {"after": after, "notify": ["eng-manager"]}]
    return {**NOTIFY, "policies": {"page-soft": {"levels": levels}}}


async def test_sighup_refuses_a_broken_file_keeps_paging_then_moves_the_next_level(
    tmp_path: Path, http_sink: HttpSink
) -> None:
    config = write_config(tmp_path, soft("1h"), sink=http_sink.address)
    daemon = TocsinProcess(config, free_port())
    daemon.start()
    try:
        await daemon.wait_ready()
        assert daemon.proc is not None
        async with aiohttp.ClientSession() as session:
            assert await gauge(session, daemon.url) == 1
            started = await gauge(session, daemon.url, RELOADED_AT)
            await fire(session, daemon.url, am_alert("DiskFull", "db", severity="warning"))
            await http_sink.wait_for("team-chat")  # level 0; level 1 is an hour away
            break_config(config)
            daemon.proc.send_signal(signal.SIGHUP)

            async def refused() -> bool:
                return await gauge(session, daemon.url) == 0

            await until(refused)
            log = daemon.log.read_text()
            assert '"event": "reload_refused"' in log
            assert "unknown policy 'no-such-policy'" in log
            # The running configuration still pages: another warning, another incident, team-chat again.
            await fire(session, daemon.url, am_alert("QueueLag", "billing", severity="warning"))
            await http_sink.wait_for("team-chat", 2)
            # A good file moves level 1 from an hour to 2 seconds: both open incidents page the manager.
            write_config(tmp_path, soft("2s"), sink=http_sink.address)
            daemon.proc.send_signal(signal.SIGHUP)

            async def reloaded() -> bool:
                return await gauge(session, daemon.url) == 1

            await until(reloaded)
            assert await gauge(session, daemon.url, RELOADED_AT) > started
            await http_sink.wait_for("eng-manager", 2)
            assert http_sink.count("team-chat") == 2
        assert daemon.terminate() == 0
    finally:
        daemon.stop()


async def test_with_two_workers_reload_answers_once_both_run_the_new_configuration(
    tmp_path: Path, http_sink: HttpSink
) -> None:
    config = write_config(tmp_path, {**NOTIFY, "workers": 2}, sink=http_sink.address)
    daemon = TocsinProcess(config, free_port())
    daemon.start()
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    try:
        await daemon.wait_ready()
        # A fresh connection each time: the kernel spreads them over both workers.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:

            async def heartbeats_seen() -> set[tuple[str, ...]]:
                seen = set()
                for _ in range(30):
                    async with session.get(f"{daemon.url}/api/v1/heartbeats", headers=headers) as response:
                        seen.add(tuple(h["name"] for h in (await response.json())["heartbeats"]))
                return seen

            assert await heartbeats_seen() == {("watchdog", "nightly-backup")}
            write_config(tmp_path, {**NOTIFY, "workers": 2, "heartbeats": []}, sink=http_sink.address)
            async with session.post(f"{daemon.url}/-/reload", headers=headers) as response:
                assert response.status == 200, await response.text()
                answer = await response.json()
            assert answer["changed"] == ["heartbeats"]
            assert await heartbeats_seen() == {()}  # whichever worker answers
            break_config(config)
            async with session.post(f"{daemon.url}/-/reload", headers=headers) as response:
                assert response.status == 400
                problems = (await response.json())["error"]["details"]["problems"]
            assert problems == ["routes[0].policy: unknown policy 'no-such-policy' (known: none defined)"]
            assert await gauge(session, daemon.url) == 0  # the lowest of the workers'
            assert await heartbeats_seen() == {()}
            # SIGHUP to the parent reaches both workers.
            write_config(tmp_path, {**NOTIFY, "workers": 2}, sink=http_sink.address)
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGHUP)

            async def both_reloaded() -> bool:
                return await gauge(session, daemon.url) == 1

            await until(both_reloaded)
            assert await heartbeats_seen() == {("watchdog", "nightly-backup")}
        assert daemon.terminate() == 0
    finally:
        daemon.stop()


def make_certificate(directory: Path, name: str, serial: int) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
         "-set_serial", str(serial), "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def certificate_seen(port: int, trusted: ssl.SSLContext) -> tuple[str, str]:
    """The serial number and common name of the certificate a new TLS connection gets."""
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        trusted.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        peer = tls.getpeercert()
    assert peer is not None
    subject = dict(pair for rdn in peer["subject"] for pair in rdn)  # type: ignore[misc]
    return str(peer["serialNumber"]), str(subject["commonName"])


async def test_a_reload_swaps_the_certificate_new_connections_get(tmp_path: Path, http_sink: HttpSink) -> None:
    first, _ = make_certificate(tmp_path, "first", 0x1001)
    second, _ = make_certificate(tmp_path, "second", 0x1002)
    (tmp_path / "bad.crt").write_text("not a certificate\n")
    (tmp_path / "bad.key").write_text("not a key\n")
    trusted = ssl.create_default_context()
    trusted.load_verify_locations(cafile=str(first))
    trusted.load_verify_locations(cafile=str(second))
    port = free_port()
    url = f"https://127.0.0.1:{port}"

    def tls(name: str) -> dict[str, Any]:
        return {**NOTIFY, "public_url": url, "tls": {"cert_file": f"{name}.crt", "key_file": f"{name}.key"}}

    config = write_config(tmp_path, tls("first"), sink=http_sink.address)
    daemon = TocsinProcess(config, port)
    daemon.start()
    try:
        async with aiohttp.ClientSession() as session:

            async def ready() -> bool:
                try:
                    async with session.get(f"{url}/readyz", ssl=trusted) as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await until(ready)
            assert await asyncio.to_thread(certificate_seen, port, trusted) == ("1001", "first")
            write_config(tmp_path, tls("second"), sink=http_sink.address)
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGHUP)

            async def swapped() -> bool:
                return await asyncio.to_thread(certificate_seen, port, trusted) == ("1002", "second")

            await until(swapped)
            # A certificate that cannot be used is refused, and the one in use stays.
            write_config(tmp_path, tls("bad"), sink=http_sink.address)
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            async with session.post(f"{url}/-/reload", headers=headers, ssl=trusted) as response:
                assert response.status == 400
                [problem] = (await response.json())["error"]["details"]["problems"]
            assert problem.startswith(f"tls: {tmp_path / 'bad.crt'} and {tmp_path / 'bad.key'} are not a usable")
            assert await asyncio.to_thread(certificate_seen, port, trusted) == ("1002", "second")
            assert await gauge(session, url, ssl=trusted) == 0
        assert daemon.terminate() == 0
    finally:
        daemon.stop()


async def test_a_store_down_during_a_reload_is_said_and_a_reload_later_finishes_it(
    clock: ManualClock, http_sink: HttpSink, tmp_path: Path
) -> None:
    (tmp_path / "redis").mkdir()
    server = RedisServer(tmp_path / "redis", appendfsync="always")
    server.start()
    try:
        store = {**NOTIFY, "store": f"{server.url}?timeout=1"}
        settings = make_settings(tmp_path, soft("1h") | store, sink=http_sink.address)
        t = await start_tocsin(settings, clock, config_path=tmp_path / "tocsin.yml")
        await t.post_alertmanager(am_webhook(am_alert("DiskFull", "db", severity="warning")))
        await t.tick()
        assert http_sink.count("team-chat") == 1
        write_config(tmp_path, soft("2m") | store, sink=http_sink.address)
        server.stop()
        answer = await t.api("POST", "/-/reload", status=503)
        assert answer["error"]["code"] == "reload_incomplete"
        assert t.registry.get_sample_value(RELOADED) == 0
        server.start()
        answer = await t.api("POST", "/-/reload")
        assert answer["open_incidents"] == 1
        assert t.registry.get_sample_value(RELOADED) == 1
        await t.tick(120)
        assert http_sink.count("eng-manager") == 1  # level 1 at the new 2m
        await t.client.close()
    finally:
        server.stop()


@pytest.mark.parametrize("workers", [1, 2])
async def test_sighup_during_the_sigterm_drain_neither_kills_nor_reloads(tmp_path: Path, workers: int) -> None:
    # `systemctl reload` racing `systemctl stop`: the drain must go on to its end (exit 0), not be cut short by
    # SIGHUP's default action, and nothing is reloaded into a process that is stopping.
    sink = HttpSink(delay=30.0)  # pages under way hold the drain to its bound
    await sink.start()
    overrides = {"workers": workers, "drain_timeout": "3s", "notify": {"retries": 0, "timeout": "30s"}}
    config = write_config(tmp_path, overrides, sink=sink.address)
    daemon = TocsinProcess(config, free_port())
    daemon.start()
    try:
        await daemon.wait_ready()

        async def all_listening() -> bool:
            # One worker answering is ready; the stop must find every worker serving (a worker still starting
            # has no handler for SIGTERM yet, and ends at once without a "stopped" line).
            return daemon.log.read_text().count('"listening"') == workers

        await until(all_listening)
        async with aiohttp.ClientSession() as session:
            await fire(session, daemon.url, am_alert("DiskFull", "db"))

            async def paging() -> bool:
                return sink.started > 0

            await until(paging)
            assert daemon.proc is not None
            daemon.proc.send_signal(signal.SIGTERM)

            async def draining() -> bool:
                return '"stopping"' in daemon.log.read_text()

            await until(draining)
            write_config(tmp_path, {**overrides, "heartbeats": []}, sink=sink.address)
            daemon.proc.send_signal(signal.SIGHUP)
            code = await asyncio.to_thread(daemon.proc.wait, 15)
        log = daemon.log.read_text()
        assert code == 0, log[-3000:]
        assert '"config_reloaded"' not in log
        assert log.count('"stopped"') == workers
    finally:
        daemon.stop()
        await sink.stop()


@pytest.mark.parametrize("workers", [1, 2])
async def test_sighup_while_tocsin_starts_is_a_reload_once_it_serves(tmp_path: Path, workers: int) -> None:
    # `systemctl start` then `systemctl reload` at once (a configuration tool's handler): the signal must not end
    # tocsin (SIGHUP's default action, and systemd would not restart it: SIGHUP counts as a clean exit), nor be
    # dropped: the file may have changed after tocsin read it.
    sink = HttpSink()
    await sink.start()
    config = write_config(tmp_path, {**NOTIFY, "workers": workers}, sink=sink.address)
    daemon = TocsinProcess(config, free_port())
    daemon.start()
    try:

        async def configuration_read() -> bool:
            return daemon.log.exists() and '"config_warning"' in daemon.log.read_text()

        await until(configuration_read)
        assert daemon.proc is not None
        daemon.proc.send_signal(signal.SIGHUP)
        await daemon.wait_ready()

        async def reloaded() -> bool:
            return daemon.log.read_text().count('"config_reloaded"') >= workers

        await until(reloaded)
        assert daemon.terminate() == 0
    finally:
        daemon.stop()
        await sink.stop()


def test_the_reload_folder_is_private_to_tocsin_and_removed_at_exit() -> None:
    # Another local user who could write there could forge a worker's outcome, or hold up `/-/reload`.
    with shared_folder() as generations:
        folder = generations.folder
        generations.bump()
        generations.report(1, {"status": "reloaded"})
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert {stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == {0o600}
        assert folder.stat().st_uid == os.getuid()
    assert not folder.exists()
