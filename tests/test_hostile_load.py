"""A flood of large unauthenticated bodies against a real `tocsin run` (defect 9 of issue 9).

80 senders push 10 MiB each at the three ingest routes, with and without Content-Length. tocsin answers each
from its headers (or after its route's small limit) instead of holding the bodies: the process's resident memory
stays within a bound, and a real alert sent in the middle of the flood is stored and answered at once.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp

from tests.process import TocsinProcess, stored_fingerprints
from tests.rawhttp import head, read_answer
from tests.support import AM_TOKEN, API_TOKEN, fixture

MiB = 1024 * 1024
SIZE = 10 * MiB
PIECE = b"x" * (256 * 1024)
SENDERS = 80
PACE = 0.05  # seconds between pieces: each body takes about two seconds to send
# Resident memory the flood may add to the process. On the code before the fix it added over a GiB.
RSS_GROWTH_BOUND = 100 * MiB

# (path, headers, chunked): unauthenticated, or with a signature that cannot match.
KINDS = [
    ("/api/v1/alerts/alertmanager", {"Content-Type": "application/json"}, False),
    ("/api/v1/alerts/alertmanager", {"Content-Type": "application/json", "Authorization": "Bearer wrong"}, True),
    ("/v2/enqueue", {"Content-Type": "application/json"}, False),
    ("/v2/enqueue", {"Content-Type": "application/json"}, True),
    ("/api/v1/webhooks/pagerduty", {"Content-Type": "application/json"}, False),
    (
        "/api/v1/webhooks/pagerduty",
        {"Content-Type": "application/json", "X-PagerDuty-Signature": "v1=" + "0" * 64},
        True,
    ),
]


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def push(port: int, path: str, headers: dict[str, str], chunked: bool) -> int:
    """Send a 10 MiB body; the answer's status, or 0 when tocsin closed the connection before reading it all."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        if chunked:
            writer.write(head("POST", path, {**headers, "Transfer-Encoding": "chunked"}))
        else:
            writer.write(head("POST", path, headers, SIZE))
        for _ in range(SIZE // len(PIECE)):
            writer.write(b"%x\r\n%b\r\n" % (len(PIECE), PIECE) if chunked else PIECE)
            await writer.drain()
            await asyncio.sleep(PACE)  # over a couple of seconds, as senders on a network would
        if chunked:
            writer.write(b"0\r\n\r\n")
        return (await read_answer(reader, timeout=60)).status
    except (ConnectionError, asyncio.IncompleteReadError):
        return 0
    finally:
        writer.close()


async def test_eighty_unauthenticated_10mib_bodies(daemon: TocsinProcess) -> None:
    daemon.start()
    await daemon.wait_ready()
    assert daemon.proc is not None
    pid = daemon.proc.pid
    before = rss(pid)
    peak = before
    flooding = True

    async def sample() -> None:
        nonlocal peak
        while flooding:
            peak = max(peak, rss(pid))
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    senders = [
        asyncio.create_task(push(daemon.port, *KINDS[n % len(KINDS)]))  # type: ignore[arg-type]
        for n in range(SENDERS)
    ]
    await asyncio.sleep(0.3)  # the flood is under way

    captured = fixture("alertmanager-webhook-1.json")
    async with aiohttp.ClientSession() as session:
        started = time.monotonic()
        async with session.post(
            f"{daemon.url}/api/v1/alerts/alertmanager",
            data=json.dumps(captured["body"]),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {AM_TOKEN}"},
        ) as response:
            answered = time.monotonic() - started
            assert response.status == 200, await response.text()
        still_flooding = sum(not s.done() for s in senders)

        statuses = await asyncio.gather(*senders)
        flooding = False
        await sampler
        after = rss(pid)
        print(
            f"RSS before {before / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB, after {after / MiB:.0f} MiB; "
            f"real alert answered in {answered * 1000:.0f} ms with {still_flooding} senders still pushing; "
            f"statuses {sorted(set(statuses))}"
        )
        assert still_flooding > 0  # the alert really went in during the flood
        assert answered < 1.0
        assert not [s for s in statuses if s not in (0, 401, 413, 503)]
        assert peak - before < RSS_GROWTH_BOUND
        assert await stored_fingerprints(session, daemon.url, API_TOKEN) == {"40f56d76da7d4a2d"}
