"""PagerDuty Events v2: a dedup_key names an alert within its integration only (DESIGN, PagerDuty mapping)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import MakeTocsin
from tests.support import ROUTING_KEY, SEV1, Tocsin, am_alert, am_webhook

pytestmark = pytest.mark.both_stores

WEB_KEY = "web-routing-key"  # a second integration, for service web (the example's is for db)
SHARED = "disk-full-1"


@pytest.fixture
async def two(make_tocsin: MakeTocsin) -> Tocsin:
    return await make_tocsin(
        {"channels": None, "sources": {"pagerduty": {"integrations": {WEB_KEY: {"service": "web"}}}}}
    )


async def enqueue(t: Tocsin, routing_key: str, action: str, dedup_key: str, summary: str = "Disk full") -> Any:
    event: dict[str, Any] = {"routing_key": routing_key, "event_action": action, "dedup_key": dedup_key}
    if action == "trigger":
        event["payload"] = {"summary": summary, "source": "host-1", "severity": "critical"}
    response = await t.client.post("/v2/enqueue", json=event)
    assert response.status == 202, await response.text()
    return await response.json()


def by_service(incidents: list[Any]) -> dict[str, Any]:
    return {i["service"]: i for i in incidents}


async def test_two_integrations_with_one_dedup_key_make_two_incidents(two: Tocsin) -> None:
    for key, summary in ((ROUTING_KEY, "db disk full"), (WEB_KEY, "web disk full")):
        answer = await enqueue(two, key, "trigger", SHARED, summary)
        assert answer["dedup_key"] == SHARED  # PagerDuty's answer: the key as sent
    incidents = by_service(await two.incidents())
    assert set(incidents) == {"db", "web"}
    assert incidents["web"]["title"] == "web disk full"
    assert incidents["db"]["title"] == "db disk full"

    alerts = (await two.api("GET", "/api/v1/alerts"))["alerts"]
    assert [a["dedup_key"] for a in alerts] == [SHARED, SHARED]
    fingerprints = {a["labels"]["service"]: a["fingerprint"] for a in alerts}
    assert fingerprints["db"] != fingerprints["web"]
    shown = json.dumps(alerts)
    assert ROUTING_KEY not in shown
    assert WEB_KEY not in shown  # the routing key is a credential: never in the API


async def test_a_resolve_from_web_leaves_db_alone(two: Tocsin) -> None:
    await enqueue(two, ROUTING_KEY, "trigger", SHARED)
    await enqueue(two, WEB_KEY, "trigger", SHARED)
    await enqueue(two, WEB_KEY, "resolve", SHARED)
    await enqueue(two, WEB_KEY, "acknowledge", SHARED)
    incidents = by_service(await two.incidents())
    assert incidents["web"]["state"] == "mitigated"
    assert incidents["db"]["state"] == "triggered"
    db = await two.incident(incidents["db"]["id"])
    assert [a["status"] for a in db["alerts"]] == ["firing"]


async def test_a_routing_key_cannot_reach_an_alertmanager_alert(tocsin: Tocsin) -> None:
    await tocsin.send_fixture(SEV1)
    [incident] = await tocsin.incidents()
    before = await tocsin.incident(incident["id"])
    fingerprint = "7349553cd30785e8"  # one of SEV1's Alertmanager alerts
    assert fingerprint in {a["fingerprint"] for a in before["alerts"]}

    answer = await enqueue(tocsin, ROUTING_KEY, "acknowledge", fingerprint)
    assert answer["dedup_key"] == fingerprint
    await enqueue(tocsin, ROUTING_KEY, "resolve", fingerprint)
    after = await tocsin.incident(incident["id"])
    assert after["state"] == "triggered"
    assert {a["fingerprint"]: a["status"] for a in after["alerts"]} == {
        a["fingerprint"]: a["status"] for a in before["alerts"]
    }
    assert after["timeline"] == before["timeline"]


async def test_an_alertmanager_webhook_cannot_name_a_pagerduty_alert(tocsin: Tocsin) -> None:
    await enqueue(tocsin, ROUTING_KEY, "trigger", SHARED)
    [alert] = (await tocsin.api("GET", "/api/v1/alerts"))["alerts"]
    hook = am_webhook(am_alert(status="resolved", fingerprint=alert["fingerprint"], ends_at="2026-11-22T07:30:00Z"))
    response = await tocsin.post_alertmanager(hook)
    assert response.status == 422
    assert "fingerprint" in await response.text()
    [after] = (await tocsin.api("GET", "/api/v1/alerts"))["alerts"]
    assert after["status"] == "firing"
