"""The messages people receive, read as text (the built-in templates through real Apprise deliveries)."""

from __future__ import annotations

import re

import pytest

from tests.sinks import HttpSink
from tests.support import SEV1, Tocsin

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
