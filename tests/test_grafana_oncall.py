"""Coming from Grafana OnCall: its integration URLs take what OnCall's senders send, with the integration's
service and severity (bodies written out from OnCall's documented formats)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.sinks import HttpSink
from tests.support import Tocsin, am_alert, am_webhook

from .conftest import MakeTocsin

pytestmark = pytest.mark.both_stores

KEY = "example-oncall-key"  # deploy/tocsin.yml: {service: legacy, severity: SEV2}
FORMATTED = f"/integrations/v1/formatted_webhook/{KEY}/"
ALERTMANAGER = f"/integrations/v1/alertmanager/{KEY}/"


def formatted(state: str = "alerting", **more: Any) -> dict[str, Any]:
    # OnCall's "Formatted webhook" integration, as its documentation gives it.
    return {
        "alert_uid": "08d6891a-835c-e661-39fa-96b6a9e26552",
        "title": "The whole system is down",
        "image_url": "https://upload.wikimedia.org/wikipedia/commons/e/ee/Grumpy_Cat_by_Gage_Skidmore.jpg",
        "state": state,
        "link_to_upstream_details": "https://en.wikipedia.org/wiki/Downtime",
        "message": "Smth happened. Oh no!",
        **more,
    }


@pytest.fixture
async def oncall(make_tocsin: MakeTocsin, http_sink: HttpSink) -> Tocsin:
    return await make_tocsin({"notify": {"retries": 0, "timeout": "5s"}}, sink=http_sink.address)


async def test_a_formatted_webhook_declares_with_the_integrations_service_and_severity(
    oncall: Tocsin, http_sink: HttpSink
) -> None:
    response = await oncall.client.post(FORMATTED, json=formatted())
    assert response.status == 200, await response.text()
    await oncall.tick()
    [incident] = await oncall.incidents()
    assert (incident["severity"], incident["service"], incident["title"]) == (
        "SEV2",
        "legacy",
        "The whole system is down on legacy",
    )
    view = await oncall.incident(incident["id"])
    [alert] = view["alerts"]
    assert alert["annotations"]["description"] == "Smth happened. Oh no!"
    assert alert["generator_url"] == "https://en.wikipedia.org/wiki/Downtime"
    assert KEY not in str(view)  # the key is the credential: never shown
    assert http_sink.count("oncall-primary") == 1  # SEV2 routes to page-hard
    # The same uid again is a duplicate; state "ok" resolves it (SEV2 then verifies for 15m).
    await oncall.client.post(FORMATTED.rstrip("/"), json=formatted())
    resolved = await oncall.client.post(FORMATTED, json=formatted("ok"))
    assert resolved.status == 200
    incident = await oncall.incident(incident["id"])
    assert (incident["state"], incident["alerts"][0]["status"], incident["alerts"][0]["count"]) == (
        "mitigated",
        "resolved",
        1,
    )


async def test_the_alertmanager_integration_url_takes_alertmanagers_webhook(oncall: Tocsin) -> None:
    body = am_webhook(am_alert("DiskFull", service="ignored", severity="warning"))
    response = await oncall.client.post(ALERTMANAGER, json=body)
    assert response.status == 200, await response.text()
    [incident] = await oncall.incidents()
    # The integration's severity and service, whatever the alert's own labels say.
    assert (incident["severity"], incident["service"]) == ("SEV2", "legacy")
    [alert] = (await oncall.incident(incident["id"]))["alerts"]
    assert alert["fingerprint"].startswith("oncall:")
    # The same alert through tocsin's own Alertmanager endpoint is another alert: integrations are kept apart.
    await oncall.post_alertmanager(body)
    assert len((await oncall.api("GET", "/api/v1/alerts"))["alerts"]) == 2


@pytest.mark.parametrize("path", [FORMATTED, ALERTMANAGER])
async def test_a_wrong_key_is_401_and_stores_nothing(oncall: Tocsin, path: str) -> None:
    response = await oncall.client.post(path.replace(KEY, "not-the-key"), json=formatted())
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    assert (await oncall.api("GET", "/api/v1/alerts"))["alerts"] == []


async def test_a_body_that_is_not_oncalls_format_is_422(oncall: Tocsin) -> None:
    response = await oncall.client.post(FORMATTED, json={"title": "no uid"})
    assert response.status == 422
    assert (await response.json())["error"]["details"][0]["field"] == "alert_uid"
    assert await oncall.incidents() == []
