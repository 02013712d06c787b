"""Typed application state."""

from __future__ import annotations

from aiohttp import web

from daemon.services import Services

SERVICES = web.AppKey("services", Services)
