"""PagerDuty V3 webhooks: signatures over the raw body, redelivery, and each event type's effect (DESIGN §9)."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

import pytest

from tests.conftest import MakeTocsin
from tests.logcapture import LogLines
from tests.sinks import HttpSink
from tests.support import SEV1, Tocsin

pytestmark = pytest.mark.both_stores

SECRET = "example-pd-secret"
PATH = "/api/v1/webhooks/pagerduty"


def event(
    event_type: str,
    *,
    pd_id: str = "PT4KHLK",
    key: str | None = "baf7cf21b1da41b4b0221008339ff357",
    priority: str | None = "P1",
    urgency: str = "high",
    event_id: str = "",
    occurred_at: str = "2026-11-22T07:12:00.000Z",  # 30 s before the test clock's start
) -> dict[str, Any]:
    return {
        "event": {
            "id": event_id or f"{event_type}-{pd_id}",
            "event_type": event_type,
            "resource_type": "incident",
            "occurred_at": occurred_at,
            "agent": {"id": "PXPGF42", "summary": "Earline Greenholt", "type": "user_reference"},
            "client": {"name": "PagerDuty"},
            "data": {
                "id": pd_id,
                "type": "incident",
                "html_url": f"https://acme.pagerduty.com/incidents/{pd_id}",
                "number": 1234,
                "status": event_type.split(".")[1],
                "incident_key": key,
                "created_at": "2026-11-22T07:19:00.000Z",
                "title": "The server is on fire.",
                "service": {"id": "PIJ90N7", "summary": "mail", "type": "service_reference"},
                "priority": {"id": "P", "summary": priority, "type": "priority_reference"} if priority else None,
                "urgency": urgency,
                "assignees": [],
                "teams": [],
                "conference_bridge": None,
                "resolve_reason": None,
            },
        }
    }


def sign(raw: bytes, *secrets: str) -> str:
    return ",".join(f"v1={hmac.new(s.encode(), raw, hashlib.sha256).hexdigest()}" for s in secrets)


async def deliver(
    t: Tocsin, payload: dict[str, Any], signature: str | None = None, webhook_id: str | None = None, status: int = 200
) -> Any:
    raw = json.dumps(payload).encode()
    headers = {"Content-Type": "application/json"}
    headers["X-PagerDuty-Signature"] = sign(raw, SECRET) if signature is None else signature
    if not signature and signature is not None:
        del headers["X-PagerDuty-Signature"]
    if webhook_id:
        headers["X-Webhook-Id"] = webhook_id
    response = await t.client.post(PATH, data=raw, headers=headers)
    assert response.status == status, await response.text()
    return await response.json()


@pytest.fixture
async def pd(make_tocsin: MakeTocsin, http_sink: HttpSink) -> Tocsin:
    return await make_tocsin(
        {"notify": {"retries": 0}, "sources": {"pagerduty": {"webhook_secrets": ["old-secret", SECRET]}}},
        sink=http_sink.address,
    )


async def test_signatures(pd: Tocsin) -> None:
    payload = event("incident.triggered")
    raw = json.dumps(payload).encode()
    await deliver(pd, payload, signature=sign(raw, "rotated-away", SECRET))  # several v1= values: one matches
    for bad in (sign(raw, "wrong"), "v1=" + "0" * 64, "v0=abc", ""):
        answer = await deliver(pd, event("incident.resolved"), signature=bad, status=401)
        assert answer["error"]["code"] in ("bad_signature", "missing_signature")
    # A signature over a different body is refused: the signature covers the raw bytes.
    other = json.dumps(event("incident.resolved")).encode()
    response = await pd.client.post(
        PATH, data=other, headers={"Content-Type": "application/json", "X-PagerDuty-Signature": sign(raw, SECRET)}
    )
    assert response.status == 401
    [incident] = await pd.incidents()
    assert incident["state"] == "triggered"


async def test_unknown_incident_is_mirrored_and_never_paged(
    pd: Tocsin, http_sink: HttpSink, log_lines: LogLines
) -> None:
    answer = await deliver(pd, event("incident.triggered"), webhook_id="w1")
    [declared] = log_lines.named("incident_declared")
    assert (declared["severity_by"], declared["incident"], "policy" in declared, "mirrored_from" in declared) == (
        "PagerDuty",
        answer["incident"],
        False,
        True,
    )
    incident = await pd.incident(answer["incident"])
    assert (incident["title"], incident["severity"], incident["state"], incident["mirrored"]) == (
        "The server is on fire.",
        "SEV1",
        "triggered",
        True,
    )
    assert incident["service"] == "mail"
    assert incident["policy"] is None
    await pd.tick(60 * 60)
    assert dict(http_sink.received) == {}  # PagerDuty pages for it; paging back would loop


async def test_each_event_type(pd: Tocsin) -> None:
    iid = (await deliver(pd, event("incident.triggered")))["incident"]

    async def state(event_type: str, **kw: Any) -> dict[str, Any]:
        await deliver(pd, event(event_type, **kw), webhook_id=f"{event_type}-{kw}")
        return dict(await pd.incident(iid))

    inc = await state("incident.acknowledged")
    assert (inc["state"], inc["acknowledged_by"]) == ("acknowledged", "pagerduty:Earline Greenholt")
    inc = await state("incident.unacknowledged")
    assert (inc["state"], inc["acknowledged_at"]) == ("triggered", None)
    inc = await state("incident.priority_updated", priority="P3")
    assert inc["severity"] == "SEV3"
    assert inc["timeline"][-1]["text"] == "severity SEV1 → SEV3 by pagerduty:Earline Greenholt (PagerDuty priority)"
    inc = await state("incident.resolved")
    assert (inc["state"], inc["resolved_by"]) == ("resolved", "pagerduty:Earline Greenholt")
    inc = await state("incident.reopened")
    assert inc["state"] == "triggered"
    assert [i["id"] for i in await pd.incidents()] == [iid]


async def test_redelivered_webhook_id_changes_nothing(pd: Tocsin) -> None:
    iid = (await deliver(pd, event("incident.triggered"), webhook_id="same"))["incident"]
    await deliver(pd, event("incident.acknowledged"), webhook_id="ack-1")
    before = await pd.incident(iid)
    pd.clock.advance(60)
    answer = await deliver(pd, event("incident.acknowledged"), webhook_id="ack-1")
    assert answer["status"] == "duplicate"
    assert await pd.incident(iid) == before
    answer = await deliver(pd, event("incident.triggered"), webhook_id="same")
    assert len(await pd.incidents()) == 1


async def test_priority_and_urgency_map_to_severity(pd: Tocsin) -> None:
    cases = {
        ("P2", "high"): "SEV2",
        ("P4", "high"): "SEV4",
        ("P5", "high"): "SEV4",
        (None, "high"): "SEV2",
        (None, "low"): "SEV4",
    }
    for n, ((priority, urgency), severity) in enumerate(cases.items()):
        answer = await deliver(
            pd, event("incident.triggered", pd_id=f"P{n}", key=None, priority=priority, urgency=urgency)
        )
        assert (await pd.incident(answer["incident"]))["severity"] == severity, (priority, urgency)


async def test_incident_key_naming_a_tocsin_incident_maps_onto_it(pd: Tocsin, http_sink: HttpSink) -> None:
    await pd.send_fixture(SEV1)
    await pd.tick()
    await deliver(pd, event("incident.acknowledged", key="INC-2026-0001"))
    incident = await pd.incident("INC-2026-0001")
    assert incident["state"] == "acknowledged"
    assert not incident["mirrored"]
    assert len(await pd.incidents()) == 1
    await pd.tick(30 * 60)
    assert http_sink.count("oncall-secondary") == 0  # the acknowledgement in PagerDuty stopped tocsin's ladder


async def test_incident_key_naming_an_alert_fingerprint_maps_onto_its_incident(pd: Tocsin) -> None:
    await pd.send_fixture(SEV1)
    await deliver(pd, event("incident.resolved", key="7349553cd30785e8"))
    incident = await pd.incident("INC-2026-0001")
    assert incident["state"] == "resolved"
    assert {a["status"] for a in incident["alerts"]} == {"resolved"}
    assert len(await pd.incidents()) == 1


async def test_other_events_are_acknowledged_and_ignored(pd: Tocsin) -> None:
    payload = event("incident.annotated")
    answer = await deliver(pd, payload)
    assert answer == {"status": "ignored"}
    assert await pd.incidents() == []


async def post_raw(t: Tocsin, raw: bytes, webhook_id: str) -> Any:
    headers = {
        "Content-Type": "application/json",
        "X-PagerDuty-Signature": sign(raw, SECRET),
        "X-Webhook-Id": webhook_id,
    }
    return await t.client.post(PATH, data=raw, headers=headers)


async def test_a_signed_body_replayed_under_new_webhook_ids_changes_nothing(pd: Tocsin) -> None:
    iid = (await deliver(pd, event("incident.triggered")))["incident"]
    resolve = json.dumps(event("incident.resolved", event_id="01DEQ9YPZ7XZ")).encode()
    assert (await post_raw(pd, resolve, "delivery-1")).status == 200
    pd.clock.advance(60)
    await deliver(pd, event("incident.reopened", occurred_at="2026-11-22T07:13:30.000Z"))
    reopened = await pd.incident(iid)
    assert reopened["state"] == "triggered"

    # The captured resolve, sent again as new deliveries: the signed event id says it was processed.
    for n in range(3):
        pd.clock.advance(10)
        response = await post_raw(pd, resolve, f"replay-{n}")
        assert response.status == 200
        assert (await response.json())["status"] == "duplicate"
    assert await pd.incident(iid) == reopened


async def test_an_event_that_occurred_long_ago_is_refused(pd: Tocsin) -> None:
    iid = (await deliver(pd, event("incident.triggered")))["incident"]
    before = await pd.incident(iid)
    stale = event("incident.resolved", event_id="old-one", occurred_at="2026-11-22T07:02:29.000Z")  # 10m01s ago
    answer = await deliver(pd, stale, status=422)
    assert answer["error"]["code"] == "stale_event"
    assert "max_webhook_age" in answer["error"]["message"]
    far_future = event("incident.resolved", event_id="future-one", occurred_at="2026-11-22T08:00:00.000Z")
    assert (await deliver(pd, far_future, status=422))["error"]["code"] == "stale_event"
    assert await pd.incident(iid) == before
    # Within the window (configurable, 10m by default) it is taken.
    recent = event("incident.resolved", event_id="recent-one", occurred_at="2026-11-22T07:02:31.000Z")
    await deliver(pd, recent)
    assert (await pd.incident(iid))["state"] == "resolved"


async def test_incident_key_naming_an_events_v2_dedup_key_maps_onto_its_incident(pd: Tocsin) -> None:
    # A sender paged both PagerDuty and tocsin with one dedup_key; PagerDuty's incident carries it as incident_key.
    answer = await pd.send_fixture("pagerduty-events-v2-1.json")
    [incident] = await pd.incidents()
    await deliver(pd, event("incident.acknowledged", key=answer["dedup_key"]))
    acknowledged = await pd.incident(incident["id"])
    assert acknowledged["state"] == "acknowledged"
    assert acknowledged["acknowledged_by"] == "pagerduty:Earline Greenholt"
    assert len(await pd.incidents()) == 1  # nothing mirrored beside it
