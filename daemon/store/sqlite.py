"""The embedded SQLite store: one file, WAL, one writer thread with group commit, reader threads.

Decisions queue up while a commit is in flight and go into the next transaction together (each in
its own SAVEPOINT, so one failing decision does not take the others with it); no caller is answered
before the COMMIT that holds its decision. Consecutive alert decisions of a batch are taken as a group: one
load, each decided in turn on that slice, one write, in one SAVEPOINT; one that raises leaves the group and
the others are taken again without it. A caller waits ``write_timeout`` at most: a decision not yet begun
by then is withdrawn (never stored); one begun lands or not with its transaction, and its effects follow it.
At most ``max_pending`` writes wait: a decision beyond them is refused at once. All SQLite calls run in
threads: the event loop never waits on the disk.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import structlog

from daemon.domain import Alert, Incident, Notification, TimelineEntry, Timer
from daemon.engine import loading
from daemon.engine.state import Decision, Needs, Slice, format_incident_id
from daemon.store import codec, cursor
from daemon.store.base import (
    MAX_PENDING_DECISIONS,
    WRITE_TIMEOUT,
    AlertWindow,
    Claimed,
    Committed,
    Decide,
    Delivery,
    IncidentFilter,
    IncidentView,
    Page,
    Queue,
    SetAside,
    StoreBusy,
    StoreUnavailable,
    report_commit,
)
from daemon.store.grouping import groupable, merge, union
from daemon.store.schema import migrate
from daemon.store.sqlite_checkpoint import WRITER_CHECKPOINT_PAGES, Checkpointer
from daemon.store.sqlite_lock import WriteLock
from daemon.store.sqlite_overrides import SqliteOverrides, overrides_of
from daemon.store.sqlite_rows import MAX_VARIABLES, delete_keys, insert_rows
from daemon.store.sqlite_silences import SqliteSilences, save_silences, silences_at
from daemon.timefmt import iso

T = TypeVar("T")
log = structlog.get_logger("tocsin.store")
_CHUNK = 500  # ids per IN (...) clause
_MAX_BATCH = 256  # decisions per group commit
_GROUP = 32  # decisions taken on one slice at most (a raising one makes the others decide again)
# Four 2-worker storms alternated with the default 5 ms: 2-12% more new alerts per second with 1 ms in each.
SHARED_SWITCH_INTERVAL = 0.001
PURGE_BATCH = 500  # incidents or alerts forgotten per transaction
# Due outbox entries a claim looks at per entry it may take: some wait behind an earlier entry of their incident.
_SCAN_FACTOR = 4
PROBE_BYTES = 256 * 1024  # what readiness writes (and removes) after a failed commit
# PagerDuty retries a webhook for hours at most; a week of remembered ids is plenty.
WEBHOOK_MEMORY = timedelta(days=7)


def parse_sqlite_url(url: str) -> tuple[Path, dict[str, str]]:
    """``sqlite:///path/to/file.db?synchronous=FULL`` -> (path, options)."""
    rest, _, query = url.removeprefix("sqlite://").partition("?")
    path = rest[1:] if rest.startswith("/") else rest
    options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
    return Path(path), options


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _chunks(items: Sequence[str], size: int = _CHUNK) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class _Ids:
    """Incident ids from a per-year sequence row, incremented inside the decision's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def next_incident_id(self, now: datetime) -> str:
        year = now.astimezone(UTC).year
        (value,) = self._conn.execute(
            "INSERT INTO sequences (name, value) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value",
            (f"incident:{year}",),
        ).fetchone()
        return format_incident_id(year, value)


class _FastSwitch:
    """The process's GIL switch interval, at SHARED_SWITCH_INTERVAL while any shared store is open, and as it
    was before once the last one closes (tests open several in one process)."""

    held = 0
    before = 0.0

    @classmethod
    def hold(cls) -> None:
        if cls.held == 0:
            cls.before = sys.getswitchinterval()
            sys.setswitchinterval(SHARED_SWITCH_INTERVAL)
        cls.held += 1

    @classmethod
    def release(cls) -> None:
        cls.held -= 1
        if cls.held == 0:
            sys.setswitchinterval(cls.before)


class _State(enum.Enum):
    QUEUED = "queued"
    APPLIED = "applied"  # the writer ran it inside the transaction: it lands if that commits
    WITHDRAWN = "withdrawn"  # its caller gave up first: the writer skips it


@dataclass(eq=False)
class _Job:
    work: Callable[[sqlite3.Connection], Any]
    future: asyncio.Future[Any]
    committed: Callable[[Any], None] | None
    state: _State = _State.QUEUED
    # A decision's own parts, so that the writer may take it in a group (``work`` takes it alone).
    needs: Needs | None = None
    decide: Decide | None = None


# The indexed columns of alerts as a decision read them, by fingerprint: (status, correlation_key, incident_id,
# ends_at).
_Indexed = dict[str, tuple[Any, ...]]

_WITHDRAWN = StoreUnavailable("withdrawn: its caller had given up")


class SqliteStore(SqliteOverrides, SqliteSilences):
    def __init__(
        self,
        url: str,
        readers: int = 2,
        shared: bool = False,
        write_timeout: float = WRITE_TIMEOUT,
        max_pending: int = MAX_PENDING_DECISIONS,
    ) -> None:
        self.shared = shared
        self.write_timeout = write_timeout
        self.max_pending = max_pending
        self.path, options = parse_sqlite_url(url)
        self.synchronous = options.get("synchronous", "NORMAL").upper()
        if self.synchronous not in ("NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"bad synchronous={self.synchronous} (NORMAL, FULL or EXTRA)")
        self._readers = readers
        self._writer: ThreadPoolExecutor | None = None
        self._reader_pool: ThreadPoolExecutor | None = None
        self._wconn: sqlite3.Connection | None = None
        # Several workers on this file take turns writing through it (daemon/store/sqlite_lock.py).
        self._turns = WriteLock(self.path) if shared else None
        self._checkpoints = Checkpointer(self._connect)
        self._local = threading.local()
        self._rconns: list[sqlite3.Connection] = []
        self._queue: list[_Job] = []
        # Between the caller giving up (loop thread) and the writer beginning a job (writer thread).
        self._turn = threading.Lock()
        self._wake = asyncio.Event()
        self._drainer: asyncio.Task[None] | None = None
        self._closing = False
        # False after a commit failed, until a later one succeeds: readiness fails meanwhile.
        self.healthy = True
        self._fast_switch = False  # this store holds the process's switch interval at SHARED_SWITCH_INTERVAL

    # -- lifecycle ----------------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5.0)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA busy_timeout = 5000")
        return conn

    def _open_writer(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = self._connect()
        migrate(conn)
        # Checkpoints are the checkpointer's (daemon/store/sqlite_checkpoint.py); this is the fallback.
        conn.execute(f"PRAGMA wal_autocheckpoint = {WRITER_CHECKPOINT_PAGES}")
        if self._turns is not None:
            try:
                # Once now, so that a filesystem without flock fails the start, not every commit after it.
                self._turns.open()
                self._turns.acquire()
                self._turns.release()
            except OSError:
                conn.close()
                raise
        self._wconn = conn

    async def open(self) -> None:
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="tocsin-sqlite-writer")
        self._reader_pool = ThreadPoolExecutor(self._readers, thread_name_prefix="tocsin-sqlite-reader")
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._writer, self._open_writer)
        except (sqlite3.Error, OSError) as exc:
            raise StoreUnavailable(f"cannot open {self.path}: {exc}") from exc
        self._drainer = asyncio.create_task(self._drain(), name="sqlite-group-commit")
        self._checkpoints.start()
        if self.shared:
            # The writer holds the write turn every worker waits for, and after each SQLite call must win the
            # GIL back from the event loop, which keeps it up to the switch interval (5 ms by default).
            self._fast_switch = True
            _FastSwitch.hold()

    async def close(self) -> None:
        """Finish what is queued (SIGTERM drains), then close every connection."""
        self._closing = True
        self._wake.set()
        try:
            if self._drainer is not None:
                await self._drainer
            await self._checkpoints.stop()
            loop = asyncio.get_running_loop()
            if self._writer is not None:
                await loop.run_in_executor(self._writer, self._close_writer)
                self._writer.shutdown(wait=True)
            if self._reader_pool is not None:
                self._reader_pool.shutdown(wait=True)
            for conn in self._rconns:
                conn.close()
            self._rconns.clear()
        finally:
            if self._fast_switch:
                self._fast_switch = False
                _FastSwitch.release()

    def _close_writer(self) -> None:
        if self._wconn is not None:
            self._wconn.close()
            self._wconn = None
        if self._turns is not None:
            self._turns.close()

    # -- the writer ---------------------------------------------------------------------------------

    async def _write(
        self,
        work: Callable[[sqlite3.Connection], T],
        committed: Callable[[T], None] | None = None,
        needs: Needs | None = None,
        decide: Decide | None = None,
    ) -> T:
        if self._closing:
            raise StoreUnavailable("the store is closing")
        if self._drainer is None or self._drainer.done():
            raise StoreUnavailable("the store's writer is not running")
        job = _Job(work, asyncio.get_running_loop().create_future(), committed, needs=needs, decide=decide)
        self._queue.append(job)
        self._wake.set()
        deadline = asyncio.timeout(self.write_timeout)
        try:
            # A caller that goes away must not cancel a commit the others wait for; a stalled disk is a 503.
            async with deadline:
                result: T = await asyncio.shield(job.future)
                return result
        except TimeoutError:
            if not deadline.expired():
                raise
            self._give_up(job)
            raise StoreUnavailable(f"no commit within {self.write_timeout:g}s") from None
        except asyncio.CancelledError:
            self._give_up(job)
            raise

    def _give_up(self, job: _Job) -> None:
        """The caller stops waiting: withdraw the job if the writer has not begun it, else leave it to land."""
        with self._turn:
            withdrawn = job.state is _State.QUEUED
            if withdrawn:
                job.state = _State.WITHDRAWN
        if withdrawn:
            with contextlib.suppress(ValueError):
                self._queue.remove(job)
            job.future.cancel()
        else:
            log.warning("commit_in_doubt", hint="answered 503 while its commit was under way; counted if it lands")

    async def _drain(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch, self._queue = self._queue[:_MAX_BATCH], self._queue[_MAX_BATCH:]
                assert self._writer is not None
                try:
                    outcomes = await loop.run_in_executor(self._writer, self._commit, batch)
                except BaseException as exc:
                    # Whatever happens, every caller gets an answer and the writer lives on.
                    failure = StoreUnavailable(f"the writer failed: {exc}")
                    outcomes = [failure] * len(batch)
                    if isinstance(exc, asyncio.CancelledError):
                        self._settle(batch, outcomes)
                        raise
                self._settle(batch, outcomes)
            if self._closing:
                return

    @staticmethod
    def _settle(batch: list[_Job], outcomes: list[Any]) -> None:
        for job, outcome in zip(batch, outcomes, strict=True):
            if job.state is _State.APPLIED and not isinstance(outcome, BaseException) and job.committed is not None:
                job.committed(outcome)
            if job.future.done():
                continue
            if isinstance(outcome, BaseException):
                job.future.set_exception(outcome)
            else:
                job.future.set_result(outcome)

    def _commit(self, batch: list[_Job]) -> list[Any]:
        """One transaction for the batch, a savepoint per decision or group; never raises (the drainer must live)."""
        conn = self._wconn
        if conn is None:
            return [StoreUnavailable("the store is closed")] * len(batch)
        try:
            if self._turns is not None:
                self._turns.acquire()
            try:
                outcomes = self._transaction(conn, batch)
            finally:
                if self._turns is not None:
                    self._turns.release()
        except Exception as exc:
            with contextlib.suppress(sqlite3.Error):
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
            self.healthy = False
            return [StoreUnavailable(f"cannot commit: {exc}")] * len(batch)
        self._checkpoints.committed()
        self.healthy = not any(isinstance(o, StoreUnavailable) and o is not _WITHDRAWN for o in outcomes)
        return outcomes

    def _transaction(self, conn: sqlite3.Connection, batch: list[_Job]) -> list[Any]:
        conn.execute("BEGIN IMMEDIATE")
        outcomes: dict[_Job, Any] = {}
        group: list[_Job] = []
        for job in batch:
            # Checked once the write lock is ours: a job whose caller gave up meanwhile is never applied.
            if not self._begin(job):
                outcomes[job] = _WITHDRAWN
                continue
            if job.needs is not None and groupable(job.needs) and len(group) < _GROUP:
                group.append(job)
                continue
            if group:
                outcomes.update(self._group(conn, group))
                group = []
            if job.needs is not None and groupable(job.needs):
                group.append(job)
            else:
                outcomes[job] = self._alone(conn, job)
        if group:
            outcomes.update(self._group(conn, group))
        conn.execute("COMMIT")
        return [outcomes[job] for job in batch]

    def _begin(self, job: _Job) -> bool:
        with self._turn:
            if job.state is _State.QUEUED:
                job.state = _State.APPLIED
        return job.state is _State.APPLIED

    @staticmethod
    def _alone(conn: sqlite3.Connection, job: _Job) -> Any:
        conn.execute("SAVEPOINT decision")
        try:
            outcome = job.work(conn)
        except sqlite3.Error as exc:
            if not conn.in_transaction:
                raise  # SQLite rolled the whole transaction back itself (disk full, I/O error): all fail
            conn.execute("ROLLBACK TO decision")
            outcome = StoreUnavailable(f"cannot write: {exc}")
        except Exception as exc:
            conn.execute("ROLLBACK TO decision")
            outcome = exc
        conn.execute("RELEASE decision")
        return outcome

    def _group(self, conn: sqlite3.Connection, jobs: list[_Job]) -> dict[_Job, Any]:
        """Decide ``jobs`` in turn on one slice and write them as one, in one savepoint. A decision that raises
        leaves the group: the others are decided again, on a fresh load, as if it had never been there. A load
        or a write that fails (no one decision to blame) has each job taken alone, as it would have been."""
        outcomes: dict[_Job, Any] = {}
        left = list(jobs)
        while len(left) > 1:
            conn.execute("SAVEPOINT decision")
            decisions: list[Decision] | None = None
            try:
                indexed: _Indexed = {}
                s = self._load(conn, union([j.needs for j in left if j.needs is not None]), indexed)
                decisions = []
                for job in left:
                    assert job.decide is not None
                    decisions.append(job.decide(s))
                self._store(conn, merge(decisions), indexed)
            except Exception as exc:
                if isinstance(exc, sqlite3.Error) and not conn.in_transaction:
                    raise  # the whole transaction is gone: every decision of the batch fails
                conn.execute("ROLLBACK TO decision")
                conn.execute("RELEASE decision")
                if decisions is None or len(decisions) == len(left):
                    break  # the load or the write failed: each is taken alone below
                failed = left.pop(len(decisions))
                outcomes[failed] = StoreUnavailable(f"cannot write: {exc}") if isinstance(exc, sqlite3.Error) else exc
                continue
            conn.execute("RELEASE decision")
            outcomes.update(zip(left, decisions, strict=True))
            return outcomes
        for job in left:
            outcomes[job] = self._alone(conn, job)
        return outcomes

    # -- decisions ----------------------------------------------------------------------------------

    async def load(self, needs: Needs) -> Slice:
        """What ``needs`` names, read on a snapshot (nothing decided, nothing written)."""
        slice_: Slice = await self._read(lambda conn: self._load(conn, needs))
        return slice_

    async def decide(self, needs: Needs, decide: Decide, committed: Committed | None = None) -> Decision:
        if len(self._queue) >= self.max_pending:
            raise StoreBusy(f"{len(self._queue)} writes already wait for the disk")

        def work(conn: sqlite3.Connection) -> Decision:
            indexed: _Indexed = {}
            decision = decide(self._load(conn, needs, indexed))
            self._store(conn, decision, indexed)
            return decision

        return await self._write(work, functools.partial(report_commit, committed), needs, decide)

    def _load(self, conn: sqlite3.Connection, needs: Needs, indexed: _Indexed | None = None) -> Any:
        """The slice ``needs`` names; ``indexed`` learns the indexed columns of the alerts read by fingerprint."""
        steps = loading.plan(needs, _Ids(conn))
        try:
            query = next(steps)
            while True:
                query = steps.send(self._answer(conn, query, {} if indexed is None else indexed))
        except StopIteration as done:
            return done.value

    def _answer(self, conn: sqlite3.Connection, query: loading.Query, indexed: _Indexed) -> Any:
        match query:
            case loading.AlertsByFingerprint(fingerprints=fps):
                found = []
                for chunk in _chunks(fps):
                    for row in conn.execute(
                        "SELECT fingerprint, status, correlation_key, incident_id, ends_at, data FROM alerts "
                        f"WHERE fingerprint IN ({_marks(len(chunk))})",
                        chunk,
                    ):
                        indexed[row[0]] = row[1:5]
                        found.append(codec.alert_from(codec.loads(row[5])))
                return found
            case loading.IncidentsById(ids=ids):
                return [
                    codec.incident_from(codec.loads(row[0]))
                    for chunk in _chunks(ids)
                    for row in conn.execute(f"SELECT data FROM incidents WHERE id IN ({_marks(len(chunk))})", chunk)
                ]
            case loading.IncidentOfKey(keys=keys):
                return {
                    row[0]: row[1]
                    for chunk in _chunks(keys)
                    for row in conn.execute(
                        "SELECT correlation_key, incident_id FROM keys "
                        f"WHERE correlation_key IN ({_marks(len(chunk))})",
                        chunk,
                    )
                }
            case loading.OrphansByKey(keys=keys):
                return [
                    codec.alert_from(codec.loads(row[0]))
                    for key in keys
                    for row in conn.execute(
                        "SELECT data FROM alerts "
                        "WHERE correlation_key = ? AND status = 'firing' AND incident_id IS NULL",
                        (key,),
                    )
                ]
            case loading.FiringMembersOf(incident_ids=ids):
                return [
                    (row[0], codec.alert_from(codec.loads(row[1])))
                    for chunk in _chunks(ids)
                    for row in conn.execute(
                        "SELECT incident_id, data FROM alerts "
                        f"WHERE status = 'firing' AND incident_id IN ({_marks(len(chunk))}) ORDER BY seq",
                        chunk,
                    )
                ]
            case loading.SeenWebhooks(ids=ids):
                return {
                    row[0]
                    for chunk in _chunks(ids)
                    for row in conn.execute(f"SELECT id FROM webhooks WHERE id IN ({_marks(len(chunk))})", chunk)
                }
            case loading.TimersOf(incident_ids=ids):
                return [
                    codec.timer_from(codec.loads(row[0]))
                    for chunk in _chunks(ids)
                    for row in conn.execute(
                        f"SELECT data FROM timers WHERE incident_id IN ({_marks(len(chunk))})", chunk
                    )
                ]
            case loading.OverridesOf(schedules=names):
                return overrides_of(conn, names)
            case loading.SilencesAt(at=at):
                return silences_at(conn, at)
            case loading.UnplacedFiring():
                return [
                    codec.alert_from(codec.loads(row[0]))
                    for row in conn.execute(
                        "SELECT data FROM alerts WHERE status = 'firing' AND incident_id IS NULL ORDER BY seq"
                    )
                ]
        raise TypeError(f"unknown query {query!r}")

    def _store(self, conn: sqlite3.Connection, d: Decision, indexed: _Indexed | None = None) -> None:
        # Multi-row statements throughout (sqlite_rows says why): one GIL hand-off per statement, not per row.
        if d.alerts:
            self._store_alerts(conn, d.alerts.values(), indexed or {})
        if d.incidents:
            insert_rows(
                conn,
                "INSERT INTO incidents (id, state, severity, service, correlation_key, resolved_at, data) VALUES",
                [self._incident_row(i) for i in d.incidents.values()],
                "ON CONFLICT (id) DO UPDATE SET state = excluded.state, severity = excluded.severity, "
                "service = excluded.service, correlation_key = excluded.correlation_key, "
                "resolved_at = excluded.resolved_at, data = excluded.data",
            )
        if d.pointers:
            insert_rows(
                conn, "INSERT OR REPLACE INTO keys (correlation_key, incident_id) VALUES", list(d.pointers.items())
            )
        if d.memberships:
            insert_rows(
                conn, "INSERT OR IGNORE INTO incident_alerts (incident_id, fingerprint) VALUES", list(d.memberships)
            )
        if d.timeline:
            insert_rows(
                conn,
                "INSERT INTO timeline (incident_id, at, actor, kind, text) VALUES",
                [(e.incident_id, iso(e.at), e.actor, e.kind.value, e.text) for e in d.timeline],
            )
        if d.timers_cancelled:
            delete_keys(conn, "timers", "key", list(d.timers_cancelled))
        if d.timers_set:
            insert_rows(
                conn,
                "INSERT OR REPLACE INTO timers (key, incident_id, due_at, data) VALUES",
                [(t.key, t.incident_id, _ts(t.due_at), codec.dumps(t)) for t in d.timers_set.values()],
            )
        if d.webhooks:
            now = time.time()
            insert_rows(conn, "INSERT OR IGNORE INTO webhooks (id, seen_at) VALUES", [(w, now) for w in d.webhooks])
            conn.execute("DELETE FROM webhooks WHERE seen_at < ?", (now - WEBHOOK_MEMORY.total_seconds(),))
        if d.silences:
            save_silences(conn, d.silences)
        if d.notifications:
            # The idempotency key makes a repeated decision add no second notification.
            insert_rows(
                conn,
                "INSERT OR IGNORE INTO outbox (key, incident_id, status, attempts, next_attempt_at, data) VALUES",
                [(n.key, n.incident_id, "pending", 0, _ts(n.created_at), codec.dumps(n)) for n in d.notifications],
            )

    @staticmethod
    def _store_alerts(conn: sqlite3.Connection, alerts: Iterable[Alert], indexed: _Indexed) -> None:
        """An alert whose indexed columns are as this decision read them (an annotation changed, say) rewrites
        its data only: the other upsert names every indexed column, so SQLite would rewrite each index entry."""
        rows: list[tuple[Any, ...]] = []
        changed: list[tuple[Any, ...]] = []
        for a in alerts:
            columns = (a.status.value, a.correlation_key, a.incident_id, _ts(a.ends_at) if a.ends_at else None)
            row = (a.fingerprint, *columns, codec.dumps(a))
            (changed if indexed.get(a.fingerprint) == columns else rows).append(row)
        head = "INSERT INTO alerts (fingerprint, status, correlation_key, incident_id, ends_at, data) VALUES"
        insert_rows(conn, head, changed, "ON CONFLICT (fingerprint) DO UPDATE SET data = excluded.data")
        insert_rows(
            conn,
            head,
            rows,
            "ON CONFLICT (fingerprint) DO UPDATE SET status = excluded.status, "
            "correlation_key = excluded.correlation_key, incident_id = excluded.incident_id, "
            "ends_at = excluded.ends_at, data = excluded.data",
        )

    @staticmethod
    def _incident_row(i: Incident) -> tuple[str, str, str, str, str, float | None, bytes]:
        i.version += 1
        resolved = _ts(i.resolved_at) if i.resolved_at else None
        return (i.id, i.state.value, i.severity.value, i.service, i.correlation_key, resolved, codec.dumps(i))

    # -- reads --------------------------------------------------------------------------------------

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._connect()
            conn.execute("PRAGMA query_only = ON")
            self._local.conn = conn
            self._rconns.append(conn)
        return conn

    async def _read(self, work: Callable[[sqlite3.Connection], T]) -> T:
        if self._reader_pool is None:
            raise StoreUnavailable("the store is not open")

        def run() -> T:
            conn = self._reader()
            conn.execute("BEGIN")  # one snapshot for every query of this read
            try:
                return work(conn)
            finally:
                conn.execute("COMMIT")

        try:
            return await asyncio.get_running_loop().run_in_executor(self._reader_pool, run)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot read: {exc}") from exc

    async def ping(self) -> None:
        await self._read(lambda conn: conn.execute("SELECT 1").fetchone())
        if not self.healthy:
            # The last commit failed (a full disk, say): ready again only once a request's worth can be written.
            await self._write(self._probe)

    @staticmethod
    def _probe(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO sequences (name, value) VALUES (?, 0)", ("probe:" + "x" * PROBE_BYTES,))
        conn.execute("DELETE FROM sequences WHERE name LIKE 'probe:%'")

    async def get_incident(self, incident_id: str, window: AlertWindow | None = None) -> IncidentView | None:
        members = "FROM incident_alerts m JOIN alerts a ON a.fingerprint = m.fingerprint WHERE m.incident_id = ?"

        def work(conn: sqlite3.Connection) -> IncidentView | None:
            row = conn.execute("SELECT data FROM incidents WHERE id = ?", (incident_id,)).fetchone()
            if row is None:
                return None
            total = None
            if window is None:
                rows = conn.execute(f"SELECT a.data {members} ORDER BY a.seq", (incident_id,))
            else:
                (total,) = conn.execute(f"SELECT COUNT(*) {members}", (incident_id,)).fetchone()
                rows = conn.execute(
                    f"SELECT a.data {members} ORDER BY a.seq LIMIT ? OFFSET ?",
                    (incident_id, window.count, window.first),
                )
            alerts = [codec.alert_from(codec.loads(r[0])) for r in rows]
            timeline = [
                codec.timeline_from({"incident_id": incident_id, "at": r[0], "actor": r[1], "kind": r[2], "text": r[3]})
                for r in conn.execute(
                    "SELECT at, actor, kind, text FROM timeline WHERE incident_id = ? ORDER BY seq", (incident_id,)
                )
            ]
            incident = codec.incident_from(codec.loads(row[0]))
            return IncidentView(incident, alerts, timeline, window.first if window else 0, total)

        return await self._read(work)

    async def alert_versions(self, fingerprints: list[str]) -> dict[str, int]:
        def work(conn: sqlite3.Connection) -> dict[str, int]:
            return {
                row[0]: row[1]
                for chunk in _chunks(fingerprints)
                for row in conn.execute(
                    "SELECT fingerprint, json_extract(CAST(data AS TEXT), '$.version') FROM alerts "
                    f"WHERE fingerprint IN ({_marks(len(chunk))})",
                    chunk,
                )
            }

        return await self._read(work)

    async def get_incident_summary(self, incident_id: str) -> Incident | None:
        row = await self._read(
            lambda conn: conn.execute("SELECT data FROM incidents WHERE id = ?", (incident_id,)).fetchone()
        )
        return None if row is None else codec.incident_from(codec.loads(row[0]))

    async def _page(
        self, table: str, where: dict[str, str | None], limit: int, after: str | None, decode: Callable[[Any], T]
    ) -> Page[T]:
        """Rows of ``table`` newest first (by ``seq``), filtered by equal columns, from the cursor on."""
        # state "open": every state but resolved.
        clauses = [
            "state != 'resolved'" if (column, value) == ("state", "open") else f"{column} = ?"
            for column, value in where.items()
            if value is not None
        ]
        args: list[object] = [v for c, v in where.items() if v is not None and (c, v) != ("state", "open")]
        if after is not None:
            clauses.append("seq < ?")
            args.append(cursor.decode(after))
        sql = f"SELECT seq, data FROM {table}" + (" WHERE " + " AND ".join(clauses) if clauses else "")
        sql += " ORDER BY seq DESC LIMIT ?"
        rows = await self._read(lambda conn: conn.execute(sql, (*args, limit + 1)).fetchall())
        items = [decode(codec.loads(r[1])) for r in rows[:limit]]
        return Page(items, cursor.encode(rows[limit - 1][0]) if len(rows) > limit else None)

    async def list_incidents(self, where: IncidentFilter, limit: int, after: str | None) -> Page[Incident]:
        columns = {"state": where.state, "severity": where.severity, "service": where.service}
        return await self._page("incidents", columns, limit, after, codec.incident_from)

    async def list_alerts(self, status: str | None, limit: int, after: str | None) -> Page[Alert]:
        return await self._page("alerts", {"status": status}, limit, after, codec.alert_from)

    # -- timers and outbox --------------------------------------------------------------------------

    async def claim_due_timers(self, now: datetime, limit: int, lease: timedelta, token: str) -> Claimed[Timer]:
        # The timer's own due time stays in its data (the engine compares it); the queue position moves on. A
        # decision that fires or moves a timer replaces its row, which clears the claim.
        until = _ts(now + lease)

        def work(conn: sqlite3.Connection) -> Claimed[Timer]:
            rows = conn.execute(
                "UPDATE timers SET due_at = ? WHERE claim = ? RETURNING key, data", (until, token)
            ).fetchall()
            if len(rows) < limit:
                rows += conn.execute(
                    "UPDATE timers SET due_at = ?, claim = ? WHERE key IN "
                    "(SELECT key FROM timers WHERE due_at <= ? ORDER BY due_at LIMIT ?) RETURNING key, data",
                    (until, token, _ts(now), limit - len(rows)),
                ).fetchall()
            timers: list[Timer] = []
            aside: list[SetAside] = []
            for key, data in rows:
                try:
                    timers.append(codec.timer_from(codec.loads(data)))
                except Exception as exc:
                    aside.append(self._set_aside(conn, Queue.TIMERS, key, data, exc, now))
                    conn.execute("DELETE FROM timers WHERE key = ?", (key,))
            return Claimed(sorted(timers, key=lambda t: t.due_at), aside)

        return await self._write(work)

    async def release_timers(self, token: str, keys: list[str], now: datetime) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE timers SET due_at = ?, claim = NULL WHERE key = ? AND claim = ?",
                [(_ts(now), key, token) for key in keys],
            )

        await self._write(work)

    async def next_timer_due(self) -> datetime | None:
        row = await self._read(lambda conn: conn.execute("SELECT MIN(due_at) FROM timers").fetchone())
        return None if row[0] is None else datetime.fromtimestamp(row[0], UTC)

    async def claim_notifications(
        self, now: datetime, limit: int, lease: timedelta, token: str
    ) -> Claimed[Notification]:
        until = _ts(now + lease)

        def work(conn: sqlite3.Connection) -> Claimed[Notification]:
            held = conn.execute(
                "SELECT seq, key, incident_id, data, attempts FROM outbox WHERE claim = ? AND status = 'pending'",
                (token,),
            ).fetchall()
            taken = {row[0] for row in held}
            rows = list(held)
            if len(rows) < limit:
                candidates = conn.execute(
                    "SELECT seq, key, incident_id, data, attempts FROM outbox "
                    "WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, seq LIMIT ?",
                    (_ts(now), _SCAN_FACTOR * limit),
                ).fetchall()
                progressed = True
                while progressed and len(rows) < limit:  # again: an entry may follow one taken after it
                    progressed = False
                    for row in candidates:
                        if len(rows) >= limit:
                            break
                        if row[0] in taken:
                            continue
                        earlier = conn.execute(
                            "SELECT seq FROM outbox WHERE incident_id = ? AND status = 'pending' AND seq < ?",
                            (row[2], row[0]),
                        ).fetchall()
                        # The incident's earlier entries go first: this one waits until they are recorded.
                        if all(e[0] in taken for e in earlier):
                            taken.add(row[0])
                            rows.append(row)
                            progressed = True
            conn.executemany(
                "UPDATE outbox SET next_attempt_at = ?, claim = ? WHERE seq = ?", [(until, token, s) for s in taken]
            )
            found: list[Notification] = []
            aside: list[SetAside] = []
            for seq, key, _, data, attempts in sorted(rows):
                try:
                    notification = codec.notification_from(codec.loads(data))
                except Exception as exc:
                    aside.append(self._set_aside(conn, Queue.OUTBOX, key, data, exc, now))
                    # Kept as a row (its key still stops a repeated decision queueing it again), out of the queue.
                    conn.execute("UPDATE outbox SET status = 'set_aside', claim = NULL WHERE seq = ?", (seq,))
                    continue
                notification.attempts = attempts
                notification.claim = token
                found.append(notification)
            return Claimed(found, aside)

        return await self._write(work)

    async def hold_notifications(self, held: dict[str, str], until: datetime) -> set[str]:
        def work(conn: sqlite3.Connection) -> set[str]:
            kept = set()
            for key, token in held.items():
                cur = conn.execute(
                    "UPDATE outbox SET next_attempt_at = ? WHERE key = ? AND claim = ? AND status = 'pending'",
                    (_ts(until), key, token),
                )
                if cur.rowcount == 1:
                    kept.add(key)
            return kept

        return await self._write(work)

    async def start_notification(self, key: str, token: str, until: datetime) -> int | None:
        def work(conn: sqlite3.Connection) -> int | None:
            row = conn.execute(
                "UPDATE outbox SET next_attempt_at = ?, attempts = attempts + 1 "
                "WHERE key = ? AND claim = ? AND status = 'pending' RETURNING attempts",
                (_ts(until), key, token),
            ).fetchone()
            return None if row is None else int(row[0])

        return await self._write(work)

    async def release_notifications(self, held: dict[str, str], now: datetime) -> None:
        def work(conn: sqlite3.Connection) -> None:
            conn.executemany(
                "UPDATE outbox SET next_attempt_at = ?, claim = NULL "
                "WHERE key = ? AND claim = ? AND status = 'pending'",
                [(_ts(now), key, token) for key, token in held.items()],
            )

        await self._write(work)

    @staticmethod
    def _set_aside(
        conn: sqlite3.Connection, queue: Queue, key: str, data: bytes, exc: Exception, now: datetime
    ) -> SetAside:
        reason = type(exc).__name__
        conn.execute(
            "INSERT INTO set_aside (queue, key, at, reason, data) VALUES (?, ?, ?, ?, ?)",
            (queue.value, key, _ts(now), reason, data),
        )
        return SetAside(queue, key, reason)

    async def set_aside_rows(self) -> list[SetAside]:
        rows = await self._read(
            lambda conn: conn.execute("SELECT queue, key, reason FROM set_aside ORDER BY seq").fetchall()
        )
        return [SetAside(Queue(q), key, reason) for q, key, reason in rows]

    async def record_delivery(self, delivery: Delivery) -> None:
        def work(conn: sqlite3.Connection) -> None:
            # Kept as 'done' (not deleted) so that its key keeps a repeated decision from queueing it again.
            conn.execute(
                "UPDATE outbox SET status = 'done', attempts = ? WHERE key = ?", (delivery.attempts, delivery.key)
            )
            self._timeline(conn, delivery.timeline)

        await self._write(work)

    async def purge(self, before: datetime) -> int:
        """In batches, each its own short transaction: a big backlog never holds the writer for long."""
        cutoff = _ts(before)

        def incidents(conn: sqlite3.Connection) -> int:
            gone = [
                r[0]
                for r in conn.execute(
                    "DELETE FROM incidents WHERE seq IN (SELECT seq FROM incidents WHERE state = 'resolved' "
                    "AND resolved_at < ? LIMIT ?) RETURNING id",
                    (cutoff, PURGE_BATCH),
                )
            ]
            if gone:
                marks = _marks(len(gone))
                for table in ("timeline", "incident_alerts", "outbox", "timers", "keys"):
                    conn.execute(f"DELETE FROM {table} WHERE incident_id IN ({marks})", gone)
            return len(gone)

        def alerts(conn: sqlite3.Connection) -> int:
            gone = [
                (r[0], r[1])
                for r in conn.execute(
                    "DELETE FROM alerts WHERE seq IN (SELECT a.seq FROM alerts AS a LEFT JOIN incidents AS i "
                    "ON i.id = a.incident_id WHERE a.status = 'resolved' AND a.ends_at < ? AND i.id IS NULL "
                    "LIMIT ?) RETURNING fingerprint, correlation_key",
                    (cutoff, PURGE_BATCH),
                )
            ]
            if gone:
                # Their memberships in kept incidents, found through the incidents of their keys (an alert joins
                # only those): an index of memberships by fingerprint cost every new alert a random B-tree insert.
                fps, keys = sorted({fp for fp, _ in gone}), sorted({key for _, key in gone})
                for chunk in _chunks(keys, MAX_VARIABLES - len(fps)):
                    conn.execute(
                        "DELETE FROM incident_alerts WHERE incident_id IN (SELECT id FROM incidents "
                        f"WHERE correlation_key IN ({_marks(len(chunk))})) AND fingerprint IN ({_marks(len(fps))})",
                        [*chunk, *fps],
                    )
            return len(gone)

        total = 0
        while (done := await self._write(incidents)) > 0:
            total += done
        while await self._write(alerts) > 0:
            pass
        # Expired silences are kept for retention too (amtool lists them with --expired), then forgotten.
        await self._write(lambda conn: conn.execute("DELETE FROM silences WHERE ends_at < ?", (before.timestamp(),)))
        return total

    @staticmethod
    def _timeline(conn: sqlite3.Connection, entries: list[TimelineEntry]) -> None:
        if entries:
            conn.executemany(
                "INSERT INTO timeline (incident_id, at, actor, kind, text) VALUES (?, ?, ?, ?, ?)",
                [(e.incident_id, iso(e.at), e.actor, e.kind.value, e.text) for e in entries],
            )

    async def open_incident_counts(self) -> dict[tuple[str, str], int]:
        rows = await self._read(
            lambda conn: conn.execute(
                "SELECT severity, state, COUNT(*) FROM incidents WHERE state != 'resolved' GROUP BY severity, state"
            ).fetchall()
        )
        return {(sev, state): n for sev, state, n in rows}


__all__ = ["Alert", "SqliteStore"]
