"""HTTPS on `listen`: PagerDuty's own Python client (which insists on https) pages a real `tocsin run`."""

from __future__ import annotations

import asyncio
import gc
import ssl
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pagerduty
import pytest

from tests.process import TocsinProcess, free_port
from tests.support import API_TOKEN, ROUTING_KEY, write_config

pytestmark = pytest.mark.e2e


def make_certificate(directory: Path) -> tuple[Path, Path]:
    cert, key = directory / "tls.crt", directory / "tls.key"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=tocsin-test",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


async def wait_ready(url: str, context: ssl.SSLContext, daemon: TocsinProcess) -> None:
    deadline = time.monotonic() + 15
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert daemon.proc is not None
            assert daemon.proc.poll() is None, daemon.log.read_text()[-2000:]
            try:
                async with session.get(f"{url}/readyz", ssl=context) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise TimeoutError(daemon.log.read_text()[-2000:])


async def test_pagerduty_client_triggers_and_resolves_over_tls(tmp_path: Path) -> None:
    cert, _ = make_certificate(tmp_path)
    port = free_port()
    url = f"https://127.0.0.1:{port}"
    config = write_config(
        tmp_path,
        {"tls": {"cert_file": "tls.crt", "key_file": "tls.key"}, "public_url": url, "notify": {"retries": 0}},
        sink=f"127.0.0.1:{free_port()}",
    )
    daemon = TocsinProcess(config, port)
    daemon.start()
    try:
        trusted = ssl.create_default_context(cafile=str(cert))
        await wait_ready(url, trusted, daemon)

        def page() -> tuple[str, str]:
            with pagerduty.EventsApiV2Client(ROUTING_KEY, base_url=url, verify=trusted) as client:
                key = client.trigger(
                    "disk 95% full on db-1", "db-1", dedup_key="disk-db-1", payload={"severity": "warning"}
                )
                return key, client.resolve("disk-db-1")

        dedup_key, resolved_key = await asyncio.to_thread(page)
        gc.collect()  # the client's pool must have closed its TLS socket: a leak shows up here, not in a later test
        assert dedup_key == resolved_key == "disk-db-1"
        async with aiohttp.ClientSession() as session:
            headers = {"Authorization": f"Bearer {API_TOKEN}"}
            async with session.get(f"{url}/api/v1/incidents", headers=headers, ssl=trusted) as response:
                [incident] = (await response.json())["incidents"]
            # A warning is SEV3, which resolves without verification once its only alert resolved.
            assert (incident["severity"], incident["service"], incident["state"]) == ("SEV3", "db", "resolved")
            # Plain HTTP on the HTTPS port gets nowhere.
            with pytest.raises(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    await response.read()
    finally:
        daemon.stop()


def test_check_config_names_an_unusable_certificate(tmp_path: Path) -> None:
    (tmp_path / "bad.crt").write_text("not a certificate\n")
    (tmp_path / "bad.key").write_text("not a key\n")
    config = write_config(tmp_path, {"tls": {"cert_file": "bad.crt", "key_file": "missing.key"}})
    result = subprocess.run(
        [sys.executable, "-m", "daemon", "check-config", str(config)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 2
    assert f"tls.key_file: cannot read {tmp_path / 'missing.key'}" in result.stderr
