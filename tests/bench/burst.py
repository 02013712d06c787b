"""The storm's client (``python -m tests.bench.burst``): POST each body exactly once over C keep-alive connections,
as fast as the server answers, and print one JSON line (elapsed, statuses, ack latencies).

wrk cannot do this (it runs for a fixed duration, however early its threads stop), and aiohttp's client costs
several times more CPU per request than the server under test can spare on two cores: this is HTTP/1.1 by hand,
requests formatted once up front, a response read as a status line, headers and a Content-Length (or chunked)
body. It runs in its own process so that its CPU is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.bench.loadgen import read_bodies, run_client
from tests.bench.report import answered


def request_bytes(host: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _read_response(reader: asyncio.StreamReader) -> int:
    """The status code; the body is read and dropped."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def burst(url: str, bodies: Sequence[bytes], headers: dict[str, str], connections: int) -> dict[str, Any]:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    requests = [request_bytes(f"{host}:{port}", parts.path, headers, b) for b in bodies]
    queue: Iterator[bytes] = iter(requests)
    statuses: collections.Counter[int] = collections.Counter()
    errors: collections.Counter[str] = collections.Counter()
    latencies: list[float] = []
    clock = time.perf_counter
    streams = [await asyncio.open_connection(host, port) for _ in range(connections)]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for request in queue:
            sent = clock()
            try:
                writer.write(request)
                statuses[await _read_response(reader)] += 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] += 1
                return
            latencies.append(clock() - sent)

    started = clock()
    await asyncio.gather(*(worker(r, w) for r, w in streams))
    elapsed = clock() - started
    for _, writer in streams:
        writer.close()
    return {"requests": len(requests), **answered(statuses, errors, elapsed, latencies)}


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.bench.burst", description="each body POSTed once, C at a time")
    p.add_argument("--url", required=True)
    p.add_argument("--bodies", required=True, type=Path, help="one request body per line")
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--header", action="append", default=[], help="'Name: value', repeatable")
    args = p.parse_args(argv)
    bodies, headers = read_bodies(args.bodies), dict(h.split(": ", 1) for h in args.header)
    return run_client(burst(args.url, bodies, headers, args.connections))


if __name__ == "__main__":
    sys.exit(main())
