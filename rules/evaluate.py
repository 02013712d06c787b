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


def select_route(routes: Sequence[Route], severity: Severity, labels: Mapping[str, str]) -> Route | None:
    """First route whose severities (if any) include ``severity`` and whose matchers all match."""
    for route in routes:
        if route.severities and severity not in route.severities:
            continue
        if matches_all(route.matchers, labels):
            return route
    return None
