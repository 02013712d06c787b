"""Typed application state."""

from __future__ import annotations

from aiohttp import web

from daemon.http.body import BodyBudget
from daemon.reloading import Reloader
from daemon.services import Services

SERVICES = web.AppKey("services", Services)
BODY_BUDGET = web.AppKey("body_budget", BodyBudget)
RELOADER = web.AppKey("reloader", Reloader)
