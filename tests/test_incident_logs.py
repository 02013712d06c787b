"""The log a person reads at 3 a.m.: one line per lifecycle event naming the incident, failed pages at warning
with what failed where (Apprise's own lines too), ingest rejections without a flood, no secret anywhere."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MakeTocsin
from tests.logcapture import LogLines
from tests.process import TocsinProcess, free_port
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, SEV1, Tocsin, am_alert, am_webhook, write_config

INCIDENT = "INC-2026-0001"
LIFECYCLE = (
    "incident_declared",
    "incident_escalated",
    "incident_acknowledged",
    "incident_mitigated",
    "incident_resolved",
    "incident_reopened",
    "status_update_posted",
)


def escalated(to_level: int, paged: list[str]) -> dict[str, Any]:
    """The line of page-hard escalating (round 1) to ``to_level``."""
    return {
        "event": "incident_escalated",
        "level": "info",
        "incident": INCIDENT,
        "to_level": to_level,
        "round": 1,
        "policy": "page-hard",
        "paged": paged,
    }


def without_time(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in r.items() if k != "timestamp"} for r in records]


@pytest.mark.both_stores
async def test_a_full_incident_lifecycle_is_one_line_per_event(
    make_tocsin: MakeTocsin,
    http_sink: HttpSink,
    log_lines: LogLines,
) -> None:
    t = await make_tocsin({"notify": {"retries": 0}}, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick()
    await t.tick(5 * 60)  # level 1 of page-hard
    url = f"/api/v1/incidents/{INCIDENT}"
    await t.api("POST", f"{url}/acknowledge", {"actor": "dave", "note": "looking at the load balancer"})
    update = {"actor": "dave", "phase": "identified", "message": "a bad deploy"}
    await t.api("POST", f"{url}/status-updates", update, status=201)
    await t.api("POST", f"{url}/mitigate", {"actor": "dave", "note": "rolled back"})
    await t.api("POST", f"{url}/resolve", {"actor": "dave"})
    await t.tick(60)
    await t.api("POST", f"{url}/reopen", {"actor": "erin", "note": "errors are back"})
    await t.tick()

    assert without_time(log_lines.named(*LIFECYCLE)) == [
        {
            "event": "incident_declared",
            "level": "info",
            "incident": INCIDENT,
            "title": "HighErrorRate on checkout",
            "service": "checkout",
            "severity": "SEV1",
            "severity_by": "rule prod-critical",
            "policy": "page-hard",
            "by": "tocsin",
        },
        escalated(0, ["oncall-primary"]),
        escalated(1, ["oncall-primary", "oncall-secondary"]),
        {
            "event": "incident_acknowledged",
            "level": "info",
            "incident": INCIDENT,
            "by": "dave",
            "note": "looking at the load balancer",
        },
        {"event": "status_update_posted", "level": "info", "incident": INCIDENT, "phase": "identified", "by": "dave"},
        {"event": "incident_mitigated", "level": "info", "incident": INCIDENT, "by": "dave", "note": "rolled back"},
        {"event": "incident_resolved", "level": "info", "incident": INCIDENT, "by": "dave"},
        {
            "event": "incident_reopened",
            "level": "info",
            "incident": INCIDENT,
            "by": "erin",
            "why": "errors are back",
            "severity": "SEV1",
        },
        escalated(0, ["oncall-primary"]),
    ]
    # Each page that went out is a line too, naming the incident, the page and the channel.
    sent = [(r["notification"], r["channel"]) for r in log_lines.named("notified")]
    assert ("page level 1 (round 1)", "oncall-secondary") in sent


async def test_a_refused_decision_logs_no_lifecycle_line(tocsin: Tocsin, log_lines: LogLines) -> None:
    await tocsin.send_fixture(SEV1)
    await tocsin.api("POST", f"/api/v1/incidents/{INCIDENT}/resolve", {"actor": "dave"})
    # Mitigating a resolved incident is refused (409): nothing of it was stored, so nothing is said.
    await tocsin.api("POST", f"/api/v1/incidents/{INCIDENT}/mitigate", {"actor": "erin"}, status=409)
    assert [r["event"] for r in log_lines.named(*LIFECYCLE)] == [
        "incident_declared",
        "incident_escalated",
        "incident_resolved",
    ]


@pytest.mark.parametrize("where", ["answers 500", "closed port"])
async def test_a_failed_page_is_a_warning_naming_incident_channel_and_reason_never_the_password(
    make_tocsin: MakeTocsin,
    http_sink: HttpSink,
    log_lines: LogLines,
    where: str,
) -> None:
    secret = "s3cr3t-pass"
    address = http_sink.address if where == "answers 500" else f"127.0.0.1:{free_port()}"
    http_sink.modes["/with-password"] = "fail"
    urls = f"  - json://alice:{secret}@{address}/with-password:\n      - tag: with-password\n"
    level0 = {"after": "0s", "notify": ["with-password", "oncall-primary"]}
    t = await make_tocsin(
        {"notify": {"retries": 0}, "policies": {"page-hard": {"levels": [level0]}}},
        sink=http_sink.address,
        extra_urls=urls,
    )
    await t.send_fixture(SEV1)
    await t.tick()

    [failed] = log_lines.named("notification_failed")
    assert failed["level"] == "warning"
    assert failed["incident"] == INCIDENT
    assert failed["channel"] == "with-password"
    assert failed["notification"] == "page level 0 (round 1)"
    assert failed["outcome"] == "failed"
    assert failed["reason"] == f"failed, 0 of 1 delivered; json://***:***@{address}/with-password (failed)"
    # Apprise's own warning about the same send says which incident and channel it was about.
    apprise = [r for r in log_lines.records() if r.get("logger") == "apprise"]
    assert apprise
    assert all(r["level"] == "warning" for r in apprise)
    assert {(r["incident"], r["channel"]) for r in apprise} == {(INCIDENT, "with-password")}
    # The healthy channel of the same page is an info line.
    assert [r["channel"] for r in log_lines.named("notified")] == ["oncall-primary"]
    assert secret not in log_lines.text


async def test_ingest_rejections_are_warnings_naming_the_field_at_most_one_a_10s_per_route_and_reason(
    tocsin: Tocsin,
    log_lines: LogLines,
) -> None:
    broken = am_webhook(am_alert(starts_at="half past seven"))

    async def post(token: str = AM_TOKEN) -> None:
        response = await tocsin.post_alertmanager(broken, token)
        assert response.status == (422 if token == AM_TOKEN else 401)

    for _ in range(3):  # a broken sender retrying in a loop
        await post()
    await post("wrong-token")  # another reason: its own line at once
    tocsin.clock.advance(9.9)
    await post()
    tocsin.clock.advance(0.1)
    await post()
    lines = without_time(log_lines.named("ingest_rejected"))
    expected = {
        "event": "ingest_rejected",
        "level": "warning",
        "source": "alertmanager",
        "status": 422,
        "code": "invalid_body",
        "message": "the body does not have the expected shape",
        "remote": "127.0.0.1",
        "field": "alerts.0.startsAt",
        "problem": "Input should be a valid datetime, invalid character in year",
    }
    assert lines == [
        expected,
        {
            "event": "ingest_rejected",
            "level": "warning",
            "source": "alertmanager",
            "status": 401,
            "code": "unauthorized",
            "message": "missing or wrong credentials",
            "remote": "127.0.0.1",
        },
        {**expected, "suppressed": 3},  # the two retries after the first, and the one at 9.9 s
    ]


async def test_a_missing_link_secret_is_said_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, {"link_secret": None, "notify": {"retries": 0}}, sink=f"127.0.0.1:{free_port()}")
    process = TocsinProcess(config, free_port())
    try:
        process.start()
        await process.wait_ready()
    finally:
        assert process.terminate() == 0
    records = [json.loads(line) for line in process.log.read_text().splitlines()]
    said = [r for r in records if "link_secret is not set" in r.get("message", "") or r["event"] == "no_link_secret"]
    assert [(r["event"], r["level"]) for r in said] == [("config_warning", "warning")]


async def test_a_later_step_of_a_persons_own_ladder_is_logged_with_whose_and_which(
    make_tocsin: MakeTocsin, http_sink: HttpSink, log_lines: LogLines
) -> None:
    # deploy/tocsin.yml's page-platform: level 2 (15m) is carol's own ladder, her mail step 2m after her push.
    t = await make_tocsin({"notify": {"retries": 0}}, sink=http_sink.address)
    await t.post_alertmanager(am_webhook(am_alert(service="api", team="platform")))
    await t.tick()
    await t.tick(5 * 60)
    await t.tick(10 * 60)
    await t.tick(2 * 60)
    [carol] = [r for r in log_lines.named("incident_escalated") if r.get("person") == "carol"]
    assert without_time([carol]) == [
        {
            "event": "incident_escalated",
            "level": "info",
            "incident": INCIDENT,
            "person": "carol",
            "step": 1,
            "to_level": 2,
            "round": 1,
            "paged": ["carol-mail"],
        }
    ]


async def test_a_level_with_nobody_to_page_is_logged_at_warning(
    make_tocsin: MakeTocsin, http_sink: HttpSink, log_lines: LogLines
) -> None:
    # A level whose only target is a rotation with nobody on call now (daytime, at night) pages no one.
    gap = {"levels": [{"after": "0s", "notify": ["oncall:platform/daytime"]}]}
    quiet = await make_tocsin({"notify": {"retries": 0}, "policies": {"page-platform": gap}}, sink=http_sink.address)
    await quiet.post_alertmanager(am_webhook(am_alert(service="web", team="platform")))
    await quiet.tick()
    nobody = [r for r in log_lines.named("incident_escalated") if r["paged"] == []]
    assert without_time(nobody) == [
        {
            "event": "incident_escalated",
            "level": "warning",
            "incident": INCIDENT,
            "to_level": 0,
            "round": 1,
            "policy": "page-platform",
            "paged": [],
        }
    ]
