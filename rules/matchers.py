"""Label matchers in Alertmanager's syntax: ``name="value"``, ``!=``, ``=~``, ``!~``.

Semantics follow Alertmanager's ``pkg/labels``: a missing label has the empty value (so
``team=""`` matches alerts without ``team``), regular expressions are fully anchored, and
quoted values take the escapes ``\\"``, ``\\\\`` and ``\\n``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

# Alertmanager's classic matcher grammar (pkg/labels/parse.go).
_MATCHER = re.compile(r"^\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(=~|=|!=|!~)\s*(.*?)\s*$", re.DOTALL)
# Constructs Python accepts but Go's RE2 (Alertmanager's engine) rejects; refusing them keeps a rule
# meaning the same thing in tocsin and in Alertmanager: lookaround, backreferences, atomic groups,
# conditionals and the flags RE2 lacks (a, L, u, x).
_NOT_RE2 = re.compile(r"\(\?<?[=!]|\(\?P=|\\[1-9]|\(\?>|\(\?\(|\(\?[a-zA-Z-]*[aLux]")


# An unquoted value that holds ", name=" is almost surely two matchers written as one.
_SEVERAL = re.compile(r",\s*[a-zA-Z_:][a-zA-Z0-9_:]*\s*(=~|=|!=|!~)")


class MatchType(Enum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    type: MatchType
    value: str
    _regex: re.Pattern[str] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def create(cls, name: str, type_: MatchType, value: str) -> Matcher:
        regex = None
        if type_ in (MatchType.REGEX, MatchType.NOT_REGEX):
            if _NOT_RE2.search(value):
                raise ValueError(
                    f"regex {value!r} uses lookaround, backreferences, atomic groups, conditionals "
                    "or flags that Alertmanager's RE2 lacks"
                )
            if "[[:" in value:
                # Python reads [[:alpha:]] as a set of characters, not RE2's POSIX class: it would match wrongly.
                raise ValueError(f"regex {value!r} uses a POSIX class ([[:…:]]); write the set out, e.g. [a-zA-Z]")
            try:
                # Bare, so that leading flags such as (?i) stay legal; fullmatch anchors it as RE2's ^(?:…)$.
                regex = re.compile(value)
            except re.error as exc:
                raise ValueError(f"bad regex {value!r}: {exc}") from None
        return cls(name, type_, value, regex)

    def matches(self, labels: Mapping[str, str]) -> bool:
        actual = labels.get(self.name, "")
        if self.type is MatchType.EQUAL:
            return actual == self.value
        if self.type is MatchType.NOT_EQUAL:
            return actual != self.value
        assert self._regex is not None
        hit = self._regex.fullmatch(actual) is not None
        return hit if self.type is MatchType.REGEX else not hit

    def __str__(self) -> str:
        escaped = self.value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'{self.name}{self.type.value}"{escaped}"'


def _unquote(raw: str) -> str:
    """Alertmanager's unescaping of a matcher value, quoted or not."""
    original = raw
    expect_trailing_quote = raw.startswith('"')
    if expect_trailing_quote:
        raw = raw[1:]
    out: list[str] = []
    escaped = False
    for i, ch in enumerate(raw):
        if escaped:
            escaped = False
            if ch == "n":
                out.append("\n")
            elif ch in ('"', "\\"):
                out.append(ch)
            else:  # a spurious escape keeps its backslash
                out.append("\\" + ch)
            continue
        if ch == "\\":
            if i < len(raw) - 1:
                escaped = True
                continue
            out.append("\\")
        elif ch == '"':
            if not expect_trailing_quote or i < len(raw) - 1:
                raise ValueError(f"matcher value contains unescaped double quote: {original}")
            expect_trailing_quote = False
        else:
            out.append(ch)
    if expect_trailing_quote:
        raise ValueError(f"matcher value contains unescaped double quote: {original}")
    return "".join(out)


def parse_matcher(text: str) -> Matcher:
    """Parse one matcher such as ``env=~"prod|staging"``; raises ValueError saying why not."""
    match = _MATCHER.match(text)
    if match is None:
        raise ValueError(f'bad matcher {text!r} (expected e.g. severity="critical", env=~"prod|staging")')
    name, op, raw = match.groups()
    if not raw.startswith('"') and _SEVERAL.search(raw):
        # Alertmanager reads `a=1,b=2` as two matchers; one per list item here, so say so instead of guessing.
        raise ValueError(f"{text!r} looks like several matchers: give one per list item")
    return Matcher.create(name, MatchType(op), _unquote(raw))


def matches_all(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in matchers)
