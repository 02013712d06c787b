"""Open endpoints: liveness, readiness (the store answers), metrics."""

from __future__ import annotations

import time

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from daemon import heartbeat_states
from daemon.http.errors import json_response
from daemon.http.keys import SERVICES
from daemon.metrics import STATES
from daemon.services import Services
from daemon.store.base import IncidentFilter, StoreUnavailable

# Open incidents per state whose MTTx series are created at scrape time; beyond this, newest first, an incident
# declared on another replica may have its first observation unseen by rate() (a storm's tail, not the norm).
PREPARE_LIMIT = 1000
STORE_EVERY = 10.0  # seconds between reads of the store for the gauges
log = structlog.get_logger("tocsin.http")


async def healthz(request: web.Request) -> web.Response:
    """Liveness, with each background loop's state (timers, outbox, retention).

    200 while every loop runs or waits for the store (an unreachable store is /readyz's business: restarting
    tocsin would not bring it back). 503 once a loop is crash-looping (several crashes in a row, each restarted):
    a liveness probe then restarts tocsin, and the failure is visible from outside. A loop's ``last_error`` is the
    exception's class name only, never its text.
    """
    svc = request.app[SERVICES]
    loops = {name: status.view() for name, status in svc.supervisor.report().items()}
    if svc.supervisor.crash_looping():
        return json_response({"status": "crash_looping", "loops": loops}, 503)
    return json_response({"status": "ok", "loops": loops})


async def readyz(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    try:
        await svc.store.ping()
    except StoreUnavailable as exc:
        svc.metrics.store_up.set(0)
        # /readyz is open to anyone: the store's error (addresses, paths) goes to the log, not the answer.
        log.warning("not_ready", error=str(exc))
        return json_response({"status": "unavailable", "store": "unavailable"}, 503, {"Retry-After": "5"})
    svc.metrics.store_up.set(1)
    return json_response({"status": "ready"})


async def metrics(request: web.Request) -> web.Response:
    svc = request.app[SERVICES]
    if time.monotonic() - svc.metrics.store_read_at >= STORE_EVERY:
        try:
            await _read_store(svc)
            svc.metrics.store_up.set(1)
        except StoreUnavailable:
            svc.metrics.store_up.set(0)
    body = svc.metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def _read_store(svc: Services) -> None:
    """Store-derived gauges, read at most every STORE_EVERY: every replica exports the same values, and
    frequent scrapes of several replicas do not make the store list every open incident each time."""
    svc.metrics.set_open_incidents(await svc.store.open_incident_counts())
    await heartbeat_states.export(svc.settings, svc.store, svc.metrics, svc.clock.now())
    # Each replica observes the transitions it decides, possibly of incidents another replica declared (or
    # that were declared before this process started): their series must exist before that observation.
    for state in STATES:
        page = await svc.store.list_incidents(IncidentFilter(state=state), PREPARE_LIMIT, None)
        for incident in page.items:
            svc.metrics.prepare_incident(incident.severity.value, incident.service)
    svc.metrics.store_read_at = time.monotonic()
