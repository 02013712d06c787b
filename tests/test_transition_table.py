"""DESIGN §5's transition table, cell by cell, through the pure engine (tests/engine_harness.py).

Each cell sets up an incident in the row's state the way it happens in use, takes the column's event, and checks
what a person would see: the state, the answer (409 or 200 without change), whether anyone is paged, the ladder."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from daemon.domain import State, TimerKind
from daemon.engine.events import Action
from daemon.engine.state import Decision, IllegalTransition
from daemon.engine.transitions import TABLE, Event, Outcome, allowed
from tests.engine_harness import World, example_settings

SETTINGS = example_settings()
INC = "INC-2026-0001"
ACTIONS = {
    Event.ACKNOWLEDGE: Action.ACKNOWLEDGE,
    Event.UNACKNOWLEDGE: Action.UNACKNOWLEDGE,
    Event.MITIGATE: Action.MITIGATE,
    Event.RESOLVE: Action.RESOLVE,
    Event.REOPEN: Action.REOPEN,
}


def in_state(state: State, acked_before_mitigation: bool = False) -> World:
    """A SEV1 on checkout (page-hard: level 0 to oncall-primary at once), brought into ``state``."""
    w = World(SETTINGS)
    w.report("HighErrorRate", "checkout", "critical")
    assert w.incidents[INC].state is State.TRIGGERED
    if state is State.ACKNOWLEDGED or acked_before_mitigation:
        w.act(INC, Action.ACKNOWLEDGE)
    if state is State.MITIGATED:
        w.advance(60)
        w.report("HighErrorRate", "checkout", "critical", firing=False)  # all alerts resolved: verification runs
    if state is State.RESOLVED:
        w.act(INC, Action.RESOLVE)
    assert w.incidents[INC].state is state
    w.advance(60)
    return w


def pages(d: Decision) -> list[tuple[str, ...]]:
    return [i.channels for i in d.intents if i.reason.value == "escalation"]


def refire(w: World) -> Decision:
    """A new alert of the incident's key fires (the re-fire column)."""
    return w.report("Latency", "checkout", "critical")


def check(state: State, event: Event, cell: Outcome) -> None:
    w = in_state(state)
    before = w.incidents[INC]
    take: Callable[[], Decision] = (
        (lambda: refire(w)) if event is Event.REFIRE else (lambda: w.act(INC, ACTIONS[event], "bob"))
    )
    if cell is Outcome.REFUSED:
        with pytest.raises(IllegalTransition):
            take()
        assert w.incidents[INC] == before  # 409: nothing stored
        return
    d = take()
    after = w.incidents[INC]
    match cell:
        case Outcome.NO_CHANGE:
            assert not d.changed
            assert after == before
        case Outcome.TO_ACKNOWLEDGED:
            assert after.state is State.ACKNOWLEDGED
            assert not w.escalation_pending(INC)  # the ladder stopped
            assert after.acknowledged_by == "bob"
        case Outcome.RECORD_ACK:
            assert after.state is State.MITIGATED
            assert (after.acknowledged_by, after.acknowledged_at) == ("bob", w.now)
        case Outcome.TO_MITIGATED:
            assert after.state is State.MITIGATED
            assert not w.escalation_pending(INC)
        case Outcome.TO_RESOLVED:
            assert after.state is State.RESOLVED
            assert not any(t.incident_id == INC for t in w.timers.values())
        case Outcome.TO_TRIGGERED:
            assert after.state is State.TRIGGERED
            assert pages(d) == [("oncall-primary",)]  # the ladder restarts at level 0
            assert w.escalation_pending(INC)
        case Outcome.JOIN_NO_PAGE | Outcome.JOIN_TIMELINE:
            assert after.state is state
            assert after.alert_count == before.alert_count + 1
            assert d.intents == []
            assert any(e.text == "Latency joined" for e in d.timeline)
        case Outcome.BACK_TO_FIRING:
            # Not acknowledged before mitigation: → triggered, the ladder restarts, verification cancelled.
            assert after.state is State.TRIGGERED
            assert pages(d) == [("oncall-primary",)]
            assert after.verifying_until is None
            assert not any(t.kind is TimerKind.VERIFY for t in w.timers.values())
        case Outcome.REOPEN_OR_NEW:
            # Within reopen_within (30m): the same incident, reopened, its ladder from level 0.
            assert after.state is State.TRIGGERED
            assert after.episode == before.episode + 1
            assert pages(d) == [("oncall-primary",)]
            assert "INC-2026-0002" not in w.incidents
    assert [t for t in d.transitions if t[1] != t[2]] == (
        [] if after.state is before.state else [(INC, before.state, after.state)]
    )


