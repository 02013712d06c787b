"""Property-based tests: random event sequences through the pure engine (tests/engine_harness.py), and the
promises that must hold after every step whatever the order of events.

Alerts fire and resolve for a few services and severities, people acknowledge, unacknowledge, mitigate, resolve,
reopen and change severity, incidents are declared by hand, and time passes, either with tocsin up (each timer
at its due time) or down (everything due fires late, at once). Derandomized and bounded so CI runs the same
examples in a few seconds."""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daemon.domain import AlertStatus, NotifyReason, Source, State
from daemon.engine.engine import Engine
from daemon.engine.events import Action, AlertIn, AlertsReceived, Declare, Event, Patch, Transition
from daemon.engine.state import Decision, EngineError
from daemon.engine.transitions import allowed
from rules.severity import Severity
from tests.engine_harness import World, example_settings

SETTINGS = example_settings()
MTTX = ("time_to_acknowledge", "time_to_mitigate", "time_to_resolve")
ESCALATED = re.compile(r"level (\d+) \(round (\d+)\) of ([\w-]+): ")
# Services and the labels that route them: db carries team=platform (page-platform: on-call targets, nobody on
# call yet), the others page-hard (SEV1/SEV2) or page-soft.
SERVICES = {"checkout": {}, "search": {}, "db": {"team": "platform"}}

