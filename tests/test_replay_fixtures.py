"""Replaying the real Alertmanager 0.25 and PagerDuty bodies gives the incidents DESIGN.md implies."""

from __future__ import annotations

import pytest

from tests.conftest import MakeTocsin
from tests.support import Tocsin, body

pytestmark = pytest.mark.both_stores

WEBHOOKS = ["alertmanager-webhook-1.json", "alertmanager-webhook-2.json", "alertmanager-webhook-3.json"]


def kinds(incident: dict) -> list[str]:
    return [e["kind"] for e in incident["timeline"]]


async def test_webhooks_in_order_make_one_checkout_incident(tocsin: Tocsin) -> None:
    await tocsin.send_fixture(WEBHOOKS[0])
    [incident] = await tocsin.incidents()
    # HighLatency severity="warning" matches rule `warning` → SEV3, which declares (declare_at: SEV3).
    assert incident["id"] == "INC-2026-0001"
    assert incident["title"] == "HighLatency on checkout"
    assert incident["severity"] == "SEV3"
    assert incident["state"] == "triggered"
    assert incident["service"] == "checkout"

    tocsin.clock.advance(5)
    await tocsin.send_fixture(WEBHOOKS[1])
    incident = await tocsin.incident("INC-2026-0001")
    # Two HighErrorRate critical/prod alerts join the open incident of {service="checkout"} and raise it to SEV1.
    assert [i["id"] for i in await tocsin.incidents()] == ["INC-2026-0001"]
    assert incident["severity"] == "SEV1"
    assert incident["title"] == "HighLatency on checkout"  # the declaring alert's, kept
    assert incident["firing_alerts"] == 3
    assert {a["fingerprint"]: a["severity"] for a in incident["alerts"]} == {
        "40f56d76da7d4a2d": "SEV3",
        "7349553cd30785e8": "SEV1",
        "6a9b4f73a4ca4b29": "SEV1",
    }
    raised = [e for e in incident["timeline"] if e["kind"] == "severity_changed"]
    assert [e["text"] for e in raised] == ["severity SEV3 → SEV1 by rule prod-critical"]

    tocsin.clock.advance(5)
    await tocsin.send_fixture(WEBHOOKS[2])
    incident = await tocsin.incident("INC-2026-0001")
    statuses = {a["fingerprint"]: (a["status"], a["ends_at"], a["count"]) for a in incident["alerts"]}
    assert statuses == {
        "40f56d76da7d4a2d": ("firing", None, 1),
        "7349553cd30785e8": ("resolved", "2026-11-22T07:12:19Z", 1),
        "6a9b4f73a4ca4b29": ("firing", None, 1),
    }
    # Two alerts still fire: the incident stays open and triggered.
    assert incident["state"] == "triggered"
    assert incident["firing_alerts"] == 2
    assert kinds(incident)[0] == "declared"
    assert "alert_joined" in kinds(incident)
    assert kinds(incident).index("alert_joined") < kinds(incident).index("severity_changed")
    assert kinds(incident)[-1] == "alert_resolved"
    assert incident["timeline"][-1]["text"] == "HighErrorRate (web-1) resolved"


async def test_redelivery_in_place_changes_nothing(make_tocsin: MakeTocsin, tmp_path_factory) -> None:
    once = await make_tocsin({"channels": None, "store": f"sqlite:///{tmp_path_factory.mktemp('a')}/t.db"})
    for name in WEBHOOKS:
        await once.send_fixture(name)
        once.clock.advance(5)
    expected = await once.snapshot()
    once.clock.advance(-15)

    thrice = await make_tocsin({"channels": None, "store": f"sqlite:///{tmp_path_factory.mktemp('b')}/t.db"})
    for name in WEBHOOKS:
        for _ in range(3):
            await thrice.send_fixture(name)
        thrice.clock.advance(5)
    assert await thrice.snapshot() == expected
    counters = thrice.registry
    assert counters.get_sample_value("tocsin_alerts_deduplicated_total", {"source": "alertmanager"}) > 0


