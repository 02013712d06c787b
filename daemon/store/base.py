"""The Store protocol: durable state behind one interface, one atomic commit per decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Generic, Protocol, TypeVar

import structlog

from daemon.domain import Alert, Incident, Notification, TimelineEntry, Timer
from daemon.engine.state import Decision, Needs, Slice
from daemon.store.overrides import NewOverride, StoredOverride
from rules.silences import Silence

T = TypeVar("T")
log = structlog.get_logger("tocsin.store")


# A caller waits this long for its decision's commit before answering 503 (both stores).
WRITE_TIMEOUT = 10.0
# Decisions a process lets wait for the store at once; one more is answered 503 at once, nothing stored. Deeper
# than a write timeout's worth of commits would only queue work whose callers have given up.
MAX_PENDING_DECISIONS = 2048


class StoreUnavailable(Exception):
    """The store cannot be reached or cannot commit; ingest answers 503 and the sender retries."""


class StoreBusy(StoreUnavailable):
    """Too many decisions already wait for the store: refused before anything was queued (a 503 like the rest)."""


@dataclass(frozen=True, slots=True)
class IncidentView:
    incident: Incident
    alerts: list[Alert]
    timeline: list[TimelineEntry]


@dataclass(frozen=True, slots=True)
class IncidentFilter:
    state: str | None = None  # one of the states, or "open" (all but resolved)
    severity: str | None = None
    service: str | None = None


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class Delivery:
    """One outbox entry was sent (Apprise retried each URL itself): the timeline lines it earned."""

    key: str
    attempts: int
    timeline: list[TimelineEntry]


Decide = Callable[[Slice], Decision]
# Called once for each decision that is stored, when it is stored, whether or not its caller still waits.
Committed = Callable[[Decision], None]


def report_commit(committed: Committed | None, decision: Decision) -> None:
    """Tell ``committed``; its failure is logged, never mistaken for the commit's (which stands)."""
    if committed is None:
        return
    try:
        committed(decision)
    except Exception:
        log.exception("commit_effects_failed", incident=decision.incident_id)


class Store(Protocol):
    # True when other processes write this store too (Redis; SQLite with several workers).
    shared: bool

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raise StoreUnavailable unless the store answers."""

    async def decide(self, needs: Needs, decide: Decide, committed: Committed | None = None) -> Decision:
        """Load what ``needs`` names, call ``decide`` on it and commit its Decision atomically.

        Returns only after the commit. Raises StoreBusy at once when ``MAX_PENDING_DECISIONS`` wait already
        (nothing queued), whatever ``decide`` raised (nothing of that decision is stored), or StoreUnavailable when
        the commit failed or did not finish within the write timeout. A decision still waiting for its turn then
        is withdrawn and never stored; one whose commit had begun may still land (a command sent cannot be
        recalled). Either way ``committed`` is called exactly once if, and only if, the decision is stored, so its
        effects (metrics, wake-ups) follow the store, not the caller.
        """

    async def load(self, needs: Needs) -> Slice:
        """Read what ``needs`` names as the engine would see it, deciding and writing nothing (read-only views
        such as heartbeat states)."""

    async def alert_versions(self, fingerprints: list[str]) -> dict[str, int]:
        """The stored version of each alert that exists, read cheaply (nothing decoded)."""

    async def get_incident(self, incident_id: str) -> IncidentView | None: ...

    async def get_incident_summary(self, incident_id: str) -> Incident | None:
        """The incident alone, without its alerts and timeline."""

    async def list_incidents(self, where: IncidentFilter, limit: int, cursor: str | None) -> Page[Incident]: ...

    async def list_alerts(self, status: str | None, limit: int, cursor: str | None) -> Page[Alert]: ...

    async def claim_due_timers(self, now: datetime, limit: int, lease: timedelta) -> list[Timer]:
        """Timers due at ``now``, each held for ``lease``: no other claim gets it until the lease ends, and one
        whose holder died (its decision never committed) is due again then. Firing it removes or replaces it."""

    async def next_timer_due(self) -> datetime | None:
        """When the earliest timer (or lease) falls due."""

    async def claim_notifications(self, now: datetime, limit: int, lease: timedelta) -> list[Notification]:
        """Outbox entries due at ``now``, held for ``lease``, with ``attempts`` counting this claim."""

    async def hold_notification(self, key: str, claim: str, until: datetime) -> bool:
        """Extend a claim to ``until`` if it is still ``claim`` (False: it lapsed and someone else has it)."""

    async def record_delivery(self, delivery: Delivery) -> None:
        """The entry was sent: remove it from the outbox and add its timeline lines."""

    async def purge(self, before: datetime) -> int:
        """Forget incidents resolved before ``before`` (their alerts and timeline) and alerts resolved before it
        that belong to no kept incident; returns how many incidents went."""

    async def open_incident_counts(self) -> dict[tuple[str, str], int]:
        """(severity, state) -> number of open incidents, for the gauges."""

    async def add_override(self, new: NewOverride) -> StoredOverride:
        """Store an on-call override under the next sequence number (its id is ``ovr-<seq>``)."""

    async def list_overrides(self, schedule: str, ending_after: datetime | None = None) -> list[StoredOverride]:
        """A schedule's overrides in the order they were created, those ending after ``ending_after`` only."""

    async def delete_override(self, schedule: str, override_id: str) -> bool:
        """False when the schedule has no such override."""

    async def save_silences(self, silences: list[Silence]) -> None:
        """Insert or replace these silences atomically (an update may expire one and create another)."""

    async def get_silence(self, silence_id: str) -> Silence | None: ...

    async def list_silences(self) -> list[Silence]:
        """Every silence kept: pending, active, and expired ones within retention."""
