"""Ingest endpoints: thin handlers around the pure parsers; a 2xx is sent only after the commit.

Each checks what it can from the headers (credentials, Content-Type, declared length) before it reads a byte of
the body, and reads at most its route's limit: an unauthenticated sender costs no memory.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import structlog
from aiohttp import web

from daemon.config.settings import GrafanaOnCallIntegration
from daemon.engine.events import AcknowledgeAlert, AlertIn, AlertsReceived, PagerDutyIncident
from daemon.http.body import read_body, require_json
from daemon.http.errors import json_response
from daemon.http.keys import BODY_BUDGET, RECENT_WEBHOOKS, SERVICES
from daemon.http.rejections import REJECTIONS, named_field
from daemon.ingest import alertmanager, grafana_oncall, pagerduty_events, pagerduty_webhooks
from daemon.ingest.auth import presented_secret, token_matches
from daemon.ingest.errors import IngestError, unauthorized
from daemon.services import Services
from daemon.store.base import StoreUnavailable

log = structlog.get_logger("tocsin.ingest")
BIG_BODY = 256 * 1024  # parsed in a thread: a 10 MiB webhook takes a few hundred ms to validate

P = ParamSpec("P")
R = TypeVar("R")


async def off_loop_if_big(raw: bytes, parse: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Small bodies are parsed at once; big ones in a thread, so the event loop keeps answering."""
    if len(raw) > BIG_BODY:
        return await asyncio.to_thread(parse, *args, **kwargs)
    return parse(*args, **kwargs)


def _reject(request: web.Request, source: str, exc: IngestError) -> None:
    svc = request.app[SERVICES]
    svc.metrics.rejected.labels(source, exc.code).inc()
    left_out = request.app[REJECTIONS].admit(source, exc.code, svc.clock.now().timestamp())
    if left_out is None:
        return  # counted in the metric; the next line of this source and reason says how many were left out
    field, problem = named_field(exc.details)
    extra = {"field": field, "problem": problem, "suppressed": left_out or None}
    log.warning(
        "ingest_rejected",
        source=source,
        status=exc.status,
        code=exc.code,
        message=exc.message,
        remote=request.remote,
        **{k: v for k, v in extra.items() if v is not None},
    )


Scope = Callable[[tuple[AlertIn, ...]], tuple[AlertIn, ...]]


def _alertmanager_credentials(request: web.Request) -> Scope:
    tokens = request.app[SERVICES].settings.sources.alertmanager.tokens
    if tokens and not token_matches(presented_secret(request.headers.get("Authorization")), tokens):
        raise unauthorized()
    return lambda alerts: alerts


async def alertmanager_webhook(request: web.Request) -> web.Response:
    return await _alertmanager_hook(request, "alertmanager", _alertmanager_credentials)


async def _alertmanager_hook(
    request: web.Request, source: str, credentials: Callable[[web.Request], Scope]
) -> web.Response:
    """An Alertmanager webhook: ``credentials`` checks who sends it (before the body is read) and says how its
    alerts are scoped (as they are, or as a Grafana OnCall integration's)."""
    svc = request.app[SERVICES]
    started = time.perf_counter()
    settings = svc.settings
    try:
        scope = credentials(request)
        require_json(request)
        raw = await read_body(request, settings.limits.max_body_bytes, request.app[BODY_BUDGET])
        recent = request.app[RECENT_WEBHOOKS]
        hook = recent.get(raw, settings.limits)
        remembered = hook is not None
        if hook is None:
            hook = await off_loop_if_big(raw, alertmanager.parse, raw, settings.limits)
    except IngestError as exc:
        _reject(request, source, exc)
        raise
    alerts = scope(hook.alerts)
    try:
        decision = await svc.pipeline.submit_alerts(alerts)
    except StoreUnavailable:
        svc.metrics.rejected.labels(source, "store_unavailable").inc()
        raise
    if not remembered and alerts and decision.deduplicated + decision.stale == len(alerts):
        # A body that changed nothing is a re-send, and will be sent again as it is. One that brought news is
        # not kept: in a storm of new or changed alerts each body comes once, and keeping them all would only
        # churn memory and the garbage collector.
        recent.put(raw, settings.limits, hook)
    if hook.truncated:
        svc.metrics.truncated.labels(source).inc(hook.truncated)
        log.warning(
            "alerts_truncated",
            receiver=hook.receiver,
            truncated=hook.truncated,
            hint="raise max_alerts in Alertmanager's webhook_config or split the route",
        )
    svc.metrics.alerts_received.labels(source).inc(len(alerts))
    if decision.deduplicated:
        svc.metrics.alerts_deduplicated.labels(source).inc(decision.deduplicated)
    if decision.stale:
        svc.metrics.alerts_stale.labels(source).inc(decision.stale)
    svc.metrics.ingest_latency.labels(source).observe(time.perf_counter() - started)
    return json_response({"status": "success", "alerts": len(alerts), "truncated_alerts": hook.truncated})


