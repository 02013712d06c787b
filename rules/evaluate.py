"""Pure evaluation of severity rules, raises and routes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rules.matchers import matches_all
from rules.models import Route, SeverityRule
from rules.severity import Severity

# An alert that no rule matches is the mildest severity: kept and listed, never declared by itself.
UNMATCHED = Severity.SEV4


def classify(rules: Sequence[SeverityRule], labels: Mapping[str, str]) -> tuple[Severity, str | None]:
    """First matching rule wins; returns the severity and the rule's name (None when nothing matched)."""
    for rule in rules:
        if matches_all(rule.matchers, labels):
            return rule.severity, rule.name
    return UNMATCHED, None


class Verdicts:
    """``classify`` for one list of rules, kept by the values of the labels those rules name: a storm's alerts
    differ in their instance, not in what decides their severity. A missing label matches as the empty value
    (as in Alertmanager), so those values are all a verdict depends on; bounded, as labels are the sender's."""

    CAPACITY = 4096
    MAX_KEY_CHARS = 512  # longer values are classified each time rather than kept

    def __init__(self, rules: Sequence[SeverityRule]) -> None:
        self.rules = rules
        self._names = tuple(sorted({m.name for rule in rules for m in rule.matchers}))
        self._kept: dict[tuple[str, ...], tuple[Severity, str | None]] = {}

    def __call__(self, labels: Mapping[str, str]) -> tuple[Severity, str | None]:
        key = tuple([labels.get(name, "") for name in self._names])
        found = self._kept.get(key)
        if found is None:
            found = classify(self.rules, labels)
            if sum(map(len, key)) <= self.MAX_KEY_CHARS:
                if len(self._kept) >= self.CAPACITY:
                    self._kept.clear()
                self._kept[key] = found
        return found


def select_route(routes: Sequence[Route], severity: Severity, labels: Mapping[str, str]) -> Route | None:
    """First route whose severities (if any) include ``severity`` and whose matchers all match."""
    for route in routes:
        if route.severities and severity not in route.severities:
            continue
        if matches_all(route.matchers, labels):
            return route
    return None
