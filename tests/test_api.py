"""The incident API: tokens, listing and pagination, lifecycle transitions (DESIGN §5), declare, patch, alerts,
and the OpenAPI document."""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from aiohttp import ClientResponse

from tests.support import AM_TOKEN, API_TOKEN, Tocsin, body

pytestmark = pytest.mark.both_stores

WEBHOOKS = ["alertmanager-webhook-1.json", "alertmanager-webhook-2.json", "alertmanager-webhook-3.json"]
INCIDENT_ID = re.compile(r"^INC-2026-\d{4,}$")
TRANSITIONS = ("acknowledge", "mitigate", "resolve", "reopen")
# /api/v1 routes without the API token: the OpenAPI document, and ingest endpoints with their source's credentials.
NO_API_TOKEN = {
    "/api/v1/openapi.json",
    "/api/v1/alerts/alertmanager",
    "/api/v1/webhooks/pagerduty",
    "/api/v1/heartbeats/{name}",
}


def needs_api_token(path: str) -> bool:
    return (path.startswith(("/api/v1/", "/api/v2/")) and path not in NO_API_TOKEN) or path == "/-/reload"


def alert(
    name: str,
    service: str,
    severity: str,
    *,
    instance: str = "web-1",
    status: str = "firing",
    starts_at: str = "2026-11-22T07:00:00Z",
    ends_at: str = "0001-01-01T00:00:00Z",
) -> dict[str, Any]:
    """One alert as Alertmanager sends it."""
    return {
        "status": status,
        "labels": {"alertname": name, "service": service, "severity": severity, "instance": instance},
        "annotations": {"summary": f"{name} on {service}"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "",
        "fingerprint": f"{name}-{service}-{instance}".lower(),
    }


def webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    return {"version": "4", "receiver": "tocsin", "status": "firing", "alerts": list(alerts), "truncatedAlerts": 0}


async def ingest(t: Tocsin, *alerts: dict[str, Any]) -> None:
    response = await t.post_alertmanager(webhook(*alerts))
    assert response.status == 200, await response.text()


async def declare(t: Tocsin, title: str = "Checkout is down", **fields: Any) -> dict[str, Any]:
    incident: dict[str, Any] = await t.api("POST", "/api/v1/incidents", {"title": title, **fields}, status=201)
    return incident


async def act(t: Tocsin, incident_id: str, action: str, status: int = 200, **fields: Any) -> Any:
    return await t.api("POST", f"/api/v1/incidents/{incident_id}/{action}", fields or None, status=status)


def entries(incident: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e for e in incident["timeline"] if e["kind"] == kind]


def api_routes(t: Tocsin) -> list[tuple[str, str]]:
    """(method, canonical path) of every route the app registers, HEAD and OPTIONS and the board's pages aside."""
    return sorted(
        {
            (route.method, route.resource.canonical)
            for route in t.client.app.router.routes()
            if route.method not in ("HEAD", "OPTIONS")
            and route.resource is not None
            and not (route.resource.name or "").startswith("board:")
        }
    )


# -- tokens --------------------------------------------------------------------------------------------


async def raw(t: Tocsin, method: str, path: str, authorization: str | None, payload: Any = None) -> ClientResponse:
    headers = {"Authorization": authorization} if authorization is not None else {}
    response: ClientResponse = await t.client.request(method, path, json=payload, headers=headers)
    return response


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="none"),
        pytest.param("Bearer not-the-token", id="wrong-bearer"),
        pytest.param("Bearer ", id="empty-bearer"),
        pytest.param(f"Bearer {AM_TOKEN}", id="ingest-token"),
        pytest.param(API_TOKEN, id="no-scheme"),
        pytest.param("Basic " + base64.b64encode(f"api:{API_TOKEN}".encode()).decode(), id="basic"),
    ],
)
async def test_every_api_route_needs_the_api_token(tocsin: Tocsin, authorization: str | None) -> None:
    incident = await declare(tocsin)
    before = await tocsin.snapshot()
    protected = [(method, path) for method, path in api_routes(tocsin) if needs_api_token(path)]
    assert len(protected) >= 9  # list, declare, show, patch, 4 transitions, alerts
    for method, path in protected:
        response = await raw(
            tocsin,
            method,
            path.replace("{id}", incident["id"]).replace("{name}", "platform"),
            authorization,
            {"actor": "mallory", "title": "x"},
        )
        assert response.status == 401, (method, path, await response.text())
        error = await response.json()
        if path.startswith("/api/v2/"):
            assert error == "missing or wrong API token"  # Alertmanager's API v2 answers errors as JSON strings
        else:
            assert error["error"]["code"] == "unauthorized"
        assert "Bearer" in response.headers["WWW-Authenticate"]
        assert API_TOKEN not in await response.text()
    # Nothing a refused call carried was done.
    assert await tocsin.snapshot() == before


