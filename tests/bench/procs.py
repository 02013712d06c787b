"""The processes the bench starts (tocsin, redis-server, Alertmanager, wrk, the open-loop generator), what they cost
(CPU-seconds and memory from /proc), and killing every one of them on the way out, Ctrl-C included."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.process import free_port
from tests.redis_server import RedisServer

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
ALERTMANAGER = "prometheus-alertmanager"

__all__ = ["free_port"]


# -- /proc ------------------------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants (tocsin may one day run several workers on one port)."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        todo += _children(p)
    return pids


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` and of its live descendants, in seconds (/proc/<pid>/stat)."""
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # fields 14 and 15 of stat(5): utime, stime
    return total / CLOCK_TICKS


def memory_mb(pid: int, key: str = "VmHWM", children: bool = True) -> float:
    """A /proc/<pid>/status memory line (VmHWM: peak RSS; VmRSS: now), summed over the tree (or of ``pid`` alone),
    in MB."""
    total = 0
    for p in tree(pid) if children else [pid]:
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith(key + ":"):
                        total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def machine_busy_seconds() -> float:
    """CPU-seconds the whole machine has been busy (all CPUs; /proc/stat: user nice system irq softirq steal)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def self_cpu_seconds() -> float:
    """The bench process's own CPU (its sink, its clients), not its children's."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_probe_ms() -> float:
    """How long a fixed pure-Python loop takes here, now (median of 3). A virtual machine's CPU can be twice as slow
    at one time as at another, without any process on it to blame: runs with a slower probe are slower runs."""
    times = []
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(1_000_000):
            total += i * i
        times.append((time.perf_counter() - started) * 1000)
    return sorted(times)[1]


def require(program: str, hint: str) -> str:
    path = shutil.which(program)
    if path is None:
        raise SystemExit(f"bench: {program} not found on PATH; {hint}")
    return path


# -- cleanup ----------------------------------------------------------------------------------------------------


class Reaper:
    """Every process the bench started; each in its own session, killed by its process group id."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def add(self, proc: subprocess.Popen[bytes] | None) -> None:
        if proc is not None:
            self.procs.append(proc)

    def kill_all(self) -> None:
        for proc in reversed(self.procs):
            if proc.returncode is None and proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    proc.kill()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(5)
        self.procs.clear()


REAPER = Reaper()


def spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True, stdin=subprocess.DEVNULL
        )
    REAPER.add(proc)
    return proc


@dataclass
class Finished:
    returncode: int
    cpu: float  # user + system CPU-seconds of the process and its reaped children (wait4's rusage)
    wall: float
    output: str


async def run_measured(args: list[str], out: Path, env: dict[str, str] | None = None) -> Finished:
    """Run a client (wrk, the open-loop generator) to completion; its own CPU comes from wait4's rusage."""
    started = time.monotonic()
    with out.open("wb") as f:
        proc = subprocess.Popen(
            args, stdout=f, stderr=subprocess.STDOUT, env=env, start_new_session=True, stdin=subprocess.DEVNULL
        )
    REAPER.add(proc)
    try:
        _, status, usage = await asyncio.to_thread(os.wait4, proc.pid, 0)
    except asyncio.CancelledError:  # Ctrl-C: the thread in wait4 returns once the client is dead
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Finished(
        proc.returncode, usage.ru_utime + usage.ru_stime, time.monotonic() - started, out.read_text(errors="replace")
    )


# -- servers ----------------------------------------------------------------------------------------------------


class Server:
    name = "server"

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def peak_mb(self) -> float:
        return memory_mb(self.pid, "VmHWM")

    def rss_mb(self) -> float:
        return memory_mb(self.pid, "VmRSS")

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (tocsin drains), then SIGKILL to the process group if it lingers."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                return self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # not a group leader (redis-server as tests/redis_server.py starts it)
                self.proc.kill()
            self.proc.wait(10)

    async def _wait_http(self, url: str, timeout: float, interval: float = 0.01) -> float:
        """Seconds until GET ``url`` answers 200, polled every ``interval``."""
        started = time.monotonic()
        deadline = started + timeout
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if self.proc is None or self.proc.poll() is not None:
                    code = None if self.proc is None else self.proc.returncode
                    raise RuntimeError(f"{self.name} exited with {code}:\n{self.tail()}")
                try:
                    async with session.get(url) as response:
                        if response.status == 200:
                            return time.monotonic() - started
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(interval)
        raise TimeoutError(f"{self.name} not ready at {url} after {timeout:.0f} s:\n{self.tail()}")


class Tocsin(Server):
    """``python -m daemon run --config`` (as tests/process.py's TocsinProcess), its logs at warning."""

    name = "tocsin"

    def __init__(self, config: Path, log: Path, port: int | None = None) -> None:
        super().__init__(log)
        self.config = config
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.spawned_at = 0.0

    def start(self) -> None:
        env = {**os.environ, "TOCSIN_LISTEN": f"127.0.0.1:{self.port}", "TOCSIN_LOG_LEVEL": "warning"}
        self.spawned_at = time.monotonic()
        self.proc = spawn([sys.executable, "-m", "daemon", "run", "--config", str(self.config)], self.log, env)

    async def wait_ready(self, timeout: float = 60.0) -> float:
        """Seconds from spawn to the first /readyz 200."""
        await self._wait_http(f"{self.url}/readyz", timeout)
        return time.monotonic() - self.spawned_at

    def log_summary(self) -> list[str]:
        """What tocsin logged (at warning and above): one line per distinct (level, event), with a count."""
        if not self.log.exists():
            return []
        counts: collections.Counter[str] = collections.Counter()
        for line in self.log.read_text(errors="replace").splitlines():
            try:
                record = json.loads(line)
                key = f"{record.get('level', '?')} {record.get('event', '?')}"
                if "error" in record:
                    key += f": {str(record['error'])[:160]}"
            except (ValueError, AttributeError):
                key = f"(unstructured) {line[:160]}"
            counts[key] += 1
        return [f"{n} x {key}" for key, n in counts.most_common()]


class Alertmanager(Server):
    """Debian's prometheus-alertmanager: one instance, no gossip, logging at warn."""

    name = "alertmanager"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir / "alertmanager.log")
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        config = self.workdir / "alertmanager.yml"
        # Grouped by service like tocsin's correlation; a receiver with nothing configured sends nothing.
        config.write_text("route:\n  receiver: blackhole\n  group_by: [service]\nreceivers:\n  - name: blackhole\n")
        args = [
            require(ALERTMANAGER, "install Debian's prometheus-alertmanager (apt-get install prometheus-alertmanager)"),
            f"--config.file={config}",
            f"--storage.path={self.workdir / 'alertmanager-data'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
            "--cluster.listen-address=",
            "--log.level=warn",
        ]
        self.proc = spawn(args, self.log)

    async def wait_ready(self, timeout: float = 30.0) -> float:
        return await self._wait_http(f"{self.url}/-/ready", timeout)


class Redis(Server):
    """tests/redis_server.py's RedisServer with AOF, appendfsync everysec."""

    name = "redis-server"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir / "redis.log")
        require("redis-server", "install Debian's redis-server (apt-get install redis-server)")
        self.server = RedisServer(workdir, appendfsync="everysec")

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        try:
            self.server.start()
        finally:
            self.proc = self.server.proc
            REAPER.add(self.proc)

    def stop(self, timeout: float = 30.0) -> int | None:
        self.server.stop()
        return super().stop(timeout)
