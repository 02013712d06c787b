"""The timeline lines a notification earns: what was sent where, and what failed."""

from __future__ import annotations

from datetime import datetime

from daemon.domain import Kind, Notification, NotifyReason, TimelineEntry
from notifiers.sender import ChannelOutcome

ACTOR = "tocsin"


def describe(n: Notification) -> str:
    if n.reason is NotifyReason.ESCALATION:
        return f"page level {n.level} (round {n.round})"
    return n.reason.value.replace("_", " ")


def line(n: Notification, now: datetime, kind: Kind, text: str) -> TimelineEntry:
    return TimelineEntry(n.incident_id, now, ACTOR, kind, f"{describe(n)}: {text}")


def why_failed(o: ChannelOutcome) -> str:
    """``no Apprise URL has this tag``, or how many URLs of the channel failed and which (Apprise's privacy form)."""
    if o.outcome == "no_match":
        return "no Apprise URL has this tag"
    total = len(o.urls)
    sent = sum(1 for u in o.urls if u.outcome == "sent")
    bad = ", ".join(f"{u.url} ({u.outcome})" for u in o.urls if u.outcome != "sent") or "no result"
    return f"{o.outcome}, {sent} of {total} delivered; {bad}"


def timeline_for(n: Notification, outcomes: list[ChannelOutcome], now: datetime) -> list[TimelineEntry]:
    entries = []
    for o in outcomes:
        total = len(o.urls)
        sent = sum(1 for u in o.urls if u.outcome == "sent")
        if o.outcome == "sent":
            text = f"{describe(n)} → {o.channel}: delivered to {sent} of {total} URL{'s' if total != 1 else ''}"
            entries.append(TimelineEntry(n.incident_id, now, ACTOR, Kind.NOTIFIED, text))
        else:
            text = f"{describe(n)} → {o.channel}: {why_failed(o)}"
            entries.append(TimelineEntry(n.incident_id, now, ACTOR, Kind.NOTIFICATION_FAILED, text))
    return entries
