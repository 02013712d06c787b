"""The board's incident list with many incidents in the store: how long its first page takes to render.

In process (the aiohttp test server on the real store), signed in with a session cookie made as sign-in makes it;
mostly resolved incidents and some open ones, as a long-lived tocsin has. Figures only, no threshold.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from daemon.board import session
from daemon.clock import SystemClock
from daemon.config.loader import load_settings
from daemon.http.app import build_app
from daemon.http.keys import SERVICES
from tests.bench.procs import Redis
from tests.bench.report import say, summarize
from tests.support import AM_TOKEN, API_TOKEN, am_alert, am_webhook, resolved, write_config

BATCH = 500  # alerts per webhook: each new service declares an incident (SEV3, so no verification on resolve)
REQUESTS = 30


@dataclass
class BoardResult:
    store: str
    incidents: int
    open: int
    fill_s: float
    first_page_ms: list[float]
    open_filter_ms: list[float]
    resolved_page_ms: list[float]


async def _fill(client: TestClient[Any, Any], total: int, open_: int) -> None:
    headers = {"Authorization": f"Bearer {AM_TOKEN}"}
    for start in range(0, total, BATCH):
        alerts = [
            am_alert("BoardBench", service=f"svc-{n:05d}", severity="warning", fingerprint=f"bench-{n}")
            for n in range(start, min(total, start + BATCH))
        ]
        for body in (alerts, [resolved(a) for a in alerts if int(a["fingerprint"][6:]) >= open_]):
            if body:
                response = await client.post("/api/v1/alerts/alertmanager", json=am_webhook(*body), headers=headers)
                if response.status != 200:
                    raise RuntimeError(f"fill: {response.status} {await response.text()}")


async def _timed(client: TestClient[Any, Any], path: str, cookie: str) -> list[float]:
    took = []
    for _ in range(REQUESTS):
        began = time.perf_counter()
        response = await client.get(path, headers={"Cookie": f"{session.COOKIE}={cookie}"}, allow_redirects=False)
        await response.read()
        took.append((time.perf_counter() - began) * 1000)
        if response.status != 200:
            raise RuntimeError(f"{path}: {response.status}")
    return took


async def board_run(store: str, incidents: int, open_: int, run_dir: Path) -> BoardResult:
    redis = None
    overrides: dict[str, Any] = {"channels": None}
    if store == "redis":
        redis = Redis(run_dir)
        redis.start()
        overrides["store"] = redis.url
    try:
        settings = load_settings(write_config(run_dir, overrides), environ={})
        app = build_app(settings, clock=SystemClock(), background=False)
        client: TestClient[Any, Any] = TestClient(TestServer(app))
        await client.start_server()
        try:
            began = time.perf_counter()
            await _fill(client, incidents, open_)
            fill_s = time.perf_counter() - began
            svc = app[SERVICES]
            counted = sum((await svc.store.open_incident_counts()).values())
            if counted != open_:
                raise RuntimeError(f"fill: {counted} open incidents, expected {open_}")
            cookie = session.issue(svc.link_secret, "bench", API_TOKEN, svc.clock.now(), settings.board.session_ttl)
            return BoardResult(
                store,
                incidents,
                open_,
                fill_s,
                await _timed(client, "/", cookie),
                await _timed(client, "/?state=triggered&service=svc-00007", cookie),
                await _timed(client, "/?state=resolved", cookie),
            )
        finally:
            await client.close()
    finally:
        if redis is not None:
            redis.stop()


def describe_board(r: BoardResult) -> None:
    def p(values: list[float]) -> str:
        s = summarize(values)
        return f"p50 {s['p50']:.1f} ms, p90 {s['p90']:.1f} ms"

    say(
        f"board on {r.store}: {r.incidents:,} incidents ({r.open} open; filled in {r.fill_s:.0f} s); "
        f"{REQUESTS} requests each"
    )
    say(f"  incident list, first page (open first, then resolved): {p(r.first_page_ms)}")
    say(f"  filtered by state and service: {p(r.open_filter_ms)}")
    say(f"  resolved only, first page: {p(r.resolved_page_ms)}")
