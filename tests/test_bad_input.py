"""Bad input to the ingest endpoints: each gets its documented 4xx JSON error, nothing is stored, tocsin keeps serving.

DESIGN.md, Ingest and Reliability contract: 400/413/415/422 with ``{"error": {"code", "message", "details"}}``
(``/v2/enqueue`` answers in PagerDuty's shape ``{"status", "message", "errors"}``), 401 for wrong or missing
credentials, never a 5xx; every refusal counts in ``tocsin_ingest_rejected_total{source,reason}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import ClientResponse

from tests.conftest import MakeTocsin
from tests.support import AM_TOKEN, API_TOKEN, ROUTING_KEY, Tocsin, body

AM_PATH = "/api/v1/alerts/alertmanager"
PD_PATH = "/v2/enqueue"
AM_FIXTURE = "alertmanager-webhook-1.json"
PD_FIXTURE = "pagerduty-events-v2-1.json"
MISSING = object()  # a field left out of the body


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


BEARER = f"Bearer {AM_TOKEN}"


def encode(data: Any) -> bytes:
    return json.dumps(data).encode()


def _set(target: dict[str, Any], changes: dict[str, Any]) -> None:
    for key, value in changes.items():
        if value is MISSING:
            target.pop(key, None)
        else:
            target[key] = value


def am_with(**changes: Any) -> bytes:
    """The first real Alertmanager webhook with top-level fields changed (MISSING removes one)."""
    data = body(AM_FIXTURE)
    _set(data, changes)
    return encode(data)


def am_alert_with(**changes: Any) -> bytes:
    """The first real Alertmanager webhook with fields of its alert changed (MISSING removes one)."""
    data = body(AM_FIXTURE)
    _set(data["alerts"][0], changes)
    return encode(data)


def am_labels_with(**labels: Any) -> bytes:
    data = body(AM_FIXTURE)
    data["alerts"][0]["labels"].update(labels)
    return encode(data)


def am_alerts(count: int) -> bytes:
    data = body(AM_FIXTURE)
    template = data["alerts"][0]
    data["alerts"] = [
        {**template, "labels": {**template["labels"], "instance": f"web-{i}"}, "fingerprint": f"{i:016x}"}
        for i in range(count)
    ]
    return encode(data)


def pd_with(**changes: Any) -> bytes:
    """The real PagerDuty trigger with top-level fields changed (MISSING removes one)."""
    data = body(PD_FIXTURE)
    _set(data, changes)
    return encode(data)


def pd_payload_with(**changes: Any) -> bytes:
    data = body(PD_FIXTURE)
    _set(data["payload"], changes)
    return encode(data)


@dataclass(frozen=True)
class Bad:
    """One row of the table: what is sent and what tocsin must answer."""

    id: str
    raw: bytes
    status: int
    reason: str  # the error code and the ``reason`` label of the rejection counter
    mention: str  # what the error must name (a field, a limit, the problem)
    content_type: str | None = "application/json"
    authorization: str | None = BEARER
    limits: dict[str, int] = field(default_factory=dict)
    chunked: bool = False


# A valid webhook a little over 2048 bytes, for max_body_bytes: 2048.
PADDED_AM = am_alert_with(annotations={"summary": "p99 above 2s", "description": "x" * 3000})
PADDED_PD = pd_payload_with(custom_details={"firing": "x" * 3000})

AM_ROWS = [
    # malformed JSON and non-UTF-8 bytes
    Bad("malformed-json", b'{"version": "4", "alerts": [', 400, "malformed_json", "JSON"),
    Bad("empty-body", b"", 400, "malformed_json", "JSON"),
    Bad("trailing-garbage", am_with() + b"}", 400, "malformed_json", "JSON"),
    Bad(
        "non-utf8-label-value",
        am_labels_with(instance="PLACEHOLDER").replace(b"PLACEHOLDER", b"web-\xff\xfe"),
        400,
        "malformed_json",
        "UTF-8",
    ),
    Bad(
        "latin1-body",
        am_labels_with(instance="caf\u00e9").replace(b"caf\\u00e9", b"caf\xe9"),
        400,
        "malformed_json",
        "UTF-8",
    ),
    # wrong JSON types
    Bad("body-is-a-list", encode([body(AM_FIXTURE)]), 422, "invalid_body", "object"),
    Bad("labels-as-a-list", am_alert_with(labels=["alertname", "HighLatency"]), 422, "invalid_body", "alerts.0.labels"),
    Bad("label-value-a-number", am_labels_with(severity=3), 422, "invalid_body", "alerts.0.labels.severity"),
    Bad("label-value-null", am_labels_with(severity=None), 422, "invalid_body", "alerts.0.labels.severity"),
    Bad("alerts-not-a-list", am_with(alerts=body(AM_FIXTURE)["alerts"][0]), 422, "invalid_body", "alerts"),
    Bad("annotations-as-a-string", am_alert_with(annotations="p99 above 2s"), 422, "invalid_body", "annotations"),
    Bad("startsAt-a-number", am_alert_with(startsAt=1795000000), 422, "invalid_body", "alerts.0.startsAt"),
    Bad(
        "generatorURL-too-long",
        am_alert_with(generatorURL="http://x/" + "g" * 70_000),
        422,
        "limit_exceeded",
        "max_annotation_value_bytes",
    ),
    Bad("startsAt-not-a-time", am_alert_with(startsAt="yesterday"), 422, "invalid_body", "alerts.0.startsAt"),
    Bad("status-unknown", am_alert_with(status="pending"), 422, "invalid_body", "alerts.0.status"),
    Bad("version-a-number", am_with(version=4), 422, "invalid_body", "version"),
    # missing required fields
    Bad("no-alerts", am_with(alerts=MISSING), 422, "invalid_body", "alerts"),
    Bad("no-version", am_with(version=MISSING), 422, "invalid_body", "version"),
    Bad("alert-without-status", am_alert_with(status=MISSING), 422, "invalid_body", "alerts.0.status"),
    Bad("alert-without-labels", am_alert_with(labels=MISSING), 422, "invalid_body", "alerts.0.labels"),
    Bad("alert-with-empty-labels", am_alert_with(labels={}), 422, "invalid_body", "labels"),
    Bad("alert-without-startsAt", am_alert_with(startsAt=MISSING), 422, "invalid_body", "alerts.0.startsAt"),
    # wrong version
    Bad("version-3", am_with(version="3"), 422, "unsupported_version", 'expected "4"'),
    # sizes and counts
    Bad("oversized-body", PADDED_AM, 413, "body_too_large", "max_body_bytes", limits={"max_body_bytes": 2048}),
    Bad(
        "oversized-chunked-body",
        PADDED_AM,
        413,
        "body_too_large",
        "max_body_bytes",
        limits={"max_body_bytes": 2048},
        chunked=True,
    ),
    Bad(
        "too-many-alerts",
        am_alerts(3),
        413,
        "too_many_alerts",
        "max_alerts_per_request",
        limits={"max_alerts_per_request": 2},
    ),
    Bad(
        "10k-labels",
        am_alert_with(labels={f"label_{i}": f"value-{i}" for i in range(10_000)}),
        422,
        "limit_exceeded",
        "max_labels_per_alert",
    ),
    Bad(
        "oversized-label-value",
        am_labels_with(instance="x" * (16 * 1024 + 1)),
        422,
        "limit_exceeded",
        "max_label_value_bytes",
    ),
    Bad("oversized-label-name", am_labels_with(**{"n" * 1025: "x"}), 422, "limit_exceeded", "max_label_name_bytes"),
    Bad(
        "oversized-annotation-value",
        am_alert_with(annotations={"description": "x" * (64 * 1024 + 1)}),
        422,
        "limit_exceeded",
        "max_annotation_value_bytes",
    ),
    Bad(
        "too-many-annotations",
        am_alert_with(annotations={f"a{i}": "x" for i in range(257)}),
        422,
        "limit_exceeded",
        "max_annotations_per_alert",
    ),
    # content type
    Bad("text-plain", am_with(), 415, "unsupported_media_type", "application/json", content_type="text/plain"),
    Bad(
        "form-encoded",
        am_with(),
        415,
        "unsupported_media_type",
        "application/x-www-form-urlencoded",
        content_type="application/x-www-form-urlencoded",
    ),
    Bad("no-content-type", am_with(), 415, "unsupported_media_type", "application/json", content_type=None),
    # credentials
    Bad("no-credentials", am_with(), 401, "unauthorized", "credentials", authorization=None),
    Bad("wrong-bearer", am_with(), 401, "unauthorized", "credentials", authorization="Bearer not-the-token"),
    Bad("empty-bearer", am_with(), 401, "unauthorized", "credentials", authorization="Bearer "),
    Bad(
        "api-token-is-not-an-ingest-credential",
        am_with(),
        401,
        "unauthorized",
        "credentials",
        authorization=f"Bearer {API_TOKEN}",
    ),
    Bad(
        "wrong-basic-password",
        am_with(),
        401,
        "unauthorized",
        "credentials",
        authorization=basic("alertmanager", "not-the-token"),
    ),
    Bad("token-as-basic-user", am_with(), 401, "unauthorized", "credentials", authorization=basic(AM_TOKEN, "")),
    Bad("basic-not-base64", am_with(), 401, "unauthorized", "credentials", authorization="Basic %%%not-base64%%%"),
    Bad("unknown-scheme", am_with(), 401, "unauthorized", "credentials", authorization=f"Token {AM_TOKEN}"),
    # credentials are checked before anything is read: a bad body without them is still a 401
    Bad("malformed-json-without-credentials", b"{", 401, "unauthorized", "credentials", authorization=None),
    # out-of-range values that must not crash the parser or the metrics
    Bad("negative-truncatedAlerts", am_with(truncatedAlerts=-1), 422, "invalid_body", "truncatedAlerts"),
    Bad("huge-truncatedAlerts", am_with(truncatedAlerts=10**30), 422, "invalid_body", "truncatedAlerts"),
    Bad("startsAt-out-of-range", am_alert_with(startsAt="9999-12-31T23:59:59-01:00"), 422, "invalid_body", "startsAt"),
]

PD_ROWS = [
    Bad("malformed-json", b'{"routing_key": ', 400, "malformed_json", "JSON", authorization=None),
    Bad(
        "non-utf8",
        pd_payload_with(source="PLACEHOLDER").replace(b"PLACEHOLDER", b"db-\xff"),
        400,
        "malformed_json",
        "UTF-8",
        authorization=None,
    ),
    Bad("body-is-a-list", encode([body(PD_FIXTURE)]), 400, "invalid_event", "object", authorization=None),
    Bad(
        "unknown-routing-key",
        pd_with(routing_key="not-configured"),
        400,
        "unknown_routing_key",
        "routing_key",
        authorization=None,
    ),
    Bad("no-routing-key", pd_with(routing_key=MISSING), 400, "invalid_event", "routing_key", authorization=None),
    Bad(
        "unknown-event-action", pd_with(event_action="snooze"), 400, "invalid_event", "event_action", authorization=None
    ),
    Bad("trigger-without-payload", pd_with(payload=MISSING), 400, "invalid_event", "payload", authorization=None),
    Bad("payload-a-string", pd_with(payload="disk full"), 400, "invalid_event", "payload", authorization=None),
    Bad(
        "bad-payload-severity",
        pd_payload_with(severity="urgent"),
        400,
        "invalid_event",
        "payload.severity",
        authorization=None,
    ),
    Bad(
        "payload-without-summary",
        pd_payload_with(summary=MISSING),
        400,
        "invalid_event",
        "payload.summary",
        authorization=None,
    ),
    Bad(
        "payload-without-source",
        pd_payload_with(source=MISSING),
        400,
        "invalid_event",
        "payload.source",
        authorization=None,
    ),
    Bad(
        "acknowledge-without-dedup_key",
        pd_with(event_action="acknowledge", dedup_key=MISSING),
        400,
        "invalid_event",
        "dedup_key",
        authorization=None,
    ),
    Bad(
        "resolve-without-dedup_key",
        pd_with(event_action="resolve", dedup_key=MISSING),
        400,
        "invalid_event",
        "dedup_key",
        authorization=None,
    ),
    Bad("dedup_key-too-long", pd_with(dedup_key="k" * 256), 400, "invalid_event", "dedup_key", authorization=None),
    Bad("links-not-a-list", pd_with(links="http://example.com"), 400, "invalid_event", "links", authorization=None),
    Bad(
        "oversized-custom-detail",
        pd_payload_with(custom_details={"firing": "x" * (64 * 1024 + 1)}),
        422,
        "limit_exceeded",
        "max_annotation_value_bytes",
        authorization=None,
    ),
    Bad(
        "too-many-custom-details",
        pd_payload_with(custom_details={f"d{i}": "x" for i in range(10_000)}),
        422,
        "limit_exceeded",
        "max_annotations_per_alert",
        authorization=None,
    ),
    # A PagerDuty event is small: its route has its own limit, well below max_body_bytes.
    Bad(
        "oversized-body",
        PADDED_PD,
        413,
        "body_too_large",
        "max_event_bytes",
        authorization=None,
        limits={"max_event_bytes": 2048},
    ),
    Bad(
        "oversized-chunked-body",
        PADDED_PD,
        413,
        "body_too_large",
        "max_event_bytes",
        authorization=None,
        limits={"max_event_bytes": 2048},
        chunked=True,
    ),
    Bad(
        "text-plain",
        pd_with(),
        415,
        "unsupported_media_type",
        "application/json",
        content_type="text/plain",
        authorization=None,
    ),
]

PD_STATUS = {400: "invalid event", 413: "request too large", 415: "unsupported media type", 422: "invalid event"}


async def _chunks(raw: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(raw), 512):
        yield raw[start : start + 512]


async def send(t: Tocsin, path: str, row: Bad) -> ClientResponse:
    headers = {}
    if row.content_type is not None:
        headers["Content-Type"] = row.content_type
    if row.authorization is not None:
        headers["Authorization"] = row.authorization
    data: Any = _chunks(row.raw) if row.chunked else row.raw
    response: ClientResponse = await t.client.post(path, data=data, headers=headers, skip_auto_headers=["Content-Type"])
    return response


def said(message: str, details: Any) -> str:
    """What an error tells a person: its message and its details."""
    return message + " " + json.dumps(details, ensure_ascii=False)


def rejected(t: Tocsin, source: str, reason: str) -> float:
    return t.registry.get_sample_value("tocsin_ingest_rejected_total", {"source": source, "reason": reason}) or 0.0


async def assert_nothing_stored(t: Tocsin) -> None:
    assert (await t.api("GET", "/api/v1/alerts"))["alerts"] == []
    assert await t.incidents() == []


async def start(make_tocsin: MakeTocsin, limits: dict[str, int] | None = None) -> Tocsin:
    return await make_tocsin({"channels": None, "limits": limits or {}})


@pytest.mark.parametrize("row", AM_ROWS, ids=[r.id for r in AM_ROWS])
async def test_alertmanager_bad_input(make_tocsin: MakeTocsin, row: Bad) -> None:
    t = await start(make_tocsin, row.limits)
    response = await send(t, AM_PATH, row)
    assert response.status == row.status, await response.text()
    assert response.content_type == "application/json"
    answer = await response.json()
    assert set(answer) == {"error"}
    assert set(answer["error"]) == {"code", "message", "details"}
    assert answer["error"]["code"] == row.reason
    assert isinstance(answer["error"]["message"], str)
    assert answer["error"]["message"]
    assert row.mention in said(answer["error"]["message"], answer["error"]["details"]), answer
    if row.status == 401:
        assert AM_TOKEN not in json.dumps(answer)  # secrets never appear in API output

    await assert_nothing_stored(t)
    assert rejected(t, "alertmanager", row.reason) == 1

    # tocsin keeps serving: the real webhook is accepted and stored.
    await t.send_fixture(AM_FIXTURE)
    [alert] = (await t.api("GET", "/api/v1/alerts"))["alerts"]
    assert alert["fingerprint"] == "40f56d76da7d4a2d"
    assert len(await t.incidents()) == 1


@pytest.mark.parametrize("row", PD_ROWS, ids=[r.id for r in PD_ROWS])
async def test_pagerduty_bad_input(make_tocsin: MakeTocsin, row: Bad) -> None:
    t = await start(make_tocsin, row.limits)
    response = await send(t, PD_PATH, row)
    assert response.status == row.status, await response.text()
    assert response.content_type == "application/json"
    answer = await response.json()
    # PagerDuty's own shape, also for 413 and 415.
    assert set(answer) == {"status", "message", "errors"}
    assert answer["status"] == PD_STATUS[row.status]
    assert isinstance(answer["message"], str)
    assert answer["message"]
    assert isinstance(answer["errors"], list)
    assert answer["errors"]
    assert all(isinstance(e, str) for e in answer["errors"])
    assert row.mention in said(answer["message"], answer["errors"]), answer
    assert ROUTING_KEY not in json.dumps(answer)

    await assert_nothing_stored(t)
    assert rejected(t, "pagerduty", row.reason) == 1

    answer = await t.send_fixture(PD_FIXTURE)
    assert answer["status"] == "success"
    [alert] = (await t.api("GET", "/api/v1/alerts"))["alerts"]
    assert alert["dedup_key"] == answer["dedup_key"]
    assert len(await t.incidents()) == 1


async def test_rejections_accumulate_by_reason(tocsin: Tocsin) -> None:
    for _ in range(3):
        response = await tocsin.post_alertmanager(body(AM_FIXTURE), token="wrong")
        assert response.status == 401
    response = await tocsin.post_alertmanager({**body(AM_FIXTURE), "version": "3"})
    assert response.status == 422
    assert rejected(tocsin, "alertmanager", "unauthorized") == 3
    assert rejected(tocsin, "alertmanager", "unsupported_version") == 1
    metrics = await (await tocsin.client.get("/metrics")).text()
    assert 'tocsin_ingest_rejected_total{reason="unauthorized",source="alertmanager"} 3.0' in metrics
    await assert_nothing_stored(tocsin)


@pytest.mark.parametrize(
    "second",
    [
        pytest.param(
            {"labels": {"alertname": "Broken", "service": "checkout", "x": "y" * (16 * 1024 + 1)}},
            id="oversized-label-value",
        ),
        pytest.param({"startsAt": None}, id="startsAt-null"),
        pytest.param({"labels": {"alertname": "Broken", "service": "checkout", "severity": 2}}, id="label-a-number"),
        pytest.param({"status": "unknown"}, id="bad-status"),
    ],
)
async def test_one_invalid_alert_rejects_the_whole_request(tocsin: Tocsin, second: dict[str, Any]) -> None:
    data = body(AM_FIXTURE)
    valid = data["alerts"][0]
    data["alerts"].append({**valid, "fingerprint": "00000000000000ff", **second})
    response = await tocsin.post_alertmanager(data)
    assert response.status == 422, await response.text()
    answer = await response.json()
    assert answer["error"]["code"] in ("invalid_body", "limit_exceeded")
    details = answer["error"]["details"]
    # The error names the second alert (index 1), not the valid first one.
    if isinstance(details, dict):
        assert details["alert"] == 1
    else:
        assert [d["field"].split(".")[:2] for d in details] == [["alerts", "1"]] * len(details)
    await assert_nothing_stored(tocsin)
    # The valid alert alone is accepted afterwards.
    await tocsin.send_fixture(AM_FIXTURE)
    assert len((await tocsin.api("GET", "/api/v1/alerts"))["alerts"]) == 1


async def test_the_limit_is_named_in_details(make_tocsin: MakeTocsin) -> None:
    t = await start(make_tocsin, {"max_labels_per_alert": 8})
    response = await t.post_alertmanager(
        body(AM_FIXTURE) | {"alerts": [body(AM_FIXTURE)["alerts"][0] | {"labels": {f"l{i}": "v" for i in range(9)}}]}
    )
    assert response.status == 422
    error = (await response.json())["error"]
    assert error["code"] == "limit_exceeded"
    assert error["details"] == {"limit": "max_labels_per_alert", "max": 8, "alert": 0}
    assert "max_labels_per_alert" in error["message"]


async def test_body_at_the_limit_is_accepted(make_tocsin: MakeTocsin) -> None:
    raw = am_with()
    limit = max(1024, len(raw))
    t = await start(make_tocsin, {"max_body_bytes": limit})
    response = await t.client.post(
        AM_PATH,
        data=raw.ljust(limit),  # JSON allows trailing whitespace: exactly max_body_bytes
        headers={"Authorization": BEARER, "Content-Type": "application/json"},
    )
    assert response.status == 200, await response.text()
    assert len((await t.api("GET", "/api/v1/alerts"))["alerts"]) == 1


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(BEARER, id="bearer"),
        pytest.param(basic("alertmanager", AM_TOKEN), id="basic-token-as-password"),
        pytest.param(basic("", AM_TOKEN), id="basic-empty-user"),
        pytest.param(f"bearer {AM_TOKEN}", id="bearer-lowercase-scheme"),
    ],
)
async def test_alertmanager_credentials_accepted(tocsin: Tocsin, authorization: str) -> None:
    response = await tocsin.client.post(AM_PATH, json=body(AM_FIXTURE), headers={"Authorization": authorization})
    assert response.status == 200, await response.text()
    assert (await response.json())["status"] == "success"
    [alert] = (await tocsin.api("GET", "/api/v1/alerts"))["alerts"]
    assert alert["fingerprint"] == "40f56d76da7d4a2d"


async def test_unknown_fields_are_tolerated(tocsin: Tocsin) -> None:
    data = body(AM_FIXTURE)
    data["notification_reason"] = "new_alert"  # Alertmanager 0.32+
    data["routeLabels"] = {"receiver": "webhook"}  # Alertmanager 0.34+
    data["somethingNew"] = {"nested": [1, 2, 3]}
    data["alerts"][0]["notification_reason"] = "new_alert"
    data["alerts"][0]["someFutureField"] = [{"x": 1}]
    response = await tocsin.client.post(
        AM_PATH,
        data=encode(data),
        headers={"Authorization": BEARER, "Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status == 200, await response.text()
    [incident] = await tocsin.incidents()
    assert incident["title"] == "HighLatency on checkout"
    [alert] = (await tocsin.incident(incident["id"]))["alerts"]
    assert alert["labels"] == body(AM_FIXTURE)["alerts"][0]["labels"]
    assert "notification_reason" not in alert["labels"]

    pd = body(PD_FIXTURE)
    pd["images"] = [{"src": "https://example.com/graph.png"}]
    pd["payload"]["future"] = True
    answer = await tocsin.client.post(PD_PATH, json=pd)
    assert answer.status == 202, await answer.text()
    assert len(await tocsin.incidents()) == 2


async def test_pagerduty_trigger_without_dedup_key_gets_one(tocsin: Tocsin) -> None:
    keys = []
    for _ in range(2):
        event = body(PD_FIXTURE)
        del event["dedup_key"]
        response = await tocsin.client.post(PD_PATH, json=event)
        assert response.status == 202, await response.text()
        answer = await response.json()
        assert answer["status"] == "success"
        assert answer["message"] == "Event processed"
        assert isinstance(answer["dedup_key"], str)
        assert answer["dedup_key"]
        keys.append(answer["dedup_key"])
    assert keys[0] != keys[1]
    stored = {a["dedup_key"] for a in (await tocsin.api("GET", "/api/v1/alerts"))["alerts"]}
    assert stored == set(keys)

    # The returned key works: resolving with it resolves that alert.
    resolve = body("pagerduty-events-v2-2.json") | {"dedup_key": keys[0]}
    assert (await tocsin.client.post(PD_PATH, json=resolve)).status == 202
    statuses = {a["dedup_key"]: a["status"] for a in (await tocsin.api("GET", "/api/v1/alerts"))["alerts"]}
    assert statuses == {keys[0]: "resolved", keys[1]: "firing"}


async def test_truncated_alerts_are_accepted_and_counted(tocsin: Tocsin) -> None:
    data = body(AM_FIXTURE)
    data["truncatedAlerts"] = 7
    response = await tocsin.post_alertmanager(data)
    assert response.status == 200, await response.text()
    assert (await response.json())["truncated_alerts"] == 7
    assert len((await tocsin.api("GET", "/api/v1/alerts"))["alerts"]) == 1
    assert tocsin.registry.get_sample_value("tocsin_ingest_truncated_alerts_total", {"source": "alertmanager"}) == 7
    metrics = await (await tocsin.client.get("/metrics")).text()
    assert 'tocsin_ingest_truncated_alerts_total{source="alertmanager"} 7.0' in metrics


async def test_wrong_method_is_a_json_error(tocsin: Tocsin) -> None:
    response = await tocsin.client.get(AM_PATH, headers={"Authorization": BEARER})
    assert response.status == 405
    error = (await response.json())["error"]
    assert error["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


async def test_pagerduty_endpoint_answers_its_own_shape_for_wrong_method(tocsin: Tocsin) -> None:
    response = await tocsin.client.get(PD_PATH)
    assert response.status == 405
    answer = await response.json()
    assert set(answer) == {"status", "message", "errors"}
    assert answer["status"] == "method not allowed"


async def test_ingest_401_names_the_schemes(tocsin: Tocsin) -> None:
    response = await tocsin.client.post(AM_PATH, data=am_with(), headers={"Content-Type": "application/json"})
    assert response.status == 401
    assert "Bearer" in response.headers["WWW-Authenticate"]
    assert "Basic" in response.headers["WWW-Authenticate"]