async def test_ingest_endpoints_use_their_own_credentials(tocsin: Tocsin) -> None:
    path = "/api/v1/alerts/alertmanager"
    refused = await raw(tocsin, "POST", path, f"Bearer {API_TOKEN}", body(WEBHOOKS[0]))
    assert refused.status == 401
    accepted = await raw(tocsin, "POST", path, f"Bearer {AM_TOKEN}", body(WEBHOOKS[0]))
    assert accepted.status == 200, await accepted.text()
    # PagerDuty's Events API carries no Authorization: the routing_key selects the integration.
    pd = await raw(tocsin, "POST", "/v2/enqueue", None, body("pagerduty-events-v2-1.json"))
    assert pd.status == 202, await pd.text()
    assert len(await tocsin.incidents()) == 2


async def test_open_endpoints(tocsin: Tocsin) -> None:
    for authorization in (None, "Bearer not-the-token"):
        health = await raw(tocsin, "GET", "/healthz", authorization)
        assert health.status == 200
        assert (await health.json())["status"] == "ok"
        ready = await raw(tocsin, "GET", "/readyz", authorization)
        assert ready.status == 200
        assert (await ready.json())["status"] == "ready"
        metrics = await raw(tocsin, "GET", "/metrics", authorization)
        assert metrics.status == 200
        assert metrics.content_type == "text/plain"
        assert "# TYPE tocsin_ingest_rejected_total counter" in await metrics.text()
        spec = await raw(tocsin, "GET", "/api/v1/openapi.json", authorization)
        assert spec.status == 200
        assert (await spec.json())["openapi"].startswith("3.")


# -- listing -------------------------------------------------------------------------------------------


async def test_incidents_newest_first_with_filters(tocsin: Tocsin) -> None:
    declared = []
    for i, (service, severity) in enumerate(
        [("checkout", "SEV1"), ("db", "SEV3"), ("checkout", "SEV2"), ("search", "SEV3"), ("db", "SEV1")]
    ):
        declared.append(await declare(tocsin, f"incident {i}", service=service, severity=severity))
        tocsin.clock.advance(60)
    ids = [i["id"] for i in declared]
    assert [i["id"] for i in await tocsin.incidents()] == ids[::-1]
    await act(tocsin, ids[1], "acknowledge", actor="alice")
    await act(tocsin, ids[3], "resolve", actor="alice")

    async def listed(query: str) -> list[str]:
        return [i["id"] for i in await tocsin.incidents(query)]

    assert await listed("service=checkout") == [ids[2], ids[0]]
    assert await listed("severity=SEV1") == [ids[4], ids[0]]
    assert await listed("state=acknowledged") == [ids[1]]
    assert await listed("state=resolved") == [ids[3]]
    assert await listed("state=triggered") == [ids[4], ids[2], ids[0]]
    assert await listed("state=open") == [ids[4], ids[2], ids[1], ids[0]]  # all but the resolved one
    assert await listed("service=db&severity=SEV3") == [ids[1]]
    assert await listed("service=nothing") == []
    assert await listed("state=&severity=") == ids[::-1]  # empty filters are no filters
    summary = (await tocsin.incidents("service=search"))[0]
    assert summary["state"] == "resolved"
    assert summary["title"] == "incident 3"


