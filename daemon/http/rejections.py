"""Ingest rejections in the log, at most one line per route and reason every few seconds: a broken sender
retrying in a loop cannot flood the log, and the next line says how many were left out."""

from __future__ import annotations

from typing import Any

from aiohttp import web

EVERY = 10.0  # seconds between two lines of one route and reason


class RejectionLog:
    def __init__(self, every: float = EVERY) -> None:
        self.every = every
        self._last: dict[tuple[str, str], float] = {}
        self._left_out: dict[tuple[str, str], int] = {}

    def admit(self, route: str, reason: str, at: float) -> int | None:
        """Whether a rejection seen at ``at`` (seconds, from the caller's clock) gets a line: None if not (it is
        counted), else how many of this route and reason were left out since the last line."""
        key = (route, reason)
        last = self._last.get(key)
        # A clock that went back (the wall clock was set) starts the window again rather than muting the log.
        if last is not None and last <= at < last + self.every:
            self._left_out[key] = self._left_out.get(key, 0) + 1
            return None
        self._last[key] = at
        return self._left_out.pop(key, 0)


def named_field(details: Any) -> tuple[str | None, str | None]:
    """The field path and problem of a rejection's details (the first of several), as its 4xx answer names them."""
    first = details[0] if isinstance(details, list) and details else details
    if isinstance(first, dict) and "field" in first:
        return str(first["field"]), str(first.get("problem", "")) or None
    if isinstance(first, dict) and "alert" in first:
        return f"alerts.{first['alert']}", None
    if isinstance(first, str):
        return None, first
    return None, None


REJECTIONS = web.AppKey("rejections", RejectionLog)
