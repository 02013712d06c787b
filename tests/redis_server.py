"""A real redis-server on a free port, that tests can stop, kill and start again."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.process import free_port


class RedisServer:
    def __init__(self, directory: Path, port: int | None = None, appendfsync: str | None = None) -> None:
        self.dir = directory
        self.port = port or free_port()
        self.appendfsync = appendfsync  # None: no persistence; "always" or "everysec": AOF
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        args = [
            binary,
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--dir",
            str(self.dir),
            "--logfile",
            str(self.dir / "redis.log"),
            "--protected-mode",
            "no",
        ]
        if self.appendfsync:
            args += ["--appendonly", "yes", "--appendfsync", self.appendfsync]
        else:
            args += ["--appendonly", "no"]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                try:
                    if client.ping():
                        return
                except redis.exceptions.RedisError:
                    time.sleep(0.02)
            raise TimeoutError(f"redis-server did not start on {self.port}")
        finally:
            client.close()

    def kill(self) -> None:
        """SIGKILL: a crash, no shutdown save."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
