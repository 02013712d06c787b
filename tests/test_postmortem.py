"""The postmortem draft of a scripted lifecycle (DESIGN §8)."""

from __future__ import annotations

import re

import pytest

from tests.support import API_TOKEN, Tocsin, am_alert, am_webhook

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


HOSTILE_NAME = "<script>alert(1)</script>"
HOSTILE_SERVICE = "web|db\n# Injected heading"
HOSTILE_INSTANCE = "a\r\n| forged | row | in | table |"


def unescaped_pipes(line: str) -> int:
    return len(re.findall(r"(?<!\\)\|", line))


async def test_labels_and_free_text_cannot_inject_markup(tocsin: Tocsin) -> None:
    alert = am_alert(HOSTILE_NAME, HOSTILE_SERVICE, instance=HOSTILE_INSTANCE, summary="<img src=x onerror=alert(1)>")
    assert (await tocsin.post_alertmanager(am_webhook(alert))).status == 200
    [incident] = await tocsin.incidents()
    actor = "mallory\u2028## Pwned | x"
    note = "<b>fixed</b>\nnext line | with pipe"
    await tocsin.api("POST", f"/api/v1/incidents/{incident['id']}/acknowledge", {"actor": actor, "note": note})
    text = await tocsin.api("GET", f"/api/v1/incidents/{incident['id']}/postmortem")

    for raw in ("<script", "<img", "<b>", "</b>"):
        assert raw not in text, raw  # HTML comes out as text, not markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    lines = text.splitlines()
    assert lines[0].startswith("# Postmortem: &lt;script&gt;")
    assert lines[1] == ""  # the title stayed on its line
    assert not [line for line in lines if line.startswith(("# Injected", "## Pwned", "| forged"))]
    assert "\u2028" not in text
    # Every row of the timeline has its four cells, whatever the labels and the note held.
    table = text.split("## Timeline")[1].split("## Root cause")[0]
    rows = [line for line in table.splitlines() if line.startswith("|")]
    assert len(rows) > 2
    assert {unescaped_pipes(row) for row in rows} == {5}
    assert any("&lt;b&gt;fixed&lt;/b&gt; next line \\| with pipe" in row for row in rows)
    assert "| Service | web\\|db # Injected heading |" in text