PROPERTIES = settings(
    max_examples=1500,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI is deterministic
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


@dataclass(frozen=True)
class Step:
    kind: str
    service: str = ""
    name: str = ""
    level: str = ""  # the alert's severity label
    pick: int = 0  # which incident (modulo how many there are)
    action: Action = Action.ACKNOWLEDGE
    severity: Severity = Severity.SEV1
    seconds: int = 0


services = st.sampled_from(sorted(SERVICES))
steps = st.one_of(
    st.builds(
        Step,
        kind=st.just("fire"),
        service=services,
        name=st.sampled_from(["A", "B"]),
        level=st.sampled_from(["critical", "warning", "info"]),
    ),
    st.builds(Step, kind=st.just("resolve"), service=services, name=st.sampled_from(["A", "B"])),
    st.builds(Step, kind=st.just("act"), pick=st.integers(0, 3), action=st.sampled_from(list(Action))),
    st.builds(Step, kind=st.just("severity"), pick=st.integers(0, 3), severity=st.sampled_from(list(Severity))),
    st.builds(Step, kind=st.just("declare"), service=services, severity=st.sampled_from(list(Severity))),
    st.builds(Step, kind=st.just("advance"), seconds=st.sampled_from([30, 5 * 60, 10 * 60, 16 * 60, 31 * 60])),
    st.builds(Step, kind=st.just("jump"), seconds=st.sampled_from([6 * 60, 20 * 60, 40 * 60, 3 * 3600])),
)


class Checked(World):
    """The harness, checking each decision's transitions and counting MTTx observations per incident."""

    def __init__(self) -> None:
        super().__init__(SETTINGS)
        self.mttx: Counter[tuple[str, str]] = Counter()

    def decide(self, event: Event) -> Decision:
        before = {iid: i.state for iid, i in self.incidents.items()}
        d = super().decide(event)
        for iid in {t[0] for t in d.transitions} | set(d.incidents):
            state = before.get(iid, State.TRIGGERED)  # an incident declared in this decision starts triggered
            for tid, src, dst in d.transitions:
                if tid != iid:
                    continue
                assert src is state, f"{iid}: a change of state outside the table's moves ({src} after {state})"
                assert src is not dst, f"{iid}: a move to the state it was in"
                assert allowed(src, dst), f"{iid}: {src} → {dst} is not in the table"
                state = dst
            assert self.incidents[iid].state is state, f"{iid}: changed state without a move"
        observed = [o.metric for o in d.observations if o.metric in MTTX]
        if observed:
            [iid] = d.incidents  # one incident per decision in these sequences: the observations are its own
            self.mttx.update((iid, metric) for metric in observed)
        paged = [c for i in d.intents if i.reason is NotifyReason.ESCALATION for c in i.channels]
        assert len(paged) == len(set(paged)), f"one decision paged a channel twice (a burst): {paged}"
        return d

    def incident_id(self, pick: int) -> str | None:
        ids = sorted(self.incidents)
        return ids[pick % len(ids)] if ids else None

    def take(self, step: Step) -> None:
        match step.kind:
            case "fire" | "resolve":
                self.report(
                    step.name, step.service, step.level or "critical", step.kind == "fire", **SERVICES[step.service]
                )
            case "act" | "severity":
                iid = self.incident_id(step.pick)
                if iid is None:
                    return
                event: Event = (
                    Patch(iid, "bob", severity=step.severity)
                    if step.kind == "severity"
                    else Transition(iid, step.action, "bob")
                )
                with contextlib.suppress(EngineError):  # a 409 (or another incident holds the key): nothing stored
                    self.decide(event)
            case "declare":
                labels = dict(SERVICES[step.service])
                self.decide(Declare(f"by hand on {step.service}", step.severity, "bob", step.service, labels))
            case "advance":
                self.advance(step.seconds)
            case "jump":
                self.jump(step.seconds)

    def check(self) -> None:
        keys = [i.key for i in self.intents]
        assert len(keys) == len(set(keys)), [k for k, n in Counter(keys).items() if n > 1]
        assert all(n == 1 for n in self.mttx.values()), self.mttx
        for incident in self.incidents.values():
            assert incident.state in set(State)
            if incident.state is not State.TRIGGERED or incident.policy is None:
                continue
            policy = SETTINGS.policies[incident.policy]
            ladder = incident.ladder
            timer = self.timers.get(f"{incident.id}/escalate")
            if ladder is not None:
                # A level is pending: its timer is set, in the future, for exactly where the ladder stands.
                assert timer is not None, f"{incident.id}: a ladder with no timer"
                assert timer.due_at > self.now
                assert timer.data == {"episode": incident.episode, "round": ladder.round, "level": ladder.level}
                continue
            # No ladder: it finished its rounds, its last step the policy's last level of its last round.
            assert timer is None
            last = [m for e in self.timeline if e.incident_id == incident.id and (m := ESCALATED.search(e.text))]
            assert last, f"{incident.id}: triggered with a policy and never escalated"
            level, round_, name = int(last[-1][1]), int(last[-1][2]), last[-1][3]
            assert (level, round_, name) == (len(policy.levels) - 1, policy.repeat, incident.policy)


@PROPERTIES
@given(st.lists(steps, min_size=1, max_size=40))
def test_random_sequences_keep_the_promises(sequence: list[Step]) -> None:
    world = Checked()
    for step in sequence:
        world.take(step)
        world.check()


def test_reports_classified_before_a_reload_are_decided_by_the_new_rules() -> None:
    # Engine.prepare classifies reports ahead of the decision; an engine of other settings classifies them anew.
    after = SETTINGS.model_copy(update={"severity": SETTINGS.severity.model_copy(update={"rules": []})})
    report = AlertIn(
        fingerprint="db-down",
        source=Source.ALERTMANAGER,
        status=AlertStatus.FIRING,
        labels={"alertname": "DBDown", "service": "db", "severity": "critical", "env": "prod"},
        annotations={},
    )
    prepared = Engine(SETTINGS).prepare(AlertsReceived((report,)))
    kept, reloaded = World(SETTINGS), World(after)
    kept.decide(prepared)
    reloaded.decide(prepared)
    assert kept.alerts["db-down"].severity is Severity.SEV1  # rule prod-critical: an incident is declared
    assert len(kept.incidents) == 1
    assert reloaded.alerts["db-down"].severity is Severity.SEV4  # no rules left: kept, below declare_at
    assert reloaded.incidents == {}


@PROPERTIES
@given(st.lists(st.sampled_from([6 * 60, 20 * 60, 40 * 60, 90 * 60]), min_size=1, max_size=4))
def test_downtime_never_pages_a_channel_twice_at_once(gaps: list[int]) -> None:
    """A SEV1 declared, then tocsin down for random stretches: each return pages at most one level."""
    world = Checked()
    world.report("HighErrorRate", "checkout", "critical")
    for gap in gaps:
        world.jump(gap)
        world.check()
    pages = [i for i in world.intents if i.reason is NotifyReason.ESCALATION]
    # The ladder has six steps (3 levels in 2 rounds); whatever the downtime, no step pages twice, and every
    # step is either paged or named as passed by a later page.
    steps = [(i.round, i.level) for i in pages]
    assert len(steps) == len(set(steps))
    covered = set(steps) | {s for i in pages for s in i.skipped}
    done = world.incidents["INC-2026-0001"].ladder is None
    assert not done or covered == {(r, lv) for r in (1, 2) for lv in (0, 1, 2)}
