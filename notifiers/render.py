"""Turn the engine's notification intents into messages, from Jinja templates an operator can override."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2

from daemon.domain import Alert, AlertStatus, Incident, Notification, NotifyReason
from daemon.engine.state import NotifyIntent, Slice
from daemon.links import sign

BUILTIN = Path(__file__).parent / "templates"
TOP_ALERTS = 5  # alerts named in a page; the rest are counted

HEADLINES = {
    NotifyReason.ESCALATION: "page",
    NotifyReason.ACKNOWLEDGED: "acknowledged",
    NotifyReason.MITIGATED: "mitigated",
    NotifyReason.RESOLVED: "resolved",
    NotifyReason.REOPENED: "reopened",
    NotifyReason.SEVERITY_CHANGED: "severity changed",
    NotifyReason.STATUS_UPDATE: "status update",
    NotifyReason.REMINDER: "status update due",
}


class Renderer:
    def __init__(self, public_url: str, link_secret: bytes, link_ttl: timedelta, overrides: str | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = []
        if overrides:
            loaders.append(jinja2.FileSystemLoader(overrides))
        loaders.append(jinja2.FileSystemLoader(str(BUILTIN)))
        # Plain text, so no HTML escaping; a typo in a template fails loudly at start-up, not at 3 a.m.
        self._env = jinja2.Environment(
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=False,
            autoescape=False,  # noqa: S701 - plain-text messages, never HTML
        )
        self._title = self._env.get_template("title.txt.j2")
        self._body = self._env.get_template("body.txt.j2")
        self.public_url = public_url.rstrip("/")
        self._secret = link_secret
        self._ttl = link_ttl

    def incident_url(self, incident_id: str) -> str:
        return f"{self.public_url}/api/v1/incidents/{incident_id}"

    def ack_url(self, incident_id: str, now: datetime) -> str:
        return f"{self.public_url}/ack/{sign(self._secret, incident_id, now + self._ttl)}"

    def context(self, intent: NotifyIntent, incident: Incident, alerts: list[Alert], now: datetime) -> dict[str, Any]:
        firing = [a for a in alerts if a.status is AlertStatus.FIRING]
        shown = sorted(firing, key=lambda a: (a.severity.rank, a.starts_at))[:TOP_ALERTS]
        return {
            "reason": intent.reason.value,
            "headline": HEADLINES[intent.reason],
            "note": intent.note,
            "level": intent.level,
            "round": intent.round,
            "incident": {
                "id": incident.id,
                "title": incident.title,
                "severity": incident.severity.value,
                "state": incident.state.value,
                "service": incident.service,
                "commander": incident.commander,
            },
            "firing": len(firing),
            "alerts": [
                {
                    "name": a.name,
                    "summary": a.annotations.get("summary", ""),
                    "runbook": a.annotations.get("runbook_url") or a.annotations.get("runbook", ""),
                    "generator_url": a.generator_url,
                }
                for a in shown
            ],
            "more": max(0, len(firing) - len(shown)),
            "incident_url": self.incident_url(incident.id),
            "ack_url": self.ack_url(incident.id, now) if incident.state.value == "triggered" else "",
        }

    def render(self, intent: NotifyIntent, s: Slice, now: datetime) -> Notification:
        incident = s.incidents[intent.incident_id]
        alerts = [a for a in s.alerts.values() if a.incident_id == incident.id]
        ctx = self.context(intent, incident, alerts, now)
        return Notification(
            key=intent.key,
            incident_id=incident.id,
            reason=intent.reason,
            channels=list(intent.channels),
            title=self._title.render(ctx).strip(),
            body=self._body.render(ctx).strip() + "\n",
            created_at=now,
            severity=incident.severity,
            level=intent.level,
            round=intent.round,
            next_attempt_at=now,
        )
