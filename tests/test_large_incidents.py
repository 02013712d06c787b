"""An incident of thousands of alerts: acknowledged, its timers firing and resolved by hand like any other (its
members are read in chunks and decoded off the event loop, its answer serialised in a thread)."""

from __future__ import annotations

import gc

import pytest

from daemon import heap
from tests.conftest import MakeTocsin
from tests.support import Tocsin, am_alert, am_webhook

pytestmark = pytest.mark.both_stores

ALERTS = 5_000


async def big_incident(make_tocsin: MakeTocsin) -> tuple[Tocsin, str]:
    tocsin = await make_tocsin({"channels": None})
    for first in range(0, ALERTS, 1000):
        batch = [am_alert("NodeDown", "fleet", instance=f"node-{n:05d}") for n in range(first, first + 1000)]
        response = await tocsin.post_alertmanager(am_webhook(*batch))
        assert response.status == 200, await response.text()
    [incident] = await tocsin.incidents()
    assert incident["firing_alerts"] == ALERTS
    return tocsin, incident["id"]


async def test_acknowledging_an_incident_of_thousands_of_alerts_answers_it_whole(make_tocsin: MakeTocsin) -> None:
    tocsin, incident_id = await big_incident(make_tocsin)
    tocsin.clock.advance(minutes=5)  # level 1 of page-hard falls due
    await tocsin.tick()
    answer = await tocsin.api(
        "POST", f"/api/v1/incidents/{incident_id}/acknowledge", {"actor": "alice", "note": "on it"}
    )
    assert answer["state"] == "acknowledged"
    assert answer["acknowledged_by"] == "alice"
    assert answer["firing_alerts"] == ALERTS
    assert len(answer["alerts"]) == ALERTS
    assert {a["fingerprint"] for a in answer["alerts"]} == {f"nodedown-fleet-node-{n:05d}" for n in range(ALERTS)}
    assert all(a["status"] == "firing" and a["incident_id"] == incident_id for a in answer["alerts"])
    assert answer["alerts"][0]["labels"]["instance"] == "node-00000"  # in order of arrival
    kinds = [e["kind"] for e in answer["timeline"]]
    assert "escalated" in kinds
    assert kinds[-1] == "acknowledged"
    assert answer["timeline"][-1]["text"] == "acknowledged by alice: on it"
    assert await tocsin.incident(incident_id) == answer
    await heap.gone()  # the decision's and the answers' alerts, freed a few at a time in a thread
    assert gc.isenabled()  # the collector waited for the big decision and answer only


async def test_timers_of_an_incident_of_thousands_of_alerts_fire_and_a_resolve_ends_them_all(
    make_tocsin: MakeTocsin,
) -> None:
    tocsin, incident_id = await big_incident(make_tocsin)
    await tocsin.api("POST", f"/api/v1/incidents/{incident_id}/acknowledge", {"actor": "alice"})
    tocsin.clock.advance(minutes=15)  # SEV1: a status update is due every 15 minutes
    await tocsin.tick()
    view = await tocsin.incident(incident_id)
    assert view["timeline"][-1]["kind"] == "status_update_due"
    resolved = await tocsin.api("POST", f"/api/v1/incidents/{incident_id}/resolve", {"actor": "bob"})
    assert resolved["state"] == "resolved"
    assert resolved["firing_alerts"] == 0
    assert all(a["status"] == "resolved" for a in resolved["alerts"])
    assert len(resolved["alerts"]) == ALERTS
    firing = (await tocsin.api("GET", "/api/v1/alerts?status=firing&limit=1000"))["alerts"]
    assert firing == []
    assert [i["id"] for i in await tocsin.incidents("state=resolved")] == [incident_id]
