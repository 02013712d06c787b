"""Delivery under trouble: failing channels, and a restart while a level is pending."""

from __future__ import annotations

import asyncio
import logging

import pytest

from tests.conftest import MakeTocsin
from tests.process import free_port
from tests.sinks import HttpSink
from tests.support import SEV1, start_tocsin

pytestmark = pytest.mark.both_stores


async def test_failing_channels_are_recorded_and_do_not_hold_up_the_others(
    make_tocsin: MakeTocsin, http_sink: HttpSink
) -> None:
    closed = f"127.0.0.1:{free_port()}"
    http_sink.modes = {"/fail": "fail", "/hang": "hang"}
    urls = (
        f"  - json://{http_sink.address}/fail:\n      - tag: broken-500\n"
        f"  - json://{closed}/nobody:\n      - tag: closed-port\n"
        f"  - json://{http_sink.address}/hang:\n      - tag: hanging\n"
    )
    level0 = {"after": "0s", "notify": ["hanging", "broken-500", "closed-port", "team-chat"]}
    t = await make_tocsin(
        {
            "notify": {"retries": 0, "timeout": "1s"},
            "policies": {"page-hard": {"levels": [level0, {"after": "5m", "notify": ["oncall-secondary"]}]}},
        },
        sink=http_sink.address,
        extra_urls=urls,
    )
    await t.send_fixture(SEV1)
    dispatcher = t.services.dispatcher
    assert dispatcher is not None
    sending = asyncio.create_task(dispatcher.drain())
    await http_sink.wait_for("team-chat")
    # The healthy channel got its page while the hanging one is still being waited for.
    assert not sending.done()
    await sending

    incident = await t.incident("INC-2026-0001")
    failed = {e["text"].split(": ")[0]: e["text"] for e in incident["timeline"] if e["kind"] == "notification_failed"}
    assert set(failed) == {f"page level 0 (round 1) → {c}" for c in ("hanging", "broken-500", "closed-port")}
    assert "timeout" in failed["page level 0 (round 1) → hanging"]
    assert "failed" in failed["page level 0 (round 1) → broken-500"]
    assert "failed" in failed["page level 0 (round 1) → closed-port"]
    assert any(e["text"] == "page level 0 (round 1) → team-chat: delivered to 1 of 1 URL" for e in incident["timeline"])
    sample = t.registry.get_sample_value
    assert sample("tocsin_notifications_total", {"channel": "broken-500", "outcome": "failed"}) == 1
    assert sample("tocsin_notifications_total", {"channel": "hanging", "outcome": "timeout"}) == 1
    assert sample("tocsin_notifications_total", {"channel": "team-chat", "outcome": "sent"}) == 1

    # The escalation goes on regardless.
    await t.tick(5 * 60)
    assert http_sink.count("oncall-secondary") == 1


async def test_level_that_fell_due_while_down_is_sent_once_at_start(
    make_tocsin: MakeTocsin, http_sink: HttpSink
) -> None:
    first = await make_tocsin({"notify": {"retries": 0}}, sink=http_sink.address)
    await first.send_fixture(SEV1)
    await first.tick()
    assert http_sink.count("oncall-primary") == 1
    await first.client.close()  # stopped with level 1 pending (due at 5m)

    first.clock.advance(6 * 60)  # it falls due while tocsin is down
    # Restarted on the same store, its scheduler and notifier running by themselves.
    second = await start_tocsin(first.settings, first.clock, background=True)
    try:
        await http_sink.wait_for("oncall-secondary")
        await http_sink.wait_for("oncall-primary", 2)
        for _ in range(20):  # let anything that would go out twice do so
            await asyncio.sleep(0.01)
        await second.tick()
        assert http_sink.count("oncall-secondary") == 1
        assert http_sink.count("oncall-primary") == 2
    finally:
        await second.client.close()


async def test_credentials_in_channel_urls_never_show(
    make_tocsin: MakeTocsin, http_sink: HttpSink, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    secret = "s3cr3t-pass"
    closed = f"127.0.0.1:{free_port()}"
    urls = f"  - json://alice:{secret}@{closed}/page:\n      - tag: with-password\n"
    level0 = {"after": "0s", "notify": ["with-password", "oncall-primary"]}
    t = await make_tocsin(
        {"notify": {"retries": 1, "retry_wait": "0s"}, "policies": {"page-hard": {"levels": [level0]}}},
        sink=http_sink.address,
        extra_urls=urls,
    )
    caplog.set_level(logging.DEBUG)
    await t.send_fixture(SEV1)
    await t.tick()
    incident = await t.incident("INC-2026-0001")
    failed = [e["text"] for e in incident["timeline"] if e["kind"] == "notification_failed"]
    assert failed
    assert "with-password" in failed[0]
    metrics = await (await t.client.get("/metrics")).text()
    out, err = capfd.readouterr()
    for where in (str(incident), metrics, caplog.text, out, err):
        assert secret not in where
