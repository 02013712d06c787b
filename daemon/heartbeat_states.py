"""Heartbeat states as the API, CLI and metrics show them, read from the store (no decision taken)."""

from __future__ import annotations

from datetime import datetime

from daemon.config.settings import Settings
from daemon.engine import heartbeats
from daemon.engine.heartbeats import HeartbeatView
from daemon.engine.state import Needs
from daemon.metrics import Metrics
from daemon.store.base import Store
from rules.silences import SilenceState


async def read_heartbeats(settings: Settings, store: Store) -> list[HeartbeatView]:
    names = [b.name for b in settings.heartbeats]
    if not names:
        return []
    s = await store.load(
        Needs(
            fingerprints=frozenset(heartbeats.fingerprint(n) for n in names),
            timer_owners=frozenset(heartbeats.owner(n) for n in names),
        )
    )
    return [
        heartbeats.view(
            beat, s.timers.get(heartbeats.due_key(beat.name)), s.alerts.get(heartbeats.fingerprint(beat.name))
        )
        for beat in settings.heartbeats
    ]


async def export(settings: Settings, store: Store, metrics: Metrics, now: datetime) -> None:
    """The store-derived gauges of silences and heartbeats."""
    counts = dict.fromkeys(SilenceState, 0)
    for silence in await store.list_silences():
        counts[silence.state(now)] += 1
    for state, n in counts.items():
        metrics.silences.labels(state.value).set(n)
    for view in await read_heartbeats(settings, store):
        metrics.heartbeat_up.labels(view.name).set(1 if view.state == "up" else 0)
        if view.last_ping is not None:
            metrics.heartbeat_last_ping.labels(view.name).set(view.last_ping.timestamp())
