"""One conformance suite for every Store: SQLite, and Redis on a real redis-server."""

from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from daemon.clock import ManualClock
from daemon.domain import AlertStatus, Kind, TimelineEntry, Timer, TimerKind
from daemon.engine.engine import Engine
from daemon.engine.events import Action, AlertIn, AlertsReceived, Declare, PagerDutyIncident, Patch, Transition
from daemon.engine.state import Decision, Needs, Slice
from daemon.metrics import Metrics
from daemon.pipeline import Pipeline
from daemon.store import Store, open_store
from daemon.store.base import AlertWindow, Delivery, IncidentFilter, Queue
from daemon.store.cursor import BadCursor
from daemon.store.redis import RedisStore
from daemon.store.sqlite import SqliteStore
from notifiers.render import Renderer
from rules.matchers import Matcher, MatchType
from rules.severity import Severity
from rules.silences import Silence
from tests.damage import write_raw
from tests.programs import until
from tests.redis_server import RedisServer
from tests.support import make_settings

pytestmark = pytest.mark.both_stores

Open = Callable[[], Awaitable[Store]]
LEASE = timedelta(seconds=30)


def alert(
    fp: str,
    service: str = "checkout",
    severity: str = "critical",
    status: str = "firing",
    starts: str = "2026-11-22T07:00:00+00:00",
    ends: str | None = None,
) -> AlertIn:
    return AlertIn(
        fingerprint=fp,
        source="alertmanager",  # type: ignore[arg-type]
        status=AlertStatus(status),
        labels={"alertname": f"A-{fp}", "service": service, "severity": severity, "env": "prod"},
        annotations={"summary": fp},
        starts_at=datetime.fromisoformat(starts),
        ends_at=datetime.fromisoformat(ends) if ends else None,
    )


@pytest.fixture
async def open_stores(store_kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Open]:
    """Opens stores on one shared backend (two opens on Redis are two replicas)."""
    if store_kind == "sqlite":
        url = f"sqlite:///{tmp_path}/conformance.db"
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        url = f"{server.url}?prefix=c{uuid.uuid4().hex[:12]}"
    opened: list[Store] = []

    async def make() -> Store:
        store = open_store(url)
        await store.open()
        opened.append(store)
        return store

    yield make
    for store in opened:
        await store.close()


@pytest.fixture
async def store(open_stores: Open) -> Store:
    return await open_stores()


@pytest.fixture
def pipeline_for(tmp_path: Path, clock: ManualClock) -> Callable[[Store], Pipeline]:
    settings = make_settings(tmp_path, {"channels": None})
    renderer = Renderer(settings.public_url, b"secret", settings.link_ttl)

    def make(store: Store) -> Pipeline:
        return Pipeline(Engine(settings), store, clock, renderer, Metrics(CollectorRegistry()))

    return make


async def test_decisions_commit_and_are_read_back(store: Store, pipeline_for: Callable[[Store], Pipeline]) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("a1"), alert("a2"))))
    view = await store.get_incident("INC-2026-0001")
    assert view is not None
    assert [a.fingerprint for a in view.alerts] == ["a1", "a2"]  # in order of arrival
    assert view.timeline[0].kind is Kind.DECLARED
    assert view.incident.firing_alerts == 2
    assert await store.get_incident("INC-2026-0002") is None


async def test_a_window_of_an_incidents_alerts_in_order_of_arrival_with_their_count(
    store: Store, pipeline_for: Callable[[Store], Pipeline]
) -> None:
    p = pipeline_for(store)
    arrived = ["z1", "a2", "m3", "b4", "y5", "c6", "x7"]  # not in the order of their names
    for fp in arrived:
        await p.submit(AlertsReceived((alert(fp),)))
    full = await store.get_incident("INC-2026-0001")
    assert full is not None
    assert [a.fingerprint for a in full.alerts] == arrived
    assert (full.alerts_from, full.alerts_total, full.total_alerts) == (0, None, 7)

    middle = await store.get_incident("INC-2026-0001", AlertWindow(2, 3))
    assert middle is not None
    assert [a.fingerprint for a in middle.alerts] == ["m3", "b4", "y5"]
    assert (middle.alerts_from, middle.total_alerts) == (2, 7)
    assert middle.incident == full.incident
    assert middle.timeline == full.timeline
    tail = await store.get_incident("INC-2026-0001", AlertWindow(5, 100))
    assert tail is not None
    assert [a.fingerprint for a in tail.alerts] == ["c6", "x7"]
    past = await store.get_incident("INC-2026-0001", AlertWindow(7, 100))
    assert past is not None
    assert (past.alerts, past.total_alerts) == ([], 7)
    assert await store.get_incident("INC-2026-0002", AlertWindow(0, 100)) is None


