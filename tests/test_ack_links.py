"""Acknowledge from the page: signed links in the page; GET never acknowledges, POST does."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from daemon import links
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


async def test_link_from_before_a_resolve_and_reopen_is_gone(paging: Tocsin, http_sink: HttpSink) -> None:
    old = await page_link(paging, http_sink)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "dave"})
    await paging.tick(60)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/reopen", {"actor": "dave"})
    await paging.tick()
    # The old page's link must not silence the new episode's ladder.
    for method in ("GET", "POST"):
        response = await paging.client.request(method, old, data={"name": "carol"} if method == "POST" else None)
        assert response.status == 410
        html = await response.text()
        assert "before the incident was resolved and reopened" in html
        assert "tocsin incidents ack INC-2026-0001" in html
    incident = await paging.incident("INC-2026-0001")
    assert (incident["state"], incident["acknowledged_at"]) == ("triggered", None)
    await paging.tick(5 * 60)
    assert http_sink.count("oncall-secondary") == 1  # the new episode's ladder went on

    # The reopened episode's own page carries a link that acknowledges it.
    match = ACK.search(http_sink.received["/oncall-primary"][-1]["message"])
    assert match
    response = await paging.client.post(match.group(1), data={"name": "erin"})
    assert response.status == 200
    assert "Acknowledged by <strong>erin</strong>" in await response.text()


async def test_link_from_before_a_severity_change_still_acknowledges(paging: Tocsin, http_sink: HttpSink) -> None:
    link = await page_link(paging, http_sink)
    # Lowered by hand to SEV3: page-soft now (a new episode, level 0 to team-chat), but the same open stretch,
    # so the first page's link still answers for it.
    await paging.api("PATCH", "/api/v1/incidents/INC-2026-0001", {"severity": "SEV3", "actor": "dave"})
    await paging.tick()
    assert http_sink.titles("team-chat") == ["[SEV3] INC-2026-0001 HighErrorRate on checkout"]
    response = await paging.client.post(link, data={"name": "carol"})
    assert response.status == 200
    assert (await paging.incident("INC-2026-0001"))["acknowledged_by"] == "carol"


def test_links_carry_their_episode_and_older_links_count_as_the_first() -> None:
    secret, now = b"0123456789abcdef", datetime(2026, 11, 22, 7, 0, tzinfo=UTC)
    expires = now + timedelta(hours=24)
    claim = links.verify(secret, links.sign(secret, "INC-2026-0001", expires, 3), now)
    assert (claim.incident_id, claim.expires_at, claim.episode) == ("INC-2026-0001", expires, 3)
    # A link sent before links carried an episode (id|expiry): taken as episode 1, so a reopen makes it Gone.
    payload = links._b64(f"INC-2026-0001|{int(expires.timestamp())}".encode())
    assert links.verify(secret, f"{payload}.{links._mac(secret, payload)}", now).episode == 1
    # The episode is signed: changing it breaks the signature.
    token = links.sign(secret, "INC-2026-0001", expires, 1)
    forged = links._b64(f"INC-2026-0001|{int(expires.timestamp())}|2".encode()) + "." + token.split(".")[1]
    with pytest.raises(links.BadLink):
        links.verify(secret, forged, now)