@pytest.mark.parametrize("limit", [1, 2, 3, 7, 50])
async def test_cursor_walks_every_incident_once(tocsin: Tocsin, limit: int) -> None:
    for i in range(7):
        await declare(tocsin, f"incident {i}", service=f"svc-{i}", severity="SEV2" if i % 2 else "SEV3")
        tocsin.clock.advance(1)
    everything = [i["id"] for i in await tocsin.incidents("limit=500")]
    assert len(everything) == 7

    for query, expected in (("", everything), ("severity=SEV2&", [everything[i] for i in (1, 3, 5)])):
        seen: list[str] = []
        cursor = None
        pages = 0
        while True:
            page = await tocsin.api(
                "GET", f"/api/v1/incidents?{query}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
            )
            assert len(page["incidents"]) <= limit
            seen += [i["id"] for i in page["incidents"]]
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
            assert pages <= 10
        assert seen == expected  # no duplicates, no gaps, newest first
        assert pages == max(1, -(-len(expected) // limit))


async def test_cursor_is_stable_while_incidents_are_declared(tocsin: Tocsin) -> None:
    for i in range(4):
        await declare(tocsin, f"incident {i}", service=f"svc-{i}")
    first = await tocsin.api("GET", "/api/v1/incidents?limit=2")
    await declare(tocsin, "a newer one", service="other")
    second = await tocsin.api("GET", f"/api/v1/incidents?limit=2&cursor={first['next_cursor']}")
    assert [i["title"] for i in first["incidents"] + second["incidents"]] == [
        "incident 3",
        "incident 2",
        "incident 1",
        "incident 0",
    ]


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("cursor=not-a-cursor", "bad_cursor"),
        ("cursor=%25%25%25", "bad_cursor"),
        ("limit=0", "bad_query"),
        ("limit=501", "bad_query"),  # incidents: at most 500 a page (alerts: 1000)
        ("limit=ten", "bad_query"),
        ("limit=-1", "bad_query"),
        ("limit=%C2%B2", "bad_query"),  # "²" is a digit to str.isdigit, not to int()
        ("limit=%EF%BC%95", "bad_query"),  # a full-width "5"
        ("state=opened", "bad_query"),
        ("severity=SEV5", "bad_query"),
    ],
)
async def test_bad_list_queries_are_400(tocsin: Tocsin, query: str, code: str) -> None:
    error = (await tocsin.api("GET", f"/api/v1/incidents?{query}", status=400))["error"]
    assert error["code"] == code
    assert error["message"]
    if not query.startswith(("state", "severity", "limit=501")):
        error = (await tocsin.api("GET", f"/api/v1/alerts?{query}", status=400))["error"]
        assert error["code"] == code


async def test_unknown_incident_is_404(tocsin: Tocsin) -> None:
    for method, path, payload in [
        ("GET", "/api/v1/incidents/INC-2026-9999", None),
        ("PATCH", "/api/v1/incidents/INC-2026-9999", {"title": "x"}),
        *[("POST", f"/api/v1/incidents/INC-2026-9999/{action}", {"actor": "alice"}) for action in TRANSITIONS],
    ]:
        answer = await tocsin.api(method, path, payload, status=404)
        assert answer["error"]["code"] == "not_found"
        assert "INC-2026-9999" in answer["error"]["message"]
        assert answer["error"]["details"] == {"id": "INC-2026-9999"}
    assert await tocsin.incidents() == []


# -- lifecycle (DESIGN §5's table) -----------------------------------------------------------------------

# How to reach each state by hand from a fresh (triggered) incident.
REACH = {
    "triggered": [],
    "acknowledged": ["acknowledge"],
    "mitigated": ["mitigate"],
    "resolved": ["resolve"],
}
# (from, action) -> the state afterwards, "same" (200 and nothing changes) or 409.
TABLE = {
    ("triggered", "acknowledge"): "acknowledged",
    ("triggered", "mitigate"): "mitigated",
    ("triggered", "resolve"): "resolved",
    ("triggered", "reopen"): 409,
    ("acknowledged", "acknowledge"): "same",
    ("acknowledged", "mitigate"): "mitigated",
    ("acknowledged", "resolve"): "resolved",
    ("acknowledged", "reopen"): 409,
    ("mitigated", "acknowledge"): "mitigated",  # records the ack
    ("mitigated", "mitigate"): "same",
    ("mitigated", "resolve"): "resolved",
    ("mitigated", "reopen"): 409,
    ("resolved", "acknowledge"): 409,
    ("resolved", "mitigate"): 409,
    ("resolved", "resolve"): "same",
    ("resolved", "reopen"): "triggered",
}
PAST = {"acknowledge": "acknowledged", "mitigate": "mitigated", "resolve": "resolved", "reopen": "reopened"}