async def test_one_decision_may_declare_several_incidents(
    store: Store, pipeline_for: Callable[[Store], Pipeline]
) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived(tuple(alert(f"x{n}", service=f"svc-{n}") for n in range(3))))
    page = await store.list_incidents(IncidentFilter(), 10, None)
    assert sorted(i.id for i in page.items) == ["INC-2026-0001", "INC-2026-0002", "INC-2026-0003"]


async def test_a_decision_that_raises_stores_nothing(store: Store) -> None:
    def boom(s: Slice) -> Decision:
        raise RuntimeError("bug in the engine")

    committed: list[Decision] = []
    with pytest.raises(RuntimeError):
        await store.decide(Needs(fingerprints=frozenset({"x"})), boom, committed.append)
    assert (await store.list_alerts(None, 10, None)).items == []
    assert committed == []


async def test_a_stored_decision_reports_its_commit_once(store: Store) -> None:
    committed: list[Decision] = []
    decided = await store.decide(Needs(), lambda s: Decision(), committed.append)
    assert committed == [decided]


async def test_slice_has_one_object_per_alert(store: Store, pipeline_for: Callable[[Store], Pipeline]) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("info1", severity="info"),)))  # an orphan: SEV4, no incident

    def check(s: Slice) -> Decision:
        # Reached both by fingerprint and as an orphan of its key: the same object.
        assert s.orphans['{service="checkout"}'][0] is s.alerts["info1"]
        return Decision()

    await store.decide(Needs(fingerprints=frozenset({"info1"}), keys=frozenset({'{service="checkout"}'})), check)


