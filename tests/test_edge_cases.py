"""Sequences that once paged twice, stayed silent, or reminded too often (each found in review)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeTocsin
from tests.sinks import HttpSink
from tests.support import SEV1, Tocsin, am_alert, am_webhook, resolved

pytestmark = pytest.mark.both_stores


def due(sink: HttpSink) -> list[str]:
    return [t for t in sink.titles("team-chat") if t.endswith("(status update due)")]


async def pd(t: Tocsin, action: str, severity: str = "info", key: str = "disk-db-1") -> None:
    body: dict[str, Any] = {"routing_key": "example-routing-key", "event_action": action, "dedup_key": key}
    if action != "acknowledge":
        body["payload"] = {"summary": "disk full on db-1", "source": "db-1", "severity": severity}
    response = await t.client.post("/v2/enqueue", json=body)
    assert response.status == 202


async def test_pagerduty_retrigger_is_judged_on_its_new_severity(tocsin: Tocsin) -> None:
    await pd(tocsin, "trigger", "info")  # SEV4: kept, no incident
    await pd(tocsin, "resolve", "info")
    assert await tocsin.incidents() == []
    await pd(tocsin, "trigger", "critical")  # the same dedup_key, now critical: SEV2, declares
    [incident] = await tocsin.incidents()
    assert incident["severity"] == "SEV2"
    [alert] = (await tocsin.incident(incident["id"]))["alerts"]
    assert (alert["labels"]["severity"], alert["count"]) == ("critical", 2)


async def test_reopening_an_older_incident_while_another_of_its_key_is_open(tocsin: Tocsin) -> None:
    await tocsin.post_alertmanager(am_webhook(am_alert(instance="a")))
    await tocsin.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "bob"})
    tocsin.clock.advance(3600)
    await tocsin.post_alertmanager(am_webhook(am_alert(instance="b", starts_at="2026-11-22T08:00:00Z")))
    assert [i["id"] for i in await tocsin.incidents("state=triggered")] == ["INC-2026-0002"]
    error = await tocsin.api("POST", "/api/v1/incidents/INC-2026-0001/reopen", {"actor": "bob"}, status=409)
    assert "INC-2026-0002 is open for the same correlation key" in error["error"]["message"]

    await tocsin.api("POST", "/api/v1/incidents/INC-2026-0002/resolve", {"actor": "bob"})
    await tocsin.api("POST", "/api/v1/incidents/INC-2026-0001/reopen", {"actor": "bob"})
    # INC-2026-0001 holds the key now: a new alert of the key joins it and reopens nothing else.
    await tocsin.post_alertmanager(am_webhook(am_alert(instance="c", starts_at="2026-11-22T09:00:00Z")))
    open_ = await tocsin.incidents("state=triggered")
    assert [(i["id"], i["firing_alerts"]) for i in open_] == [("INC-2026-0001", 1)]


async def test_reopen_does_not_count_the_old_stretch_toward_a_duration_raise(tocsin: Tocsin) -> None:
    alert = am_alert("Warn", severity="warning")
    await tocsin.post_alertmanager(am_webhook(alert))
    tocsin.clock.advance(20 * 60)
    await tocsin.post_alertmanager(am_webhook(resolved(alert, "2026-11-22T07:32:00Z")))  # SEV3: resolved at once
    tocsin.clock.advance(25 * 60)  # 45m after declaration, within reopen_within of the resolution
    await tocsin.post_alertmanager(am_webhook({**alert, "startsAt": "2026-11-22T07:57:00Z"}))
    await tocsin.tick()
    incident = await tocsin.incident("INC-2026-0001")
    assert (incident["state"], incident["severity"]) == ("triggered", "SEV3")
    await tocsin.tick(30 * 60)  # 30m into the new stretch: long-running raises it now
    assert (await tocsin.incident("INC-2026-0001"))["severity"] == "SEV2"


async def test_one_severity_change_per_decision(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.post_alertmanager(
        am_webhook(*[am_alert("Lag", severity="warning", instance=f"i{n}") for n in range(1)])
    )
    await paging.tick()
    # One webhook: three warnings and one error: the error's SEV2 and wide-outage's SEV1 both apply; one change.
    more = [am_alert("Lag", severity="warning", instance=f"j{n}") for n in range(3)]
    await paging.post_alertmanager(am_webhook(*more, am_alert("Err", severity="error", instance="e")))
    await paging.tick()
    incident = await paging.incident("INC-2026-0001")
    changes = [e["text"] for e in incident["timeline"] if e["kind"] == "severity_changed"]
    assert changes == ["severity SEV3 → SEV1 by raise wide-outage (5 alerts firing)"]
    assert [t for t in http_sink.titles("team-chat") if "severity changed" in t] == [
        "[SEV1] INC-2026-0001 Lag on checkout (severity changed)"
    ]
    assert http_sink.count("oncall-primary") == 1


async def test_refire_after_mitigation_does_not_remind_at_once(paging: Tocsin, http_sink: HttpSink) -> None:
    alert = am_alert()
    await paging.send_fixture(SEV1)
    await paging.post_alertmanager(am_webhook(alert))
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "alice"})
    await paging.tick(15 * 60)
    assert len(due(http_sink)) == 1  # 15m without an update
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/mitigate", {"actor": "alice"})
    await paging.tick(60)
    await paging.post_alertmanager(am_webhook({**alert, "instance": "x", "fingerprint": "refire"}))
    await paging.api("PATCH", "/api/v1/incidents/INC-2026-0001", {"severity": "SEV2", "actor": "alice"})
    await paging.tick(60)
    assert len(due(http_sink)) == 1  # neither the re-fire nor the severity change reminds again at once


async def test_severity_change_on_a_mitigated_incident_pages_nobody(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.post_alertmanager(am_webhook(am_alert("Slow", severity="warning")))
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/mitigate", {"actor": "alice"})
    await paging.api("PATCH", "/api/v1/incidents/INC-2026-0001", {"severity": "SEV1", "actor": "alice"})
    await paging.tick(20 * 60)
    assert http_sink.count("oncall-primary") == 0
    assert "[SEV1] INC-2026-0001 Slow on checkout (severity changed)" in http_sink.titles("team-chat")


async def test_status_updates_of_a_mirrored_incident_reach_stakeholders(paging: Tocsin, http_sink: HttpSink) -> None:
    from tests.test_pagerduty_webhooks import deliver, event

    answer = await deliver(paging, event("incident.triggered"))
    await paging.api(
        "POST",
        f"/api/v1/incidents/{answer['incident']}/status-updates",
        {"phase": "identified", "message": "bad index"},
        status=201,
    )
    await paging.tick()
    assert ["bad index" in m["message"] for m in http_sink.received["/stakeholders"]] == [True]
    assert http_sink.count("oncall-primary") == 0


async def test_a_page_counts_every_firing_alert(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.post_alertmanager(
        am_webhook(*[am_alert("Lag", severity="warning", instance=f"i{n}") for n in range(4)])
    )
    await paging.post_alertmanager(am_webhook(am_alert("Lag", severity="warning", instance="i4")))
    await paging.tick()
    [page] = http_sink.received["/oncall-primary"]  # the wide-outage raise to SEV1 pages page-hard
    assert "5 alerts firing" in page["message"]


async def test_a_non_ascii_ack_token_is_403(tocsin: Tocsin) -> None:
    for method in ("GET", "POST"):
        response = await tocsin.client.request(method, "/ack/abc.%C3%A9")
        assert response.status == 403


async def test_sev3_resolving_at_once_sends_one_message(paging: Tocsin, http_sink: HttpSink) -> None:
    alert = am_alert("Slow", severity="warning")
    await paging.post_alertmanager(am_webhook(alert))
    await paging.post_alertmanager(am_webhook(resolved(alert)))
    await paging.tick()
    assert http_sink.titles("team-chat") == [
        "[SEV3] INC-2026-0001 Slow on checkout",
        "[SEV3] INC-2026-0001 Slow on checkout (resolved)",
    ]


async def test_a_page_queued_before_an_acknowledgement_is_not_sent(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    paging.clock.advance(1)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "alice"})
    await paging.tick()  # the declaration page and the acknowledgement leave the outbox only now
    assert http_sink.titles("oncall-primary") == ["[SEV1] INC-2026-0001 HighErrorRate on checkout (acknowledged)"]
    texts = [e["text"] for e in (await paging.incident("INC-2026-0001"))["timeline"]]
    assert "page level 0 (round 1): not sent, acknowledged since it was queued" in texts


async def test_a_template_that_fails_on_one_incident_falls_back(
    make_tocsin: MakeTocsin, http_sink: HttpSink, tmp_path: Path
) -> None:
    templates = tmp_path / "templates"
    templates.mkdir()
    # Renders for incidents with alerts (the start-up check) but not for one declared by hand.
    (templates / "body.txt.j2").write_text("First: {{ alerts[0].name }}\n")
    t = await make_tocsin({"templates": str(templates), "notify": {"retries": 0}}, sink=http_sink.address)
    await t.api(
        "POST",
        "/api/v1/incidents",
        {"title": "Checkout is down", "severity": "SEV1", "service": "checkout"},
        status=201,
    )
    await t.tick()
    [page] = http_sink.received["/oncall-primary"]
    assert page["title"] == "[SEV1] INC-2026-0001 Checkout is down"
    assert "Acknowledge:" in page["message"]  # the built-in body
    await t.post_alertmanager(am_webhook(am_alert(instance="w")))
    await t.tick(5 * 60)
    assert http_sink.received["/oncall-secondary"][0]["message"].startswith("First: HighErrorRate (w)")


async def test_concurrent_webhooks_for_different_services_each_declare_their_own(tocsin: Tocsin) -> None:
    services = [f"svc-{i:02d}" for i in range(40)]
    hooks = [am_webhook(am_alert(service=s, severity="warning")) for s in services]
    responses = await asyncio.gather(*(tocsin.post_alertmanager(h) for h in hooks))
    assert [r.status for r in responses] == [200] * len(services)
    incidents = await tocsin.incidents("limit=500")
    assert sorted(i["service"] for i in incidents) == services
    assert len({i["id"] for i in incidents}) == len(services)


async def test_resolved_and_firing_again_in_one_webhook_stays_in_its_incident(tocsin: Tocsin) -> None:
    alert = am_alert(instance="flappy")
    await tocsin.post_alertmanager(am_webhook(alert, am_alert(instance="steady")))
    again = {**alert, "startsAt": "2026-11-22T07:20:00Z"}
    await tocsin.post_alertmanager(am_webhook(resolved(alert, "2026-11-22T07:10:00Z"), again))
    [incident] = await tocsin.incidents()
    detail = await tocsin.incident(incident["id"])
    flappy = next(a for a in detail["alerts"] if a["labels"]["instance"] == "flappy")
    assert (flappy["status"], flappy["count"]) == ("firing", 2)
    assert detail["firing_alerts"] == 2
