"""Status updates and their cadence (DESIGN §7)."""

from __future__ import annotations

import pytest

from tests.sinks import HttpSink
from tests.support import SEV1, Tocsin

pytestmark = pytest.mark.both_stores


async def test_post_fans_out_and_empty_message_takes_the_template(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    incident = await paging.api(
        "POST",
        "/api/v1/incidents/INC-2026-0001/status-updates",
        {"phase": "investigating", "actor": "erin"},
        status=201,
    )
    assert incident["status_phase"] == "investigating"
    text = "We are investigating reports of HighErrorRate on checkout."
    assert incident["timeline"][-1] == {
        "at": incident["last_status_update_at"],
        "actor": "erin",
        "kind": "status_update",
        "text": f"[investigating] {text}",
    }
    await paging.api(
        "POST",
        "/api/v1/incidents/INC-2026-0001/status-updates",
        {"phase": "identified", "message": "Bad deploy of checkout 4.2; rolling back."},
        status=201,
    )
    await paging.tick()
    messages = [m["message"] for m in http_sink.received["/stakeholders"]]
    assert len(messages) == 2
    assert any(text in m for m in messages)
    assert any("Bad deploy of checkout 4.2; rolling back." in m for m in messages)


async def test_bad_phase_is_422(paging: Tocsin) -> None:
    await paging.send_fixture(SEV1)
    error = await paging.api(
        "POST", "/api/v1/incidents/INC-2026-0001/status-updates", {"phase": "panicking"}, status=422
    )
    assert error["error"]["code"] == "invalid_body"


async def test_sev1_without_update_reminds_once_per_cadence(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "alice"})
    await paging.tick(14 * 60)
    reminders = [t for t in http_sink.titles("team-chat") if t.endswith("(status update due)")]
    assert reminders == []
    await paging.tick(60)  # 15m without an update (SEV1 cadence)
    reminders = [t for t in http_sink.titles("team-chat") if t.endswith("(status update due)")]
    assert reminders == ["[SEV1] INC-2026-0001 HighErrorRate on checkout (status update due)"]
    for _ in range(14):
        await paging.tick(60)  # ticking often must not remind in a loop
    assert len([t for t in http_sink.titles("team-chat") if t.endswith("(status update due)")]) == 1
    await paging.tick(60)
    assert len([t for t in http_sink.titles("team-chat") if t.endswith("(status update due)")]) == 2  # at 30m


async def test_posting_an_update_resets_the_cadence(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick(10 * 60)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/status-updates", {"phase": "investigating"}, status=201)
    await paging.tick(10 * 60)  # 20m since declaration, 10m since the update
    assert not [t for t in http_sink.titles("team-chat") if t.endswith("(status update due)")]
    await paging.tick(5 * 60)  # 15m since the update
    assert len([t for t in http_sink.titles("team-chat") if t.endswith("(status update due)")]) == 1


async def test_no_reminders_after_resolve(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "alice"})
    await paging.tick(60 * 60)
    assert not [t for t in http_sink.titles("team-chat") if t.endswith("(status update due)")]
