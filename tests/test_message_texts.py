"""The messages people receive, read as text (the built-in templates through real Apprise deliveries)."""

from __future__ import annotations

import re

import pytest

from tests.sinks import HttpSink
from tests.support import SEV1, Tocsin, am_alert, am_webhook

from .conftest import MakeTocsin

ACK = re.compile(r"http://127\.0\.0\.1:9097/ack/\S+")


def text(sink: HttpSink, channel: str, index: int = -1) -> str:
    return ACK.sub("<ack link>", sink.received[f"/{channel}"][index]["message"])


@pytest.fixture
async def paging(make_tocsin: MakeTocsin, http_sink: HttpSink) -> Tocsin:
    return await make_tocsin({"notify": {"retries": 0, "timeout": "5s"}}, sink=http_sink.address)


async def test_the_first_page_reads_well(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    assert text(http_sink, "oncall-primary") == (
        "SEV1 triggered: 2 alerts firing on checkout.\n"
        "\n"
        "- HighErrorRate (web-1): 5xx ratio above 5%\n"
        "  Runbook: https://runbooks.example/5xx\n"
        "  Source: http://prometheus:9090/graph?g0.expr=rate\n"
        "- HighErrorRate (web-2): 5xx ratio above 5%\n"
        "\n"
        "Acknowledge: <ack link>\n"
        "Incident: http://127.0.0.1:9097/incidents/INC-2026-0001"
    )


async def test_a_hand_declared_incident_says_so_without_zero_alerts_or_empty_lines(
    paging: Tocsin, http_sink: HttpSink
) -> None:
    await paging.api(
        "POST", "/api/v1/incidents", {"title": "Checkout slow", "severity": "SEV1", "service": "checkout"}, status=201
    )
    await paging.tick()
    body = text(http_sink, "oncall-primary")
    assert body == (
        "SEV1 triggered: declared by hand for checkout.\n\nAcknowledge: <ack link>\n"
        "Incident: http://127.0.0.1:9097/incidents/INC-2026-0001"
    )
    assert "0 alerts" not in body


@pytest.mark.parametrize(
    ("action", "reason", "expected"),
    [
        ("acknowledge", "acknowledged", "Acknowledged by dave: looking at the load balancer"),
        ("mitigate", "mitigated", "Mitigated by dave: rolled back"),
        ("resolve", "resolved", "Resolved by dave: fixed in 4.2.1"),
    ],
)
async def test_the_note_a_person_wrote_travels_with_the_notice(
    paging: Tocsin, http_sink: HttpSink, action: str, reason: str, expected: str
) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    note = expected.partition(": ")[2]
    await paging.api("POST", f"/api/v1/incidents/INC-2026-0001/{action}", {"actor": "dave", "note": note})
    await paging.tick()
    assert http_sink.titles("oncall-primary")[-1] == f"[SEV1] INC-2026-0001 HighErrorRate on checkout ({reason})"
    assert text(http_sink, "oncall-primary") == f"{expected}\nIncident: http://127.0.0.1:9097/incidents/INC-2026-0001"


async def test_a_reminder_says_how_to_post_an_update(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "dave"})
    await paging.tick(15 * 60)  # SEV1 cadence
    assert text(http_sink, "team-chat") == (  # the incident-comms tag is on the team-chat URL
        "Status update due: no status update for INC-2026-0001 within its cadence.\n"
        'Post one: tocsin incidents status-update INC-2026-0001 investigating|identified|monitoring|resolved -m "…"\n'
        "Incident: http://127.0.0.1:9097/incidents/INC-2026-0001"
    )


async def test_a_severity_change_says_from_to_and_who(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "dave"})
    await paging.api("PATCH", "/api/v1/incidents/INC-2026-0001", {"severity": "SEV2", "actor": "erin"})
    await paging.tick()
    assert http_sink.titles("oncall-primary")[-1] == "[SEV2] INC-2026-0001 HighErrorRate on checkout (severity changed)"
    assert text(http_sink, "oncall-primary") == (
        "Severity changed: SEV1 → SEV2 by erin\nIncident: http://127.0.0.1:9097/incidents/INC-2026-0001"
    )


