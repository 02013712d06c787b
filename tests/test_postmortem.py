"""The postmortem draft of a scripted lifecycle (DESIGN §8)."""

from __future__ import annotations

import pytest

from tests.support import API_TOKEN, Tocsin

pytestmark = pytest.mark.both_stores


async def test_postmortem_of_a_full_lifecycle(tocsin: Tocsin) -> None:
    await tocsin.send_fixture("alertmanager-webhook-2.json")
    for seconds, action, actor in ((120, "acknowledge", "alice"), (180, "mitigate", "alice"), (600, "resolve", "bob")):
        tocsin.clock.advance(seconds)
        await tocsin.api("POST", f"/api/v1/incidents/INC-2026-0001/{action}", {"actor": actor, "note": f"{action}d"})
    await tocsin.api("PATCH", "/api/v1/incidents/INC-2026-0001", {"commander": "alice"})
    incident = await tocsin.incident("INC-2026-0001")

    response = await tocsin.client.get(
        "/api/v1/incidents/INC-2026-0001/postmortem", headers={"Authorization": f"Bearer {API_TOKEN}"}
    )
    assert response.status == 200
    assert response.content_type == "text/markdown"
    text = await response.text()
    assert text.startswith("# Postmortem: HighErrorRate on checkout\n")
    for row in (
        "| Incident | INC-2026-0001 |",
        "| Date | 2026-11-22 |",
        "| Severity | SEV1 |",
        "| Commander | alice |",
        "| Duration | 15m |",
        "| Time to acknowledge (MTTA) | 2m |",
        "| Time to mitigate (MTTM) | 5m |",
        "| Time to resolve (MTTR) | 15m |",
    ):
        assert row in text, row
    assert "- Services: checkout" in text
    assert "- Alerts: 2 (2 firing episodes)" in text
    for heading in (
        "## Summary",
        "## Impact",
        "## Timeline",
        "## Root cause",
        "## Contributing factors",
        "## What went well",
        "## What could be improved",
        "## Action items",
        "## Lessons learned",
    ):
        assert f"\n{heading}\n" in text, heading
    assert "| Item | Owner | Due | Status |" in text

    # The timeline as a table, every entry, in order.
    table = text.split("## Timeline")[1].split("## Root cause")[0]
    rows = [line for line in table.splitlines() if line.startswith("| 2026-")]
    assert [r.split(" | ", 3)[3].removesuffix(" |") for r in rows] == [e["text"] for e in incident["timeline"]]
    assert rows[0].startswith("| 2026-11-22 07:12:30 | tocsin | declared |")
    assert "| 2026-11-22 07:14:30 | alice | acknowledged | acknowledged by alice: acknowledged |" in rows


async def test_postmortem_of_an_open_incident_says_ongoing(tocsin: Tocsin) -> None:
    await tocsin.send_fixture("alertmanager-webhook-2.json")
    tocsin.clock.advance(3600)
    text = await tocsin.api("GET", "/api/v1/incidents/INC-2026-0001/postmortem")
    assert "| Duration | 1h (ongoing) |" in text
    assert "| Time to acknowledge (MTTA) | — |" in text
    await tocsin.api("GET", "/api/v1/incidents/INC-2026-9999/postmortem", status=404)


async def test_resolved_straight_from_triggered_counts_the_resolution_as_mitigation(tocsin: Tocsin) -> None:
    await tocsin.send_fixture("alertmanager-webhook-2.json")
    tocsin.clock.advance(600)
    await tocsin.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "bob"})
    text = await tocsin.api("GET", "/api/v1/incidents/INC-2026-0001/postmortem")
    assert "| Time to mitigate (MTTM) | 10m |" in text
    assert (
        tocsin.registry.get_sample_value(
            "tocsin_incident_time_to_mitigate_seconds_sum", {"severity": "SEV1", "service": "checkout"}
        )
        == 600
    )