async def test_incident_ids_count_per_year(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    ids = []
    for n in range(3):
        decision = await p.submit(Declare(f"t{n}", Severity.SEV3, "alice"))
        ids.append(decision.incident_id)
    clock.set(datetime(2027, 1, 1, 0, 0, 1, tzinfo=UTC))
    ids.append((await p.submit(Declare("new year", Severity.SEV3, "alice"))).incident_id)
    assert ids == ["INC-2026-0001", "INC-2026-0002", "INC-2026-0003", "INC-2027-0001"]


async def test_listing_filters_and_pages(store: Store, pipeline_for: Callable[[Store], Pipeline]) -> None:
    p = pipeline_for(store)
    for n in range(7):
        await p.submit(Declare(f"t{n}", Severity.SEV2 if n % 2 else Severity.SEV3, "alice", service=f"s{n % 3}"))
    await p.submit(Transition("INC-2026-0002", Action.RESOLVE, "alice"))
    seen, after = [], None
    while True:
        page = await store.list_incidents(IncidentFilter(), 3, after)
        seen += [i.id for i in page.items]
        if page.next_cursor is None:
            break
        after = page.next_cursor
    assert seen == [f"INC-2026-{n:04d}" for n in range(7, 0, -1)]
    sev2 = await store.list_incidents(IncidentFilter(severity="SEV2"), 10, None)
    assert [i.id for i in sev2.items] == ["INC-2026-0006", "INC-2026-0004", "INC-2026-0002"]
    resolved = await store.list_incidents(IncidentFilter(state="resolved"), 10, None)
    assert [i.id for i in resolved.items] == ["INC-2026-0002"]
    triggered_s1 = await store.list_incidents(IncidentFilter(state="triggered", service="s1"), 10, None)
    assert [i.id for i in triggered_s1.items] == ["INC-2026-0005"]
    with pytest.raises(BadCursor):
        await store.list_incidents(IncidentFilter(), 3, "not-a-cursor")
    assert await store.open_incident_counts() == {("SEV2", "triggered"): 2, ("SEV3", "triggered"): 4}


async def listed(store: Store, where: IncidentFilter, limit: int = 2) -> list[str]:
    """Every incident the filter lists, page by page (small pages: the cursor must hold across an index)."""
    ids: list[str] = []
    after = None
    while True:
        page = await store.list_incidents(where, limit, after)
        ids += [i.id for i in page.items]
        if page.next_cursor is None:
            return ids
        after = page.next_cursor


async def test_filtered_listings_follow_changes_and_hold_when_opened_again(
    open_stores: Open, pipeline_for: Callable[[Store], Pipeline]
) -> None:
    """Each filter of the incident list (and their combinations) lists exactly the incidents it matches now,
    newest first, after acknowledge, mitigate, resolve, reopen and a severity change, and once opened again."""
    store = await open_stores()
    p = pipeline_for(store)
    for n in range(9):
        await p.submit(Declare(f"t{n}", Severity.SEV2 if n % 2 else Severity.SEV3, "alice", service=f"s{n % 3}"))
    await p.submit(Transition("INC-2026-0002", Action.ACKNOWLEDGE, "alice"))
    await p.submit(Transition("INC-2026-0003", Action.MITIGATE, "alice"))
    await p.submit(Transition("INC-2026-0004", Action.RESOLVE, "alice"))
    await p.submit(Transition("INC-2026-0005", Action.RESOLVE, "alice"))
    await p.submit(Transition("INC-2026-0005", Action.REOPEN, "alice"))
    await p.submit(Transition("INC-2026-0006", Action.ACKNOWLEDGE, "alice"))
    await p.submit(Patch("INC-2026-0007", "alice", severity=Severity.SEV1))
    expected = {
        IncidentFilter(state="triggered"): [
            "INC-2026-0009",
            "INC-2026-0008",
            "INC-2026-0007",
            "INC-2026-0005",
            "INC-2026-0001",
        ],
        IncidentFilter(state="acknowledged"): ["INC-2026-0006", "INC-2026-0002"],
        IncidentFilter(state="mitigated"): ["INC-2026-0003"],
        IncidentFilter(state="resolved"): ["INC-2026-0004"],
        IncidentFilter(state="open"): [
            "INC-2026-0009",
            "INC-2026-0008",
            "INC-2026-0007",
            "INC-2026-0006",
            "INC-2026-0005",
            "INC-2026-0003",
            "INC-2026-0002",
            "INC-2026-0001",
        ],
        IncidentFilter(severity="SEV1"): ["INC-2026-0007"],
        IncidentFilter(severity="SEV2"): ["INC-2026-0008", "INC-2026-0006", "INC-2026-0004", "INC-2026-0002"],
        IncidentFilter(service="s0"): ["INC-2026-0007", "INC-2026-0004", "INC-2026-0001"],
        IncidentFilter(state="open", service="s1"): ["INC-2026-0008", "INC-2026-0005", "INC-2026-0002"],
        IncidentFilter(state="acknowledged", severity="SEV2", service="s2"): ["INC-2026-0006"],
        IncidentFilter(state="resolved", service="s1"): [],
        IncidentFilter(service="nowhere"): [],
    }
    for where, ids in expected.items():
        assert await listed(store, where) == ids, where
    # A store opened afresh on the same data (a restart, or another replica) lists the same.
    restarted = await open_stores()
    for where, ids in expected.items():
        assert await listed(restarted, where) == ids, where
    # A change after the restart moves the incident between lists.
    await pipeline_for(restarted).submit(Transition("INC-2026-0003", Action.RESOLVE, "alice"))
    assert await listed(restarted, IncidentFilter(state="mitigated")) == []
    assert await listed(restarted, IncidentFilter(state="resolved", service="s0")) == ["INC-2026-0004"]
    assert await listed(restarted, IncidentFilter(state="resolved", service="s2")) == ["INC-2026-0003"]


async def test_alert_listing(store: Store, pipeline_for: Callable[[Store], Pipeline]) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived(tuple(alert(f"a{n}") for n in range(5))))
    await p.submit(AlertsReceived((alert("a1", status="resolved", ends="2026-11-22T07:05:00+00:00"),)))
    firing = await store.list_alerts("firing", 2, None)
    assert [a.fingerprint for a in firing.items] == ["a4", "a3"]
    assert firing.next_cursor is not None
    rest = await store.list_alerts("firing", 10, firing.next_cursor)
    assert [a.fingerprint for a in rest.items] == ["a2", "a0"]
    assert [a.fingerprint for a in (await store.list_alerts("resolved", 10, None)).items] == ["a1"]


async def test_a_changed_annotation_and_a_resolve_in_one_decision_are_both_read_back(
    store: Store, pipeline_for: Callable[[Store], Pipeline]
) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("a0"), alert("a1"), alert("a2"))))
    changed = dataclasses.replace(alert("a0"), annotations={"summary": "now 9% errors"})
    resolved = alert("a1", status="resolved", ends="2026-11-22T07:05:00+00:00")
    await p.submit(AlertsReceived((changed, resolved)))
    await p.submit(AlertsReceived((dataclasses.replace(changed, annotations={"summary": "now 12% errors"}),)))
    firing = await store.list_alerts("firing", 10, None)
    assert [(a.fingerprint, a.annotations["summary"]) for a in firing.items] == [
        ("a2", "a2"),
        ("a0", "now 12% errors"),
    ]
    assert [a.fingerprint for a in (await store.list_alerts("resolved", 10, None)).items] == ["a1"]
    view = await store.get_incident("INC-2026-0001")
    assert view is not None
    assert view.incident.firing_alerts == 2
    assert {a.fingerprint: (a.status, a.annotations["summary"]) for a in view.alerts} == {
        "a0": (AlertStatus.FIRING, "now 12% errors"),
        "a1": (AlertStatus.RESOLVED, "a1"),
        "a2": (AlertStatus.FIRING, "a2"),
    }
    # The next decision on these alerts reads them as stored: a re-send of the last change is a duplicate.
    again = await p.submit(AlertsReceived((dataclasses.replace(changed, annotations={"summary": "now 12% errors"}),)))
    assert again.deduplicated == 1


