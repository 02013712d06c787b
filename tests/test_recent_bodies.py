"""Webhook bodies remembered by their bytes: a re-sent body skips its parse, and what it then does is unchanged."""

from __future__ import annotations

import pytest

from daemon.config.settings import LimitsConfig
from daemon.http.keys import RECENT_WEBHOOKS
from daemon.ingest.recent import RecentBodies
from tests.support import Tocsin, am_alert, am_webhook

pytestmark = pytest.mark.both_stores


async def test_a_resent_body_after_a_resolution_is_stale_not_a_new_episode(tocsin: Tocsin) -> None:
    firing = am_webhook(am_alert())
    assert (await tocsin.post_alertmanager(firing)).status == 200
    resolved = am_webhook(am_alert(status="resolved", ends_at="2026-11-22T07:10:00Z"))
    assert (await tocsin.post_alertmanager(resolved)).status == 200
    # Alertmanager re-sends the old firing body (a retry that crossed the resolution): the same bytes as before.
    assert (await tocsin.post_alertmanager(firing)).status == 200
    [incident] = await tocsin.incidents()
    [alert] = (await tocsin.incident(incident["id"]))["alerts"]
    assert (alert["status"], alert["count"]) == ("resolved", 1)
    stale = tocsin.registry.get_sample_value("tocsin_alerts_stale_total", {"source": "alertmanager"})
    assert stale == 1


async def test_a_resent_body_is_counted_as_deduplicated_each_time(tocsin: Tocsin) -> None:
    body = am_webhook(*[am_alert(instance=f"web-{n}") for n in range(5)])
    for _ in range(4):
        assert (await tocsin.post_alertmanager(body)).status == 200
    received = tocsin.registry.get_sample_value("tocsin_alerts_received_total", {"source": "alertmanager"})
    deduplicated = tocsin.registry.get_sample_value("tocsin_alerts_deduplicated_total", {"source": "alertmanager"})
    assert (received, deduplicated) == (20, 15)


async def test_only_bodies_that_changed_nothing_are_remembered(tocsin: Tocsin) -> None:
    # In a storm of new or changed alerts every body comes once: none is kept. A re-send is kept for the next.
    remembered = tocsin.client.app[RECENT_WEBHOOKS]
    first = am_webhook(am_alert(instance="web-1"), am_alert(instance="web-2"))
    changed = am_webhook(am_alert(instance="web-1", summary="now worse"), am_alert(instance="web-2"))
    assert (await tocsin.post_alertmanager(first)).status == 200
    assert (await tocsin.post_alertmanager(changed)).status == 200
    assert len(remembered) == 0
    assert (await tocsin.post_alertmanager(changed)).status == 200
    assert len(remembered) == 1
    assert (await tocsin.post_alertmanager(changed)).status == 200
    deduplicated = tocsin.registry.get_sample_value("tocsin_alerts_deduplicated_total", {"source": "alertmanager"})
    assert (len(remembered), deduplicated) == (1, 1 + 2 + 2)


def test_the_bytes_held_stay_bounded_and_the_oldest_go_first() -> None:
    bounds = LimitsConfig()
    recent: RecentBodies[str] = RecentBodies(max_bytes=8000)
    bodies = [bytes([n]) * 500 for n in range(40)]
    for n, raw in enumerate(bodies):
        recent.put(raw, bounds, f"parsed {n}")
        assert recent.held_bytes <= 8000
    assert recent.get(bodies[0], bounds) is None
    assert recent.get(bodies[-1], bounds) == "parsed 39"
    assert len(recent) == 16


def test_a_body_used_lately_outlives_older_ones() -> None:
    bounds = LimitsConfig()
    recent: RecentBodies[str] = RecentBodies(max_bytes=8000)
    bodies = [bytes([n]) * 1000 for n in range(9)]
    for raw in bodies[:8]:
        recent.put(raw, bounds, raw[:1].hex())
    assert recent.get(bodies[0], bounds) == "00"  # used: now the newest
    recent.put(bodies[8], bounds, "08")
    assert (recent.get(bodies[0], bounds), recent.get(bodies[1], bounds)) == ("00", None)


def test_a_huge_body_is_not_kept() -> None:
    recent: RecentBodies[str] = RecentBodies(max_bytes=8000)
    recent.put(b"x" * 1001, LimitsConfig(), "huge")
    assert (len(recent), recent.held_bytes) == (0, 0)


def test_other_limits_parse_again() -> None:
    recent: RecentBodies[str] = RecentBodies()
    recent.put(b"{}", LimitsConfig(), "parsed")
    assert recent.get(b"{}", LimitsConfig(max_labels_per_alert=8)) is None
    assert (len(recent), recent.held_bytes) == (0, 0)