async def test_older_firing_body_after_resolve_is_stale(tocsin: Tocsin) -> None:
    for name in WEBHOOKS:
        await tocsin.send_fixture(name)
    before = await tocsin.snapshot()
    tocsin.clock.advance(60)
    # Webhook 2 again: 7349553cd30785e8 fires with startsAt before its stored endsAt: stale.
    await tocsin.send_fixture(WEBHOOKS[1])
    assert await tocsin.snapshot() == before
    assert tocsin.registry.get_sample_value("tocsin_alerts_stale_total", {"source": "alertmanager"}) == 1


async def test_newer_firing_body_after_resolve_is_a_new_episode(tocsin: Tocsin) -> None:
    for name in WEBHOOKS:
        await tocsin.send_fixture(name)
    refire = body(WEBHOOKS[1])
    refire["alerts"] = [refire["alerts"][0]]
    refire["alerts"][0]["startsAt"] = "2026-11-22T07:20:00Z"
    await tocsin.post_alertmanager(refire)
    incident = await tocsin.incident("INC-2026-0001")
    alert = next(a for a in incident["alerts"] if a["fingerprint"] == "7349553cd30785e8")
    assert (alert["status"], alert["count"], alert["starts_at"], alert["ends_at"]) == (
        "firing",
        2,
        "2026-11-22T07:20:00Z",
        None,
    )
    assert incident["timeline"][-1]["text"] == "HighErrorRate (web-1) fired again"


async def test_pagerduty_trigger_then_resolve(tocsin: Tocsin) -> None:
    answer = await tocsin.send_fixture("pagerduty-events-v2-1.json")
    dedup = "3e2184524a488e9b2237d3a586a5761bfbc8cf705ed3e6ae8fed47010708dda2"
    assert answer == {"status": "success", "message": "Event processed", "dedup_key": dedup}
    [incident] = await tocsin.incidents()
    # payload.severity "error" matches rule `critical` (severity=~"critical|page|error") → SEV2; service from the
    # integration of routing_key; the title is PagerDuty's summary.
    assert incident["severity"] == "SEV2"
    assert incident["service"] == "db"
    assert incident["title"] == "[FIRING:1] DiskFull db (db-1 pagerduty warning)"
    detail = await tocsin.incident(incident["id"])
    [alert] = detail["alerts"]
    # Scoped to the integration (service db): the dedup_key as sent beside a fingerprint of its own.
    assert alert["dedup_key"] == dedup
    assert alert["fingerprint"].startswith("pagerduty:")
    assert alert["fingerprint"].endswith(dedup)
    assert alert["labels"] == {"service": "db", "severity": "error", "source": "Alertmanager"}
    assert alert["annotations"]["summary"] == "[FIRING:1] DiskFull db (db-1 pagerduty warning)"
    assert alert["annotations"]["num_firing"] == "1"
    assert alert["status"] == "firing"

    tocsin.clock.advance(60)
    await tocsin.send_fixture("pagerduty-events-v2-2.json")
    detail = await tocsin.incident(incident["id"])
    [alert] = detail["alerts"]
    assert alert["status"] == "resolved"
    assert alert["ends_at"] == "2026-11-22T07:13:30Z"
    # Its only alert resolved: mitigated by tocsin, then (SEV2 verifies for 15m) resolved after verification.
    assert detail["state"] == "mitigated"
    assert detail["verifying_until"] == "2026-11-22T07:28:30Z"
    await tocsin.tick(15 * 60)
    detail = await tocsin.incident(incident["id"])
    assert detail["state"] == "resolved"
    assert detail["resolved_by"] == "tocsin"

    # The same resolve again changes nothing; a trigger after the resolve is a new firing episode.
    await tocsin.send_fixture("pagerduty-events-v2-2.json")
    assert (await tocsin.incident(incident["id"]))["alerts"][0]["count"] == 1
    await tocsin.send_fixture("pagerduty-events-v2-1.json")
    detail = await tocsin.incident(incident["id"])
    assert detail["alerts"][0]["count"] == 2
    assert detail["state"] == "triggered"  # within reopen_within (30m): reopened
    assert "reopened" in kinds(detail)
