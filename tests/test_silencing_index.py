"""The index of silences in force finds exactly what a scan of every silence finds, in the same order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.engine.silencing import ActiveSilences
from rules.matchers import Matcher, MatchType
from rules.silences import Silence

NOW = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NAMES = ["service", "env", "team"]
VALUES = ["", "db", "web", "prod"]

matchers = st.builds(
    lambda name, kind, value: Matcher.create(
        name, kind, value if kind in (MatchType.EQUAL, MatchType.NOT_EQUAL) else f"{value}.*"
    ),
    st.sampled_from(NAMES),
    st.sampled_from(list(MatchType)),
    st.sampled_from(VALUES),
)
silences = st.builds(
    lambda i, ms, start, end: Silence(
        f"s{i}", tuple(ms), NOW + timedelta(minutes=start), NOW + timedelta(minutes=start + end), "a", "", NOW
    ),
    st.integers(0, 10_000),
    st.lists(matchers, min_size=1, max_size=3),
    st.integers(-60, 30),
    st.integers(1, 120),
)
labels = st.dictionaries(st.sampled_from(NAMES), st.sampled_from(VALUES[1:]), max_size=3)


@settings(max_examples=300, derandomize=True)
@given(st.lists(silences, max_size=12, unique_by=lambda s: s.id), labels)
def test_the_index_agrees_with_a_scan(found: list[Silence], alert: dict[str, str]) -> None:
    assert ActiveSilences(found, NOW).holding(alert) == [s.id for s in found if s.silences(alert, NOW)]


def test_pending_and_expired_silences_hold_nothing() -> None:
    m = (Matcher.create("service", MatchType.EQUAL, "db"),)
    pending = Silence("p", m, NOW + timedelta(minutes=1), NOW + timedelta(hours=1), "a", "", NOW)
    expired = Silence("e", m, NOW - timedelta(hours=1), NOW, "a", "", NOW)
    active = Silence("a", m, NOW - timedelta(hours=1), NOW + timedelta(seconds=1), "a", "", NOW)
    assert ActiveSilences([pending, expired, active], NOW).holding({"service": "db"}) == ["a"]