@pytest.mark.parametrize(("start", "action"), list(TABLE), ids=[f"{s}-{a}" for s, a in TABLE])
async def test_transition_table(tocsin: Tocsin, start: str, action: str) -> None:
    incident = await declare(tocsin, severity="SEV2", actor="ic")
    iid = incident["id"]
    for step in REACH[start]:
        await act(tocsin, iid, step, actor="setup")
    tocsin.clock.advance(120)
    before = await tocsin.incident(iid)
    assert before["state"] == start
    expected = TABLE[(start, action)]

    if expected == 409:
        answer = await act(tocsin, iid, action, status=409, actor="alice")
        assert answer["error"]["code"] == "illegal_transition"
        assert start in answer["error"]["message"]
        assert answer["error"]["details"] == {"id": iid, "state": start}
        assert await tocsin.incident(iid) == before
        return

    after = await act(tocsin, iid, action, actor="alice", note="from the test")
    assert after == await tocsin.incident(iid)  # the answer is the incident as stored
    if expected == "same":
        assert after == before  # 200, and the timeline does not grow
        return
    assert after["state"] == expected
    [entry] = after["timeline"][len(before["timeline"]) :][:1]
    assert entry["kind"] == PAST[action]
    assert entry["actor"] == "alice"
    assert "alice" in entry["text"]
    assert "from the test" in entry["text"]
    assert entry["at"] == "2026-11-22T07:14:30Z"
    if action == "acknowledge":
        assert after["acknowledged_at"] == "2026-11-22T07:14:30Z"
        assert after["acknowledged_by"] == "alice"
    if action == "resolve":
        assert after["resolved_at"] == "2026-11-22T07:14:30Z"
        assert after["resolved_by"] == "alice"
        assert after["verifying_until"] is None  # by hand: immediate, no verification
    if action == "reopen":
        assert after["resolved_at"] is None
        assert after["acknowledged_at"] is None


async def test_acknowledge_resolved_names_the_state(tocsin: Tocsin) -> None:
    iid = (await declare(tocsin))["id"]
    await act(tocsin, iid, "resolve", actor="alice")
    answer = await act(tocsin, iid, "acknowledge", status=409, actor="bob")
    assert "resolved" in answer["error"]["message"]
    assert answer["error"]["details"]["state"] == "resolved"


async def test_repeating_the_current_state_changes_nothing(tocsin: Tocsin) -> None:
    iid = (await declare(tocsin))["id"]
    first = await act(tocsin, iid, "acknowledge", actor="alice")
    for _ in range(3):
        tocsin.clock.advance(30)
        again = await act(tocsin, iid, "acknowledge", actor="bob")
        assert again == first
    assert again["acknowledged_by"] == "alice"
    assert len(entries(again, "acknowledged")) == 1


