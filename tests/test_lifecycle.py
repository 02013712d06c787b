"""DESIGN §2 to §5 through the API: correlation, declaration, raises, the transition table, verification."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import Tocsin, am_alert, am_webhook, resolved

pytestmark = pytest.mark.both_stores


async def fire(t: Tocsin, *alerts: dict[str, Any]) -> None:
    response = await t.post_alertmanager(am_webhook(*alerts))
    assert response.status == 200, await response.text()


def texts(incident: dict[str, Any]) -> list[str]:
    return [e["text"] for e in incident["timeline"]]


async def test_correlation_by_service(tocsin: Tocsin) -> None:
    await fire(tocsin, am_alert("A", "checkout", instance="1"), am_alert("B", "checkout", instance="2"))
    await fire(tocsin, am_alert("C", "search"))
    incidents = await tocsin.incidents()
    assert [(i["service"], i["alert_count"]) for i in incidents] == [("search", 1), ("checkout", 2)]
    checkout = await tocsin.incident(incidents[1]["id"])
    # The labels common to its alerts at declaration.
    assert checkout["labels"] == {
        "alertname": "A",
        "env": "prod",
        "instance": "1",
        "service": "checkout",
        "severity": "critical",
    }


async def test_below_declare_threshold_kept_and_joins_later(tocsin: Tocsin) -> None:
    info = am_alert("DiskSlow", severity="info")
    await fire(tocsin, info)
    assert await tocsin.incidents() == []
    [listed] = (await tocsin.api("GET", "/api/v1/alerts?status=firing"))["alerts"]
    assert (listed["severity"], listed["incident_id"]) == ("SEV4", None)

    await fire(tocsin, am_alert("HighLatency", severity="warning"))
    [incident] = await tocsin.incidents()
    assert incident["severity"] == "SEV3"
    detail = await tocsin.incident(incident["id"])
    # The SEV4 alert already firing for the same key joins the incident declared for it.
    assert sorted(a["labels"]["alertname"] for a in detail["alerts"]) == ["DiskSlow", "HighLatency"]
    assert detail["firing_alerts"] == 2


async def test_breadth_raise_and_manual_severity_stands(tocsin: Tocsin) -> None:
    await fire(tocsin, *[am_alert("Warn", severity="warning", instance=str(i)) for i in range(4)])
    [incident] = await tocsin.incidents()
    assert incident["severity"] == "SEV3"
    await fire(tocsin, am_alert("Warn", severity="warning", instance="4"))
    detail = await tocsin.incident(incident["id"])
    assert detail["severity"] == "SEV1"
    assert "severity SEV3 → SEV1 by raise wide-outage (5 alerts firing)" in texts(detail)

    await tocsin.api("PATCH", f"/api/v1/incidents/{incident['id']}", {"severity": "SEV3", "actor": "alice"})
    await fire(tocsin, am_alert("Warn", severity="warning", instance="5"))
    detail = await tocsin.incident(incident["id"])
    assert detail["severity"] == "SEV3"  # the raise matched once; alice's choice stands
    assert "severity SEV1 → SEV3 by alice" in texts(detail)

    await fire(tocsin, am_alert("Errors", severity="error"))
    detail = await tocsin.incident(incident["id"])
    assert detail["severity"] == "SEV2"  # a later raise that exceeds it wins
    assert "severity SEV3 → SEV2 by rule critical" in texts(detail)


async def test_duration_raise_fires_from_its_timer(tocsin: Tocsin) -> None:
    await fire(tocsin, am_alert("Warn", severity="warning"))
    [incident] = await tocsin.incidents()
    await tocsin.tick(29 * 60)
    assert (await tocsin.incident(incident["id"]))["severity"] == "SEV3"
    await tocsin.tick(60)
    detail = await tocsin.incident(incident["id"])
    assert detail["severity"] == "SEV2"
    raised = "severity SEV3 → SEV2 by raise long-running (still firing after 30m"
    assert any(t.startswith(raised) for t in texts(detail))


async def test_duration_raise_not_when_no_longer_firing(tocsin: Tocsin) -> None:
    alert = am_alert("Warn", severity="warning")
    await fire(tocsin, alert)
    [incident] = await tocsin.incidents()
    await fire(tocsin, resolved(alert, "2026-11-22T07:05:00Z"))
    await tocsin.tick(31 * 60)
    assert (await tocsin.incident(incident["id"]))["severity"] == "SEV3"


class TestTransitionTable:
    """Each row of DESIGN §5's table, by API."""

    async def declare(self, t: Tocsin, *alerts: dict[str, Any]) -> str:
        await fire(t, *(alerts or (am_alert(),)))
        return str((await t.incidents())[0]["id"])

    async def act(self, t: Tocsin, iid: str, action: str, status: int = 200, **body: str) -> Any:
        return await t.api("POST", f"/api/v1/incidents/{iid}/{action}", {"actor": "bob", **body}, status=status)

    async def test_triggered(self, tocsin: Tocsin) -> None:
        iid = await self.declare(tocsin)
        await self.act(tocsin, iid, "reopen", 409)
        inc = await self.act(tocsin, iid, "acknowledge", note="looking")
        assert (inc["state"], inc["acknowledged_by"]) == ("acknowledged", "bob")
        assert inc["timeline"][-1] == {
            "at": inc["acknowledged_at"],
            "actor": "bob",
            "kind": "acknowledged",
            "text": "acknowledged by bob: looking",
        }

    async def test_acknowledged(self, tocsin: Tocsin) -> None:
        iid = await self.declare(tocsin)
        first = await self.act(tocsin, iid, "acknowledge")
        again = await self.act(tocsin, iid, "acknowledge")
        assert again == first  # 200, nothing changed
        await fire(tocsin, am_alert(instance="web-9"))
        inc = await tocsin.incident(iid)
        assert inc["state"] == "acknowledged"
        assert inc["timeline"][-1]["text"] == "HighErrorRate (web-9) joined"
        await self.act(tocsin, iid, "reopen", 409)
        assert (await self.act(tocsin, iid, "mitigate"))["state"] == "mitigated"

    @pytest.mark.parametrize("acked", [True, False])
    async def test_mitigated_refire(self, tocsin: Tocsin, acked: bool) -> None:
        iid = await self.declare(tocsin)
        if acked:
            await self.act(tocsin, iid, "acknowledge")
        inc = await self.act(tocsin, iid, "mitigate")
        assert inc["state"] == "mitigated"
        assert (await self.act(tocsin, iid, "mitigate")) == inc
        await fire(tocsin, am_alert(instance="web-2"))
        inc = await tocsin.incident(iid)
        assert inc["state"] == ("acknowledged" if acked else "triggered")

    async def test_mitigated_records_ack(self, tocsin: Tocsin) -> None:
        iid = await self.declare(tocsin)
        await self.act(tocsin, iid, "mitigate")
        tocsin.clock.advance(60)
        inc = await self.act(tocsin, iid, "acknowledge")
        assert inc["state"] == "mitigated"
        assert inc["acknowledged_by"] == "bob"
        assert inc["acknowledged_at"] is not None

    async def test_resolved(self, tocsin: Tocsin) -> None:
        iid = await self.declare(tocsin)
        inc = await self.act(tocsin, iid, "resolve", note="rolled back")
        assert (inc["state"], inc["resolved_by"]) == ("resolved", "bob")
        # A resolve by hand ends the firing alerts' episodes now.
        assert [a["status"] for a in inc["alerts"]] == ["resolved"]
        for action in ("acknowledge", "mitigate"):
            error = await self.act(tocsin, iid, action, 409)
            assert error["error"]["details"]["state"] == "resolved"
            assert "resolved" in error["error"]["message"]
        assert (await self.act(tocsin, iid, "resolve")) == inc
        inc = await self.act(tocsin, iid, "reopen", note="not fixed")
        assert (inc["state"], inc["resolved_at"]) == ("triggered", None)
        assert "reopened by bob: not fixed" in texts(inc)

    async def test_new_alert_reopens_within_reopen_within(self, tocsin: Tocsin) -> None:
        iid = await self.declare(tocsin)
        await self.act(tocsin, iid, "resolve")
        tocsin.clock.advance(29 * 60)
        await fire(tocsin, am_alert(instance="web-3"))
        assert [i["id"] for i in await tocsin.incidents()] == [iid]
        inc = await tocsin.incident(iid)
        assert inc["state"] == "triggered"
        assert any(t.startswith("reopened by tocsin") for t in texts(inc))

    async def test_new_alert_after_reopen_within_is_a_new_incident(self, tocsin: Tocsin) -> None:
        iid = await self.declare(tocsin)
        await self.act(tocsin, iid, "resolve")
        tocsin.clock.advance(31 * 60)
        await fire(tocsin, am_alert(instance="web-3"))
        incidents = await tocsin.incidents()
        assert [i["id"] for i in incidents] == ["INC-2026-0002", iid]
        assert (await tocsin.incident(iid))["state"] == "resolved"

    async def test_unknown_incident(self, tocsin: Tocsin) -> None:
        error = await self.act(tocsin, "INC-2026-9999", "acknowledge", 404)
        assert error["error"]["code"] == "not_found"


