"""The ingest fast path: reports identical to the last one committed for their fingerprint change nothing.

An Alertmanager body applied again is always a no-op: a firing body while firing is a duplicate, and after a
resolution (by Alertmanager or by hand) the same startsAt is stale. So such a redelivery is answered without
deciding anything, which is what an alert storm mostly is. Each entry keeps the version of the alert it saw
committed: where others write the same store too (Redis, several workers), the pipeline checks that version in
one cheap read first, so a change made elsewhere, or an alert the store lost, is decided again. A report
identical to one whose decision is under way waits for that decision instead of queueing another. Reports
without timestamps (PagerDuty) are never skipped: a trigger after a resolve starts a new episode.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from itertools import islice

from daemon.engine.events import AlertIn

Pending = asyncio.Future[None]


class SeenReports:
    """What was last committed per fingerprint, bounded: it is a cache, and forgetting only costs a decision."""

    def __init__(self, capacity: int = 262_144) -> None:
        self._capacity = capacity
        # hash(fingerprint) -> (digest of the report, version of the alert it left): ints, not the strings.
        self._last: dict[int, tuple[int, int]] = {}
        self._pending: dict[int, tuple[int, Pending]] = {}

    def __len__(self) -> int:
        return len(self._last)

    def sort(self, reports: Iterable[AlertIn]) -> tuple[list[AlertIn], list[Pending], list[tuple[AlertIn, int]]]:
        """Split reports into those to decide, those waiting for a decision under way (its future, once per
        report), and those seen committed (with the version they left, for whoever must check it)."""
        fresh: list[AlertIn] = []
        waits: list[Pending] = []
        known: list[tuple[AlertIn, int]] = []
        last = self._last
        for report in reports:
            if report.starts_at is None:
                fresh.append(report)
                continue
            key, digest = hash(report.fingerprint), report.digest
            seen = last.get(key)
            if seen is not None and seen[0] == digest:
                del last[key]
                last[key] = seen  # most recently seen last: evicted last
                known.append((report, seen[1]))
                continue
            pending = self._pending.get(key)
            if pending is not None and pending[0] == digest:
                waits.append(pending[1])
                continue
            fresh.append(report)
        return fresh, waits, known

    def forget(self, fingerprints: Iterable[str]) -> None:
        """These alerts changed otherwise (a resolve by hand, a version that moved): decide their next report."""
        for fingerprint in fingerprints:
            self._last.pop(hash(fingerprint), None)

    def begin(self, reports: Iterable[AlertIn]) -> Pending:
        """These reports are being decided: identical ones arriving meanwhile wait for the returned future."""
        future: Pending = asyncio.get_running_loop().create_future()
        for report in reports:
            if report.starts_at is not None:
                self._pending[hash(report.fingerprint)] = (report.digest, future)
        return future

    def end(
        self, reports: Iterable[AlertIn], future: Pending, versions: Mapping[str, int], error: BaseException | None
    ) -> None:
        """The decision committed (``error`` is None), leaving these alert ``versions``, or failed: remember it,
        and release those waiting."""
        last = self._last
        for report in reports:
            if report.starts_at is None:
                continue
            key = hash(report.fingerprint)
            if self._pending.get(key, (0, None))[1] is future:
                del self._pending[key]
            if error is None and report.fingerprint in versions:
                last.pop(key, None)
                last[key] = (report.digest, versions[report.fingerprint])
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)
                future.exception()  # those waiting see it; nobody else needs to
        if len(last) > self._capacity:
            for key in list(islice(last, len(last) - self._capacity * 3 // 4)):
                del last[key]