async def test_transition_body_is_optional_and_checked(tocsin: Tocsin) -> None:
    iid = (await declare(tocsin))["id"]
    # No body: the actor defaults to "api".
    response = await tocsin.client.post(
        f"/api/v1/incidents/{iid}/acknowledge", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status == 200
    assert (await response.json())["acknowledged_by"] == "api"
    bad = await act(tocsin, iid, "mitigate", status=422, actor="alice", extra="field")
    assert bad["error"]["code"] == "invalid_body"
    bad = await act(tocsin, iid, "mitigate", status=422, actor="")
    assert bad["error"]["code"] == "invalid_body"
    response = await tocsin.client.post(
        f"/api/v1/incidents/{iid}/mitigate",
        data=b'{"actor": "alice"}',
        headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "text/plain"},
    )
    assert response.status == 415
    response = await tocsin.client.post(
        f"/api/v1/incidents/{iid}/mitigate",
        data=b'{"actor": ',
        headers={"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "malformed_json"
    assert (await tocsin.incident(iid))["state"] == "acknowledged"


# -- declare by hand -------------------------------------------------------------------------------------


async def test_declare_by_hand(tocsin: Tocsin) -> None:
    response = await tocsin.client.post(
        "/api/v1/incidents",
        json={
            "title": "Checkout returns 500s",
            "severity": "SEV2",
            "service": "checkout",
            "labels": {"team": "payments"},
            "actor": "alice",
            "note": "customers report failures",
            "commander": "bob",
        },
        headers={"Authorization": f"Bearer {API_TOKEN}"},
    )
    assert response.status == 201, await response.text()
    incident = await response.json()
    assert INCIDENT_ID.match(incident["id"])
    assert incident["id"] == "INC-2026-0001"
    assert response.headers["Location"] == f"/api/v1/incidents/{incident['id']}"
    assert incident == await tocsin.incident(incident["id"])
    assert incident["title"] == "Checkout returns 500s"
    assert incident["severity"] == "SEV2"
    assert incident["state"] == "triggered"
    assert incident["service"] == "checkout"
    assert incident["labels"] == {"team": "payments", "service": "checkout"}
    assert incident["commander"] == "bob"
    assert incident["declared_at"] == "2026-11-22T07:12:30Z"
    assert incident["alerts"] == []
    [first] = incident["timeline"][:1]
    assert first["kind"] == "declared"
    assert first["actor"] == "alice"
    assert "alice" in first["text"]
    assert "customers report failures" in first["text"]

    # Ids keep counting; a second incident of the same service stands alone.
    second = await declare(tocsin, "Another", service="checkout")
    assert second["id"] == "INC-2026-0002"
    assert [i["id"] for i in await tocsin.incidents()] == ["INC-2026-0002", "INC-2026-0001"]


async def test_alerts_of_its_service_join_a_declared_incident(tocsin: Tocsin) -> None:
    incident = await declare(tocsin, "Checkout is slow", service="checkout", severity="SEV2", actor="alice")
    await tocsin.send_fixture(WEBHOOKS[0])
    after = await tocsin.incident(incident["id"])
    assert [a["fingerprint"] for a in after["alerts"]] == ["40f56d76da7d4a2d"]
    assert after["title"] == "Checkout is slow"  # a person's title stands
    assert len(await tocsin.incidents()) == 1


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "title"),
        ({"title": ""}, "title"),
        ({"title": "x", "severity": "SEV5"}, "severity"),
        ({"title": "x", "labels": ["a"]}, "labels"),
        ({"title": "x", "unknown": 1}, "unknown"),
    ],
)
async def test_declare_rejects_bad_bodies(tocsin: Tocsin, payload: dict[str, Any], field: str) -> None:
    answer = await tocsin.api("POST", "/api/v1/incidents", payload, status=422)
    assert answer["error"]["code"] == "invalid_body"
    assert field in str(answer["error"]["details"])
    assert await tocsin.incidents() == []


# -- patch -------------------------------------------------------------------------------------------------


async def test_patch_title_commander_severity_name_the_person(tocsin: Tocsin) -> None:
    await tocsin.send_fixture(WEBHOOKS[0])
    [summary] = await tocsin.incidents()
    iid = summary["id"]
    assert summary["severity"] == "SEV3"
    before = await tocsin.incident(iid)
    patch = f"/api/v1/incidents/{iid}"

    after = await tocsin.api("PATCH", patch, {"title": "Checkout p99 latency", "actor": "dave"})
    assert after["title"] == "Checkout p99 latency"
    [entry] = after["timeline"][len(before["timeline"]) :]
    assert (entry["kind"], entry["actor"]) == ("title_changed", "dave")
    assert "Checkout p99 latency" in entry["text"]

    after = await tocsin.api("PATCH", patch, {"commander": "erin", "actor": "dave"})
    assert after["commander"] == "erin"
    assert after["timeline"][-1]["kind"] == "commander_changed"
    assert after["timeline"][-1]["actor"] == "dave"
    assert "erin" in after["timeline"][-1]["text"]

    after = await tocsin.api("PATCH", patch, {"severity": "SEV4", "actor": "dave"})
    assert after["severity"] == "SEV4"  # a person may lower it
    assert after["timeline"][-1]["kind"] == "severity_changed"
    assert after["timeline"][-1]["actor"] == "dave"
    assert after["timeline"][-1]["text"] == "severity SEV3 → SEV4 by dave"

    # The same values again change nothing.
    same = await tocsin.api(
        "PATCH", patch, {"severity": "SEV4", "title": "Checkout p99 latency", "commander": "erin", "actor": "x"}
    )
    assert same == after

    cleared = await tocsin.api("PATCH", patch, {"commander": "", "actor": "dave"})
    assert cleared["commander"] is None
    assert cleared["timeline"][-1]["kind"] == "commander_changed"

    # A person's title stands when more alerts join.
    await tocsin.send_fixture(WEBHOOKS[1])
    assert (await tocsin.incident(iid))["title"] == "Checkout p99 latency"