async def test_timers_are_claimed_with_a_lease(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("a1"),)))  # SEV1: escalation at 5m, reminder at 15m, raise check at 30m
    due = await store.next_timer_due()
    assert due == clock.now() + timedelta(minutes=5)
    assert (await store.claim_due_timers(clock.now(), 10, LEASE, "t1")).items == []
    clock.advance(5 * 60)
    [claimed] = (await store.claim_due_timers(clock.now(), 10, LEASE, "t2")).items
    assert (claimed.kind, claimed.due_at) == (TimerKind.ESCALATE, due)
    assert (await store.claim_due_timers(clock.now(), 10, LEASE, "t3")).items == []  # held by the lease
    assert await store.next_timer_due() == clock.now() + LEASE
    clock.advance(31)
    [again] = (await store.claim_due_timers(clock.now(), 10, LEASE, "t4")).items  # its holder never committed
    assert again == claimed


async def test_outbox_is_idempotent_claimed_and_recorded(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("a1"),)))
    [page] = (await store.claim_notifications(clock.now(), 10, LEASE, "c1")).items
    assert (page.incident_id, page.level, page.round, page.attempts) == ("INC-2026-0001", 0, 1, 0)
    assert (await store.claim_notifications(clock.now(), 10, LEASE, "c2")).items == []
    assert await store.start_notification(page.key, "c1", clock.now() + LEASE) == 1
    clock.advance(31)
    [retry] = (await store.claim_notifications(clock.now(), 10, LEASE, "c3")).items
    assert (retry.key, retry.attempts) == (page.key, 1)  # one send begun; claims are not counted
    assert await store.start_notification(page.key, "c1", clock.now() + LEASE) is None  # c1's claim lapsed

    # The same notification decided again (a retried or repeated decision) is not queued a second time.
    def repeat(s: Slice) -> Decision:
        d = Decision()
        d.notifications.append(page)
        return d

    await store.decide(Needs(), repeat)
    entry = TimelineEntry("INC-2026-0001", clock.now(), "tocsin", Kind.NOTIFIED, "sent")
    await store.record_delivery(Delivery(page.key, 2, [entry]))
    clock.advance(3600)
    assert (await store.claim_notifications(clock.now(), 10, LEASE, "c4")).items == []
    view = await store.get_incident("INC-2026-0001")
    assert view is not None
    assert view.timeline[-1].text == "sent"


async def test_webhook_ids_are_remembered(store: Store, pipeline_for: Callable[[Store], Pipeline]) -> None:
    p = pipeline_for(store)
    event = PagerDutyIncident("w-1", "incident.triggered", "PX", 1, "fire", None, "mail", Severity.SEV2, "pd", "")
    first = await p.submit(event)
    second = await p.submit(event)
    assert first.changed
    assert not second.changed
    assert len((await store.list_incidents(IncidentFilter(), 10, None)).items) == 1


async def test_purge_forgets_old_resolved_incidents_only(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("old", service="a"),)))
    await p.submit(Transition("INC-2026-0001", Action.RESOLVE, "alice"))
    await p.submit(AlertsReceived((alert("orphan", service="c", severity="info"),)))
    await p.submit(
        AlertsReceived(
            (alert("orphan", service="c", severity="info", status="resolved", ends="2026-11-22T07:01:00+00:00"),)
        )
    )
    clock.advance(100 * 24 * 3600)
    kept = (await p.submit(AlertsReceived((alert("new", service="b"),)))).incident_id
    assert kept == "INC-2027-0001"
    assert await store.purge(clock.now() - timedelta(days=90)) == 1
    assert await store.get_incident("INC-2026-0001") is None
    assert await store.get_incident(kept) is not None
    assert {a.fingerprint for a in (await store.list_alerts(None, 10, None)).items} == {"new"}
    # The purged key starts afresh.
    await p.submit(AlertsReceived((alert("old2", service="a"),)))
    assert (await store.list_incidents(IncidentFilter(service="a"), 10, None)).items[0].id == "INC-2027-0002"