INCIDENT_LINK = "Incident: http://127.0.0.1:9097/incidents/INC-2026-0001"
FIRST_ALERTS = (
    "- HighErrorRate (web-1): 5xx ratio above 5%\n"
    "  Runbook: https://runbooks.example/5xx\n"
    "  Source: http://prometheus:9090/graph?g0.expr=rate\n"
    "- HighErrorRate (web-2): 5xx ratio above 5%\n"
)


@pytest.mark.both_stores
async def test_a_later_level_says_it_escalates_and_since_when_nobody_acknowledged(
    paging: Tocsin, http_sink: HttpSink
) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    await paging.tick(5 * 60)  # page-hard's level 1
    assert http_sink.titles("oncall-secondary") == ["[SEV1] INC-2026-0001 HighErrorRate on checkout"]
    assert text(http_sink, "oncall-secondary") == (
        "Unacknowledged for 5m — escalating to level 1.\n"
        "SEV1 triggered: 2 alerts firing on checkout.\n"
        "\n" + FIRST_ALERTS + "\n"
        "Acknowledge: <ack link>\n" + INCIDENT_LINK
    )
    await paging.tick(20 * 60)  # round 2 starts 10m after level 2 (15m): level 0 again, 25m after declaration
    assert text(http_sink, "oncall-primary").startswith(
        "Unacknowledged for 25m — escalating to level 0 of round 2.\nSEV1 triggered: 2 alerts firing on checkout.\n"
    )


async def test_an_hour_unanswered_reads_as_hours_and_minutes(make_tocsin: MakeTocsin, http_sink: HttpSink) -> None:
    levels = [{"after": "0s", "notify": ["oncall-primary"]}, {"after": "65m", "notify": ["eng-manager"]}]
    t = await make_tocsin(
        {"notify": {"retries": 0}, "policies": {"page-hard": {"levels": levels}}}, sink=http_sink.address
    )
    await t.send_fixture(SEV1)
    await t.tick()
    await t.tick(65 * 60)
    assert text(http_sink, "eng-manager").startswith(
        "Unacknowledged for 1h 5m — escalating to level 1.\nSEV1 triggered: 2 alerts firing on checkout.\n"
    )


@pytest.mark.both_stores
async def test_a_reopen_by_a_person_says_so_with_their_note_and_counts_unanswered_time_from_it(
    paging: Tocsin, http_sink: HttpSink
) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "dave"})
    await paging.tick(10 * 60)
    await paging.api(
        "POST", "/api/v1/incidents/INC-2026-0001/reopen", {"actor": "erin", "note": "errors are back after the fix"}
    )
    await paging.tick()
    assert http_sink.titles("oncall-primary")[-1] == "[SEV1] INC-2026-0001 HighErrorRate on checkout (reopened)"
    assert text(http_sink, "oncall-primary") == (
        "Reopened by erin: errors are back after the fix\n"
        "SEV1 triggered: no alert firing now on checkout.\n"
        "\n"
        "Acknowledge: <ack link>\n" + INCIDENT_LINK
    )
    await paging.tick(5 * 60)  # 15m after declaration, 5m after the reopen
    assert text(http_sink, "oncall-secondary").startswith("Unacknowledged for 5m — escalating to level 1.\n")


