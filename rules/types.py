"""Pydantic field types shared by the rule, policy and settings models."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, InstanceOf, PlainSerializer

from rules.durations import format_duration, parse_duration
from rules.matchers import Matcher, parse_matcher
from rules.severity import Severity

_CHANNEL = re.compile(r"^[A-Za-z0-9_-]+$")
# A level's notify entry: a channel tag, the person on call of a rotation, or a person by name.
_TARGET = re.compile(r"^(?:[A-Za-z0-9_-]+|oncall:[a-z0-9_]+/[a-z0-9_]+|person:[a-z0-9_]+)$")


def _duration(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and value == 0:
        return timedelta(0)
    if not isinstance(value, str):
        raise ValueError(f"bad duration {value!r} (expected a string such as 30s, 5m, 1h30m)")
    return parse_duration(value)


def _severity(value: Any) -> Severity:
    if isinstance(value, Severity):
        return value
    if not isinstance(value, str):
        raise ValueError(f"unknown severity {value!r} (expected SEV1, SEV2, SEV3 or SEV4)")
    return Severity.parse(value)


def _matcher(value: Any) -> Matcher:
    if isinstance(value, Matcher):
        return value
    if not isinstance(value, str):
        raise ValueError(f'bad matcher {value!r} (expected a string such as severity="critical")')
    return parse_matcher(value)


def _channel(value: str) -> str:
    if not _CHANNEL.match(value):
        raise ValueError(f"bad channel name {value!r} (letters, digits, '-' and '_' only)")
    return value


def _target(value: str) -> str:
    if not _TARGET.match(value):
        raise ValueError(f"bad notify target {value!r} (a channel tag, oncall:<schedule>/<rotation> or person:<name>)")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration), PlainSerializer(format_duration, return_type=str)]
SeverityField = Annotated[Severity, BeforeValidator(_severity), PlainSerializer(str, return_type=str)]
MatcherField = Annotated[InstanceOf[Matcher], BeforeValidator(_matcher), PlainSerializer(str, return_type=str)]
ChannelName = Annotated[str, AfterValidator(_channel)]
Target = Annotated[str, AfterValidator(_target)]