_PD_STATES = {
    401: "unauthorized",
    408: "request timeout",
    413: "request too large",
    415: "unsupported media type",
    503: "unavailable",
}


def _pd_error(
    status: int, state: str, message: str, errors: list[str], headers: dict[str, str] | None = None
) -> web.Response:
    return json_response({"status": state, "message": message, "errors": errors}, status, headers)


async def pagerduty_enqueue(request: web.Request) -> web.Response:
    """PagerDuty Events API v2, answering in PagerDuty's own shape for success and for every error."""
    svc = request.app[SERVICES]
    started = time.perf_counter()
    settings = svc.settings
    limit = settings.limits.max_event_bytes
    try:
        # The routing key is inside the body: what bounds an unauthenticated sender is the (small) event limit.
        require_json(request)
        raw = await read_body(request, limit, request.app[BODY_BUDGET], "max_event_bytes")
        event = await off_loop_if_big(
            raw,
            pagerduty_events.parse,
            raw,
            settings.sources.pagerduty.integrations,
            settings.limits,
            lambda: uuid.uuid4().hex,
        )
    except IngestError as exc:
        _reject(request, "pagerduty", exc)
        errors = exc.errors if isinstance(exc, pagerduty_events.PagerDutyError) else [exc.message]
        state = _PD_STATES.get(exc.status, "invalid event")
        message = "Event object is invalid" if exc.status in (400, 422) else exc.message
        return _pd_error(exc.status, state, message, errors, exc.headers)
    try:
        if event.action == "acknowledge":
            decision = await svc.pipeline.submit(AcknowledgeAlert(event.fingerprint, "pagerduty-events"))
        else:
            assert event.alert is not None
            decision = await svc.pipeline.submit(AlertsReceived((event.alert,)))
    except StoreUnavailable as exc:
        svc.metrics.rejected.labels("pagerduty", "store_unavailable").inc()
        log.warning("store_unavailable", error=str(exc))
        return _pd_error(503, "unavailable", "the store is unavailable; retry later", [str(exc)], {"Retry-After": "5"})
    if event.action != "acknowledge":
        svc.metrics.alerts_received.labels("pagerduty").inc()
    if decision.deduplicated:
        svc.metrics.alerts_deduplicated.labels("pagerduty").inc(decision.deduplicated)
    svc.metrics.ingest_latency.labels("pagerduty").observe(time.perf_counter() - started)
    return json_response({"status": "success", "message": "Event processed", "dedup_key": event.dedup_key}, 202)


async def _scoped_incident_key(svc: Services, event: PagerDutyIncident) -> PagerDutyIncident:
    """A PagerDuty incident's ``incident_key`` is the dedup_key its Events v2 sender chose; when that sender paged
    tocsin too, tocsin's alert has the dedup_key scoped to its integration: name that alert instead. A key that
    is itself a stored fingerprint keeps its meaning; of several integrations using the key, the one whose
    service PagerDuty names."""
    key = event.incident_key
    if not key:
        return event
    services = {i.service for i in svc.settings.sources.pagerduty.integrations.values()}
    candidates = {pagerduty_events.fingerprint(service, key): service for service in services}
    found = await svc.store.alert_versions([key, *candidates])
    if not found or key in found:
        return event
    named = [fp for fp in found if candidates[fp] == event.service]
    if named or len(found) == 1:
        return dataclasses.replace(event, incident_key=(named or list(found))[0])
    return event


