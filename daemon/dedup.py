"""The ingest fast path: reports identical to the last one committed for their fingerprint change nothing.

An Alertmanager body applied again is always a no-op: a firing body while firing is a duplicate, and after a
resolution (by Alertmanager or by hand) the same startsAt is stale. So a replica may answer such a redelivery
without loading anything, which is what an alert storm mostly is. A report identical to one whose decision is
still on its way to the store waits for that decision instead of queueing another (a storm's first seconds).
Reports without timestamps (PagerDuty) are never skipped: a trigger after a resolve starts a new episode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from itertools import islice

from daemon.engine.events import AlertIn

Pending = asyncio.Future[None]


def _digest(report: AlertIn) -> int:
    return hash(
        (
            report.fingerprint,
            report.status,
            report.starts_at,
            report.ends_at,
            report.generator_url,
            tuple(report.annotations.items()),
        )
    )


class SeenReports:
    """What was last committed per fingerprint, bounded: it is a cache, and forgetting only costs a store read."""

    def __init__(self, capacity: int = 262_144) -> None:
        self._capacity = capacity
        # hash(fingerprint) -> digest of the report: two ints an entry, not the strings.
        self._last: dict[int, int] = {}
        self._pending: dict[int, tuple[int, Pending]] = {}

    def __len__(self) -> int:
        return len(self._last)

    def sort(self, reports: Iterable[AlertIn]) -> tuple[list[AlertIn], set[Pending], int]:
        """Split reports into those to decide, the decisions under way to wait for, and how many are known."""
        fresh: list[AlertIn] = []
        waits: set[Pending] = set()
        known = 0
        for report in reports:
            if report.starts_at is None:
                fresh.append(report)
                continue
            key, digest = hash(report.fingerprint), _digest(report)
            if self._last.get(key) == digest:
                known += 1
                continue
            pending = self._pending.get(key)
            if pending is not None and pending[0] == digest:
                waits.add(pending[1])
                known += 1
                continue
            fresh.append(report)
        return fresh, waits, known

    def forget(self, fingerprints: Iterable[str]) -> None:
        """These alerts changed for another reason (a resolve by hand, a re-fire): their next report is decided
        again, so that a body made stale by the change is counted as stale."""
        for fingerprint in fingerprints:
            self._last.pop(hash(fingerprint), None)

    def begin(self, reports: Iterable[AlertIn]) -> Pending:
        """These reports are being decided: identical ones arriving meanwhile wait for the returned future."""
        future: Pending = asyncio.get_running_loop().create_future()
        for report in reports:
            if report.starts_at is not None:
                self._pending[hash(report.fingerprint)] = (_digest(report), future)
        return future

    def end(self, reports: Iterable[AlertIn], future: Pending, error: BaseException | None) -> None:
        """The decision committed (``error`` is None) or failed: remember it, and release those waiting."""
        last = self._last
        for report in reports:
            if report.starts_at is None:
                continue
            key = hash(report.fingerprint)
            if self._pending.get(key, (0, None))[1] is future:
                del self._pending[key]
            if error is None:
                last.pop(key, None)  # re-inserted at the end: the least recently seen go first
                last[key] = _digest(report)
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
            future.exception()  # those waiting see it; nobody else needs to
        if len(last) > self._capacity:
            for key in list(islice(last, len(last) - self._capacity * 3 // 4)):
                del last[key]