@pytest.mark.parametrize(
    "payload",
    [{"severity": "SEV0"}, {"title": ""}, {"state": "resolved"}, {"severity": "SEV1", "actor": ""}],
)
async def test_patch_rejects_bad_bodies(tocsin: Tocsin, payload: dict[str, Any]) -> None:
    iid = (await declare(tocsin))["id"]
    before = await tocsin.incident(iid)
    answer = await tocsin.api("PATCH", f"/api/v1/incidents/{iid}", payload, status=422)
    assert answer["error"]["code"] == "invalid_body"
    assert await tocsin.incident(iid) == before


async def test_lowered_severity_stands_until_a_raise_exceeds_it(tocsin: Tocsin) -> None:
    await tocsin.send_fixture(WEBHOOKS[0])  # HighLatency warning → SEV3
    [summary] = await tocsin.incidents()
    iid = summary["id"]
    await tocsin.api("PATCH", f"/api/v1/incidents/{iid}", {"severity": "SEV4", "actor": "dave"})
    # The same webhook again (and again) does not undo the person's choice.
    tocsin.clock.advance(60)
    await tocsin.send_fixture(WEBHOOKS[0])
    await tocsin.send_fixture(WEBHOOKS[0])
    assert (await tocsin.incident(iid))["severity"] == "SEV4"
    # Critical alerts in prod (SEV1) exceed it: raised, by the rule.
    await tocsin.send_fixture(WEBHOOKS[1])
    incident = await tocsin.incident(iid)
    assert incident["severity"] == "SEV1"
    changes = [(e["actor"], e["text"]) for e in entries(incident, "severity_changed")]
    assert changes == [
        ("dave", "severity SEV3 → SEV4 by dave"),
        ("tocsin", "severity SEV4 → SEV1 by rule prod-critical"),
    ]


async def test_raised_severity_by_hand_is_not_lowered_by_alerts_or_raises(tocsin: Tocsin) -> None:
    await tocsin.send_fixture(WEBHOOKS[0])  # SEV3
    [summary] = await tocsin.incidents()
    iid = summary["id"]
    await tocsin.api("PATCH", f"/api/v1/incidents/{iid}", {"severity": "SEV1", "actor": "dave"})
    # A SEV2 alert joins (rule `critical`), and the incident keeps firing past `long-running` (30m → SEV2).
    await ingest(tocsin, alert("DiskFull", "checkout", "error"))
    await tocsin.tick(31 * 60)
    incident = await tocsin.incident(iid)
    assert incident["severity"] == "SEV1"
    assert incident["firing_alerts"] == 2
    assert [e["actor"] for e in entries(incident, "severity_changed")] == ["dave"]


# -- alerts ------------------------------------------------------------------------------------------------


async def test_alerts_below_the_declare_threshold_are_listed(tocsin: Tocsin) -> None:
    info = alert("CacheMissRate", "search", "info")
    await ingest(tocsin, info)
    assert await tocsin.incidents() == []  # SEV4 is below declare_at (SEV3): kept, no incident
    [listed] = (await tocsin.api("GET", "/api/v1/alerts?status=firing"))["alerts"]
    assert listed["fingerprint"] == "cachemissrate-search-web-1"
    assert listed["severity"] == "SEV4"
    assert listed["rule"] == "default"
    assert listed["incident_id"] is None
    assert listed["status"] == "firing"
    assert (await tocsin.api("GET", "/api/v1/alerts?status=resolved"))["alerts"] == []

    # A warning of the same service declares, and the SEV4 alert joins it.
    await ingest(tocsin, alert("HighLatency", "search", "warning"))
    [incident] = await tocsin.incidents()
    assert incident["severity"] == "SEV3"
    detail = await tocsin.incident(incident["id"])
    assert {a["fingerprint"] for a in detail["alerts"]} == {"cachemissrate-search-web-1", "highlatency-search-web-1"}

    tocsin.clock.advance(60)
    await ingest(tocsin, alert("CacheMissRate", "search", "info", status="resolved", ends_at="2026-11-22T07:13:00Z"))
    assert [a["fingerprint"] for a in (await tocsin.api("GET", "/api/v1/alerts?status=resolved"))["alerts"]] == [
        "cachemissrate-search-web-1"
    ]
    assert [a["fingerprint"] for a in (await tocsin.api("GET", "/api/v1/alerts?status=firing"))["alerts"]] == [
        "highlatency-search-web-1"
    ]
    everything = (await tocsin.api("GET", "/api/v1/alerts"))["alerts"]
    assert len(everything) == 2
    error = (await tocsin.api("GET", "/api/v1/alerts?status=pending", status=400))["error"]
    assert error["code"] == "bad_query"