async def pagerduty_webhook(request: web.Request) -> web.Response:
    """PagerDuty V3 webhooks: the signature header is checked before the body is read, the signature over the
    raw body before anything parses it; the event's signed id and occurred_at then guard against replays."""
    svc = request.app[SERVICES]
    settings = svc.settings
    limit = settings.limits.max_event_bytes
    try:
        secrets = [s.get_secret_value() for s in settings.sources.pagerduty.webhook_secrets]
        if not secrets:
            raise IngestError(401, "bad_signature", "no PagerDuty webhook secret is configured")
        offered = pagerduty_webhooks.signatures(request.headers.get("X-PagerDuty-Signature"))
        require_json(request)
        raw = await read_body(request, limit, request.app[BODY_BUDGET], "max_event_bytes")
        pagerduty_webhooks.verify(raw, offered, secrets)
        event = pagerduty_webhooks.parse(raw, svc.clock.now(), settings.limits.max_webhook_age)
    except IngestError as exc:
        _reject(request, "pagerduty_webhook", exc)
        raise
    if event is None:
        return json_response({"status": "ignored"})
    try:
        event = await _scoped_incident_key(svc, event)
        decision = await svc.pipeline.submit(event)
    except StoreUnavailable:
        svc.metrics.rejected.labels("pagerduty_webhook", "store_unavailable").inc()
        raise
    return json_response({"status": "ok" if decision.changed else "duplicate", "incident": decision.incident_id})


def _oncall_integration(request: web.Request) -> tuple[str, GrafanaOnCallIntegration]:
    """The key in the URL is the credential; it is never logged (the access log is off, and ours omit paths)."""
    key = request.match_info["key"]
    integration = grafana_oncall.find(request.app[SERVICES].settings.sources.grafana_oncall.integrations, key)
    if integration is None:
        raise unauthorized()
    return key, integration


def _oncall_credentials(request: web.Request) -> Scope:
    key, integration = _oncall_integration(request)
    return lambda alerts: grafana_oncall.from_alertmanager(alerts, key, integration)


async def grafana_oncall_alertmanager(request: web.Request) -> web.Response:
    """Grafana OnCall's Alertmanager integration URL: Alertmanager's webhook, this integration's service and
    severity."""
    return await _alertmanager_hook(request, "grafana_oncall", _oncall_credentials)


async def grafana_oncall_formatted(request: web.Request) -> web.Response:
    """Grafana OnCall's formatted webhook: one alert per request; ``state: ok`` resolves it."""
    svc = request.app[SERVICES]
    started = time.perf_counter()
    settings = svc.settings
    try:
        key, integration = _oncall_integration(request)
        require_json(request)
        raw = await read_body(request, settings.limits.max_event_bytes, request.app[BODY_BUDGET], "max_event_bytes")
        alert = grafana_oncall.parse_formatted(raw, key, integration, settings.limits)
    except IngestError as exc:
        _reject(request, "grafana_oncall", exc)
        raise
    try:
        decision = await svc.pipeline.submit_alerts((alert,))
    except StoreUnavailable:
        svc.metrics.rejected.labels("grafana_oncall", "store_unavailable").inc()
        raise
    svc.metrics.alerts_received.labels("grafana_oncall").inc()
    if decision.deduplicated:
        svc.metrics.alerts_deduplicated.labels("grafana_oncall").inc(decision.deduplicated)
    svc.metrics.ingest_latency.labels("grafana_oncall").observe(time.perf_counter() - started)
    return json_response({"status": "success", "alerts": 1})
