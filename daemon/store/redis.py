"""The Redis store, for several replicas on one Redis.

Every decision is optimistic: load what it needs (noting each version read), decide, and commit in one Lua
script that checks those versions first; on a difference nothing is written and the decision is taken
again on fresh state. Timers and outbox entries sit in sorted sets and are claimed with a lease, so each
fires once across replicas and a dead replica's claims pass to another when the lease ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import parse_qs, unquote, urlsplit

import orjson
import structlog
from redis import asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.asyncio.sentinel import Sentinel
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError, ResponseError

from daemon import heap
from daemon.domain import Alert, AlertStatus, Incident, Notification, TimelineEntry, Timer
from daemon.engine import loading
from daemon.engine.state import Decision, Needs, Slice, format_incident_id
from daemon.store import codec, cursor
from daemon.store import silences as silence_codec
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
from daemon.store.overrides import StoredOverride
from daemon.store.redis_keys import Keys
from daemon.store.redis_overrides import RedisOverrides
from daemon.store.redis_scripts import (
    CLAIM_NOTIFICATIONS,
    CLAIM_TIMERS,
    COMMIT,
    FENCE,
    HOLD_NOTIFICATIONS,
    INDEX_INCIDENTS,
    LOCK,
    PREFETCH,
    PURGE_ALERT,
    PURGE_INCIDENT,
    RECORD_DELIVERY,
    RELEASE_NOTIFICATIONS,
    RELEASE_TIMERS,
    ROWS,
    SET_ASIDE,
    START_NOTIFICATION,
    UNLOCK,
    VERSIONS,
)
from daemon.store.redis_silences import RedisSilences
from daemon.store.redis_wire import pack_in_one_pass
from daemon.timefmt import iso
from rules.silences import Silence

T = TypeVar("T")
log = structlog.get_logger("tocsin.store")
# How long redis remembers that a decision committed (or may no longer): far longer than a reply can be late.
SETTLE_MS = 3_600_000
LOCK_AFTER = 3  # conflicts on one incident before a decision locks it
LOCK_FOR = timedelta(seconds=5)
BIG_SLICE = 500  # alerts in a slice above which the engine runs in a thread
# Rows read per command when many are wanted (an incident of 50,000 alerts): each reply is parsed, and decoded in a
# thread, while the event loop goes on between them.
CHUNK = 1000
NOTIFICATION_KEY_TTL = timedelta(days=7)
WEBHOOK_TTL = timedelta(days=7)
SCAN = 200
STRIPES = 64
GROUP = 32  # decisions one commit takes at most


class NeedIds(Exception):
    """The decision wants another incident id than the ones reserved; reserve one and decide again."""

    def __init__(self, year: int) -> None:
        super().__init__(year)
        self.year = year


class _Ids:
    """Incident ids of one decision attempt, drawn from the replica's pool of ids reserved with INCR before
    deciding (the engine cannot wait for Redis in mid-decision). Each attempt has its own, so that an attempt
    that fails gives back only what it took, never an id another decision is committing."""

    def __init__(self, pool: dict[int, list[int]]) -> None:
        self.pool = pool
        self.taken: list[tuple[int, int]] = []

    def next_incident_id(self, now: datetime) -> str:
        year = now.astimezone(UTC).year
        numbers = self.pool.get(year)
        if not numbers:
            raise NeedIds(year)
        number = numbers.pop(0)
        self.taken.append((year, number))
        return format_incident_id(year, number)

    def give_back(self) -> None:
        """This attempt did not commit: the next decision uses its ids (no gap, in order)."""
        for year, number in self.taken:
            self.pool.setdefault(year, []).append(number)
        for numbers in self.pool.values():
            numbers.sort()
        self.taken.clear()


@dataclass
class _Read:
    """The versions one decision read, checked by its commit."""

    alerts: dict[str, int] = field(default_factory=dict)
    # The incident each alert read belonged to (its place in firing:<incident> moves with it).
    was: dict[str, str | None] = field(default_factory=dict)
    # What each alert read was, for COMMIT ("o" firing in no incident, "f" firing in an incident, "r" resolved).
    old: dict[str, str] = field(default_factory=dict)
    incidents: dict[str, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    webhooks: list[str] = field(default_factory=list)


@dataclass(eq=False)
class _Job:
    """A decision waiting for its turn; whoever takes it (itself, or the one ahead of it) sets its future."""

    needs: Needs
    decide: Decide
    committed: Committed | None
    deadline: float
    future: asyncio.Future[Decision]
    taken: bool = False


@dataclass
class _Prefetched:
    """What PREFETCH read in one call, served to the plan's queries in place of their own round trips."""

    alerts: dict[str, tuple[int, bytes] | None] = field(default_factory=dict)
    keys: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    incidents: dict[str, tuple[int, bytes] | None] = field(default_factory=dict)
    overrides: dict[str, list[bytes]] = field(default_factory=dict)
    silences_at: datetime | None = None
    silences: list[Silence] | None = None


@dataclass(frozen=True)
class RedisOptions:
    prefix: str = "tocsin"
    timeout: float = 2.0


def _ts(dt: datetime) -> float:
    return dt.timestamp()


def _ms(span: timedelta) -> int:
    return max(1, int(span.total_seconds() * 1000))