async def test_alerts_pagination(tocsin: Tocsin) -> None:
    await ingest(tocsin, *[alert("Probe", f"svc-{i}", "info") for i in range(5)])
    seen: list[str] = []
    cursor = ""
    while True:
        page = await tocsin.api("GET", "/api/v1/alerts?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [a["fingerprint"] for a in page["alerts"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"probe-svc-{i}-web-1" for i in range(5))
    assert len(seen) == 5


async def test_resolve_by_hand_makes_older_bodies_stale(tocsin: Tocsin) -> None:
    await tocsin.send_fixture(WEBHOOKS[0])
    [summary] = await tocsin.incidents()
    iid = summary["id"]
    tocsin.clock.advance(60)
    resolved = await act(tocsin, iid, "resolve", actor="carol", note="fixed by rollback")
    assert resolved["state"] == "resolved"
    assert resolved["resolved_by"] == "carol"
    assert resolved["firing_alerts"] == 0
    [a] = resolved["alerts"]
    assert (a["status"], a["ends_at"]) == ("resolved", "2026-11-22T07:13:30Z")
    assert (await tocsin.api("GET", "/api/v1/alerts?status=firing"))["alerts"] == []

    # Alertmanager re-sends the older firing body: stale, nothing changes.
    before = await tocsin.snapshot()
    tocsin.clock.advance(60)
    await tocsin.send_fixture(WEBHOOKS[0])
    assert await tocsin.snapshot() == before
    assert tocsin.registry.get_sample_value("tocsin_alerts_stale_total", {"source": "alertmanager"}) == 1

    # A body newer than the resolution is a new episode: within reopen_within it reopens the incident.
    refire = body(WEBHOOKS[0])
    refire["alerts"][0]["startsAt"] = "2026-11-22T07:14:00Z"
    assert (await tocsin.post_alertmanager(refire)).status == 200
    reopened = await tocsin.incident(iid)
    assert reopened["state"] == "triggered"
    assert reopened["alerts"][0]["count"] == 2


# -- OpenAPI ---------------------------------------------------------------------------------------------


async def test_openapi_lists_every_registered_route(tocsin: Tocsin) -> None:
    response = await tocsin.client.get("/api/v1/openapi.json")  # no token
    assert response.status == 200
    assert response.content_type == "application/json"
    spec = await response.json()
    documented = {(method.upper(), path) for path, ops in spec["paths"].items() for method in ops}
    registered = set(api_routes(tocsin))
    assert registered - documented == set()  # every route the app serves is described
    assert documented - registered == set()  # and nothing it does not serve
    for method, path in registered:
        op = spec["paths"][path][method.lower()]
        assert op["summary"]
        assert op["responses"]
        needs_token = needs_api_token(path)
        # The document says which calls need the API token, as the app enforces it.
        assert ({"apiToken": []} in op["security"]) == needs_token, (method, path)
        if needs_token:
            assert "401" in op["responses"]
        if "{id}" in path:
            assert any(p["name"] == "id" and p["in"] == "path" for p in op["parameters"])
    for name in ("TransitionBody", "DeclareBody", "PatchBody", "Error"):
        assert name in spec["components"]["schemas"]


async def test_a_note_goes_on_the_timeline_and_bad_ones_are_refused(tocsin: Tocsin) -> None:
    incident = await declare(tocsin)
    path = f"/api/v1/incidents/{incident['id']}/notes"
    answer = await tocsin.api("POST", path, {"text": "db failover started", "actor": "dave"}, status=201)
    last = answer["timeline"][-1]
    assert (last["kind"], last["actor"], last["text"]) == ("note", "dave", "db failover started")
    before = await tocsin.snapshot()
    await tocsin.api("POST", path, {"text": "", "actor": "dave"}, status=422)
    await tocsin.api("POST", "/api/v1/incidents/INC-2026-9999/notes", {"text": "x"}, status=404)
    assert await tocsin.snapshot() == before
