"""Acknowledge from the page: signed links in the page; GET never acknowledges, POST does."""

from __future__ import annotations

import re

import pytest

from tests.sinks import HttpSink
from tests.support import SEV1, Tocsin

pytestmark = pytest.mark.both_stores

ACK = re.compile(r"Acknowledge: http://127\.0\.0\.1:9097(/ack/\S+)")


async def page_link(t: Tocsin, sink: HttpSink) -> str:
    await t.send_fixture(SEV1)
    await t.tick()
    [page] = sink.received["/oncall-primary"]
    match = ACK.search(page["message"])
    assert match, page["message"]
    return match.group(1)


async def test_get_shows_a_button_and_changes_nothing(paging: Tocsin, http_sink: HttpSink) -> None:
    link = await page_link(paging, http_sink)
    before = await paging.incident("INC-2026-0001")
    for _ in range(3):  # chat unfurlers and mail scanners fetch links, sometimes repeatedly
        response = await paging.client.get(link)
        assert response.status == 200
        html = await response.text()
        assert '<form method="post">' in html
        assert "INC-2026-0001" in html
    assert await paging.incident("INC-2026-0001") == before


async def test_post_acknowledges_with_the_name_given(paging: Tocsin, http_sink: HttpSink) -> None:
    link = await page_link(paging, http_sink)
    paging.clock.advance(90)
    response = await paging.client.post(link, data={"name": "carol"})
    assert response.status == 200
    assert "Acknowledged by <strong>carol</strong>" in await response.text()
    incident = await paging.incident("INC-2026-0001")
    assert (incident["state"], incident["acknowledged_by"]) == ("acknowledged", "carol")
    assert incident["acknowledged_at"] == "2026-11-22T07:14:00Z"
    # The ladder stopped: nobody else is paged.
    await paging.tick(30 * 60)
    assert http_sink.count("oncall-secondary") == 0

    # The link again: a page saying who and when.
    again = await paging.client.get(link)
    assert again.status == 200
    assert "Acknowledged by <strong>carol</strong> at 2026-11-22T07:14:00Z" in await again.text()


async def test_tampered_link_is_403_and_changes_nothing(paging: Tocsin, http_sink: HttpSink) -> None:
    link = await page_link(paging, http_sink)
    payload, mac = link.removeprefix("/ack/").split(".")
    forged_payload = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB")
    for bad in (f"/ack/{forged_payload}.{mac}", f"/ack/{payload}.{mac[:-1]}x", "/ack/garbage"):
        for method in ("GET", "POST"):
            response = await paging.client.request(method, bad)
            assert response.status == 403, bad
    assert (await paging.incident("INC-2026-0001"))["state"] == "triggered"


async def test_expired_link_is_410_and_changes_nothing(paging: Tocsin, http_sink: HttpSink) -> None:
    link = await page_link(paging, http_sink)
    paging.clock.advance(24 * 3600 + 1)  # link_ttl: 24h
    for method in ("GET", "POST"):
        response = await paging.client.request(method, link)
        assert response.status == 410
        assert "expired" in await response.text()
    assert (await paging.incident("INC-2026-0001"))["acknowledged_at"] is None


async def test_link_of_a_resolved_incident_says_so(paging: Tocsin, http_sink: HttpSink) -> None:
    link = await page_link(paging, http_sink)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "dave"})
    response = await paging.client.post(link)
    assert response.status == 200
    assert "is resolved" in await response.text()
    assert (await paging.incident("INC-2026-0001"))["acknowledged_at"] is None