def parse_redis_url(url: str) -> tuple[str, RedisOptions, dict[str, Any]]:
    """Split tocsin's own options (``prefix``, ``timeout``) from the URL redis-py understands."""
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    options = RedisOptions(
        prefix=query.pop("prefix", ["tocsin"])[0],
        timeout=float(query.pop("timeout", ["2"])[0]),
    )
    rest = "&".join(f"{k}={v}" for k, values in query.items() for v in values)
    clean = parts._replace(query=rest).geturl()
    extra: dict[str, Any] = {}
    if parts.scheme == "redis+sentinel":
        # redis+sentinel://[:password@]host:port[,host:port]/service[/db]
        hosts = [h.rsplit(":", 1) for h in parts.netloc.rsplit("@", 1)[-1].split(",")]
        path = [p for p in parts.path.split("/") if p]
        extra = {
            "sentinels": [(h, int(p)) for h, p in hosts],
            "service": path[0] if path else "mymaster",
            "db": int(path[1]) if len(path) > 1 else 0,
            "password": unquote(parts.password) if parts.password else None,
        }
    return clean, options, extra


class RedisStore(RedisOverrides, RedisSilences):
    def __init__(
        self, url: str, write_timeout: float = WRITE_TIMEOUT, max_pending: int = MAX_PENDING_DECISIONS
    ) -> None:
        self.url, self.options, self._sentinel = parse_redis_url(url)
        self.write_timeout = write_timeout
        self.max_pending = max_pending
        self._deciding: set[asyncio.Task[Decision]] = set()
        self._settling: set[asyncio.Task[None]] = set()
        self.keys = Keys(self.options.prefix)
        self.shared = True  # every replica writes it
        # Typed loosely: redis-py's own annotations do not tell bytes answers from str ones.
        self._redis: Any = None
        self._pool: dict[int, list[int]] = {}
        self._stripes = [asyncio.Lock() for _ in range(STRIPES)]
        self._waiting: dict[tuple[int, ...], list[_Job]] = {}
        self._asking: list[tuple[list[str], asyncio.Future[dict[str, int]]]] = []
        self._reader: asyncio.Task[None] | None = None
        self._prefetching = True
        self._indexed = False  # the listing index is known to hold every incident

    # -- lifecycle ----------------------------------------------------------------------------------

    async def open(self) -> None:
        timeout = self.options.timeout
        # Fail fast (socket timeouts, one quick retry): an unreachable store is a 503, not a hang.
        common: dict[str, Any] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            "retry": Retry(ExponentialBackoff(cap=0.2, base=0.02), 1),
            "health_check_interval": 15,
        }
        if self._sentinel:
            sentinel = Sentinel(self._sentinel["sentinels"], socket_timeout=timeout)  # type: ignore[no-untyped-call, unused-ignore]  # typed from redis 8
            self._redis = sentinel.master_for(
                self._sentinel["service"], db=self._sentinel["db"], password=self._sentinel["password"], **common
            )
        else:
            self._redis = aioredis.Redis.from_url(self.url, **common)
        r = self._redis
        pack_in_one_pass(r.connection_pool)
        self._commit = r.register_script(COMMIT)
        self._fence = r.register_script(FENCE)
        self._claim_timers = r.register_script(CLAIM_TIMERS)
        self._claim_notes = r.register_script(CLAIM_NOTIFICATIONS)
        self._record = r.register_script(RECORD_DELIVERY)
        self._purge_incident = r.register_script(PURGE_INCIDENT)
        self._purge_alert = r.register_script(PURGE_ALERT)
        self._hold = r.register_script(HOLD_NOTIFICATIONS)
        self._start = r.register_script(START_NOTIFICATION)
        self._release_notes = r.register_script(RELEASE_NOTIFICATIONS)
        self._release_timers = r.register_script(RELEASE_TIMERS)
        self._set_aside = r.register_script(SET_ASIDE)
        self._lock = r.register_script(LOCK)
        self._unlock = r.register_script(UNLOCK)
        self._versions = r.register_script(VERSIONS)
        self._prefetch_script = r.register_script(PREFETCH)
        self._rows_script = r.register_script(ROWS)
        self._index_incidents = r.register_script(INDEX_INCIDENTS)

    async def close(self) -> None:
        # Decisions still under way end with the store (their callers were answered or are gone); one left
        # unsettled leaves its effects uncounted, never doubled.
        pending = [*self._deciding, *self._settling]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending)
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    @property
    def r(self) -> Any:
        if self._redis is None:
            raise StoreUnavailable("the store is not open")
        return self._redis

    async def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await work()
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"redis: {exc}") from exc

    async def ping(self) -> None:
        await self._call(self.r.ping)

    # -- decisions ----------------------------------------------------------------------------------

    async def decide(self, needs: Needs, decide: Decide, committed: Committed | None = None) -> Decision:
        if len(self._deciding) >= self.max_pending:
            raise StoreBusy(f"{len(self._deciding)} decisions already wait for redis")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.write_timeout
        # Its own task: a commit under way when the caller gives up still gets its reply, and its effects.
        task = loop.create_task(self._decide_in_turn(needs, decide, committed, deadline), name="redis-decide")
        self._deciding.add(task)
        task.add_done_callback(self._decided)
        timeout = asyncio.timeout_at(deadline)
        try:
            async with timeout:
                return await asyncio.shield(task)
        except TimeoutError:
            if not timeout.expired():
                raise
            raise StoreUnavailable(f"no commit within {self.write_timeout:g}s") from None

    def _decided(self, task: asyncio.Task[Decision]) -> None:
        self._deciding.discard(task)
        if not task.cancelled():
            task.exception()  # retrieved here: a caller that gave up no longer reads it

    async def _decide_in_turn(
        self, needs: Needs, decide: Decide, committed: Committed | None, deadline: float
    ) -> Decision:
        # Decisions of this replica on the same keys take turns (striped locks, taken in order): optimistic
        # conflicts are then left to decisions racing on other replicas, instead of a storm racing itself. The
        # decision whose turn it is takes those waiting behind it on the same stripes along (a group commit: one
        # read and one commit for all, as SQLite commits a batch in one transaction).
        keys = {*needs.keys, *(key for _, key in needs.firing), *needs.incident_ids}
        stripes = tuple(sorted({hash(k) % STRIPES for k in keys}))
        job = _Job(needs, decide, committed, deadline, asyncio.get_running_loop().create_future())
        waiting = self._waiting.setdefault(stripes, [])
        waiting.append(job)
        try:
            async with contextlib.AsyncExitStack() as held:
                try:
                    async with asyncio.timeout_at(deadline):
                        for stripe in stripes:
                            await held.enter_async_context(self._stripes[stripe])
                except TimeoutError:
                    if not job.taken:
                        raise StoreUnavailable(f"no turn within {self.write_timeout:g}s") from None
                else:
                    if not job.taken:
                        batch = [job]
                        if groupable(needs):
                            others = (j for j in waiting if j is not job and not j.taken and groupable(j.needs))
                            batch += list(others)[: GROUP - 1]
                        for j in batch:
                            j.taken = True
                        await self._decide_group(batch)
        finally:
            waiting.remove(job)
            if not waiting and self._waiting.get(stripes) is waiting:
                del self._waiting[stripes]
        return await job.future

    async def _decide_group(self, jobs: list[_Job]) -> None:
        """Decide ``jobs`` in turn on one slice and commit them together; each job's future gets its outcome. A
        job whose decision raises leaves the group (the others are decided again on a fresh slice, without it)."""
        try:
            while jobs:
                try:
                    failed = await self._decide(jobs)
                except BaseException as exc:
                    for j in jobs:
                        if not j.future.done():
                            j.future.set_exception(exc)
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    return
                if failed is None:
                    return
                jobs = [j for j in jobs if j is not failed]
        finally:
            for j in jobs:
                if not j.future.done():
                    j.future.set_exception(StoreUnavailable("the decision was not taken"))

    async def _decide(self, jobs: list[_Job]) -> _Job | None:
        """One group: returns the job that failed on its own (and must leave the group), or None when every job
        has its outcome. Raises what fails them all."""
        loop = asyncio.get_running_loop()
        token = uuid.uuid4().hex
        locked: list[str] = []
        conflicts = 0
        needs = jobs[0].needs if len(jobs) == 1 else union([j.needs for j in jobs])
        try:
            while True:
                ids = _Ids(self._pool)
                s, read = await self._call(lambda: self._load(needs, ids))  # noqa: B023 - awaited at once
                decisions: list[Decision] = []
                try:
                    for job in jobs:
                        # A big decision (an incident of thousands of alerts) is decided off the event loop; the
                        # slice grows with each decision of a group.
                        big = len(s.alerts) > BIG_SLICE
                        decisions.append(await asyncio.to_thread(job.decide, s) if big else job.decide(s))
                except NeedIds as want:
                    # Not a conflict: reserve at least twice what this attempt took, and decide again.
                    taken = len(ids.taken)
                    ids.give_back()
                    await self._reserve(want.year, taken + 1)
                    continue
                except BaseException as exc:
                    ids.give_back()
                    if len(jobs) == 1 or isinstance(exc, asyncio.CancelledError):
                        raise
                    # Its decision may have changed the slice before raising: the others decide again.
                    failed = jobs[len(decisions)]
                    failed.future.set_exception(exc)
                    return failed
                late = next((j for j in jobs if loop.time() > j.deadline), None)
                if late is not None:
                    # Its caller has been answered 503: what it asked is not sent once that answer is out.
                    ids.give_back()
                    error = StoreUnavailable(f"no commit within {self.write_timeout:g}s")
                    if len(jobs) == 1:
                        raise error
                    late.future.set_exception(error)
                    return late
                decision = decisions[0] if len(decisions) == 1 else merge(decisions)
                created = [i for i in decision.incidents if i not in read.incidents]
                payload = self._payload(decision, read, created, token, locked)
                try:
                    result = await self._call(functools.partial(self._commit, args=[self.keys.base, *payload]))
                except StoreUnavailable:
                    # The outcome is unknown (the reply was lost, or the script waits in a paused server): settle
                    # it in the background, so that it counts if it landed. The ids may be used: not given back.
                    self._settle_later(token, [(d, j.committed) for d, j in zip(decisions, jobs, strict=True)])
                    raise
                if result[0] == b"ok":
                    locked.clear()  # released by the commit
                    for d, j in zip(decisions, jobs, strict=True):
                        report_commit(j.committed, d)
                        j.future.set_result(d)
                    if len(s.alerts) > BIG_SLICE:  # not freed on the event loop when this returns (heap.let_go)
                        heap.let_go_later(*s.firing_members.values(), s.firing_members, s.alerts, read.was, read.old)
                    return None
                if result[0] == b"fenced":
                    raise StoreUnavailable("the decision was settled as not stored")
                reason = result[1].decode()
                if reason.startswith("incident exists"):
                    ids.taken.clear()  # never hand out an id that is taken (say, a sequence reset by hand)
                ids.give_back()
                conflicts += 1
                if loop.time() > min(j.deadline for j in jobs):
                    raise StoreUnavailable(f"gave up after {conflicts} conflicting attempts ({reason})")
                if conflicts >= LOCK_AFTER and reason.startswith("incident "):
                    # This decision keeps losing the race for one incident (a big incident's alerts keep joining
                    # it): lock it briefly so that the others wait for this one instead.
                    incident_id = reason.split(" ", 1)[1]
                    args = [self.keys.base, incident_id, token, int(LOCK_FOR.total_seconds() * 1000)]
                    if incident_id not in locked and await self._call(functools.partial(self._lock, args=args)):
                        locked.append(incident_id)
                        continue
                # Someone else committed what we read: take the decision again on fresh state.
                await asyncio.sleep(random.uniform(0, min(0.05, 0.002 * 2 ** min(conflicts, 10))))
        finally:
            if locked:
                with contextlib.suppress(StoreUnavailable):
                    await self._call(functools.partial(self._unlock, args=[self.keys.base, token, *locked]))

    def _settle_later(self, token: str, decided: list[tuple[Decision, Committed | None]]) -> None:
        task = asyncio.get_running_loop().create_task(self._settle(token, decided), name="redis-settle")
        self._settling.add(task)
        task.add_done_callback(self._settling.discard)

    async def _settle(self, token: str, decided: list[tuple[Decision, Committed | None]]) -> None:
        """Ask until redis answers whether the commit ran; from that answer on it can no longer run."""
        delay = 0.05
        while True:
            try:
                landed = await self._call(functools.partial(self._fence, args=[self.keys.base, token, SETTLE_MS]))
                break
            except StoreUnavailable:
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
        for decision, committed in decided:
            log.info("decision_settled", stored=bool(landed), incident=decision.incident_id)
            if landed:
                report_commit(committed, decision)

    async def _reserve(self, year: int, count: int) -> None:
        last = int(await self._call(lambda: self.r.incrby(self.keys.incident_seq(year), count)))
        pool = self._pool.setdefault(year, [])
        pool.extend(range(last - count + 1, last + 1))
        pool.sort()  # the smallest first, so that ids come out in order

    async def load(self, needs: Needs) -> Slice:
        """What ``needs`` names, read as it is now (nothing decided, nothing written)."""

        async def work() -> Slice:
            slice_, _ = await self._load(needs, _Ids({}))
            return slice_

        result: Slice = await self._call(work)
        return result

    async def _load(self, needs: Needs, ids: _Ids) -> tuple[Slice, _Read]:
        read = _Read()
        cache = await self._prefetch(needs)
        steps = loading.plan(needs, ids)
        try:
            query = next(steps)
            while True:
                query = steps.send(await self._answer(query, read, cache))
        except StopIteration as done:
            return done.value, read

    async def _prefetch(self, needs: Needs) -> _Prefetched:
        """Read in one script call what the plan will ask first: the alerts, the holders of their keys (with those
        incidents), the incidents named, the overrides and the silences. The plan's queries are then answered from
        it; what they ask beyond it is read as before. Nothing is taken as read (version-checked) until asked."""
        fps = sorted(needs.fingerprints)
        keys = sorted(needs.keys | {key for _, key in needs.firing})
        ids = sorted(needs.incident_ids)
        schedules = sorted(needs.overrides)
        at = needs.silences_at if needs.silences else None
        args: list[Any] = [self.keys.base, len(fps), *fps, len(keys), *keys, len(ids), *ids, len(schedules)]
        args += [*schedules, "" if at is None else _ts(at)]
        got = _Prefetched()
        if not self._prefetching:
            return got
        try:
            raw = await self._prefetch_script(args=args)
        except ResponseError as exc:
            # A Redis before 7 refuses the script's flags: read query by query, as before.
            log.warning("redis_prefetch_unavailable", error=str(exc)[:200])
            self._prefetching = False
            return got
        alerts, holders, incidents, overrides, silences = raw

        def row(v: bytes | None, d: bytes | None) -> tuple[int, bytes] | None:
            return None if d is None else (int(v or 0), d)

        for i, fp in enumerate(fps):
            got.alerts[fp] = row(alerts[2 * i], alerts[2 * i + 1])
        for i, ck in enumerate(keys):
            version, pointer, v, d = holders[4 * i : 4 * i + 4]
            holder = pointer.decode() if pointer is not None else None
            got.keys[ck] = (int(version or 0), holder)
            if holder is not None:
                got.incidents[holder] = row(v, d)
        for i, iid in enumerate(ids):
            got.incidents[iid] = row(incidents[2 * i], incidents[2 * i + 1])
        got.overrides = dict(zip(schedules, overrides, strict=True))
        if at is not None:
            data, stored, indexed = silences
            if stored == indexed:  # else the index is behind the hash: read as SilencesAt does, mending it
                got.silences_at = at
                got.silences = [silence_codec.decode(d) for d in data if d is not None]
        return got

    async def _hashes(self, keys: list[str]) -> list[tuple[int, bytes] | None]:
        pipe = self.r.pipeline(transaction=False)
        for key in keys:
            pipe.hmget(key, "v", "d")
        out: list[tuple[int, bytes] | None] = []
        for v, d in await pipe.execute():
            out.append(None if d is None else (int(v), d))
        return out

    async def _rows(self, kind: str, ids: list[str]) -> list[tuple[int, bytes] | None]:
        """The v, d of each ``kind`` (alert or incident) row, None where absent; read in chunks of CHUNK."""
        if not self._prefetching:  # a Redis before 7 (see _prefetch): one HMGET each
            return await self._hashes([self.keys(kind, i) for i in ids])
        out: list[tuple[int, bytes] | None] = []
        for start in range(0, len(ids), CHUNK):
            try:
                flat = await self._rows_script(args=[self.keys.base, kind, *ids[start : start + CHUNK]])
            except ResponseError as exc:
                log.warning("redis_prefetch_unavailable", error=str(exc)[:200])
                self._prefetching = False
                return await self._hashes([self.keys(kind, i) for i in ids])
            out += [None if d is None else (int(v), d) for v, d in zip(flat[::2], flat[1::2], strict=True)]
        return out

    async def _rows_by_id(
        self, kind: str, ids: list[str], prefetched: Mapping[str, tuple[int, bytes] | None] | None
    ) -> dict[str, tuple[int, bytes] | None]:
        """``_rows`` by id, taking what the decision's prefetch already read and reading only the rest."""
        rows = {} if prefetched is None else {i: prefetched[i] for i in ids if i in prefetched}
        rest = [i for i in ids if i not in rows]
        if rest:
            rows.update(zip(rest, await self._rows(kind, rest), strict=True))
        return rows

    async def _alerts(self, fingerprints: Iterable[str], read: _Read, cache: _Prefetched | None = None) -> list[Alert]:
        fps = list(fingerprints)
        rows = await self._rows_by_id("alert", fps, None if cache is None else cache.alerts)

        def finish() -> list[Alert]:
            found = []
            for fp in fps:
                row = rows.pop(fp)  # freed as it goes (see heap.let_go): some 35 ms for 50,000 rows at once
                read.alerts.setdefault(fp, row[0] if row else 0)
                if row is not None:
                    alert = codec.alert_from(codec.loads(row[1]))
                    read.was.setdefault(fp, alert.incident_id)
                    read.old.setdefault(fp, _old(alert))
                    found.append(alert)
            return found

        # Many (an incident's members) are decoded in a thread: the event loop keeps answering meanwhile (``read``
        # is this decision's own).
        return await asyncio.to_thread(finish) if len(fps) > CHUNK else finish()

    async def _incidents(self, ids: Iterable[str], read: _Read, cache: _Prefetched | None = None) -> list[Incident]:
        wanted = list(ids)
        rows = await self._rows_by_id("incident", wanted, None if cache is None else cache.incidents)
        found = []
        for iid in wanted:
            row = rows[iid]
            if row is not None:
                read.incidents.setdefault(iid, row[0])
                found.append(codec.incident_from(codec.loads(row[1])))
        return found

    async def _answer(self, query: loading.Query, read: _Read, cache: _Prefetched) -> Any:
        r, k = self.r, self.keys
        match query:
            case loading.AlertsByFingerprint(fingerprints=fps):
                return await self._alerts(fps, read, cache)
            case loading.IncidentsById(ids=ids):
                return await self._incidents(ids, read, cache)
            case loading.IncidentOfKey(keys=cks) if all(ck in cache.keys for ck in cks):
                known: dict[str, str] = {}
                for ck in cks:
                    version, pointer = cache.keys[ck]
                    read.keys.setdefault(ck, version)
                    if pointer is not None:
                        known[ck] = pointer
                return known
            case loading.IncidentOfKey(keys=cks):
                pipe = r.pipeline(transaction=False)
                for ck in cks:
                    pipe.get(k.keyv(ck))
                    pipe.get(k.key(ck))
                answers = await pipe.execute()
                holders: dict[str, str] = {}
                for i, ck in enumerate(cks):
                    version, pointer = answers[2 * i], answers[2 * i + 1]
                    read.keys.setdefault(ck, int(version or 0))
                    if pointer is not None:
                        holders[ck] = pointer.decode()
                return holders
            case loading.OrphansByKey(keys=cks):
                pipe = r.pipeline(transaction=False)
                for ck in cks:
                    pipe.smembers(k.orphans(ck))
                orphaned = sorted({fp.decode() for members in await pipe.execute() for fp in members})
                candidates = await self._alerts(orphaned, read)
                return [a for a in candidates if a.status is AlertStatus.FIRING and a.incident_id is None]
            case loading.FiringMembersOf(incident_ids=ids):
                pipe = r.pipeline(transaction=False)
                for iid in ids:
                    pipe.smembers(k.firing(iid))
                sets = await pipe.execute()
                big = sum(len(m) for m in sets) > CHUNK
                pairs, members = await _off_loop_if(big, _pairs, ids, sets)
                alerts = await self._alerts(members, read)
                return await _off_loop_if(big, _firing_members, pairs, alerts)
            case loading.TimersOf(incident_ids=ids):
                pipe = r.pipeline(transaction=False)
                for iid in ids:
                    pipe.smembers(k.itimers(iid))
                keys = [key.decode() for members in await pipe.execute() for key in members]
                raw = await r.mget([k.timer(key) for key in keys]) if keys else []
                return [codec.timer_from(codec.loads(d)) for d in raw if d is not None]
            case loading.SeenWebhooks(ids=ids):
                pipe = r.pipeline(transaction=False)
                for wid in ids:
                    pipe.exists(k.webhook(wid))
                seen = {wid for wid, n in zip(ids, await pipe.execute(), strict=True) if n}
                read.webhooks.extend(wid for wid in ids if wid not in seen)
                return seen
            case loading.OverridesOf(schedules=names):
                # Not version-checked: who is on call is read as of the decision, like the clock.
                if all(name in cache.overrides for name in names):
                    found = [StoredOverride.from_json(orjson.loads(v)) for n in names for v in cache.overrides[n]]
                    return sorted(found, key=lambda o: o.seq)
                return await self.overrides_of(names)
            case loading.SilencesAt(at=at):
                # Not version-checked either: a silence is in force as of the decision's ``now``.
                if cache.silences is not None and cache.silences_at == at:
                    return cache.silences
                return await self.silences_ending_after(at)
            case loading.UnplacedFiring():
                loose = sorted(fp.decode() for fp in await r.smembers(k.unplaced()))
                return [
                    a
                    for a in await self._alerts(loose, read)
                    if a.status is AlertStatus.FIRING and a.incident_id is None
                ]
        raise TypeError(f"unknown query {query!r}")

    def _payload(self, d: Decision, read: _Read, created: list[str], token: str, locked: list[str]) -> list[Any]:
        """The decision as COMMIT's flat arguments: counted sections of plain strings (see the script)."""
        out: list[Any] = [token, SETTLE_MS, int(NOTIFICATION_KEY_TTL.total_seconds()), int(WEBHOOK_TTL.total_seconds())]

        def section(rows: list[Any], width: int = 1) -> None:
            out.append(len(rows) // width)
            out.extend(rows)

        section(locked)
        # Every alert written was read (its absence too), so that what it was is known: one that was not is
        # checked as absent.
        checked = {fp: read.alerts.get(fp, 0) for fp in d.alerts}
        section([x for pair in checked.items() for x in pair], 2)
        section([x for pair in read.incidents.items() for x in pair], 2)
        section([x for pair in read.keys.items() for x in pair], 2)
        section([w for w in read.webhooks if w in d.webhooks])
        # Incidents this decision creates must not exist: an id is never written over.
        section(sorted(created))
        dumps = codec.dumps
        meta: list[tuple[Any, ...]] = []
        docs: list[bytes] = []
        for a in d.alerts.values():
            a.version = read.alerts.get(a.fingerprint, 0) + 1
            firing = a.status is AlertStatus.FIRING
            ended = _ts(a.ends_at) if a.status is AlertStatus.RESOLVED and a.ends_at is not None else ""
            meta.append(
                (
                    a.fingerprint,
                    a.version,
                    a.correlation_key,
                    1 if firing and a.incident_id is None else 0,
                    read.was.get(a.fingerprint) or "",
                    a.incident_id if firing and a.incident_id else "",
                    ended,
                    read.old.get(a.fingerprint, ""),
                )
            )
            docs.append(dumps(a))
        out.append(len(docs))
        if docs:
            out.append(orjson.dumps(meta))
            out.extend(docs)
        rows: list[Any] = []
        for i in d.incidents.values():
            i.version = read.incidents.get(i.id, 0) + 1
            resolved = _ts(i.resolved_at) if not i.state.is_open and i.resolved_at is not None else ""
            rows += (i.id, i.version, dumps(i), resolved, i.state.value, i.severity.value, i.service)
        section(rows, 7)
        section([x for pair in d.pointers.items() for x in pair], 2)
        section([x for pair in sorted(d.memberships) for x in pair], 2)
        section([x for e in d.timeline for x in (e.incident_id, dumps(_entry(e)))], 2)
        section([x for key in sorted(d.timers_cancelled) for x in (key, key.split("/", 1)[0])], 2)
        section([x for t in d.timers_set.values() for x in (t.key, _ts(t.due_at), dumps(t), t.incident_id)], 4)
        section([x for n in d.notifications for x in (n.key, dumps(n), _ts(n.created_at), n.incident_id)], 4)
        section(sorted(d.webhooks))
        section([x for s in d.silences for x in (s.id, silence_codec.encode(s), _ts(s.ends_at))], 3)
        return out

    # -- reads --------------------------------------------------------------------------------------

    async def get_incident(self, incident_id: str, window: AlertWindow | None = None) -> IncidentView | None:
        async def work() -> IncidentView | None:
            k = self.keys
            pipe = self.r.pipeline(transaction=False)
            pipe.hget(k.incident(incident_id), "d")
            pipe.smembers(k.members(incident_id))
            pipe.lrange(k.timeline(incident_id), 0, -1)
            data, members, entries = await pipe.execute()
            if data is None:
                return None
            big = len(members) > CHUNK
            if window is None:
                fps = await _off_loop_if(big, lambda: sorted(m.decode() for m in members))
                alerts = await self._alerts(fps, _Read())
                order = await self._alert_order([a.fingerprint for a in alerts])
                await _off_loop_if(big, lambda: alerts.sort(key=lambda a: order.get(a.fingerprint, 0)))
            else:
                # Ordered by arrival before reading: only the window's alerts are read and decoded. A member whose
                # alert a purge removed (it left this incident for one purged since) is neither shown nor counted.
                fps = await _off_loop_if(big, lambda: [m.decode() for m in members])
                order = await self._alert_order(fps)
                fps = await _off_loop_if(big, lambda: sorted((fp for fp in fps if fp in order), key=order.__getitem__))
                alerts = await self._alerts(fps[window.first : window.first + window.count], _Read())
            timeline = [codec.timeline_from({"incident_id": incident_id, **codec.loads(e)}) for e in entries]
            incident = codec.incident_from(codec.loads(data))
            first, total = (window.first, len(fps)) if window else (0, None)
            return IncidentView(incident, alerts, timeline, first, total)

        return await self._call(work)

    async def alert_versions(self, fingerprints: list[str]) -> dict[str, int]:
        """Batched: the requests asking while one read is under way share the next read (a redelivery storm
        costs a round trip per batch, not per webhook)."""
        future: asyncio.Future[dict[str, int]] = asyncio.get_running_loop().create_future()
        self._asking.append((fingerprints, future))
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read_versions(), name="redis-versions")
        return await asyncio.shield(future)

    async def _read_versions(self) -> None:
        while self._asking:
            batch, self._asking = self._asking, []
            wanted = sorted({fp for fps, _ in batch for fp in fps})
            try:
                # One script call rather than a pipeline of HGETs: redis-py's per-command cost is what shows.
                found = await self._call(functools.partial(self._versions, args=[self.keys.base, *wanted]))
            except StoreUnavailable as exc:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            versions = {fp: int(v) for fp, v in zip(wanted, found, strict=False) if v is not None}
            for fps, future in batch:
                if not future.done():
                    future.set_result({fp: versions[fp] for fps_ in (fps,) for fp in fps_ if fp in versions})

    async def get_incident_summary(self, incident_id: str) -> Incident | None:
        found = await self._call(lambda: self._incidents([incident_id], _Read()))
        return found[0] if found else None

    async def _alert_order(self, fingerprints: list[str]) -> dict[str, float]:
        """The place in the order of arrival of each alert that is stored (a purge leaves others' members behind)."""
        order: dict[str, float] = {}
        for start in range(0, len(fingerprints), CHUNK):
            chunk = fingerprints[start : start + CHUNK]
            scores = await self.r.zmscore(self.keys.alerts, chunk)
            order.update((fp, s) for fp, s in zip(chunk, scores, strict=True) if s is not None)
        return order

    async def _scan(
        self,
        index: str,
        after: str | None,
        limit: int,
        load: Callable[[list[str]], Awaitable[list[T]]],
        keep: Callable[[T], bool],
    ) -> Page[T]:
        """Walk a sorted set newest first from ``after``, keeping what ``keep`` likes, until ``limit`` + 1."""
        high: str = f"({cursor.decode(after)}" if after is not None else "+inf"
        items: list[tuple[float, T]] = []
        while len(items) <= limit:
            chunk = await self.r.zrevrangebyscore(index, high, "-inf", start=0, num=SCAN, withscores=True)
            if not chunk:
                break
            members = [m.decode() for m, _ in chunk]
            loaded = await load(members)
            by_id = dict(zip(members, [s for _, s in chunk], strict=True))
            for obj in loaded:
                if keep(obj):
                    items.append((by_id[_ident(obj)], obj))
            high = f"({chunk[-1][1]}"
            if len(chunk) < SCAN:
                break
        items.sort(key=lambda pair: -pair[0])
        page = [obj for _, obj in items[:limit]]
        more = len(items) > limit
        return Page(page, cursor.encode(int(items[limit - 1][0])) if more else None)

    async def list_incidents(self, where: IncidentFilter, limit: int, after: str | None) -> Page[Incident]:
        def keep(i: Incident) -> bool:
            return (
                (where.state is None or i.state.value == where.state or (where.state == "open" and i.state.is_open))
                and (where.severity is None or i.severity.value == where.severity)
                and (where.service is None or i.service == where.service)
            )

        async def work() -> Page[Incident]:
            k = self.keys
            # Each filter names a sorted set of the incidents it keeps (in declaration order, as the listing
            # is): walk the smallest, checking the other filters on what it holds.
            candidates: list[str] = []
            if where.state == "open":
                candidates.append(k.open_incidents)
            elif where.state is not None:
                candidates.append(k.incidents_where("state", where.state))
            if where.severity is not None:
                candidates.append(k.incidents_where("severity", where.severity))
            if where.service is not None:
                candidates.append(k.incidents_where("service", where.service))
            index = k.incidents
            if candidates:
                await self._ensure_index()
                pipe = self.r.pipeline(transaction=False)
                for key in candidates:
                    pipe.zcard(key)
                sizes = await pipe.execute()
                index = min(zip(sizes, candidates, strict=True))[1]
            return await self._scan(index, after, limit, lambda ids: self._incidents(ids, _Read()), keep)

        return await self._call(work)

    async def _ensure_index(self) -> None:
        """Index the incidents stored before the listing index existed (once per store, marked when done)."""
        if self._indexed:
            return
        k = self.keys
        if not await self.r.exists(k.incidents_indexed):
            total = 0
            todo = [i.decode() for i in await self.r.zrange(k.incidents, 0, -1)]
            for _ in range(5):  # an incident changed between its read and its indexing is read again
                later: list[str] = []
                for start in range(0, len(todo), SCAN):
                    chunk = todo[start : start + SCAN]
                    args: list[Any] = [k.base]
                    for iid, row in zip(chunk, await self._rows("incident", chunk), strict=True):
                        if row is not None:
                            incident = codec.incident_from(codec.loads(row[1]))
                            args += [iid, row[0], incident.state.value, incident.severity.value, incident.service]
                    done, moved = await self._index_incidents(args=args)
                    total += int(done)
                    later += [m.decode() for m in moved]
                todo = later
                if not todo:
                    break
            await self.r.set(k.incidents_indexed, "1")
            log.info("redis_listing_index_built", incidents=total, left=len(todo))
        self._indexed = True

    async def list_alerts(self, status: str | None, limit: int, after: str | None) -> Page[Alert]:
        return await self._call(
            lambda: self._scan(
                self.keys.alerts,
                after,
                limit,
                lambda fps: self._alerts(fps, _Read()),
                lambda a: status is None or a.status.value == status,
            )
        )

    # -- timers and outbox --------------------------------------------------------------------------

    async def claim_due_timers(self, now: datetime, limit: int, lease: timedelta, token: str) -> Claimed[Timer]:
        args = [self.keys.base, _ts(now), _ts(now + lease), limit, token, _ms(lease)]
        raw = await self._call(functools.partial(self._claim_timers, args=args))
        timers: list[Timer] = []
        aside: list[SetAside] = []
        for key, data in zip(raw[::2], raw[1::2], strict=True):
            try:
                timers.append(codec.timer_from(codec.loads(data)))
            except Exception as exc:
                aside.append(await self._aside(Queue.TIMERS, key.decode(), exc))
        return Claimed(sorted(timers, key=lambda t: t.due_at), aside)

    async def release_timers(self, token: str, keys: list[str], now: datetime) -> None:
        if keys:
            args = [self.keys.base, _ts(now), token, *keys]
            await self._call(functools.partial(self._release_timers, args=args))

    async def next_timer_due(self) -> datetime | None:
        first = await self._call(lambda: self.r.zrange(self.keys.timers, 0, 0, withscores=True))
        return datetime.fromtimestamp(first[0][1], UTC) if first else None

    async def claim_notifications(
        self, now: datetime, limit: int, lease: timedelta, token: str
    ) -> Claimed[Notification]:
        args = [self.keys.base, _ts(now), _ts(now + lease), limit, token, _ms(lease)]
        raw = await self._call(functools.partial(self._claim_notes, args=args))
        found: list[Notification] = []
        aside: list[SetAside] = []
        for key, data, attempts in zip(raw[::3], raw[1::3], raw[2::3], strict=True):
            try:
                notification = codec.notification_from(codec.loads(data))
            except Exception as exc:
                aside.append(await self._aside(Queue.OUTBOX, key.decode(), exc))
                continue
            notification.attempts = int(attempts)
            notification.claim = token
            found.append(notification)
        # Already in their incident's order; a stable sort by creation keeps it.
        return Claimed(sorted(found, key=lambda n: n.created_at), aside)

    async def _aside(self, queue: Queue, key: str, exc: Exception) -> SetAside:
        reason = type(exc).__name__
        await self._call(functools.partial(self._set_aside, args=[self.keys.base, queue.value, key, reason]))
        return SetAside(queue, key, reason)

    async def set_aside_rows(self) -> list[SetAside]:
        rows: list[SetAside] = []
        for queue in Queue:
            why = await self._call(functools.partial(self.r.hgetall, self.keys.aside_why(queue.value)))
            rows += [SetAside(queue, key.decode(), reason.decode()) for key, reason in sorted(why.items())]
        return rows

    async def hold_notifications(self, held: dict[str, str], until: datetime) -> set[str]:
        if not held:
            return set()
        args = [self.keys.base, _ts(until), *(part for pair in held.items() for part in pair)]
        kept = await self._call(functools.partial(self._hold, args=args))
        return {key.decode() for key in kept}

    async def start_notification(self, key: str, token: str, until: datetime) -> int | None:
        attempts = await self._call(functools.partial(self._start, args=[self.keys.base, key, token, _ts(until)]))
        return None if attempts is None else int(attempts)

    async def release_notifications(self, held: dict[str, str], now: datetime) -> None:
        if held:
            args = [self.keys.base, _ts(now), *(part for pair in held.items() for part in pair)]
            await self._call(functools.partial(self._release_notes, args=args))

    async def record_delivery(self, delivery: Delivery) -> None:
        incident_id = delivery.timeline[0].incident_id if delivery.timeline else ""
        entries = [codec.dumps(_entry(e)).decode() for e in delivery.timeline]
        await self._call(lambda: self._record(args=[self.keys.base, delivery.key, incident_id, *entries]))

    async def purge(self, before: datetime) -> int:
        async def work() -> int:
            cutoff = _ts(before)
            gone = 0
            old = await self.r.zrangebyscore(self.keys.resolved_incidents, "-inf", f"({cutoff}")
            for iid in old:
                gone += int(await self._purge_incident(args=[self.keys.base, iid.decode(), cutoff]))
            for fp in await self.r.zrangebyscore(self.keys.resolved_alerts, "-inf", f"({cutoff}"):
                await self._purge_alert(args=[self.keys.base, fp.decode(), cutoff])
            await self.purge_silences(cutoff)
            return gone

        return await self._call(work)

    async def open_incident_counts(self) -> dict[tuple[str, str], int]:
        async def work() -> dict[tuple[str, str], int]:
            counts: dict[tuple[str, str], int] = {}
            ids = [i.decode() for i in await self.r.zrange(self.keys.open_incidents, 0, -1)]
            for start in range(0, len(ids), SCAN):
                for incident in await self._incidents(ids[start : start + SCAN], _Read()):
                    key = (incident.severity.value, incident.state.value)
                    counts[key] = counts.get(key, 0) + 1
            return counts

        return await self._call(work)


