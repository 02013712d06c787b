"""Load generators.

* ``run_wrk``: throughput, closed loop: wrk with C connections over a Lua script of pre-built bodies.
* The open-loop generator (``python -m tests.bench.loadgen``): latency at a fixed offered load. Requests are sent
  on a schedule (request i at t0 + i/rate) whatever the server does, and each latency is measured from the
  scheduled send time, not from when a connection happened to be free, so a slow server cannot hide its stalls
  by slowing the client down (coordinated omission). It prints one JSON line.
* ``send_once``: each body exactly once, C at a time, in the bench process (first pass, state loading).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import re
import shutil
import sys
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from tests.bench.report import answered, summarize

WRK = "wrk"


# -- wrk ------------------------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    duration: float  # seconds, as wrk measured it
    non2xx: int  # wrk's "Non-2xx or 3xx responses"
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]  # p50, p90, p99, max, mean: ack latency (request sent -> response read)
    cpu: float  # wrk's own user + system CPU-seconds
    output: str

    @property
    def rps(self) -> float:
        return self.requests / self.duration if self.duration else 0.0

    @property
    def accepted_rps(self) -> float:
        return (self.requests - self.non2xx) / self.duration if self.duration else 0.0


def wrk_path() -> str | None:
    return shutil.which(WRK)


def parse_wrk(output: str) -> dict[str, float]:
    """The ``BENCH key=value ...`` line the Lua script's done() prints, cross-checked with wrk's own summary."""
    match = re.search(r"^BENCH (.*)$", output, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"wrk printed no BENCH line:\n{output[-2000:]}")
    values = {k: float(v) for k, v in (item.split("=", 1) for item in match.group(1).split())}
    non2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", output)
    if non2xx is not None and int(non2xx.group(1)) != int(values["non2xx"]):
        raise RuntimeError(f"wrk's summary and the script disagree on non-2xx:\n{output}")
    return values


async def run_wrk(
    url: str, script: Path, connections: int, duration: int, out: Path, threads: int = 2, timeout: int = 10
) -> WrkResult:
    from tests.bench.procs import run_measured

    binary = wrk_path()
    if binary is None:
        raise SystemExit("bench: wrk not found on PATH; install it (apt-get install wrk)")
    args = [
        binary,
        f"-t{threads}",
        f"-c{connections}",
        f"-d{duration}s",
        f"--timeout={timeout}s",
        "--latency",
        "-s",
        str(script),
        url,
    ]
    done = await run_measured(args, out)
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited {done.returncode}:\n{done.output[-2000:]}")
    v = parse_wrk(done.output)
    return WrkResult(
        requests=int(v["requests"]),
        duration=v["duration_us"] / 1e6,
        non2xx=int(v["non2xx"]),
        socket_errors={k: int(v[k]) for k in ("connect", "read", "write", "timeout")},
        latency_ms={
            "p50": v["p50_us"] / 1000,
            "p90": v["p90_us"] / 1000,
            "p99": v["p99_us"] / 1000,
            "max": v["max_us"] / 1000,
            "mean": v["mean_us"] / 1000,
        },
        cpu=done.cpu,
        output=done.output,
    )


# -- each body once -------------------------------------------------------------------------------------------


@dataclass
class OnceResult:
    ok: int = 0
    non2xx: int = 0
    errors: int = 0
    elapsed: float = 0.0
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    first_failure: str = ""


async def send_once(
    url: str, bodies: Sequence[bytes], headers: dict[str, str], concurrency: int, timeout: float = 60
) -> OnceResult:
    """POST each body once, ``concurrency`` at a time; the bodies are taken in order."""
    result = OnceResult()
    queue = iter(bodies)
    headers = {"Content-Type": "application/json", **headers}

    async def worker(session: aiohttp.ClientSession) -> None:
        for body in queue:
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    text = await response.read()
                    result.statuses[response.status] += 1
                    if 200 <= response.status < 300:
                        result.ok += 1
                    else:
                        result.non2xx += 1
                        result.first_failure = result.first_failure or f"{response.status} {text[:300]!r}"
            except (aiohttp.ClientError, TimeoutError) as exc:
                result.errors += 1
                result.first_failure = result.first_failure or repr(exc)

    started = time.monotonic()
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
    result.elapsed = time.monotonic() - started
    return result


# -- open loop --------------------------------------------------------------------------------------------------


async def open_loop(
    url: str,
    bodies: Sequence[bytes],
    headers: dict[str, str],
    rate: float,
    duration: float,
    connections: int,
    offset: int = 0,
) -> dict[str, Any]:
    """Send ``rate`` requests per second for ``duration`` seconds on a fixed schedule, cycling over ``bodies``."""
    # perf_counter, not loop.time(): uvloop's loop time is libuv's, cached per iteration in whole milliseconds.
    clock = time.perf_counter
    headers = {"Content-Type": "application/json", **headers}
    latencies: list[float] = []
    lags: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    total = max(1, round(rate * duration))

    async def send(session: aiohttp.ClientSession, body: bytes, scheduled: float) -> None:
        try:
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                statuses[response.status] += 1
            latencies.append(clock() - scheduled)
        except (aiohttp.ClientError, TimeoutError) as exc:
            errors[type(exc).__name__] += 1

    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        tasks: set[asyncio.Task[None]] = set()
        start = clock() + 0.05
        for i in range(total):
            scheduled = start + i / rate
            delay = scheduled - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            lags.append(clock() - scheduled)
            task = asyncio.create_task(send(session, bodies[(offset + i) % len(bodies)], scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
        elapsed = clock() - start
    return {
        "offered_rps": rate,
        "scheduled": total,
        "completed": sum(statuses.values()),
        **answered(statuses, errors, elapsed, latencies),
        "send_lag_ms": summarize([x * 1000 for x in lags]),
    }


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.loadgen", description="open-loop HTTP POST generator")
    p.add_argument("--url", required=True)
    p.add_argument("--bodies", required=True, type=Path, help="one request body per line")
    p.add_argument("--rate", required=True, type=float, help="requests per second, on a fixed schedule")
    p.add_argument("--duration", required=True, type=float, help="seconds")
    p.add_argument("--connections", type=int, default=64, help="at most this many requests in flight")
    p.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    p.add_argument("--offset", type=int, default=0, help="start at this body")
    args = p.parse_args(argv)
    bodies, headers = read_bodies(args.bodies), dict(h.split(": ", 1) for h in args.header)
    return run_client(open_loop(args.url, bodies, headers, args.rate, args.duration, args.connections, args.offset))


def read_bodies(path: Path) -> list[bytes]:
    """The request bodies a client process sends: one per line of the file the bench wrote."""
    return [line for line in path.read_bytes().split(b"\n") if line]


def run_client(work: Coroutine[Any, Any, dict[str, Any]]) -> int:
    """Run a client's work on uvloop when it is installed, and print its result as one JSON line."""
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
