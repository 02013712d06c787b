"""The Store protocol: durable state behind one interface, one atomic commit per decision."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
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
    alerts: list[Alert]  # in order of arrival; all of them, or the window asked for
    timeline: list[TimelineEntry]
    alerts_from: int = 0  # the first alert's place among all of them (0 for the first)
    alerts_total: int | None = None  # how many there are in all, when ``alerts`` is a window of them

    @property
    def total_alerts(self) -> int:
        """How many alerts the incident has, whether ``alerts`` holds them all or a window of them."""
        return len(self.alerts) if self.alerts_total is None else self.alerts_total


@dataclass(frozen=True, slots=True)
class AlertWindow:
    """Part of an incident's alerts, in order of arrival: ``count`` from the ``first`` (0 for the first). A page of
    tens of thousands of alerts is of no use to a person and takes seconds to render."""

    first: int
    count: int


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


class Queue(StrEnum):
    """The two work queues, both under the queue contract below."""

    TIMERS = "timers"
    OUTBOX = "outbox"


@dataclass(frozen=True, slots=True)
class SetAside:
    """A queued row that could not be read (a timer kind of a newer version, damaged data): kept apart, not run."""

    queue: Queue
    key: str
    reason: str  # the exception's class name, never its text (it may quote the row)


@dataclass(frozen=True, slots=True)
class Claimed(Generic[T]):
    """What one claim took, and the rows it set aside on the way (each reported by this claim only)."""

    items: list[T]
    set_aside: list[SetAside] = field(default_factory=list)


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

    async def get_incident(self, incident_id: str, window: AlertWindow | None = None) -> IncidentView | None:
        """The incident, its timeline and its alerts in order of arrival: all of them, or ``window`` of them
        (with their total count)."""

    async def get_incident_summary(self, incident_id: str) -> Incident | None:
        """The incident alone, without its alerts and timeline."""

    async def list_incidents(self, where: IncidentFilter, limit: int, cursor: str | None) -> Page[Incident]: ...

    async def list_alerts(self, status: str | None, limit: int, cursor: str | None) -> Page[Alert]: ...

    # -- the queue contract (timers and outbox) -------------------------------------------------------
    #
    # claim:    rows due at ``now`` (and not held) are held for ``lease`` under the caller's ``token``. Claiming
    #           again with the same token (redis-py resending a script whose reply was lost, or the caller
    #           retrying a claim that raised) returns what that token still holds, re-held, and takes no more
    #           than ``limit`` in all, so a lost reply never leaves rows stranded until their lease ends.
    #           A row that cannot be decoded is set aside (kept apart, listed by ``set_aside_rows``) and the
    #           claim goes on with the others.
    # hold:     the holder extends its leases while the work is queued locally or under way; a hold that
    #           finds the row held by another token (its lease lapsed and it was taken) reports it lost.
    # start:    (outbox) a send begins: ``attempts`` counts sends begun, never claims; refused if not held.
    # complete: timers complete with the decision that fires them (``decide``); outbox entries with
    #           ``record_delivery``, whoever holds them.
    # release:  a claim that will not start (the worker stops, the row must wait) goes back to the queue at
    #           once, due now, without waiting for its lease.
    # Order:    an outbox entry is claimed only when every earlier entry of its incident is recorded or taken
    #           by the same claim, so one incident's notifications go out in the order decided, across batches
    #           and replicas. A holder never claims again what it holds: it keeps holding it instead.

    async def claim_due_timers(self, now: datetime, limit: int, lease: timedelta, token: str) -> Claimed[Timer]:
        """Timers due at ``now``, held for ``lease``: a timer whose holder died (its decision never committed)
        is due again when the lease ends. Firing it (``decide``) removes or replaces it."""

    async def release_timers(self, token: str, keys: list[str], now: datetime) -> None:
        """Timers claimed by ``token`` and not fired: due again at ``now``."""

    async def next_timer_due(self) -> datetime | None:
        """When the earliest timer (or lease) falls due."""

    async def claim_notifications(
        self, now: datetime, limit: int, lease: timedelta, token: str
    ) -> Claimed[Notification]:
        """Outbox entries due at ``now`` in their incident's order, held for ``lease``; ``attempts`` is the
        number of sends begun so far (a claim does not count)."""

    async def hold_notifications(self, held: dict[str, str], until: datetime) -> set[str]:
        """Extend each claim (key -> token) still held to ``until``; returns the keys still held."""

    async def start_notification(self, key: str, token: str, until: datetime) -> int | None:
        """A send of a held entry begins: count it and hold until ``until``. Returns the attempts so far (this
        one included), or None when the claim lapsed and someone else has the entry."""

    async def release_notifications(self, held: dict[str, str], now: datetime) -> None:
        """Entries claimed (key -> token) and not started: due again at ``now``."""

    async def record_delivery(self, delivery: Delivery) -> None:
        """The entry was sent (or given up): remove it from the outbox and add its timeline lines."""

    async def set_aside_rows(self) -> list[SetAside]:
        """Every row set aside so far (kept for an operator or a newer version to look at)."""

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