# DESIGN §5, transcribed independently of the engine's TABLE (columns as in DESIGN, unacknowledge last).
COLUMNS = (Event.ACKNOWLEDGE, Event.MITIGATE, Event.RESOLVE, Event.REFIRE, Event.REOPEN, Event.UNACKNOWLEDGE)
Out = Outcome
DESIGN = {
    State.TRIGGERED: (
        Out.TO_ACKNOWLEDGED,
        Out.TO_MITIGATED,
        Out.TO_RESOLVED,
        Out.JOIN_NO_PAGE,
        Out.REFUSED,
        Out.NO_CHANGE,
    ),
    State.ACKNOWLEDGED: (
        Out.NO_CHANGE,
        Out.TO_MITIGATED,
        Out.TO_RESOLVED,
        Out.JOIN_TIMELINE,
        Out.REFUSED,
        Out.TO_TRIGGERED,
    ),
    State.MITIGATED: (Out.RECORD_ACK, Out.NO_CHANGE, Out.TO_RESOLVED, Out.BACK_TO_FIRING, Out.REFUSED, Out.REFUSED),
    State.RESOLVED: (Out.REFUSED, Out.REFUSED, Out.NO_CHANGE, Out.REOPEN_OR_NEW, Out.TO_TRIGGERED, Out.REFUSED),
}
CELLS = {(state, event): cell for state, row in DESIGN.items() for event, cell in zip(COLUMNS, row, strict=True)}


def test_the_engine_table_is_designs() -> None:
    assert set(TABLE) == {(s, e) for s in State for e in Event}
    assert TABLE == CELLS


@pytest.mark.parametrize(("state", "event"), list(CELLS), ids=[f"{s}-{e}" for s, e in CELLS])
def test_cell(state: State, event: Event) -> None:
    check(state, event, CELLS[(state, event)])


def test_mitigated_refire_after_an_ack_goes_back_to_acknowledged() -> None:
    w = in_state(State.MITIGATED, acked_before_mitigation=True)
    d = refire(w)
    assert w.incidents[INC].state is State.ACKNOWLEDGED
    assert pages(d) == []  # no ladder: someone has it
    assert not any(t.kind is TimerKind.VERIFY for t in w.timers.values())


def test_resolved_refire_after_reopen_within_declares_a_new_incident() -> None:
    w = in_state(State.RESOLVED)
    w.advance(31 * 60)
    d = refire(w)
    assert w.incidents[INC].state is State.RESOLVED
    assert w.incidents["INC-2026-0002"].state is State.TRIGGERED
    assert pages(d) == [("oncall-primary",)]


@pytest.mark.parametrize("state", [State.TRIGGERED, State.ACKNOWLEDGED])
def test_all_alerts_resolved_mitigates_like_the_mitigate_column(state: State) -> None:
    w = in_state(state)
    w.report("HighErrorRate", "checkout", "critical", firing=False)
    assert w.incidents[INC].state is State.MITIGATED
    assert not w.escalation_pending(INC)
    assert w.incidents[INC].verifying_until is not None


def test_allowed_moves_are_those_of_the_table() -> None:
    assert allowed(State.RESOLVED, State.TRIGGERED)
    assert allowed(State.MITIGATED, State.ACKNOWLEDGED)
    assert not allowed(State.RESOLVED, State.ACKNOWLEDGED)
    assert not allowed(State.RESOLVED, State.MITIGATED)
