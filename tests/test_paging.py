"""Escalation through real Apprise deliveries: json:// to a local HTTP sink, mailto:// to a local SMTP sink."""

from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from tests.sinks import HttpSink, SmtpSink
from tests.support import SEV1, Tocsin, am_alert, am_webhook

pytestmark = pytest.mark.both_stores


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


async def test_sev1_pages_primary_at_once_by_http_and_mail(
    paging: Tocsin, http_sink: HttpSink, smtp_sink: SmtpSink
) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    assert http_sink.titles("oncall-primary") == ["[SEV1] INC-2026-0001 HighErrorRate on checkout"]
    [page] = http_sink.received["/oncall-primary"]
    assert "5xx ratio above 5%" in page["message"]
    assert "Runbook: https://runbooks.example/5xx" in page["message"]
    assert "Source: http://prometheus:9090/graph?g0.expr=rate" in page["message"]
    assert "Acknowledge: http://127.0.0.1:9097/ack/" in page["message"]
    assert "Incident: http://127.0.0.1:9097/incidents/INC-2026-0001" in page["message"]
    [mail] = smtp_sink.messages
    assert mail["Subject"] == "[SEV1] INC-2026-0001 HighErrorRate on checkout"
    assert "Acknowledge: http://127.0.0.1:9097/ack/" in text_of(mail)
    # Nobody else yet: level 1 is 5 minutes away.
    assert http_sink.count("oncall-secondary") == 0
    incident = await paging.incident("INC-2026-0001")
    notified = [e["text"] for e in incident["timeline"] if e["kind"] == "notified"]
    assert notified == ["page level 0 (round 1) → oncall-primary: delivered to 2 of 2 URLs"]
    assert (
        paging.registry.get_sample_value("tocsin_notifications_total", {"channel": "oncall-primary", "outcome": "sent"})
        == 1
    )


async def test_ladder_levels_and_two_rounds(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()

    async def at(minute: float) -> tuple[int, int, int]:
        await paging.tick(minute * 60 - (paging.clock.now() - start).total_seconds())
        return (http_sink.count("oncall-primary"), http_sink.count("oncall-secondary"), http_sink.count("eng-manager"))

    start = paging.clock.now()
    assert await at(4.98) == (1, 0, 0)
    assert await at(5) == (2, 1, 0)  # level 1 at 5m: primary and secondary
    assert await at(14.9) == (2, 1, 0)
    assert await at(15) == (2, 1, 1)  # level 2 at 15m: the manager
    assert await at(24.9) == (2, 1, 1)
    assert await at(25) == (3, 1, 1)  # round 2 starts repeat_after (10m) after the last level
    assert await at(30) == (4, 2, 1)
    assert await at(40) == (4, 2, 2)
    assert await at(120) == (4, 2, 2)  # repeat: 2 rounds in all, then silence
    second_round = http_sink.titles("oncall-primary")[2]
    assert second_round == "[SEV1] INC-2026-0001 HighErrorRate on checkout"
    assert http_sink.received["/oncall-primary"][2]["message"].startswith(
        "Unacknowledged for 25m — escalating to level 0 of round 2.\nSEV1 triggered: 2 alerts firing on checkout.\n"
    )
    assert paging.registry.get_sample_value("tocsin_escalations_total", {"level": "1"}) == 2


async def test_acknowledge_stops_the_ladder(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick(120)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "alice"})
    await paging.tick()
    for _ in range(12):
        await paging.tick(5 * 60)
    assert http_sink.count("oncall-secondary") == 0
    assert http_sink.count("eng-manager") == 0
    # Those already paged hear about the acknowledgement.
    assert http_sink.titles("oncall-primary") == [
        "[SEV1] INC-2026-0001 HighErrorRate on checkout",
        "[SEV1] INC-2026-0001 HighErrorRate on checkout (acknowledged)",
    ]
    assert http_sink.received["/oncall-primary"][1]["message"].startswith("Acknowledged by alice\n")


