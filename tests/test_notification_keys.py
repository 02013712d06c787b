"""DESIGN §6's idempotency key, built in one place: the keys of stored outbox entries must not change."""

from __future__ import annotations

from datetime import UTC, datetime

from daemon.domain import Incident, NotifyReason, Source, State
from daemon.engine.state import notification_key
from rules.severity import Severity


def incident() -> Incident:
    at = datetime(2026, 11, 22, tzinfo=UTC)
    return Incident(
        "INC-2026-0007", "t", Severity.SEV1, State.TRIGGERED, "web", {}, '{service="web"}', at, Source.MANUAL
    )


def test_existing_keys_are_byte_identical() -> None:
    i = incident()
    i.episode = 3
    # The spellings written by earlier versions (outbox entries stored by them must keep matching).
    assert notification_key(i, NotifyReason.ESCALATION, level=2, round_=1) == "INC-2026-0007/e3/escalation/r1/l2"
    assert notification_key(i, NotifyReason.ACKNOWLEDGED, seq=4) == "INC-2026-0007/e3/acknowledged/n4"
    assert notification_key(i, NotifyReason.STATUS_UPDATE, seq=1) == "INC-2026-0007/e3/status_update/n1"


def test_pages_to_a_person_are_keyed_by_person_and_step() -> None:
    i = incident()
    alice0 = notification_key(i, NotifyReason.ESCALATION, level=1, round_=2, person="alice", step=0)
    assert alice0 == "INC-2026-0007/e1/escalation/r2/l1/palice/s0"
    others = {
        notification_key(i, NotifyReason.ESCALATION, level=1, round_=2),
        notification_key(i, NotifyReason.ESCALATION, level=1, round_=2, person="alice", step=1),
        notification_key(i, NotifyReason.ESCALATION, level=1, round_=2, person="bob", step=0),
    }
    assert alice0 not in others
    assert len(others) == 3
