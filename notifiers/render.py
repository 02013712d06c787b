"""Turn the engine's notification intents into messages, from Jinja templates an operator can override."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import structlog

from daemon.domain import Alert, AlertStatus, Incident, Notification, NotifyReason, Source, State
from daemon.engine.state import NotifyIntent, Slice, passed_while_down
from daemon.links import sign
from rules.durations import spoken_duration
from rules.severity import Severity

log = structlog.get_logger("tocsin.notifier")
BUILTIN = Path(__file__).parent / "templates"
TOP_ALERTS = 5  # alerts named in a page; the rest are counted

HEADLINES = {
    NotifyReason.ESCALATION: "page",
    NotifyReason.ACKNOWLEDGED: "acknowledged",
    NotifyReason.MITIGATED: "mitigated",
    NotifyReason.RESOLVED: "resolved",
    NotifyReason.SEVERITY_CHANGED: "severity changed",
    NotifyReason.STATUS_UPDATE: "status update",
    NotifyReason.REMINDER: "status update due",
    NotifyReason.HANDOFF: "on call soon",
}


class TemplateProblem(Exception):
    """An operator's template that cannot render a message."""


def _environment(overrides: str | None) -> jinja2.Environment:
    loaders: list[jinja2.BaseLoader] = []
    if overrides:
        loaders.append(jinja2.FileSystemLoader(overrides))
    loaders.append(jinja2.FileSystemLoader(str(BUILTIN)))
    # Plain text, so no HTML escaping; StrictUndefined so that a typo shows in the start-up check.
    return jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # noqa: S701 - plain-text messages, never HTML
    )


def sample() -> tuple[datetime, Incident, Alert]:
    """A made-up incident with one firing alert, for rendering templates at start-up and in check-config."""
    now = datetime(2026, 1, 1, tzinfo=UTC)
    alert = Alert(
        fingerprint="check",
        source=Source.ALERTMANAGER,
        status=AlertStatus.FIRING,
        labels={"alertname": "Check", "service": "checkout"},
        annotations={"summary": "a check", "runbook_url": "https://runbooks.example/check"},
        starts_at=now,
        ends_at=None,
        generator_url="http://prometheus/graph",
        severity=Severity.SEV1,
        rule="check",
        correlation_key='{service="checkout"}',
        received_at=now,
        incident_id="INC-2026-0001",
    )
    incident = Incident(
        id="INC-2026-0001",
        title="Check on checkout",
        severity=Severity.SEV1,
        state=State.TRIGGERED,
        service="checkout",
        labels=dict(alert.labels),
        correlation_key=alert.correlation_key,
        declared_at=now,
        source=Source.ALERTMANAGER,
        firing_alerts=1,
        alert_count=1,
    )
    return now, incident, alert


