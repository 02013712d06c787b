"""Real `tocsin run` processes for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class TocsinProcess:
    def __init__(self, config: Path, port: int, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.config = config
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = env or {}
        self.log = log or config.with_name(f"tocsin-{port}.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "TOCSIN_LISTEN": f"127.0.0.1:{self.port}", "TOCSIN_LOG_LEVEL": "info", **self.env}
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "daemon", "run", "--config", str(self.config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
            )

    async def wait_ready(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.proc is not None
                if self.proc.poll() is not None:
                    raise RuntimeError(f"tocsin exited with {self.proc.returncode}:\n{self.log.read_text()[-3000:]}")
                try:
                    async with session.get(f"{self.url}/readyz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"tocsin not ready on {self.url}:\n{self.log.read_text()[-3000:]}")

    def kill(self) -> None:
        """SIGKILL: no chance to flush or clean up."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 30.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


async def stored_fingerprints(session: aiohttp.ClientSession, url: str, token: str) -> set[str]:
    """Every alert a running tocsin has stored, walking the API's pages."""
    seen: set[str] = set()
    cursor = ""
    while True:
        async with session.get(
            f"{url}/api/v1/alerts?limit=1000{cursor}", headers={"Authorization": f"Bearer {token}"}
        ) as response:
            assert response.status == 200
            page = await response.json()
        seen.update(a["fingerprint"] for a in page["alerts"])
        if not page["next_cursor"]:
            return seen
        cursor = f"&cursor={page['next_cursor']}"
