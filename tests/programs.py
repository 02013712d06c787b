"""Debian's real Alertmanager and Prometheus, started on free ports for end-to-end tests."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest

T = TypeVar("T")

ALERTMANAGER = "/usr/bin/prometheus-alertmanager"
PROMETHEUS = "/usr/bin/prometheus"


def require(program: str) -> str:
    """The program's path; a clear failure (not a skip, which would hide a missing install) when it is absent."""
    path = shutil.which(program)
    if path is None:
        pytest.fail(f"{program} not found: install Debian's prometheus and prometheus-alertmanager (.ci/run does)")
    return path


def run(*args: str) -> str:
    """Run a checker (promtool, amtool) and return its output; fail the test with that output if it fails."""
    done = subprocess.run([require(args[0]), *args[1:]], capture_output=True, text=True, timeout=60, check=False)
    output = done.stdout + done.stderr
    if done.returncode != 0:
        pytest.fail(f"{' '.join(args)} exited {done.returncode}:\n{output}")
    return output


async def until(probe: Callable[[], Awaitable[T | None]], what: str, timeout: float = 20.0) -> T:
    """Poll ``probe`` until it returns something other than None, or fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(0.1)


class Program:
    """A server program started with ``args``, ready when GET ``/-/ready`` answers 200, logging to a file."""

    def __init__(self, binary: str, args: list[str], port: int, log: Path) -> None:
        self.binary = binary
        self.args = args
        self.url = f"http://127.0.0.1:{port}"
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""

    async def start(self, timeout: float = 20.0) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen([require(self.binary), *self.args], stdout=out, stderr=subprocess.STDOUT)

        async def ready() -> bool | None:
            assert self.proc is not None
            if self.proc.poll() is not None:
                pytest.fail(f"{self.binary} exited with {self.proc.returncode}:\n{self.output()}")
            try:
                async with aiohttp.ClientSession() as session, session.get(f"{self.url}/-/ready") as response:
                    return True if response.status == 200 else None
            except aiohttp.ClientError:
                return None

        await until(ready, f"{self.binary} to be ready on {self.url}", timeout)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)

    async def get(self, path: str, **params: str) -> Any:
        async with aiohttp.ClientSession() as session, session.get(f"{self.url}{path}", params=params) as response:
            assert response.status == 200, await response.text()
            return await response.json()

    async def post(self, path: str, payload: Any) -> None:
        async with aiohttp.ClientSession() as session, session.post(f"{self.url}{path}", json=payload) as response:
            assert response.status == 200, await response.text()


def alertmanager(config: Path, port: int, workdir: Path) -> Program:
    args = [
        f"--config.file={config}",
        f"--storage.path={workdir / 'alertmanager-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: one instance, no peers to wait for
        "--log.level=debug",
    ]
    return Program(ALERTMANAGER, args, port, workdir / "alertmanager.log")


def prometheus(config: Path, port: int, workdir: Path) -> Program:
    args = [
        f"--config.file={config}",
        f"--storage.tsdb.path={workdir / 'prometheus-data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    return Program(PROMETHEUS, args, port, workdir / "prometheus.log")
