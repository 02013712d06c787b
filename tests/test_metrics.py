"""DESIGN "Metrics": MTTA/MTTM/MTTR observed once per incident by severity and service, and a bounded /metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from daemon.metrics import MTTX_BUCKETS, OTHER, REJECTIONS, SEVERITIES
from tests.conftest import MakeTocsin
from tests.support import Tocsin, am_alert, am_webhook, resolved

MTTA = "tocsin_incident_time_to_acknowledge_seconds"
MTTM = "tocsin_incident_time_to_mitigate_seconds"
MTTR = "tocsin_incident_time_to_resolve_seconds"
MTTX = (MTTA, MTTM, MTTR)


async def fire(t: Tocsin, *alerts: dict[str, Any]) -> None:
    response = await t.post_alertmanager(am_webhook(*alerts))
    assert response.status == 200, await response.text()


async def only_incident(t: Tocsin, service: str) -> str:
    [incident] = await t.incidents(f"service={service}")
    incident_id: str = incident["id"]
    return incident_id


async def act(t: Tocsin, incident_id: str, action: str) -> None:
    await t.api("POST", f"/api/v1/incidents/{incident_id}/{action}", {"actor": "alice"})


def histogram(t: Tocsin, name: str, severity: str, service: str) -> tuple[float | None, float | None]:
    """(sum, count) of one child; None when the child does not exist."""
    labels = {"severity": severity, "service": service}
    return t.registry.get_sample_value(f"{name}_sum", labels), t.registry.get_sample_value(f"{name}_count", labels)


def bucket(t: Tocsin, name: str, severity: str, service: str, le: float) -> float | None:
    labels = {"severity": severity, "service": service, "le": str(float(le))}
    return t.registry.get_sample_value(f"{name}_bucket", labels)


async def test_scripted_lifecycle_gives_exact_sums_and_counts(tocsin: Tocsin) -> None:
    # Two incidents at once, on different severities and services, so each label set is checked on its own.
    await fire(tocsin, am_alert("HighErrorRate", "checkout", "critical"))  # SEV1 by rule prod-critical
    await fire(tocsin, am_alert("SlowQueries", "search", "warning"))  # SEV3 by rule warning
    checkout, search = await only_incident(tocsin, "checkout"), await only_incident(tocsin, "search")
    # Declared: every MTTx series of both incidents exists at 0 before the first observation.
    for name in MTTX:
        assert histogram(tocsin, name, "SEV1", "checkout") == (0.0, 0.0)
        assert histogram(tocsin, name, "SEV3", "search") == (0.0, 0.0)

    await tocsin.tick(120)
    await act(tocsin, checkout, "acknowledge")
    await tocsin.tick(180)  # 300 s from declaration
    await act(tocsin, checkout, "mitigate")
    await tocsin.tick(300)  # 600 s: search resolved by hand, never acknowledged
    await act(tocsin, search, "resolve")
    await tocsin.tick(300)  # 900 s
    await act(tocsin, checkout, "resolve")

    assert histogram(tocsin, MTTA, "SEV1", "checkout") == (120.0, 1.0)
    assert histogram(tocsin, MTTM, "SEV1", "checkout") == (300.0, 1.0)
    assert histogram(tocsin, MTTR, "SEV1", "checkout") == (900.0, 1.0)
    assert histogram(tocsin, MTTA, "SEV3", "search") == (0.0, 0.0)
    # A resolve by hand of an incident not yet mitigated mitigates it at that moment.
    assert histogram(tocsin, MTTM, "SEV3", "search") == (600.0, 1.0)
    assert histogram(tocsin, MTTR, "SEV3", "search") == (600.0, 1.0)
    # Each observation lands in its bucket (upper bounds are inclusive).
    assert bucket(tocsin, MTTA, "SEV1", "checkout", 60) == 0.0
    assert bucket(tocsin, MTTA, "SEV1", "checkout", 120) == 1.0
    assert bucket(tocsin, MTTM, "SEV1", "checkout", 120) == 0.0
    assert bucket(tocsin, MTTM, "SEV1", "checkout", 300) == 1.0
    assert bucket(tocsin, MTTR, "SEV1", "checkout", 600) == 0.0
    assert bucket(tocsin, MTTR, "SEV1", "checkout", 900) == 1.0
    assert bucket(tocsin, MTTR, "SEV1", "checkout", MTTX_BUCKETS[-1]) == 1.0
    # No other label set was observed into.
    for name in MTTX:
        for severity in SEVERITIES:
            for service in ("checkout", "search"):
                if (severity, service) not in (("SEV1", "checkout"), ("SEV3", "search")):
                    assert histogram(tocsin, name, severity, service) == (None, None), (name, severity, service)

    # A reopen and a second round of transitions observe nothing again: once per incident.
    await tocsin.tick(60)
    await act(tocsin, checkout, "reopen")
    await tocsin.tick(30)
    await act(tocsin, checkout, "acknowledge")
    await act(tocsin, checkout, "mitigate")
    await tocsin.tick(30)
    await act(tocsin, checkout, "resolve")
    # A re-fire within reopen_within reopens too (the automatic path), and all alerts resolved resolves again.
    refired = am_alert("SlowQueries", "search", "warning", starts_at="2026-11-22T08:00:00Z")
    await fire(tocsin, refired)
    assert (await tocsin.incident(search))["state"] == "triggered"
    await fire(tocsin, resolved(refired, ends_at="2026-11-22T08:05:00Z"))
    assert (await tocsin.incident(search))["state"] == "resolved"

    assert histogram(tocsin, MTTA, "SEV1", "checkout") == (120.0, 1.0)
    assert histogram(tocsin, MTTM, "SEV1", "checkout") == (300.0, 1.0)
    assert histogram(tocsin, MTTR, "SEV1", "checkout") == (900.0, 1.0)
    assert histogram(tocsin, MTTM, "SEV3", "search") == (600.0, 1.0)
    assert histogram(tocsin, MTTR, "SEV3", "search") == (600.0, 1.0)
    assert tocsin.registry.get_sample_value("tocsin_incidents_declared_total", {"severity": "SEV1"}) == 1
    assert tocsin.registry.get_sample_value("tocsin_incidents_declared_total", {"severity": "SEV3"}) == 1


async def test_severity_change_prepares_the_new_series(tocsin: Tocsin) -> None:
    await fire(tocsin, am_alert("SlowQueries", "search", "warning"))
    incident_id = await only_incident(tocsin, "search")
    await tocsin.api("PATCH", f"/api/v1/incidents/{incident_id}", {"severity": "SEV2", "actor": "alice"})
    # The new severity's series exist at 0 before anything is observed into them.
    for name in MTTX:
        assert histogram(tocsin, name, "SEV2", "search") == (0.0, 0.0)
    await tocsin.tick(45)
    await act(tocsin, incident_id, "acknowledge")
    # Observed under the severity the incident has at the transition.
    assert histogram(tocsin, MTTA, "SEV2", "search") == (45.0, 1.0)
    assert histogram(tocsin, MTTA, "SEV3", "search") == (0.0, 0.0)


async def test_open_incidents_series_exist_after_a_restart(make_tocsin: MakeTocsin) -> None:
    """A replica (or a restarted tocsin) that did not see the declaration creates the series at scrape time."""
    first = await make_tocsin({"channels": None})
    await fire(first, am_alert("HighErrorRate", "checkout", "critical"))
    await first.client.close()

    second = await make_tocsin(settings=first.settings)
    assert histogram(second, MTTA, "SEV1", "checkout") == (None, None)
    response = await second.client.get("/metrics")
    assert response.status == 200
    assert histogram(second, MTTA, "SEV1", "checkout") == (0.0, 0.0)
    await second.tick(120)
    await act(second, await only_incident(second, "checkout"), "acknowledge")
    assert histogram(second, MTTA, "SEV1", "checkout") == (120.0, 1.0)


def series(text: str) -> list[dict[str, str]]:
    """Every sample line of a scrape (each is a series to Prometheus), as its labels plus ``__name__``."""
    return [
        {"__name__": sample.name, **sample.labels}
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


async def scrape(t: Tocsin) -> list[dict[str, str]]:
    response = await t.client.get("/metrics")
    assert response.status == 200
    return series(await response.text())


async def send_many(t: Tocsin, count: int, services: range, per_request: int = 1000, status: str = "firing") -> None:
    """``count`` alerts spread over ``services``, a quarter of them critical, in big webhooks."""
    alerts = []
    for i in range(count):
        n = services[i % len(services)]
        alert = am_alert(f"Load{i % 7}", f"svc-{n:04d}", "critical" if i % 4 == 0 else "warning", instance=str(i))
        alerts.append(resolved(alert) if status == "resolved" else alert)
    for start in range(0, count, per_request):
        await fire(t, *alerts[start : start + per_request])


async def test_series_count_stays_bounded(tocsin: Tocsin) -> None:
    cap = tocsin.settings.metrics.max_services
    fresh = await scrape(tocsin)

    await send_many(tocsin, 10_000, range(500))
    # Every alert resolves: each incident is mitigated (and the SEV3 ones resolved), observing into MTTM/MTTR.
    await send_many(tocsin, 10_000, range(500), status="resolved")
    assert len(await tocsin.incidents("limit=500")) == 500
    after = await scrape(tocsin)

    # 500 more services: all of them fold into "other", which exists already.
    await send_many(tocsin, 2_000, range(500, 1000))
    more = await scrape(tocsin)
    print(
        f"\n/metrics series: fresh {len(fresh)}; after 10,000 alerts over 500 services {len(after)}; "
        f"after 2,000 more over 500 new services {len(more)} (max_services {cap})"
    )

    per_child = len(MTTX_BUCKETS) + 4  # each bucket, +Inf, _sum, _count, _created
    with_service = [s for s in after if "service" in s]
    services = {s["service"] for s in with_service}
    assert OTHER in services
    assert len(services) == cap + 1
    assert {s["__name__"].rsplit("_", 1)[0] for s in with_service} == set(MTTX)
    assert len(with_service) <= len(MTTX) * len(SEVERITIES) * (cap + 1) * per_child
    # Without `service`, every label value comes from a fixed vocabulary (`le` from the fixed buckets).
    vocabulary = {
        "severity": set(SEVERITIES),
        # Incident states, and silence states (tocsin_silences).
        "state": {"triggered", "acknowledged", "mitigated", "pending", "active", "expired"},
        "heartbeat": {b.name for b in tocsin.settings.heartbeats},  # the configured ones only
        "source": {"alertmanager", "pagerduty", "pagerduty_webhook", "grafana_oncall"},
        "level": {"0", "1", "2"},  # the levels of the example's policies
        "reason": {*REJECTIONS, "crash"},  # rejections, and why a background loop restarted
        "loop": {"timers", "outbox", "retention"},
        "queue": {"timers", "outbox"},
    }
    for sample in after:
        if "service" not in sample:
            labels = {k: v for k, v in sample.items() if k not in ("__name__", "le")}
            assert all(value in vocabulary[name] for name, value in labels.items()), sample
    assert len(more) == len(after)
