"""Silences and maintenance windows in the engine (DESIGN §12), on the injected clock, through the HTTP API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.conftest import MakeTocsin
from tests.sinks import HttpSink
from tests.support import Tocsin, am_alert, am_webhook, resolved

pytestmark = pytest.mark.both_stores


def at(t: Tocsin, minutes: float) -> str:
    return (t.clock.now() + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


async def silence(t: Tocsin, minutes: float, *matchers: tuple[str, str], start: float = 0) -> str:
    body = {
        "matchers": [{"name": n, "value": v, "isRegex": False, "isEqual": True} for n, v in matchers],
        "startsAt": at(t, start),
        "endsAt": at(t, minutes),
        "createdBy": "alice",
        "comment": "migrating the database",
    }
    answer = await t.api("POST", "/api/v2/silences", body)
    silence_id: str = answer["silenceID"]
    return silence_id


async def alerts(t: Tocsin) -> dict[str, Any]:
    return {a["fingerprint"]: a for a in (await t.api("GET", "/api/v1/alerts"))["alerts"]}


def kinds(incident: dict[str, Any], kind: str) -> list[str]:
    return [e["text"] for e in incident["timeline"] if e["kind"] == kind]


@pytest.fixture
async def paged(make_tocsin: MakeTocsin, http_sink: HttpSink) -> Tocsin:
    return await make_tocsin({"notify": {"retries": 0, "timeout": "5s"}}, sink=http_sink.address)


async def test_a_silenced_alert_is_stored_declares_nothing_and_declares_once_the_silence_is_expired(
    paged: Tocsin, http_sink: HttpSink
) -> None:
    sid = await silence(paged, 120, ("service", "checkout"))
    alert = am_alert(starts_at=at(paged, 0))
    assert (await paged.post_alertmanager(am_webhook(alert))).status == 200
    await paged.tick()
    stored = (await alerts(paged))[alert["fingerprint"]]
    assert stored["status"] == "firing"
    assert stored["silenced_by"] == [sid]
    assert stored["incident_id"] is None
    assert await paged.incidents() == []
    assert http_sink.received == {}
    assert paged.registry.get_sample_value("tocsin_alerts_silenced_total", {"source": "alertmanager"}) == 1

    # Redelivered while silenced: still nothing.
    assert (await paged.post_alertmanager(am_webhook(alert))).status == 200
    await paged.tick(60)
    assert await paged.incidents() == []

    # Expired by hand while it still fires: taken as if it fired now, it declares at once.
    await paged.api("DELETE", f"/api/v2/silence/{sid}")
    await paged.tick()
    [incident] = await paged.incidents()
    assert incident["severity"] == "SEV1"
    assert http_sink.count("oncall-primary") == 1
    assert (await alerts(paged))[alert["fingerprint"]]["silenced_by"] == []


async def test_a_silenced_alert_that_resolves_is_recorded_silently(paged: Tocsin, http_sink: HttpSink) -> None:
    await silence(paged, 30, ("service", "checkout"))
    alert = am_alert(starts_at=at(paged, 0))
    await paged.post_alertmanager(am_webhook(alert))
    await paged.post_alertmanager(am_webhook(resolved(alert, ends_at=at(paged, 1))))
    await paged.tick(31 * 60)  # the silence ended: nothing fires any more, nothing declares
    assert (await alerts(paged))[alert["fingerprint"]]["status"] == "resolved"
    assert await paged.incidents() == []
    assert http_sink.received == {}


async def test_a_silence_over_an_open_incident_skips_levels_and_the_ladder_goes_on(
    paged: Tocsin, http_sink: HttpSink
) -> None:
    alert = am_alert(starts_at=at(paged, 0))
    await paged.post_alertmanager(am_webhook(alert))
    await paged.tick()
    [incident] = await paged.incidents()
    assert http_sink.count("oncall-primary") == 1
    # page-hard: levels at 0s, 5m, 15m; round 2 at 25m. Silenced from 1m to 20m.
    paged.clock.advance(60)
    sid = await silence(paged, 19, ("service", "checkout"))
    view = await paged.incident(incident["id"])
    assert view["alerts"][0]["silenced_by"] == [sid]  # it joined before: it stays, and is shown as silenced
    await paged.tick(4 * 60)  # 5m: level 1 is skipped
    await paged.tick(10 * 60)  # 15m: level 2 is skipped
    view = await paged.incident(incident["id"])
    skipped = kinds(view, "level_skipped")
    assert len(skipped) == 2
    assert skipped[0].startswith("level 1 (round 1) of page-hard skipped: every firing alert is silenced")
    assert sid in skipped[0]
    assert http_sink.count("oncall-secondary") == 0
    assert http_sink.count("eng-manager") == 0
    assert paged.registry.get_sample_value("tocsin_escalations_total", {"level": "1"}) in (None, 0)
    # The silence ends at 20m; round 2's level 0 (25m) pages as usual.
    await paged.tick(5 * 60)
    assert http_sink.count("oncall-primary") == 1
    await paged.tick(5 * 60)
    assert http_sink.count("oncall-primary") == 2
    assert view["state"] == "triggered"


async def test_a_ladder_that_ran_out_while_silenced_restarts_when_the_silence_ends(
    paged: Tocsin, http_sink: HttpSink
) -> None:
    alert = am_alert(starts_at=at(paged, 0))
    await paged.post_alertmanager(am_webhook(alert))
    await paged.tick()
    [incident] = await paged.incidents()
    paged.clock.advance(60)
    await silence(paged, 59, ("service", "checkout"))  # until 60m; the two rounds end at 40m
    for _ in range(8):
        await paged.tick(5 * 60)  # 41m
    view = await paged.incident(incident["id"])
    assert len(kinds(view, "level_skipped")) == 5  # round 1 levels 1-2, round 2 levels 0-2
    assert http_sink.count("oncall-primary") == 1
    await paged.tick(19 * 60)  # 60m: the silence ends, the incident is still triggered
    view = await paged.incident(incident["id"])
    assert any("ladder starts again" in text for text in kinds(view, "note"))
    assert http_sink.count("oncall-primary") == 2


async def test_an_alert_joining_an_open_incident_while_silenced_waits_for_the_silence_end(paged: Tocsin) -> None:
    first = am_alert(starts_at=at(paged, 0))
    await paged.post_alertmanager(am_webhook(first))
    [incident] = await paged.incidents()
    await silence(paged, 10, ("instance", "web-2"))
    second = am_alert(instance="web-2", starts_at=at(paged, 0))
    await paged.post_alertmanager(am_webhook(second))
    view = await paged.incident(incident["id"])
    assert [a["fingerprint"] for a in view["alerts"]] == [first["fingerprint"]]
    await paged.tick(10 * 60)
    view = await paged.incident(incident["id"])
    assert {a["fingerprint"] for a in view["alerts"]} == {first["fingerprint"], second["fingerprint"]}
    assert view["firing_alerts"] == 2


async def test_a_maintenance_window_silences_storage_until_four_in_berlin(paged: Tocsin, http_sink: HttpSink) -> None:
    # Tuesday 24 November 2026, 02:30 in Berlin (01:30 UTC): storage-patching (02:00-04:00) is on.
    paged.clock.set(datetime(2026, 11, 24, 1, 30, tzinfo=UTC))
    alert = am_alert("DiskLatency", service="storage", team="storage", starts_at=at(paged, 0))
    other = am_alert("DiskLatency", service="db", starts_at=at(paged, 0))
    await paged.post_alertmanager(am_webhook(alert, other))
    await paged.tick()
    listed = await alerts(paged)
    assert listed[alert["fingerprint"]]["silenced_by"] == ["maintenance:storage-patching"]
    assert listed[other["fingerprint"]]["silenced_by"] == []
    assert [i["service"] for i in await paged.incidents()] == ["db"]
    await paged.tick(89 * 60)  # 03:59 in Berlin: still quiet
    assert [i["service"] for i in await paged.incidents()] == ["db"]
    await paged.tick(60)  # 04:00: the window ends while it still fires
    assert sorted(i["service"] for i in await paged.incidents()) == ["db", "storage"]
    assert (await alerts(paged))[alert["fingerprint"]]["silenced_by"] == []


async def test_an_incident_firing_only_under_a_silence_is_not_raised_until_the_silence_ends(paged: Tocsin) -> None:
    # severity=warning: SEV3. long-running raises to SEV2 after 30m of firing.
    alert = am_alert("QueueBacklog", service="billing", severity="warning", starts_at=at(paged, 0))
    await paged.post_alertmanager(am_webhook(alert))
    [incident] = await paged.incidents()
    assert incident["severity"] == "SEV3"
    paged.clock.advance(60)
    await silence(paged, 39, ("service", "billing"))  # until 40m
    await paged.tick(30 * 60)  # 31m: the raise fell due while silenced
    assert (await paged.incident(incident["id"]))["severity"] == "SEV3"
    await paged.tick(9 * 60)  # 40m: the silence ended, still firing
    view = await paged.incident(incident["id"])
    assert view["severity"] == "SEV2"
    assert any("raise long-running" in text for text in kinds(view, "severity_changed"))


async def test_a_refire_under_a_silence_neither_refires_nor_reopens_until_the_silence_ends(
    paged: Tocsin, http_sink: HttpSink
) -> None:
    alert = am_alert(starts_at=at(paged, 0))
    await paged.post_alertmanager(am_webhook(alert))
    await paged.post_alertmanager(am_webhook(resolved(alert, ends_at=at(paged, 1))))
    [incident] = await paged.incidents()
    assert incident["state"] == "mitigated"  # SEV1: verified for 15 minutes
    await silence(paged, 40, ("service", "checkout"))
    await paged.post_alertmanager(am_webhook(am_alert(starts_at=at(paged, 2))))  # fires again, silenced
    assert (await paged.incident(incident["id"]))["state"] == "mitigated"  # no re-fire: not back to triggered
    await paged.tick(15 * 60)
    assert (await paged.incident(incident["id"]))["state"] == "resolved"  # nothing fired again, unsilenced
    pages = http_sink.count("oncall-primary")
    await paged.post_alertmanager(am_webhook(am_alert(starts_at=at(paged, 0))))  # a redelivery: no reopen
    await paged.tick(10 * 60)
    assert (await paged.incident(incident["id"]))["state"] == "resolved"
    assert http_sink.count("oncall-primary") == pages
    # The silence ends 40m in, within reopen_within (30m) of the resolution: the still-firing alert reopens it.
    await paged.tick(15 * 60)
    view = await paged.incident(incident["id"])
    assert view["state"] == "triggered"
    assert any(e["kind"] == "reopened" for e in view["timeline"])
    assert http_sink.count("oncall-primary") == pages + 1


async def test_a_persons_later_step_due_while_silenced_is_skipped(paged: Tocsin, http_sink: HttpSink) -> None:
    # page-platform: level 2 at 15m pages person:carol, whose own ladder mails her 2 minutes later.
    await paged.post_alertmanager(am_webhook(am_alert(service="api", team="platform", starts_at=at(paged, 0))))
    await paged.tick()
    [incident] = await paged.incidents()
    await paged.tick(15 * 60)
    assert http_sink.count("carol-push") == 1
    await silence(paged, 30, ("team", "platform"))
    await paged.tick(2 * 60)
    assert http_sink.count("carol-mail") == 0
    view = await paged.incident(incident["id"])
    assert "carol (step 1) skipped: every firing alert is silenced" in kinds(view, "level_skipped")


async def test_alerts_silenced_after_joining_count_for_no_breadth_raise(paged: Tocsin) -> None:
    # wide-outage raises to SEV1 at 5 firing alerts. Four warnings (SEV3) join, then are silenced.
    first = [am_alert("QueueBacklog", service="billing", severity="warning", instance=f"q-{n}") for n in range(4)]
    await paged.post_alertmanager(am_webhook(*first))
    [incident] = await paged.incidents()
    await silence(paged, 60, ("alertname", "QueueBacklog"))
    await paged.post_alertmanager(am_webhook(am_alert("Latency", service="billing", severity="warning")))
    await paged.tick()  # the raise check, with the incident's members
    view = await paged.incident(incident["id"])
    assert view["firing_alerts"] == 5  # they count as firing (for mitigation) ...
    assert view["severity"] == "SEV3"  # ... but not for the raise
    await paged.api("DELETE", f"/api/v2/silence/{(await paged.api('GET', '/api/v2/silences'))[0]['id']}")
    await paged.post_alertmanager(am_webhook(am_alert("Errors", service="billing", severity="warning")))
    assert (await paged.incident(incident["id"]))["severity"] == "SEV1"  # unsilenced: 6 firing, raised
