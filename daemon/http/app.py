"""The aiohttp application: routes, middlewares, and the services' lifecycle (cleanup_ctx)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping

from aiohttp import web
from prometheus_client import CollectorRegistry

from daemon.board.routes import add_routes as add_board_routes
from daemon.clock import Clock
from daemon.config.settings import Settings
from daemon.engine.events import Action
from daemon.http import ack, api, health, heartbeats, ingest, oncall, openapi, reload, silences
from daemon.http.body import BodyBudget
from daemon.http.errors import error_middleware
from daemon.http.keys import BODY_BUDGET, RECENT_WEBHOOKS, RELOADER, SERVICES
from daemon.http.rejections import REJECTIONS, RejectionLog
from daemon.ingest.recent import RecentBodies
from daemon.reloading import Reloader
from daemon.services import start_services
from daemon.store.base import Store

BODY_BUDGET_BODIES = 4  # the budget of bodies in flight, in largest allowed bodies


def build_app(
    settings: Settings,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
    store: Store | None = None,
    background: bool = True,
    config_path: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> web.Application:
    """``config_path`` (with ``environ`` over it, the process's own when None) is what a reload reads again."""
    app = web.Application(client_max_size=settings.limits.max_body_bytes, middlewares=[error_middleware])
    # At most this many bytes of large request bodies held at once, whatever number of senders push them.
    limits = settings.limits
    app[BODY_BUDGET] = BodyBudget(BODY_BUDGET_BODIES * max(limits.max_body_bytes, limits.max_event_bytes))
    app[REJECTIONS] = RejectionLog()
    app[RECENT_WEBHOOKS] = RecentBodies()

    async def services_ctx(app: web.Application) -> AsyncIterator[None]:
        services = await start_services(settings, clock, registry, store, background)
        app[SERVICES] = services
        app[RELOADER] = Reloader(services, config_path, environ)
        yield
        await services.stop()

    app.cleanup_ctx.append(services_ctx)
    app.router.add_post("/api/v1/alerts/alertmanager", ingest.alertmanager_webhook)
    app.router.add_post("/v2/enqueue", ingest.pagerduty_enqueue)
    # Grafana OnCall's integration URLs, with and without their trailing slash.
    for path in ("/integrations/v1/alertmanager/{key}", "/integrations/v1/alertmanager/{key}/"):
        app.router.add_post(path, ingest.grafana_oncall_alertmanager)
    for path in ("/integrations/v1/formatted_webhook/{key}", "/integrations/v1/formatted_webhook/{key}/"):
        app.router.add_post(path, ingest.grafana_oncall_formatted)
    app.router.add_get("/api/v1/incidents", api.list_incidents)
    app.router.add_post("/api/v1/incidents", api.declare_incident)
    app.router.add_get("/api/v1/incidents/{id}", api.get_incident)
    app.router.add_patch("/api/v1/incidents/{id}", api.patch_incident)
    for action in (Action.ACKNOWLEDGE, Action.MITIGATE, Action.RESOLVE, Action.REOPEN):
        app.router.add_post(f"/api/v1/incidents/{{id}}/{action.value}", api.make_transition(action))
    app.router.add_post("/api/v1/incidents/{id}/status-updates", api.post_status_update)
    app.router.add_post("/api/v1/incidents/{id}/notes", api.post_note)
    app.router.add_get("/api/v1/incidents/{id}/postmortem", api.postmortem)
    app.router.add_post("/api/v1/webhooks/pagerduty", ingest.pagerduty_webhook)
    app.router.add_get("/api/v1/alerts", api.list_alerts)
    app.router.add_post("/api/v1/heartbeats/{name}", heartbeats.ping)
    app.router.add_get("/api/v1/heartbeats", heartbeats.list_heartbeats)
    app.router.add_get("/api/v1/oncall", oncall.get_oncall)
    app.router.add_get("/api/v1/schedules", oncall.list_schedules)
    app.router.add_get("/api/v1/schedules/{name}", oncall.get_schedule)
    app.router.add_get("/api/v1/schedules/{name}/overrides", oncall.list_overrides)
    app.router.add_post("/api/v1/schedules/{name}/overrides", oncall.add_override)
    app.router.add_delete("/api/v1/schedules/{name}/overrides/{id}", oncall.delete_override)
    app.router.add_get("/calendar/{token}.ics", oncall.calendar_feed)
    app.router.add_post("/api/v2/silences", silences.post_silence)
    app.router.add_get("/api/v2/silences", silences.list_silences)
    app.router.add_get("/api/v2/silence/{id}", silences.get_silence)
    app.router.add_delete("/api/v2/silence/{id}", silences.delete_silence)
    app.router.add_get("/ack/{token}", ack.show)
    app.router.add_post("/ack/{token}", ack.acknowledge)
    app.router.add_get("/api/v1/openapi.json", openapi.openapi)
    app.router.add_get("/healthz", health.healthz)
    app.router.add_get("/readyz", health.readyz)
    app.router.add_get("/metrics", health.metrics)
    app.router.add_post("/-/reload", reload.reload)
    add_board_routes(app)
    return app