async def _off_loop_if(big: bool, work: Callable[..., T], *args: Any) -> T:
    """``work(*args)`` in a thread when it is big (tens of thousands of members), so that the event loop goes on."""
    return await asyncio.to_thread(work, *args) if big else work(*args)


def _pairs(ids: tuple[str, ...], sets: list[set[bytes]]) -> tuple[list[tuple[str, str]], list[str]]:
    """The (incident, fingerprint) pairs in order (``ids`` come sorted), and each fingerprint once. Each incident's
    members are sorted apart, as text: a sort is one call that holds the interpreter throughout, and sorting
    50,000 pairs as tuples held it 30 ms (the event loop waiting), as text 10 ms."""
    pairs = [(iid, fp) for iid, members in zip(ids, sets, strict=True) for fp in sorted([m.decode() for m in members])]
    return pairs, list(dict.fromkeys(fp for _, fp in pairs))


def _firing_members(pairs: list[tuple[str, str]], found: list[Alert]) -> list[tuple[str, Alert]]:
    """Of the (incident, fingerprint) pairs, those whose alert still fires in that incident, in their order."""
    by_fp = {a.fingerprint: a for a in found}
    return [
        (iid, by_fp[fp])
        for iid, fp in pairs
        if fp in by_fp and by_fp[fp].status is AlertStatus.FIRING and by_fp[fp].incident_id == iid
    ]


def _old(a: Alert) -> str:
    if a.status is AlertStatus.RESOLVED:
        return "r"
    return "f" if a.incident_id else "o"


def _entry(e: TimelineEntry) -> dict[str, str]:
    return {"at": iso(e.at), "actor": e.actor, "kind": e.kind.value, "text": e.text}


def _ident(obj: object) -> str:
    return obj.fingerprint if isinstance(obj, Alert) else obj.id  # type: ignore[attr-defined]
