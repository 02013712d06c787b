"""deploy/ against the real programs: Debian's Alertmanager pages tocsin both ways, Prometheus evaluates the rules.

Alertmanager runs deploy/alertmanager.yml with only its URLs and timings changed; Prometheus runs
deploy/prometheus/'s configuration and rules with only its targets and intervals changed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from aiohttp import web
from prometheus_client import CollectorRegistry

from daemon.clock import ManualClock
from daemon.http.app import build_app
from tests.process import TocsinProcess, free_port
from tests.programs import Program, alertmanager, prometheus, run, until
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, API_TOKEN, ROOT, am_alert, am_webhook, make_settings, write_config

pytestmark = pytest.mark.e2e

DEPLOY = ROOT / "deploy"
RULES = [DEPLOY / "prometheus" / name for name in ("recording.yml", "alerts.yml", "watchdog.yml")]
MTTA_RULE = "severity:tocsin_incident_time_to_acknowledge_seconds:mean1d"


def test_promtool_checks_and_unit_tests_the_rules() -> None:
    run("promtool", "check", "rules", *map(str, RULES))
    run("promtool", "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml"))
    # Each alert fires on the series it is about, and the recording rules average across replicas.
    run("promtool", "test", "rules", str(ROOT / "tests" / "prometheus" / "rules_test.yml"))


def test_amtool_checks_the_alertmanager_config() -> None:
    output = run("amtool", "check-config", str(DEPLOY / "alertmanager.yml"))
    assert "SUCCESS" in output


# -- Alertmanager -> tocsin ------------------------------------------------------------------------------------


def alertmanager_config(tocsin_url: str, directory: Path) -> Path:
    """deploy/alertmanager.yml pointed at ``tocsin_url``, with timings short enough for a test."""
    text = (DEPLOY / "alertmanager.yml").read_text().replace("http://tocsin:9097", tocsin_url)
    config: dict[str, Any] = yaml.safe_load(text)
    config["route"].update(group_wait="1s", group_interval="1s", repeat_interval="1h")
    for receiver in config["receivers"]:
        for webhook in receiver.get("webhook_configs", []):
            if not webhook["url"].startswith(tocsin_url):
                webhook["url"] = f"http://127.0.0.1:{free_port()}/"  # tocsin's own alerts: nothing listens
    path = directory / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
async def sink() -> AsyncIterator[HttpSink]:
    sink = HttpSink()
    await sink.start()
    yield sink
    await sink.stop()


@pytest.fixture
def daemon(tmp_path: Path, sink: HttpSink) -> Iterator[TocsinProcess]:
    # Verification shortened to a real 1 s so that resolution follows within the test.
    overrides = {"notify": {"retries": 0}, "resolution": {"verify_for": {"SEV1": "1s", "SEV2": "1s", "SEV3": "1s"}}}
    process = TocsinProcess(write_config(tmp_path, overrides, sink=sink.address), free_port())
    yield process
    process.stop()


@pytest.fixture
async def am(tmp_path: Path, daemon: TocsinProcess) -> AsyncIterator[Program]:
    program = alertmanager(alertmanager_config(daemon.url, tmp_path), free_port(), tmp_path)
    await program.start()
    yield program
    program.stop()


def am_post(labels: dict[str, str], starts_at: datetime, ends_at: datetime | None = None) -> dict[str, Any]:
    """One alert as Prometheus posts it to Alertmanager's /api/v2/alerts."""
    alert: dict[str, Any] = {
        "labels": labels,
        "annotations": {"summary": f"{labels['alertname']} on {labels['service']}"},
        "startsAt": starts_at.isoformat(),
        "generatorURL": "http://prometheus.example/graph",
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    return alert


async def post_watchdog(am: Program) -> None:
    """The always-firing Watchdog, as Prometheus posts it, for the next hour."""
    now = datetime.now(UTC)
    await am.post("/api/v2/alerts", [am_post({"alertname": "Watchdog", "service": ""}, now, now + timedelta(hours=1))])


async def tocsin_api(daemon: TocsinProcess, path: str) -> Any:
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with aiohttp.ClientSession() as session, session.get(f"{daemon.url}{path}", headers=headers) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_alertmanager_pages_through_tocsin_by_webhook_and_pagerduty(
    daemon: TocsinProcess, am: Program, sink: HttpSink
) -> None:
    daemon.start()
    await daemon.wait_ready()
    started = datetime.now(UTC) - timedelta(seconds=5)
    webhook_alert = {"alertname": "HighErrorRate", "service": "checkout", "severity": "critical", "env": "prod"}
    pagerduty_alert = {"alertname": "DiskFull", "service": "db", "severity": "warning", "instance": "db-1"}
    await am.post("/api/v2/alerts", [am_post(webhook_alert, started), am_post(pagerduty_alert, started)])

    async def both_declared() -> dict[str, Any] | None:
        incidents = (await tocsin_api(daemon, "/api/v1/incidents"))["incidents"]
        by_service = {i["service"]: i for i in incidents}
        return by_service if set(by_service) == {"checkout", "db"} else None

    incidents = await until(both_declared, "both incidents to be declared in tocsin")
    checkout, db = incidents["checkout"], incidents["db"]
    # Each alert came the way deploy/alertmanager.yml routes it.
    assert (checkout["source"], checkout["severity"], checkout["title"]) == (
        "alertmanager",
        "SEV1",
        "HighErrorRate on checkout",
    )
    # routing_key -> db; the receiver passed the alert's own severity, so a warning stays SEV3, and its labels.
    assert (db["source"], db["severity"]) == ("pagerduty", "SEV3")
    assert db["title"].startswith("[FIRING:1] DiskFull db")
    [am_sent] = (await tocsin_api(daemon, f"/api/v1/incidents/{checkout['id']}"))["alerts"]
    assert am_sent["labels"] == webhook_alert
    [pd_sent] = (await tocsin_api(daemon, f"/api/v1/incidents/{db['id']}"))["alerts"]
    assert pd_sent["labels"] == {**pagerduty_alert, "source": "Alertmanager"}

    # The SEV1 pages on-call (policy page-hard), the SEV3 tells the team's chat (page-soft), each at level 0.
    await sink.wait_for("oncall-primary", timeout=20)
    await sink.wait_for("team-chat", timeout=20)
    assert any(checkout["id"] in t for t in sink.titles("oncall-primary"))
    assert any(db["id"] in t for t in sink.titles("team-chat"))

    # Alertmanager resolves them (endsAt in the past): resolved webhook and PagerDuty resolve event.
    ended = datetime.now(UTC) - timedelta(seconds=1)
    await am.post("/api/v2/alerts", [am_post(webhook_alert, started, ended), am_post(pagerduty_alert, started, ended)])

    async def both_resolved() -> list[Any] | None:
        states = [(await tocsin_api(daemon, f"/api/v1/incidents/{i['id']}")) for i in (checkout, db)]
        return states if all(s["state"] == "resolved" for s in states) else None

    for incident in await until(both_resolved, "both incidents to resolve in tocsin"):
        [alert] = incident["alerts"]
        assert alert["status"] == "resolved"
        timeline = [e["text"] for e in incident["timeline"]]
        assert "mitigated by tocsin: all alerts resolved" in timeline
        assert any(t.startswith("resolved by tocsin: verified") for t in timeline), timeline
    # Those paged hear of the resolution.
    await until(lambda: _resolved_pages(sink, "oncall-primary", checkout["id"]), "the SEV1's resolution to be paged")
    await until(lambda: _resolved_pages(sink, "team-chat", db["id"]), "the SEV3's resolution to reach the chat")
    metrics = await _metrics(daemon.url)
    assert 'tocsin_alerts_received_total{source="alertmanager"}' in metrics
    assert 'tocsin_alerts_received_total{source="pagerduty"}' in metrics


async def test_alertmanager_watchdog_keeps_the_heartbeat_up_until_it_stops(tmp_path: Path, sink: HttpSink) -> None:
    # deploy/'s recipe with real short timings: a 3 s heartbeat, the Watchdog route re-sending every second.
    beat = {"name": "watchdog", "alertname": "Watchdog", "expect_every": "3s", "severity": "SEV2"}
    overrides = {"notify": {"retries": 0}, "heartbeats": [{**beat, "service": "monitoring"}]}
    daemon = TocsinProcess(write_config(tmp_path, overrides, sink=sink.address), free_port())
    config_path = alertmanager_config(daemon.url, tmp_path)
    config = yaml.safe_load(config_path.read_text())
    [watchdog_route] = [r for r in config["route"]["routes"] if r["matchers"] == ['alertname="Watchdog"']]
    assert watchdog_route["receiver"] == "tocsin"
    watchdog_route.update(group_interval="1s", repeat_interval="1s")
    config_path.write_text(yaml.safe_dump(config))
    am = alertmanager(config_path, free_port(), tmp_path)
    try:
        daemon.start()
        await daemon.wait_ready()
        await am.start()
        await post_watchdog(am)

        async def state(wanted: str) -> dict[str, Any] | None:
            [found] = (await tocsin_api(daemon, "/api/v1/heartbeats"))["heartbeats"]
            return found if found["state"] == wanted else None

        first = await until(lambda: state("up"), "the Watchdog to ping the heartbeat")
        # Re-sent by Alertmanager, each delivery a ping: still up after more than a period.
        await asyncio.sleep(4)
        later = await state("up")
        assert later is not None, "the heartbeat missed while Alertmanager kept sending the Watchdog"
        assert later["last_ping"] > first["last_ping"]
        assert (await tocsin_api(daemon, "/api/v1/incidents"))["incidents"] == []

        am.stop()  # monitoring goes quiet
        await until(lambda: state("missed"), "the heartbeat to miss once Alertmanager stopped")
        [incident] = (await tocsin_api(daemon, "/api/v1/incidents"))["incidents"]
        assert (incident["title"], incident["severity"]) == ("HeartbeatMissed on monitoring", "SEV2")
        await sink.wait_for("oncall-primary", timeout=20)
        assert any(incident["id"] in t for t in sink.titles("oncall-primary"))
    finally:
        am.stop()
        daemon.stop()


async def test_make_alertmanager_runs_the_deploy_file_in_front_of_a_local_tocsin(
    tmp_path: Path, sink: HttpSink
) -> None:
    # README: `make run` in one terminal, `make alertmanager` in another. Here on free ports; the file itself
    # unchanged but for the host, so its Watchdog route (group_wait 0s) reaches tocsin at once.
    daemon = TocsinProcess(write_config(tmp_path, {"notify": {"retries": 0}}, sink=sink.address), free_port())
    port = free_port()
    make = [f"--directory={ROOT}", "--silent", "alertmanager", f"TOCSIN_URL={daemon.url}"]
    make += [f"AM_LISTEN=127.0.0.1:{port}", f"AM_DATA={tmp_path / 'am'}"]
    am = Program("make", make, port, tmp_path / "make-alertmanager.log")
    try:
        daemon.start()
        await daemon.wait_ready()
        await am.start()
        await post_watchdog(am)

        async def pinged() -> dict[str, Any] | None:
            beats = {b["name"]: b for b in (await tocsin_api(daemon, "/api/v1/heartbeats"))["heartbeats"]}
            return beats["watchdog"] if beats["watchdog"]["state"] == "up" else None

        await until(pinged, "Alertmanager started by `make alertmanager` to ping tocsin's watchdog heartbeat")
    finally:
        am.stop()
        daemon.stop()
    assert "http://tocsin:9097" not in (tmp_path / "am" / "alertmanager.yml").read_text()


async def _resolved_pages(sink: HttpSink, tag: str, *incident_ids: str) -> bool | None:
    titles = [t for t in sink.titles(tag) if "resolved" in t.lower()]
    return True if all(any(i in t for t in titles) for i in incident_ids) else None


async def _metrics(url: str) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        assert response.status == 200
        return await response.text()


# -- Prometheus <- tocsin ------------------------------------------------------------------------------------


def prometheus_config(target: str, directory: Path) -> Path:
    """deploy/prometheus/prometheus.yml scraping only ``target`` every second, its rules evaluated every second."""
    config: dict[str, Any] = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    config["global"].update(scrape_interval="1s", evaluation_interval="1s")
    config["rule_files"] = [str(DEPLOY / "prometheus" / name) for name in config["rule_files"]]
    config.pop("alerting")
    [job] = [j for j in config["scrape_configs"] if j["job_name"] == "tocsin"]
    job["static_configs"] = [{"targets": [target]}]
    config["scrape_configs"] = [job]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


async def test_prometheus_evaluates_mtta_of_a_scripted_incident(tmp_path: Path, clock: ManualClock) -> None:
    # tocsin in-process on a real port, so that its clock is the test's.
    settings = make_settings(tmp_path, {"channels": None})
    runner = web.AppRunner(build_app(settings, clock=clock, registry=CollectorRegistry(), background=False))
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    url = f"http://127.0.0.1:{port}"
    prom = prometheus(prometheus_config(f"127.0.0.1:{port}", tmp_path), free_port(), tmp_path)
    try:
        await prom.start()
        async with aiohttp.ClientSession() as session:
            await _scripted_incident(session, url, prom, clock)
        rules = (await prom.get("/api/v1/rules"))["data"]["groups"]
        broken = [(r["name"], r.get("lastError")) for g in rules for r in g["rules"] if r["health"] != "ok"]
        assert not broken, broken
    finally:
        prom.stop()
        await runner.cleanup()


async def _query(prom: Program, expr: str) -> list[Any]:
    result: list[Any] = (await prom.get("/api/v1/query", query=expr))["data"]["result"]
    return result


async def _scripted_incident(session: aiohttp.ClientSession, url: str, prom: Program, clock: ManualClock) -> None:
    headers = {"Authorization": f"Bearer {AM_TOKEN}"}
    async with session.post(f"{url}/api/v1/alerts/alertmanager", json=am_webhook(am_alert()), headers=headers) as r:
        assert r.status == 200, await r.text()
    count = 'tocsin_incident_time_to_acknowledge_seconds_count{severity="SEV1",service="checkout"}'

    # Prometheus has scraped the incident's MTTA series at 0 before the acknowledgement: rate() sees the step.
    async def scraped_at_zero() -> bool | None:
        return True if [s["value"][1] for s in await _query(prom, count)] == ["0"] else None

    await until(scraped_at_zero, "Prometheus to scrape the MTTA series at 0")

    clock.advance(120)
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    async with session.get(f"{url}/api/v1/incidents", headers=headers) as r:
        [incident] = (await r.json())["incidents"]
    async with session.post(f"{url}/api/v1/incidents/{incident['id']}/acknowledge", json={}, headers=headers) as r:
        assert r.status == 200, await r.text()

    async def mtta() -> float | None:
        samples = await _query(prom, f'{MTTA_RULE}{{severity="SEV1"}}')
        return float(samples[0]["value"][1]) if samples else None

    # rate(sum)/rate(count), both extrapolated by the same factor: 120 up to float rounding.
    assert await until(mtta, f"Prometheus to evaluate {MTTA_RULE}") == pytest.approx(120, rel=1e-12)
    assert not await _query(prom, f'{MTTA_RULE}{{severity!="SEV1"}}')
