"""Label matchers behave as Alertmanager's (prometheus/alertmanager pkg/labels), and severity rules classify by them.

The tables below are ported from Alertmanager's own ``pkg/labels/parse_test.go`` (TestMatchers) and
``pkg/labels/matcher_test.go`` (TestMatcher, TestMatcherString). Alertmanager's ``ParseMatchers`` also takes
a comma-separated list inside optional braces; tocsin's configuration lists one matcher per string, so only
single matchers are ported.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from daemon.config.loader import load_settings
from rules.evaluate import Verdicts, classify, select_route
from rules.matchers import Matcher, MatchType, matches_all, parse_matcher
from rules.models import SeverityRule
from rules.severity import Severity
from tests.support import EXAMPLE, fixture

EQ, NE, RE, NRE = MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEX, MatchType.NOT_REGEX


# --- parsing: name, operator and the unescaped value ------------------------------------------------------------

PARSED = [
    # Alertmanager TestMatchers, one matcher each.
    ('foo="bar"', "foo", EQ, "bar"),
    ('foo=~"bar.*"', "foo", RE, "bar.*"),
    ('foo!="bar"', "foo", NE, "bar"),
    ('foo!~"bar.*"', "foo", NRE, "bar.*"),
    ('baz!~".*quux"', "baz", NRE, ".*quux"),
    ('instance=~"some-api.*"', "instance", RE, "some-api.*"),
    ('foo=""', "foo", EQ, ""),
    ('foo="bar,quux"', "foo", EQ, "bar,quux"),
    ('foo = "bar"', "foo", EQ, "bar"),
    ("dings != bums", "dings", NE, "bums"),
    ("foo=bar", "foo", EQ, "bar"),
    (
        r'quote="She said: \"Hi, ladies! That' + "'" + r's gender-neutral…\""',
        "quote",
        EQ,
        'She said: "Hi, ladies! That\'s gender-neutral…"',
    ),
    ('statuscode=~"5.."', "statuscode", RE, "5.."),
    ("tricky=~~~", "tricky", RE, "~~"),
    (r"trickier==\\=\=\"", "trickier", EQ, r'=\=\="'),
    (r'contains_quote != "\""', "contains_quote", NE, '"'),
    ('contains_comma !~ "foo,bar"', "contains_comma", NRE, "foo,bar"),
    ("foo=bar}", "foo", EQ, "bar}"),
    (r"foo=bar\t", "foo", EQ, r"bar\t"),  # a spurious escape keeps its backslash
    (r"foo=bar\n", "foo", EQ, "bar\n"),
    ("foo=bar\\", "foo", EQ, "bar\\"),  # a trailing lone backslash is literal
    (r"foo=bar\\", "foo", EQ, "bar\\"),
    (r"foo=bar\"", "foo", EQ, 'bar"'),
    ("job=", "job", EQ, ""),
    # The escapes of a quoted value: \" \\ \n, anything else kept as written.
    (r'path="C:\\temp"', "path", EQ, "C:\\temp"),
    (r'msg="line1\nline2"', "msg", EQ, "line1\nline2"),
    (r'digits=~"\d+"', "digits", RE, r"\d+"),
    ('msg="literal\nnewline"', "msg", EQ, "literal\nnewline"),  # a raw line feed is tolerated
    ('  env  =~  "prod|staging"  ', "env", RE, "prod|staging"),
    ('colon:name="x"', "colon:name", EQ, "x"),
    ('_private="x"', "_private", EQ, "x"),
]


@pytest.mark.parametrize(("text", "name", "type_", "value"), PARSED)
def test_parse_matcher_like_alertmanager(text: str, name: str, type_: MatchType, value: str) -> None:
    matcher = parse_matcher(text)
    assert (matcher.name, matcher.type, matcher.value) == (name, type_, value)


BAD = [
    # Alertmanager TestMatchers error cases.
    ('job="value', 'matcher value contains unescaped double quote: "value'),
    ('job=value"', 'matcher value contains unescaped double quote: value"'),
    (r'trickier==\\=\=\""', r'matcher value contains unescaped double quote: =\\=\=\""'),
    ('contains_unescaped_quote = foo"bar', 'matcher value contains unescaped double quote: foo"bar'),
    ('invalid-name = "valid label"', "bad matcher"),
    ('foo=~"invalid[regexp"', "bad regex 'invalid[regexp'"),
    # Double-escaped strings, as a shell or a second YAML layer may leave them.
    (r'"foo=\"bar"', "bad matcher"),
    (r'"foo=\"bar\""', "bad matcher"),
    ('"foo="bar""', "bad matcher"),
    # Not a matcher at all.
    ("", "bad matcher"),
    ("severity", "bad matcher"),
    ('="critical"', "bad matcher"),
    ('9lives="x"', "bad matcher"),
    ('severity<>"critical"', "bad matcher"),
    ('severity=="critical"', "unescaped double quote"),
    ('severity="crit"ical"', "unescaped double quote"),
    ('env=~"prod|(staging"', "bad regex"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_bad_matchers_are_refused_saying_why(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_matcher(text)


@pytest.mark.parametrize(
    "regex",
    [
        "(?=prod)prod",  # lookahead
        "(?!sandbox).*",  # negative lookahead
        "(?<=a)b",  # lookbehind
        "(?<!a)b",  # negative lookbehind
        r"(a)\1",  # backreference
        "(?P<x>a)(?P=x)",  # named backreference
        "(?>ab)",  # atomic group
        "(a)?(?(1)b|c)",  # conditional
        "(?x)prod | staging",  # verbose flag: RE2 has only i, m, s, U
    ],
)
def test_regex_constructs_re2_lacks_are_refused(regex: str) -> None:
    """Alertmanager (Go RE2) rejects these; accepting them would make a rule mean something tocsin-only."""
    with pytest.raises(ValueError, match="RE2"):
        parse_matcher(f'env=~"{regex}"')


# --- matching: the value table of Alertmanager's TestMatcher, on a label "foo" -----------------------------------

MATCHES = [
    ('foo="bar"', "bar", True),
    ('foo="bar"', "foo-bar", False),
    ('foo!="bar"', "bar", False),
    ('foo!="bar"', "foo-bar", True),
    ('foo=~"bar"', "bar", True),
    ('foo=~"bar"', "foo-bar", False),
    ('foo=~".*bar"', "foo-bar", True),
    ('foo!~"bar"', "bar", False),
    ('foo!~"bar"', "foo-bar", True),
    ('foo!~".*bar"', "foo-bar", False),
    ('foo=~"foo.bar"', "foo-bar", True),
    (r'foo=~"foo\.bar"', "foo-bar", False),
    (r'foo=~"foo\.bar"', "foo.bar", True),
    (r'foo="foo\nbar"', "foo\nbar", True),
    ('foo=~"foo.bar"', "foo\nbar", False),  # . does not match a line feed ...
    ('foo=~"(?s)foo.bar"', "foo\nbar", True),  # ... unless the s flag says so
    (r'foo="~!=\""', '~!="', True),
    # Regexes are anchored at both ends, as Alertmanager's ^(?:…)$.
    ('foo=~"bar"', "foobar", False),
    ('foo=~"bar"', "barfoo", False),
    ('foo=~"bar"', "bar\n", False),
    ('foo=~"a|b"', "ab", False),  # the anchors hold the whole alternation, not only its ends
    ('foo=~"a|ab"', "ab", True),
    ('foo!~"a|b"', "ab", True),
    ('foo=~"prod|staging"', "prod", True),
    ('foo=~"prod|staging"', "production", False),
    ('foo=~"(?i)watchdog"', "WatchDog", True),  # a leading flag group, common in Alertmanager configs
    ('foo=~"(?i:crit)ical"', "CRITical", True),
    ('foo=~"(?i:crit)ical"', "CRITICAL", False),
    ('foo=~"5.."', "503", True),
    ('foo=~"5.."', "5034", False),
]


@pytest.mark.parametrize(("text", "value", "expected"), MATCHES)
def test_matches_like_alertmanager(text: str, value: str, expected: bool) -> None:
    assert parse_matcher(text).matches({"foo": value}) is expected


@pytest.mark.parametrize(
    ("text", "on_missing", "on_empty", "on_set"),
    [
        # A missing label has the empty value.
        ('team=""', True, True, False),
        ('team!=""', False, False, True),
        ('team=~".*"', True, True, True),
        ('team=~".+"', False, False, True),
        ('team!~".+"', True, True, False),
        ('team="sandbox"', False, False, False),
        ('team!="sandbox"', True, True, True),
        ('team!~"sandbox|dev"', True, True, True),
        ('team=~"db|"', True, True, True),
    ],
)
def test_missing_label_is_the_empty_value(text: str, on_missing: bool, on_empty: bool, on_set: bool) -> None:
    matcher = parse_matcher(text)
    assert matcher.matches({"alertname": "X"}) is on_missing
    assert matcher.matches({"alertname": "X", "team": ""}) is on_empty
    assert matcher.matches({"alertname": "X", "team": "db"}) is on_set


def test_matchers_all_must_match() -> None:
    matchers = [parse_matcher('severity="critical"'), parse_matcher('env=~"prod|staging"')]
    assert matches_all(matchers, {"severity": "critical", "env": "staging"})
    assert not matches_all(matchers, {"severity": "critical", "env": "dev"})
    assert not matches_all(matchers, {"env": "prod"})
    assert matches_all([], {})


# --- printing: Alertmanager's TestMatcherString, and the printed form parses back --------------------------------


@pytest.mark.parametrize(
    ("type_", "value", "printed"),
    [
        (EQ, "bar", 'foo="bar"'),
        (NE, "bar", 'foo!="bar"'),
        (RE, "bar", 'foo=~"bar"'),
        (NRE, "bar", 'foo!~"bar"'),
        (EQ, "back\\slash", r'foo="back\\slash"'),
        (EQ, 'double"quote', r'foo="double\"quote"'),
        (EQ, "new\nline", r'foo="new\nline"'),
        (EQ, "tab\tstop", 'foo="tab\tstop"'),
        (EQ, "🙂", 'foo="🙂"'),
    ],
)
def test_matcher_prints_as_alertmanager_and_parses_back(type_: MatchType, value: str, printed: str) -> None:
    assert str(Matcher.create("foo", type_, value)) == printed
    again = parse_matcher(printed)
    assert (again.name, again.type, again.value) == ("foo", type_, value)


# --- classify: first match wins -----------------------------------------------------------------------------------


def rule(name: str, severity: str, *matchers: str) -> SeverityRule:
    return SeverityRule.model_validate({"name": name, "matchers": list(matchers), "severity": severity})


def test_first_matching_rule_wins() -> None:
    broad = rule("any-severity", "SEV3", 'severity=~".+"')
    narrow = rule("critical", "SEV1", 'severity="critical"')
    labels = {"alertname": "Down", "severity": "critical"}
    assert classify([broad, narrow], labels) == (Severity.SEV3, "any-severity")
    assert classify([narrow, broad], labels) == (Severity.SEV1, "critical")


def test_rule_without_matchers_matches_everything() -> None:
    rules = [rule("db", "SEV2", 'service="db"'), rule("catch-all", "SEV3")]
    assert classify(rules, {}) == (Severity.SEV3, "catch-all")
    assert classify(rules, {"service": "web"}) == (Severity.SEV3, "catch-all")
    assert classify(rules, {"service": "db"}) == (Severity.SEV2, "db")


def test_no_matching_rule_is_sev4_without_a_rule_name() -> None:
    assert classify([rule("db", "SEV1", 'service="db"')], {"service": "web"}) == (Severity.SEV4, None)
    assert classify([], {"service": "web"}) == (Severity.SEV4, None)


def _fixture_labels(name: str, index: int = 0) -> dict[str, str]:
    labels: dict[str, str] = fixture(name)["body"]["alerts"][index]["labels"]
    return labels


def test_example_rules_on_the_fixture_alerts() -> None:
    rules = load_settings(EXAMPLE, environ={}).severity.rules
    # alertmanager-webhook-1: HighLatency, severity="warning", env="prod".
    warning = _fixture_labels("alertmanager-webhook-1.json")
    assert warning["severity"] == "warning"
    assert classify(rules, warning) == (Severity.SEV3, "warning")
    # alertmanager-webhook-2: HighErrorRate, severity="critical", env="prod".
    critical = _fixture_labels("alertmanager-webhook-2.json")
    assert (critical["severity"], critical["env"]) == ("critical", "prod")
    assert classify(rules, critical) == (Severity.SEV1, "prod-critical")
    # The same alerts elsewhere or otherwise labelled.
    assert classify(rules, {**critical, "env": "staging"}) == (Severity.SEV2, "critical")
    assert classify(rules, {k: v for k, v in critical.items() if k != "env"}) == (Severity.SEV2, "critical")
    assert classify(rules, {**critical, "severity": "error"}) == (Severity.SEV2, "critical")
    assert classify(rules, {**critical, "severity": "page"}) == (Severity.SEV2, "critical")
    assert classify(rules, {**critical, "severity": "Critical"}) == (Severity.SEV4, "default")
    assert classify(rules, {**warning, "severity": "info"}) == (Severity.SEV4, "default")
    assert classify(rules, {k: v for k, v in warning.items() if k != "severity"}) == (Severity.SEV4, "default")


RULES = [
    SeverityRule(name="prod-critical", matchers=['severity="critical"', 'env="prod"'], severity="SEV1"),
    SeverityRule(name="critical", matchers=['severity=~"critical|page|error"'], severity="SEV2"),
    SeverityRule(name="not-staging", matchers=['env!="staging"', 'team!~"sand.*"'], severity="SEV3"),
    SeverityRule(name="default", severity="SEV4"),
]
VALUES = st.sampled_from(["", "critical", "page", "prod", "staging", "sandbox", "sand", "x" * 600])
LABEL_SETS = st.dictionaries(st.sampled_from(["severity", "env", "team", "instance"]), VALUES)


@settings(max_examples=300, deadline=None)
@given(st.lists(LABEL_SETS, min_size=1, max_size=40))
def test_kept_verdicts_are_the_rules_verdicts(label_sets: list[dict[str, str]]) -> None:
    # Verdicts kept by the values of the labels the rules name agree with the rules read afresh, in any order,
    # for labels the rules don't name (instance), missing labels and values too long to keep.
    verdicts = Verdicts(RULES)
    for labels in label_sets + label_sets:
        assert verdicts(labels) == classify(RULES, labels)


def test_example_routes_pick_the_policy() -> None:
    routes = load_settings(EXAMPLE, environ={}).routes
    labels = _fixture_labels("alertmanager-webhook-2.json")

    def policy(severity: Severity, labels: dict[str, str]) -> str | None:
        route = select_route(routes, severity, labels)
        return None if route is None else route.policy

    assert policy(Severity.SEV1, labels) == "page-hard"
    assert policy(Severity.SEV2, {**labels, "team": "sandbox"}) == "page-hard"  # severities come first
    assert policy(Severity.SEV3, {**labels, "team": "sandbox"}) == "page-soft"
    assert policy(Severity.SEV3, labels) == "page-soft"
    assert select_route(routes[:2], Severity.SEV3, labels) is None


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("env=prod,team=db", "several matchers"),  # Alertmanager would read two matchers: refuse, don't guess
        ('name=~"[[:alpha:]]+"', "POSIX class"),  # Python would read a character set, not RE2's class
    ],
)
def test_ambiguous_matchers_are_refused(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_matcher(text)


def test_quoted_value_may_hold_commas() -> None:
    assert parse_matcher('env="prod,team=db"').value == "prod,team=db"