async def test_a_reopen_by_an_alert_firing_again_names_the_alert_and_its_rule(
    paging: Tocsin, http_sink: HttpSink
) -> None:
    first = am_alert(instance="web-1", starts_at="2026-11-22T07:00:00Z")
    await paging.post_alertmanager(am_webhook(first))
    await paging.tick()
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "dave", "note": "rolled back"})
    await paging.tick(2 * 60)
    again = am_alert(instance="web-1", starts_at="2026-11-25T21:00:00Z")  # a new firing episode, after the resolve
    assert (await paging.post_alertmanager(am_webhook(again))).status == 200
    await paging.tick()
    assert text(http_sink, "oncall-primary") == (
        "Reopened: HighErrorRate (web-1) fired again 2m after the resolution (rule prod-critical)\n"
        "SEV1 triggered: 1 alert firing on checkout.\n"
        "\n"
        "- HighErrorRate (web-1): HighErrorRate on checkout\n"
        "\n"
        "Acknowledge: <ack link>\n" + INCIDENT_LINK
    )


async def test_a_hand_declaration_carries_its_note_on_the_first_page(paging: Tocsin, http_sink: HttpSink) -> None:
    declared = {
        "title": "Checkout slow",
        "severity": "SEV1",
        "service": "checkout",
        "actor": "dave",
        "note": "p99 over 2s since the 14:02 deploy",
    }
    await paging.api("POST", "/api/v1/incidents", declared, status=201)
    await paging.tick()
    assert http_sink.titles("oncall-primary") == ["[SEV1] INC-2026-0001 Checkout slow"]
    assert text(http_sink, "oncall-primary") == (
        "SEV1 triggered: declared by hand for checkout: p99 over 2s since the 14:02 deploy\n"
        "\n"
        "Acknowledge: <ack link>\n" + INCIDENT_LINK
    )
    await paging.tick(5 * 60)  # a later level does not repeat it: it says since when nobody answered
    assert text(http_sink, "oncall-secondary") == (
        "Unacknowledged for 5m — escalating to level 1.\n"
        "SEV1 triggered: declared by hand for checkout.\n"
        "\n"
        "Acknowledge: <ack link>\n" + INCIDENT_LINK
    )


@pytest.mark.both_stores
async def test_a_later_step_of_a_persons_own_ladder_says_whose_and_since_when(
    paging: Tocsin, http_sink: HttpSink
) -> None:
    # team=platform pages the schedule: level 2 (15m) is carol's own ladder, push at once and mail 2m later.
    await paging.post_alertmanager(am_webhook(am_alert(service="api", team="platform")))
    await paging.tick()
    await paging.tick(5 * 60)
    await paging.tick(10 * 60)
    assert text(http_sink, "carol-push").startswith(
        "Unacknowledged for 15m — escalating to level 2.\nSEV1 triggered: 1 alert firing on api.\n"
    )
    await paging.tick(2 * 60)
    assert text(http_sink, "carol-mail") == (
        "Unacknowledged for 17m — paging carol again (their step 1).\n"
        "SEV1 triggered: 1 alert firing on api.\n"
        "\n"
        "- HighErrorRate (web-1): HighErrorRate on api\n"
        "\n"
        "Acknowledge: <ack link>\n"
        "Incident: http://127.0.0.1:9097/incidents/INC-2026-0001"
    )


async def test_a_storm_webhook_is_one_timeline_line_naming_ten_alerts(paging: Tocsin) -> None:
    await paging.post_alertmanager(am_webhook(am_alert(instance="web-0")))
    storm = [am_alert(instance=f"web-{n}") for n in range(1, 14)]
    await paging.post_alertmanager(am_webhook(*storm))
    await paging.post_alertmanager(am_webhook(*(am_alert(instance=f"db-{n}") for n in range(1, 3))))
    detail = await paging.api("GET", "/api/v1/incidents/INC-2026-0001")
    lines = [e["text"] for e in detail["timeline"] if e["kind"] == "alert_joined"]
    named = ", ".join(f"HighErrorRate (web-{n})" for n in range(1, 11))
    assert lines == [
        f"13 alerts joined: {named} (+3 more)",
        "2 alerts joined: HighErrorRate (db-1), HighErrorRate (db-2)",
    ]
