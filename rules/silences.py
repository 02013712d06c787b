"""Silences with Alertmanager's semantics: matchers and a time range; states pending, active and expired.

Pure: what a silence is, which state it is in at a time, whether it matches labels, how a post (new or update)
becomes stored silences, and Alertmanager's listing order and filter. The HTTP layer speaks API v2; the store
keeps the results.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from rules.matchers import Matcher, MatchType, matches_all


class SilenceState(StrEnum):
    PENDING = "pending"
    ACTIVE = "active"
    EXPIRED = "expired"


class BadSilence(ValueError):
    """A silence Alertmanager would refuse (400 on /api/v2)."""


@dataclass(frozen=True, slots=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str
    updated_at: datetime

    def state(self, now: datetime) -> SilenceState:
        if self.ends_at <= now:
            return SilenceState.EXPIRED
        if self.starts_at > now:
            return SilenceState.PENDING
        return SilenceState.ACTIVE

    def silences(self, labels: Mapping[str, str], now: datetime) -> bool:
        return self.state(now) is SilenceState.ACTIVE and matches_all(self.matchers, labels)


def matcher_of(name: str, value: str, is_regex: bool, is_equal: bool = True) -> Matcher:
    kind = {
        (False, True): MatchType.EQUAL,
        (False, False): MatchType.NOT_EQUAL,
        (True, True): MatchType.REGEX,
        (True, False): MatchType.NOT_REGEX,
    }[(is_regex, is_equal)]
    return Matcher.create(name, kind, value)


def matcher_json(m: Matcher) -> dict[str, Any]:
    return {
        "name": m.name,
        "value": m.value,
        "isRegex": m.type in (MatchType.REGEX, MatchType.NOT_REGEX),
        "isEqual": m.type in (MatchType.EQUAL, MatchType.REGEX),
    }


def validate(matchers: Sequence[Matcher], starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    """Alertmanager's checks on a posted silence."""
    if not matchers:
        raise BadSilence("at least one matcher required")
    if all(m.matches({}) for m in matchers):
        raise BadSilence("at least one matcher must not match the empty string")
    if ends_at <= starts_at:
        raise BadSilence("end time must not be before start time")
    if ends_at < now:
        raise BadSilence("end time can't be in the past")


def post(
    existing: Silence | None,
    matchers: tuple[Matcher, ...],
    starts_at: datetime,
    ends_at: datetime,
    created_by: str,
    comment: str,
    now: datetime,
) -> list[Silence]:
    """What a POST makes of the store: the silences to write (the answer's id is the last one's).

    As Alertmanager 0.25's Silences.Set: an update keeps its id when the matchers are the same and the times
    allow it (an active silence keeps its start and does not end in the past; a pending one does not start in
    the past); otherwise a silence not yet expired is expired and a new one, with a new id, is made. A new
    silence starting in the past starts now."""
    validate(matchers, starts_at, ends_at, now)
    out: list[Silence] = []
    if existing is not None:
        state = existing.state(now)
        if existing.matchers == matchers and (
            (state is SilenceState.ACTIVE and starts_at == existing.starts_at and ends_at >= now)
            or (state is SilenceState.PENDING and starts_at >= now)
        ):
            return [Silence(existing.id, matchers, starts_at, ends_at, created_by, comment, now)]
        if state is not SilenceState.EXPIRED:
            out.append(expire(existing, now))
    out.append(Silence(str(uuid.uuid4()), matchers, max(starts_at, now), ends_at, created_by, comment, now))
    return out


def expire(silence: Silence, now: datetime) -> Silence:
    """Ended now; a pending one also gets its start moved to now, as Alertmanager does."""
    if silence.state(now) is SilenceState.EXPIRED:
        return silence
    return replace(silence, starts_at=min(silence.starts_at, now), ends_at=now, updated_at=now)


def listed(silences: Iterable[Silence], now: datetime, filters: Sequence[Matcher] = ()) -> list[Silence]:
    """Active first (soonest end first), then pending (soonest start), then expired (latest end first); a filter
    keeps a silence only if it holds an identical matcher for each filter matcher."""
    kept = [s for s in silences if all(f in s.matchers for f in filters)]
    rank = {SilenceState.ACTIVE: 0, SilenceState.PENDING: 1, SilenceState.EXPIRED: 2}

    def key(s: Silence) -> tuple[int, float]:
        state = s.state(now)
        if state is SilenceState.ACTIVE:
            return rank[state], s.ends_at.timestamp()
        if state is SilenceState.PENDING:
            return rank[state], s.starts_at.timestamp()
        return rank[state], -s.ends_at.timestamp()

    return sorted(kept, key=key)