async def test_purged_alert_leaves_no_membership_in_a_kept_incident(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    resolved = "2026-11-22T07:01:00+00:00"
    first = (await p.submit(AlertsReceived((alert("flappy", service="a"),)))).incident_id
    await p.submit(AlertsReceived((alert("flappy", service="a", status="resolved", ends=resolved),)))
    await p.submit(Transition(first, Action.RESOLVE, "alice"))
    clock.advance(3600)  # past reopen_within: the next firing declares a second incident
    again = "2026-11-22T09:00:00+00:00"
    second = (await p.submit(AlertsReceived((alert("flappy", service="a", starts=again),)))).incident_id
    assert second is not None
    assert second != first
    ended = "2026-11-22T09:05:00+00:00"
    await p.submit(AlertsReceived((alert("flappy", service="a", starts=again, status="resolved", ends=ended),)))
    await p.submit(Transition(second, Action.RESOLVE, "alice"))
    clock.advance(100 * 24 * 3600)
    await p.submit(Transition(first, Action.REOPEN, "alice"))  # the older incident is kept, open again
    assert await store.purge(clock.now() - timedelta(days=90)) == 1
    assert await store.get_incident(second) is None
    assert (await store.list_alerts(None, 10, None)).items == []
    if isinstance(store, SqliteStore):

        def memberships(conn: sqlite3.Connection) -> int:
            return int(conn.execute("SELECT COUNT(*) FROM incident_alerts WHERE fingerprint = 'flappy'").fetchone()[0])

        assert await store._read(memberships) == 0  # nothing of the forgotten alert stays behind
    # A window of the kept incident's alerts neither shows nor counts the forgotten one.
    window = await store.get_incident(first, AlertWindow(0, 10))
    assert window is not None
    assert (window.alerts, window.total_alerts) == ([], 0)
    # The same fingerprint firing again is a new alert: it joins the open incident once.
    later = clock.now().isoformat()
    await p.submit(AlertsReceived((alert("flappy", service="a", starts=later),)))
    view = await store.get_incident(first)
    assert view is not None
    assert [a.fingerprint for a in view.alerts] == ["flappy"]
    assert view.alerts[0].count == 1
    window = await store.get_incident(first, AlertWindow(0, 10))
    assert window is not None
    assert ([a.fingerprint for a in window.alerts], window.total_alerts) == (["flappy"], 1)


async def test_concurrent_decisions_on_one_key_make_one_incident(
    open_stores: Open, pipeline_for: Callable[[Store], Pipeline], store_kind: str
) -> None:
    # Two stores on one backend are two replicas (for SQLite, one process's concurrent requests).
    replicas = [pipeline_for(await open_stores()) for _ in range(2 if store_kind == "redis" else 1)]
    await asyncio.gather(
        *(
            replicas[n % len(replicas)].submit(AlertsReceived((alert(f"burst-{n}", severity="warning"),)))
            for n in range(40)
        )
    )
    store = replicas[0].store
    incidents = (await store.list_incidents(IncidentFilter(), 10, None)).items
    assert len(incidents) == 1
    view = await store.get_incident(incidents[0].id)
    assert view is not None
    assert {a.fingerprint for a in view.alerts} == {f"burst-{n}" for n in range(40)}
    assert view.incident.firing_alerts == 40


async def test_concurrent_declarations_on_many_keys_get_distinct_ids(
    open_stores: Open, pipeline_for: Callable[[Store], Pipeline], store_kind: str
) -> None:
    replicas = [pipeline_for(await open_stores()) for _ in range(2 if store_kind == "redis" else 1)]
    await asyncio.gather(
        *(
            replicas[n % len(replicas)].submit(
                AlertsReceived((alert(f"k{n}", service=f"svc-{n}", severity="warning"),))
            )
            for n in range(40)
        )
    )
    incidents = (await replicas[0].store.list_incidents(IncidentFilter(), 100, None)).items
    assert sorted(i.service for i in incidents) == sorted(f"svc-{n}" for n in range(40))
    assert len({i.id for i in incidents}) == 40
    for incident in incidents:
        view = await replicas[0].store.get_incident(incident.id)
        assert view is not None
        assert [a.labels["service"] for a in view.alerts] == [incident.service]


async def test_silences_commit_with_a_decision_and_load_by_their_end(store: Store) -> None:
    t = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    matchers = (Matcher.create("service", MatchType.EQUAL, "db"),)
    ended = Silence("s-ended", matchers, t - timedelta(hours=2), t - timedelta(minutes=1), "a", "", t)
    running = Silence("s-running", matchers, t - timedelta(hours=1), t + timedelta(hours=1), "a", "", t)
    timer = Timer("silence:s-running/end", TimerKind.SWEEP, "silence:s-running", running.ends_at)

    def save(s: Slice) -> Decision:
        d = Decision(silences=[ended, running])
        d.set_timer(timer)
        return d

    await store.decide(Needs(), save)
    assert await store.get_silence("s-ended") == ended
    loaded = await store.load(Needs(silences=True, silences_at=t, timer_owners=frozenset({"silence:s-running"})))
    assert loaded.silences == [running]  # only those that may still hold an alert at t
    assert list(loaded.timers.values()) == [timer]
    # Kept for retention, then forgotten.
    await store.purge(t - timedelta(minutes=2))
    assert {x.id for x in await store.list_silences()} == {"s-ended", "s-running"}
    await store.purge(t)
    assert await store.list_silences() == [running]
    assert (await store.load(Needs(silences=True, silences_at=t - timedelta(hours=3)))).silences == [running]


async def test_silences_saved_before_the_end_index_existed_are_still_found(store: Store) -> None:
    t = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
    matchers = (Matcher.create("service", MatchType.EQUAL, "db"),)
    running = Silence("s-old", matchers, t - timedelta(hours=1), t + timedelta(hours=1), "a", "", t)
    await store.save_silences([running])
    if isinstance(store, RedisStore):  # as a store written by an earlier version left it: the hash alone
        await store.r.delete(store.keys.silence_ends())
    assert (await store.load(Needs(silences=True, silences_at=t))).silences == [running]


async def test_unplaced_firing_alerts_are_loaded_with_their_keys(
    store: Store, pipeline_for: Callable[[Store], Pipeline]
) -> None:
    p = pipeline_for(store)
    await p.submit(
        AlertsReceived(
            (
                alert("info1", service="queue", severity="info"),  # SEV4: kept in no incident
                alert("a1"),  # declares
                alert("info2", service="queue", severity="info", status="resolved", ends="2026-11-22T07:05:00+00:00"),
            )
        )
    )
    loaded = await store.load(Needs(unplaced=True))
    assert [a.fingerprint for a in loaded.unplaced] == ["info1"]
    assert [a.fingerprint for a in loaded.orphans['{service="queue"}']] == ["info1"]
    assert loaded.unplaced[0] is loaded.orphans['{service="queue"}'][0]  # one object per alert


# -- group decisions: webhooks waiting on the same keys are decided in turn on one slice, committed as one ---------

CHECKOUT = '{service="checkout"}'


async def test_new_alerts_of_one_key_decided_as_a_group_make_one_incident_paged_once(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    slices: list[Slice] = []
    # The first takes its turn at once (on SQLite all three are one batch); the two behind it wait on the same
    # key and are taken as one group: the second decides on what the first changed in the slice.
    decided = await asyncio.gather(
        p.submit(AlertsReceived((alert("g0", severity="info"),)), slices.append),
        p.submit(AlertsReceived((alert("g1"),)), slices.append),
        p.submit(AlertsReceived((alert("g2"),)), slices.append),
    )
    assert slices[1] is slices[2]  # one group: one slice
    (incident,) = (await store.list_incidents(IncidentFilter(), 10, None)).items
    view = await store.get_incident(incident.id)
    assert view is not None
    assert {"g1", "g2"} <= {a.fingerprint for a in view.alerts}
    assert [e.kind for e in view.timeline].count(Kind.DECLARED) == 1
    (page,) = (await store.claim_notifications(clock.now(), 10, LEASE, "c1")).items
    assert (page.incident_id, page.level) == (incident.id, 0)
    # Each caller has its own decision: the one that declared says so, the one that joined does not.
    assert [decided[n].alerts[f"g{n}"].incident_id for n in (1, 2)] == [incident.id, incident.id]
    assert [[s.event for s in d.said].count("incident_declared") for d in decided[1:]] == [1, 0]


async def test_a_decision_that_raises_inside_a_group_leaves_the_others_stored(
    store: Store, pipeline_for: Callable[[Store], Pipeline]
) -> None:
    p = pipeline_for(store)

    def boom(s: Slice) -> Decision:
        # It spoils the slice before raising: the others must not decide on what it left.
        s.latest_by_key.clear()
        s.incidents.clear()
        raise RuntimeError("bug in the engine")

    failed: list[Decision] = []
    outcomes = await asyncio.gather(
        p.submit(AlertsReceived((alert("r0", severity="info"),))),
        p.submit(AlertsReceived((alert("r1"),))),
        store.decide(Needs(keys=frozenset({CHECKOUT})), boom, failed.append),
        p.submit(AlertsReceived((alert("r2"),))),
        return_exceptions=True,
    )
    assert isinstance(outcomes[2], RuntimeError)
    assert failed == []
    assert all(isinstance(o, Decision) for i, o in enumerate(outcomes) if i != 2), outcomes
    (incident,) = (await store.list_incidents(IncidentFilter(), 10, None)).items
    view = await store.get_incident(incident.id)
    assert view is not None
    assert {"r1", "r2"} <= {a.fingerprint for a in view.alerts}
    assert view.incident.firing_alerts == len(view.alerts)


@pytest.mark.sqlite_only  # the writer's queue: redis has none, a late decision there is dropped after deciding
async def test_a_withdrawn_decision_inside_a_group_is_not_applied(
    tmp_path: Path, pipeline_for: Callable[[Store], Pipeline]
) -> None:
    url = f"sqlite:///{tmp_path}/withdrawn.db"
    store = open_store(url)
    await store.open()
    try:
        p = pipeline_for(store)
        slices: list[Slice] = []
        other = sqlite3.connect(tmp_path / "withdrawn.db", isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # the write lock: the batch waits for it, not yet begun
        try:
            sent = [asyncio.create_task(p.submit(AlertsReceived((alert(f"w{n}"),)), slices.append)) for n in range(3)]
            assert isinstance(store, SqliteStore)

            async def taken() -> bool | None:
                return True if not store._queue else None

            await asyncio.sleep(0)  # each runs up to its wait for the writer
            await until(taken, "the batch to wait for the write lock", 5)
            sent[1].cancel()  # its caller gives up (a 503) before the batch began
            with pytest.raises(asyncio.CancelledError):
                await sent[1]
        finally:
            other.execute("ROLLBACK")
            other.close()
        kept = await asyncio.gather(sent[0], sent[2])
        assert len(slices) == 2
        assert slices[0] is slices[1]  # the two others: one group
        assert {a.fingerprint for a in (await store.list_alerts(None, 10, None)).items} == {"w0", "w2"}
        (incident,) = (await store.list_incidents(IncidentFilter(), 10, None)).items
        assert [kept[0].alerts["w0"].incident_id, kept[1].alerts["w2"].incident_id] == [incident.id, incident.id]
        assert incident.firing_alerts == 2
    finally:
        await store.close()


# -- the queue contract (daemon/store/base.py) ------------------------------------------------------------------


async def test_rows_that_cannot_be_read_are_set_aside_and_the_claims_go_on(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("a1"),)))  # a page queued now, the escalation timer due in 5m
    newer = (
        b'{"key": "INC-2026-0001/snooze", "kind": "snooze", "incident_id": "INC-2026-0001", "due_at": "x", "data": {}}'
    )
    await write_raw(store, Queue.TIMERS, "INC-2026-0001/snooze", "INC-2026-0001", newer, clock.now())
    await write_raw(store, Queue.TIMERS, "INC-2026-0001/torn", "INC-2026-0001", b'{"key": "INC-20', clock.now())
    # An earlier entry of the same incident that cannot be read: set aside, it does not hold up the page.
    await write_raw(store, Queue.OUTBOX, "INC-2026-0001/torn", "INC-2026-0001", b"\x00\xff", clock.now())

    notes = await store.claim_notifications(clock.now(), 10, LEASE, "n1")
    assert [(a.queue, a.key) for a in notes.set_aside] == [(Queue.OUTBOX, "INC-2026-0001/torn")]
    [page] = notes.items
    assert page.level == 0
    clock.advance(5 * 60)
    timers = await store.claim_due_timers(clock.now(), 10, LEASE, "t1")
    assert sorted(a.key for a in timers.set_aside) == ["INC-2026-0001/snooze", "INC-2026-0001/torn"]
    assert {a.reason for a in timers.set_aside} <= {"ValueError", "JSONDecodeError", "KeyError"}
    assert [t.kind for t in timers.items] == [TimerKind.ESCALATE]

    # Kept for an operator to look at, and out of the queues: no later claim meets them again.
    kept = {(a.queue, a.key) for a in await store.set_aside_rows()}
    assert kept == {
        (Queue.TIMERS, "INC-2026-0001/snooze"),
        (Queue.TIMERS, "INC-2026-0001/torn"),
        (Queue.OUTBOX, "INC-2026-0001/torn"),
    }
    clock.advance(3600)
    assert (await store.claim_due_timers(clock.now(), 10, LEASE, "t2")).set_aside == []
    assert (await store.claim_notifications(clock.now(), 10, LEASE, "n2")).set_aside == []


async def test_a_repeated_claim_returns_what_its_token_holds(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    """What redis-py does when a claim's reply is lost: the same call again. Nothing is stranded until the lease."""
    p = pipeline_for(store)
    await p.submit(AlertsReceived(tuple(alert(f"a{n}", service=f"s{n}") for n in range(3))))
    first = await store.claim_notifications(clock.now(), 10, LEASE, "lost-reply")
    again = await store.claim_notifications(clock.now(), 10, LEASE, "lost-reply")
    assert len(first.items) == 3
    assert sorted(n.key for n in again.items) == sorted(n.key for n in first.items)
    assert all(n.claim == "lost-reply" for n in again.items)
    assert (await store.claim_notifications(clock.now(), 10, LEASE, "someone-else")).items == []

    clock.advance(5 * 60)
    timers = await store.claim_due_timers(clock.now(), 10, LEASE, "lost-timers")
    assert len(timers.items) == 3
    retried = await store.claim_due_timers(clock.now(), 10, LEASE, "lost-timers")
    assert sorted(t.key for t in retried.items) == sorted(t.key for t in timers.items)
    assert (await store.claim_due_timers(clock.now(), 10, LEASE, "someone-else")).items == []


async def test_a_released_claim_is_due_at_once(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("a1"),)))
    [page] = (await store.claim_notifications(clock.now(), 10, LEASE, "c1")).items
    await store.release_notifications({page.key: "c1"}, clock.now())
    [again] = (await store.claim_notifications(clock.now(), 10, LEASE, "c2")).items  # no lease to wait out
    assert (again.key, again.attempts) == (page.key, 0)
    assert await store.start_notification(page.key, "c1", clock.now() + LEASE) is None

    clock.advance(5 * 60)
    [timer] = (await store.claim_due_timers(clock.now(), 10, LEASE, "t1")).items
    await store.release_timers("t1", [timer.key], clock.now())
    assert await store.next_timer_due() == clock.now()
    assert [t.key for t in (await store.claim_due_timers(clock.now(), 10, LEASE, "t2")).items] == [timer.key]