async def test_redelivery_sends_no_second_page(paging: Tocsin, http_sink: HttpSink, smtp_sink: SmtpSink) -> None:
    for _ in range(3):
        await paging.send_fixture(SEV1)
        await paging.tick(1)
    assert http_sink.count("oncall-primary") == 1
    assert len(smtp_sink.messages) == 1


async def test_declaration_page_is_level_zero_only(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    everything = {path: len(posts) for path, posts in http_sink.received.items()}
    assert everything == {"/oncall-primary": 1}


async def test_raise_on_triggered_moves_to_new_policy(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.post_alertmanager(am_webhook(am_alert("Slow", severity="warning")))
    await paging.tick()
    assert http_sink.titles("team-chat") == ["[SEV3] INC-2026-0001 Slow on checkout"]  # page-soft
    await paging.post_alertmanager(am_webhook(am_alert("Errors", severity="critical", instance="web-2")))
    await paging.tick()
    # SEV1 routes to page-hard: its level 0 pages at once; team-chat, paged before, hears of the change.
    assert http_sink.titles("oncall-primary") == ["[SEV1] INC-2026-0001 Slow on checkout"]
    assert http_sink.titles("team-chat")[1] == "[SEV1] INC-2026-0001 Slow on checkout (severity changed)"
    await paging.tick(5 * 60)
    assert http_sink.count("oncall-secondary") == 1  # the new ladder goes on


async def test_raise_on_acknowledged_notifies_without_restart(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.post_alertmanager(am_webhook(am_alert("Slow", severity="warning")))
    await paging.tick()
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "alice"})
    await paging.post_alertmanager(am_webhook(am_alert("Errors", severity="critical", instance="web-2")))
    await paging.tick()
    assert "[SEV1] INC-2026-0001 Slow on checkout (severity changed)" in http_sink.titles("team-chat")
    assert http_sink.count("oncall-primary") == 1  # the new policy's level 0 hears of it once
    for _ in range(6):
        await paging.tick(5 * 60)
    assert http_sink.count("oncall-secondary") == 0  # no ladder: it is acknowledged


async def test_resolve_notifies_those_paged_and_cancels_timers(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick(5 * 60)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "alice", "note": "rolled back"})
    await paging.tick()
    assert http_sink.titles("oncall-secondary")[-1] == "[SEV1] INC-2026-0001 HighErrorRate on checkout (resolved)"
    before = {path: len(posts) for path, posts in http_sink.received.items()}
    for _ in range(12):
        await paging.tick(10 * 60)
    assert {path: len(posts) for path, posts in http_sink.received.items()} == before
    # Nothing of the incident is left: the only timer is the schedule's handoff notice (Monday 07:00Z).
    assert await paging.services.store.next_timer_due() == datetime(2026, 11, 23, 7, tzinfo=UTC)


async def test_reopen_restarts_the_ladder(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/resolve", {"actor": "alice"})
    await paging.tick(60)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/reopen", {"actor": "alice"})
    await paging.tick()
    pages = [t for t in http_sink.titles("oncall-primary") if t.endswith(("checkout", "(reopened)"))]
    assert pages[1:] == ["[SEV1] INC-2026-0001 HighErrorRate on checkout (reopened)"]  # level 0 again, new episode
    await paging.tick(5 * 60)
    assert http_sink.count("oncall-secondary") == 1


async def test_a_page_answered_before_it_was_sent_is_not_an_escalation(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)  # level 0 is queued in the outbox, not sent yet
    paging.clock.advance(1)
    await paging.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "alice"})
    await paging.tick()
    # Only the acknowledgement reached the primary; the page queued before it was not sent, nor counted.
    assert http_sink.titles("oncall-primary") == ["[SEV1] INC-2026-0001 HighErrorRate on checkout (acknowledged)"]
    assert paging.registry.get_sample_value("tocsin_escalations_total", {"level": "0"}) in (None, 0.0)
    # A page that is sent is counted once.
    await paging.post_alertmanager(am_webhook(am_alert(service="search")))
    await paging.tick()
    assert http_sink.titles("oncall-primary")[-1] == "[SEV1] INC-2026-0002 HighErrorRate on search"
    assert paging.registry.get_sample_value("tocsin_escalations_total", {"level": "0"}) == 1