class Renderer:
    def __init__(self, public_url: str, link_secret: bytes, link_ttl: timedelta, overrides: str | None = None) -> None:
        env = _environment(overrides)
        try:
            self._title = env.get_template("title.txt.j2")
            self._body = env.get_template("body.txt.j2")
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"templates ({overrides}): {exc}") from exc
        # The built-in templates stand in, at run time, for an override that fails on some incident.
        builtin = _environment(None)
        self._fallback = (builtin.get_template("title.txt.j2"), builtin.get_template("body.txt.j2"))
        self.public_url = public_url.rstrip("/")
        self._secret = link_secret
        self._ttl = link_ttl

    def check(self) -> None:
        """Render every kind of message for a made-up incident: a template that fails shows now, not at 3 a.m."""
        now, incident, alert = sample()
        for reason in NotifyReason:
            # Each kind of page too: level 0 of a reopened incident, a later level after minutes unanswered.
            intents = [NotifyIntent("check", incident.id, reason, ("check",), 0, 1, "a note", ((1, 0),))]
            if reason is NotifyReason.ESCALATION:
                intents.append(NotifyIntent("check", incident.id, reason, ("check",), 0, 1, reopened="Reopened by x"))
                later = now - timedelta(minutes=5)
                intents.append(NotifyIntent("check", incident.id, reason, ("check",), 1, 2, unacknowledged_since=later))
            for intent in intents:
                ctx = self.context(intent, incident, [alert], now)
                for name, template in (("title.txt.j2", self._title), ("body.txt.j2", self._body)):
                    try:
                        template.render(ctx)
                    except Exception as exc:
                        raise TemplateProblem(
                            f"templates: {name} cannot render a {reason.value} message: {exc}"
                        ) from exc

    def incident_url(self, incident_id: str) -> str:
        return f"{self.public_url}/incidents/{incident_id}"  # the board's page (through sign-in)

    def ack_url(self, incident: Incident, now: datetime, person: str | None = None) -> str:
        token = sign(self._secret, incident.id, now + self._ttl, incident.episode, person)
        return f"{self.public_url}/ack/{token}"

    def context(self, intent: NotifyIntent, incident: Incident, alerts: list[Alert], now: datetime) -> dict[str, Any]:
        firing = [a for a in alerts if a.status is AlertStatus.FIRING]
        shown = sorted(firing, key=lambda a: (a.severity.rank, a.starts_at, a.name))[:TOP_ALERTS]
        return {
            "reason": intent.reason.value,
            "headline": HEADLINES[intent.reason],
            "note": intent.note,
            "level": intent.level,
            "round": intent.round,
            # A later level or round: how long nobody has acknowledged ("5m", "1h 5m"); "" otherwise.
            "unacknowledged_for": spoken_duration(now - intent.unacknowledged_since)
            if intent.unacknowledged_since is not None
            else "",
            # Level 0 of a reopened incident: "Reopened by dave: …" or "Reopened: <alert> fired again …"; "" otherwise.
            "reopened": intent.reopened,
            # A later step of a person's own ladder: whose, and which (0 otherwise).
            "person": intent.person or "",
            "person_step": intent.person_step,
            "incident": {
                "id": incident.id,
                "title": incident.title,
                "severity": incident.severity.value,
                "state": incident.state.value,
                "service": incident.service,
                "commander": incident.commander,
                "source": str(incident.source),  # "manual" for an incident declared by hand
            },
            # The incident's own count: this decision may have loaded only some of its alerts.
            "firing": max(incident.firing_alerts, len(firing)),
            "alerts": [
                {
                    "name": a.name,
                    "summary": a.annotations.get("summary", ""),
                    "runbook": a.annotations.get("runbook_url") or a.annotations.get("runbook", ""),
                    "generator_url": a.generator_url,
                }
                for a in shown
            ],
            "more": max(0, incident.firing_alerts - len(shown)),
            "incident_url": self.incident_url(incident.id),
            "ack_url": self.ack_url(incident, now, intent.person) if incident.state.value == "triggered" else "",
            # A catch-up page after downtime names the ladder steps that passed unpaged ("" otherwise).
            "passed_while_down": passed_while_down(intent.skipped) if intent.skipped else "",
        }

    def render(self, intent: NotifyIntent, s: Slice, now: datetime) -> Notification:
        if intent.reason is NotifyReason.HANDOFF:
            return self._handoff(intent, now)
        incident = s.incidents[intent.incident_id]
        alerts = [a for a in s.alerts.values() if a.incident_id == incident.id]
        ctx = self.context(intent, incident, alerts, now)
        try:
            title, body = self._title.render(ctx).strip(), self._body.render(ctx).strip() + "\n"
        except Exception:
            # A page must never be lost to a template: log it and send the built-in message instead.
            log.exception("template_failed", incident=incident.id, reason=intent.reason.value)
            title, body = self._fallback[0].render(ctx).strip(), self._fallback[1].render(ctx).strip() + "\n"
        return Notification(
            key=intent.key,
            incident_id=incident.id,
            reason=intent.reason,
            channels=list(intent.channels),
            title=title,
            body=body,
            created_at=now,
            severity=incident.severity,
            level=intent.level,
            round=intent.round,
            next_attempt_at=now,
            escalation_step=intent.escalation_step,
        )

    def _handoff(self, intent: NotifyIntent, now: datetime) -> Notification:
        """A handoff notice belongs to no incident: the engine wrote its title and body (first line, the rest)."""
        title, _, body = intent.note.partition("\n")
        return Notification(
            key=intent.key,
            incident_id=intent.incident_id,
            reason=intent.reason,
            channels=list(intent.channels),
            title=title,
            body=f"{body}\nOn call: {self.public_url}/oncall\n",
            created_at=now,
            severity=Severity.SEV4,
            next_attempt_at=now,
        )
