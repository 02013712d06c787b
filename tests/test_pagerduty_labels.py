"""PagerDuty Events v2: the alert's own labels travel in ``custom_details.labels`` and reach tocsin as labels."""

from __future__ import annotations

from typing import Any

import pytest

from daemon.ingest.pagerduty_events import detail_labels
from tests.conftest import MakeTocsin
from tests.support import ROUTING_KEY, Tocsin

pytestmark = pytest.mark.both_stores

# What deploy/alertmanager.yml's `labels` detail renders for a warning on db-1 (.CommonLabels, one per line).
AM_RENDERED = "alertname=DiskFull\ninstance=db-1\nservice=db\nseverity=warning\n"


@pytest.fixture
async def quiet(make_tocsin: MakeTocsin) -> Tocsin:
    return await make_tocsin({"channels": None})


async def trigger(t: Tocsin, severity: str, details: Any) -> dict[str, Any]:
    event = {
        "routing_key": ROUTING_KEY,
        "event_action": "trigger",
        "dedup_key": "disk-db-1",
        "payload": {
            "summary": "disk 95% full on db-1",
            "source": "Alertmanager",
            "severity": severity,
            "custom_details": details,
        },
    }
    response = await t.client.post("/v2/enqueue", json=event)
    assert response.status == 202, await response.text()
    [incident] = await t.incidents()
    return await t.incident(incident["id"])


async def test_alertmanager_rendered_labels_reach_tocsin_and_a_warning_stays_sev3(quiet: Tocsin) -> None:
    incident = await trigger(quiet, "warning", {"labels": AM_RENDERED, "num_firing": "1"})
    assert incident["severity"] == "SEV3"
    [alert] = incident["alerts"]
    assert alert["labels"] == {
        "alertname": "DiskFull",
        "instance": "db-1",
        "service": "db",
        "severity": "warning",
        "source": "Alertmanager",
    }
    # The labels are labels now; the rest of custom_details stays an annotation.
    assert alert["annotations"] == {"summary": "disk 95% full on db-1", "num_firing": "1"}


async def test_the_routing_key_names_the_service_whatever_the_labels_say(quiet: Tocsin) -> None:
    incident = await trigger(quiet, "critical", {"labels": {"service": "web", "severity": "info", "team": "dba"}})
    [alert] = incident["alerts"]
    assert (alert["labels"]["service"], alert["labels"]["severity"], alert["labels"]["team"]) == (
        "db",
        "critical",
        "dba",
    )
    assert incident["service"] == "db"


def test_a_line_that_is_not_a_label_continues_the_value_above() -> None:
    rendered = "alertname=Slow\ndescription=first line\nsecond line = still the description\nzone=eu-1\n"
    assert detail_labels({"labels": rendered}) == {
        "alertname": "Slow",
        "description": "first line\nsecond line = still the description",
        "zone": "eu-1",
    }
    assert detail_labels({"labels": {"build": 42}}) == {"build": "42"}
    assert detail_labels({"firing": "Labels:\n - alertname = X\n"}) == {}
    assert detail_labels("not a mapping") == {}