class TestVerification:
    async def test_sev1_resolves_after_15m_without_refire(self, tocsin: Tocsin) -> None:
        alert = am_alert()
        await fire(tocsin, alert)
        [inc] = await tocsin.incidents()
        assert inc["severity"] == "SEV1"
        tocsin.clock.advance(120)
        await fire(tocsin, resolved(alert))
        inc = await tocsin.incident(inc["id"])
        assert inc["state"] == "mitigated"
        assert inc["timeline"][-2]["text"] == "mitigated by tocsin: all alerts resolved"
        await tocsin.tick(14 * 60)
        assert (await tocsin.incident(inc["id"]))["state"] == "mitigated"
        await tocsin.tick(60)
        inc = await tocsin.incident(inc["id"])
        assert (inc["state"], inc["resolved_by"]) == ("resolved", "tocsin")
        assert inc["timeline"][-1]["text"] == "resolved by tocsin: verified: no alert fired again for 15m"

    async def test_refire_during_verification_keeps_it_open(self, tocsin: Tocsin) -> None:
        alert = am_alert()
        await fire(tocsin, alert)
        [inc] = await tocsin.incidents()
        await fire(tocsin, resolved(alert, "2026-11-22T07:10:00Z"))
        await tocsin.tick(10 * 60)
        await fire(tocsin, {**alert, "startsAt": "2026-11-22T07:20:00Z"})
        await tocsin.tick(10 * 60)
        inc = await tocsin.incident(inc["id"])
        assert inc["state"] == "triggered"
        assert inc["verifying_until"] is None
        assert "an alert fired again: verification cancelled" in texts(inc)

    async def test_sev3_resolves_at_once(self, tocsin: Tocsin) -> None:
        alert = am_alert("Warn", severity="warning")
        await fire(tocsin, alert)
        await fire(tocsin, resolved(alert))
        [inc] = await tocsin.incidents()
        assert inc["state"] == "resolved"
