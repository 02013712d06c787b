"""A Markdown postmortem draft of one incident, from a template an operator can override."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta

import jinja2

from daemon.domain import AlertStatus, Kind, TimelineEntry
from daemon.store.base import IncidentView
from daemon.timefmt import iso
from notifiers.render import BUILTIN, TemplateProblem, sample
from rules.durations import format_duration

# The first timeline entry of each kind marks the first time the incident reached that state.
# A resolution is also the latest possible mitigation (as the metrics count it when no mitigation came first).
FIRST = {
    "mtta": (Kind.ACKNOWLEDGED,),
    "mttm": (Kind.MITIGATED, Kind.RESOLVED),
    "mttr": (Kind.RESOLVED,),
}


# Every character that ends a line for a Markdown renderer (or an editor), so a label cannot start a new one.
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def markdown_text(value: object) -> object:
    """What a template writes for one value: text from labels, annotations, titles and timeline lines is inert
    in the Markdown (HTML escaped, line breaks folded into spaces, pipes escaped so a table keeps its cells);
    numbers and the like pass as they are."""
    if not isinstance(value, str):
        return value
    text = html.escape(_LINE_BREAKS.sub(" ", value), quote=False)
    return text.replace("|", "\\|")


def _since(start: datetime, end: datetime | None) -> str:
    if end is None:
        return "—"
    return format_duration(timedelta(seconds=round((end - start).total_seconds())))


class Postmortems:
    def __init__(self, overrides: str | None = None) -> None:
        loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(str(BUILTIN))]
        if overrides:
            loaders.insert(0, jinja2.FileSystemLoader(overrides))
        # Markdown, not HTML, so no autoescape: every value goes through markdown_text instead (overrides too).
        env = jinja2.Environment(  # noqa: S701
            loader=jinja2.ChoiceLoader(loaders),
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            finalize=markdown_text,
        )
        try:
            self._template = env.get_template("postmortem.md.j2")
        except jinja2.TemplateError as exc:
            raise TemplateProblem(f"templates ({overrides}): {exc}") from exc

    def check(self) -> None:
        """Render a made-up incident's postmortem: a broken override shows at start-up."""
        now, incident, alert = sample()
        entry = TimelineEntry(incident.id, now, "tocsin", Kind.DECLARED, "declared")
        try:
            self.render(IncidentView(incident, [alert], [entry]), now)
        except Exception as exc:
            raise TemplateProblem(f"templates: postmortem.md.j2 cannot render: {exc}") from exc

    def render(self, view: IncidentView, now: datetime) -> str:
        incident = view.incident
        firsts: dict[str, datetime | None] = {}
        for name, kinds in FIRST.items():
            firsts[name] = next((e.at for e in view.timeline if e.kind in kinds), None)
        end = incident.resolved_at
        return self._template.render(
            incident={
                "id": incident.id,
                "title": incident.title,
                "severity": incident.severity.value,
                "service": incident.service,
                "state": incident.state.value,
                "commander": incident.commander,
            },
            date=incident.declared_at.strftime("%Y-%m-%d"),
            duration=_since(incident.declared_at, end) if end else f"{_since(incident.declared_at, now)} (ongoing)",
            mtta=_since(incident.declared_at, firsts["mtta"]),
            mttm=_since(incident.declared_at, firsts["mttm"]),
            mttr=_since(incident.declared_at, firsts["mttr"]),
            services=sorted(
                {a.labels.get("service", "") for a in view.alerts} - {""}
                or ({incident.service} if incident.service else set())
            ),
            alerts=[
                {
                    "name": a.name,
                    "fingerprint": a.fingerprint,
                    "severity": a.severity.value,
                    "count": a.count,
                    "starts_at": iso(a.starts_at),
                    "ends_at": iso(a.ends_at) if a.ends_at and a.status is AlertStatus.RESOLVED else None,
                }
                for a in view.alerts
            ],
            firing_episodes=sum(a.count for a in view.alerts),
            timeline=[
                {
                    "at": e.at.strftime("%Y-%m-%d %H:%M:%S"),
                    "actor": e.actor,
                    "kind": e.kind.value,
                    "text": e.text,
                }
                for e in view.timeline
            ],
        )