async def test_a_held_claim_is_kept_and_a_lapsed_one_is_lost(
    store: Store, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock
) -> None:
    p = pipeline_for(store)
    await p.submit(AlertsReceived((alert("a1"),)))
    [page] = (await store.claim_notifications(clock.now(), 10, LEASE, "c1")).items
    for _ in range(4):  # two minutes in all, each renewal within the lease
        clock.advance(25)
        assert await store.hold_notifications({page.key: "c1"}, clock.now() + LEASE) == {page.key}
        assert (await store.claim_notifications(clock.now(), 10, LEASE, "other")).items == []
    clock.advance(31)
    [taken] = (await store.claim_notifications(clock.now(), 10, LEASE, "c2")).items
    assert taken.key == page.key
    assert await store.hold_notifications({page.key: "c1"}, clock.now() + LEASE) == set()
    assert await store.start_notification(page.key, "c1", clock.now() + LEASE) is None
    assert await store.start_notification(page.key, "c2", clock.now() + LEASE) == 1


async def test_an_incidents_notifications_are_claimed_in_order(
    open_stores: Open, pipeline_for: Callable[[Store], Pipeline], clock: ManualClock, store_kind: str
) -> None:
    here = await open_stores()
    there = await open_stores() if store_kind == "redis" else here  # another replica
    p = pipeline_for(here)
    await p.submit(AlertsReceived((alert("a1"),)))
    await p.submit(Transition("INC-2026-0001", Action.ACKNOWLEDGE, "alice"))
    # Taken together, in the order decided.
    both = (await here.claim_notifications(clock.now(), 10, LEASE, "c1")).items
    assert [n.reason.value for n in both] == ["escalation", "acknowledged"]
    await here.release_notifications({n.key: "c1" for n in both}, clock.now())

    # One at a time: the acknowledgement waits for the page, in a later batch and on another replica.
    [page] = (await here.claim_notifications(clock.now(), 1, LEASE, "c2")).items
    assert page.reason.value == "escalation"
    assert (await there.claim_notifications(clock.now(), 10, LEASE, "c3")).items == []
    assert (await here.claim_notifications(clock.now(), 10, LEASE, "c4")).items == []
    await here.record_delivery(Delivery(page.key, 1, []))
    [ack] = (await there.claim_notifications(clock.now(), 10, LEASE, "c5")).items
    assert ack.reason.value == "acknowledged"
