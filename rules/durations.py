"""Prometheus-style durations: ``30s``, ``5m``, ``1h30m``, ``1d``, ``250ms``."""

from __future__ import annotations

import re
from datetime import timedelta

_UNITS = {
    "y": 365 * 24 * 3600.0,
    "w": 7 * 24 * 3600.0,
    "d": 24 * 3600.0,
    "h": 3600.0,
    "m": 60.0,
    "s": 1.0,
    "ms": 0.001,
}
# Units must appear in this order, each at most once, as Prometheus' model.ParseDuration requires.
_DURATION = re.compile(
    r"^(?:(?P<y>\d+)y)?(?:(?P<w>\d+)w)?(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?"
    r"(?:(?P<m>\d+)m)?(?:(?P<s>\d+)s)?(?:(?P<ms>\d+)ms)?$"
)


def parse_duration(text: str) -> timedelta:
    """Parse a Prometheus duration; ``0`` alone is accepted as zero."""
    value = text.strip()
    if value == "0":
        return timedelta(0)
    match = _DURATION.match(value)
    if not value or match is None or not any(match.groupdict().values()):
        raise ValueError(f"bad duration {text!r} (expected e.g. 30s, 5m, 1h30m)")
    seconds = sum(_UNITS[unit] * int(n) for unit, n in match.groupdict().items() if n)
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest Prometheus spelling of a duration, for messages and the timeline."""
    total_ms = round(delta.total_seconds() * 1000)
    if total_ms == 0:
        return "0s"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = round(_UNITS[unit] * 1000)
        count, total_ms = divmod(total_ms, size)
        if count:
            parts.append(f"{count}{unit}")
    if total_ms:
        parts.append(f"{total_ms}ms")
    return "".join(parts)


def spoken_duration(delta: timedelta) -> str:
    """How long, as a person says it on a phone: ``45s``, ``5m``, ``1h 5m``, ``2d 3h`` (two units at most)."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return f"{seconds}s"
    units = [("d", 86400), ("h", 3600), ("m", 60)]
    parts: list[tuple[int, str]] = []
    for unit, size in units:
        count, seconds = divmod(seconds, size)
        if count or parts:
            parts.append((count, unit))
    shown = parts[:2]
    return " ".join(f"{count}{unit}" for count, unit in shown if count)
