"""Typed application state."""

from __future__ import annotations

from aiohttp import web

from daemon.http.body import BodyBudget
from daemon.ingest.alertmanager import Webhook
from daemon.ingest.recent import RecentBodies
from daemon.reloading import Reloader
from daemon.services import Services

SERVICES = web.AppKey("services", Services)
BODY_BUDGET = web.AppKey("body_budget", BodyBudget)
RELOADER = web.AppKey("reloader", Reloader)
RECENT_WEBHOOKS = web.AppKey("recent_webhooks", RecentBodies[Webhook])
