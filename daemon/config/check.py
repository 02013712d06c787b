"""`tocsin check-config`: the settings, the Apprise file they name, and what refers to what."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from daemon.config.exposure import exposure_problems, is_loopback_host
from daemon.config.settings import Settings
from daemon.http.tls import TlsProblem, server_context
from notifiers.channels import ChannelError, Channels, load_channels
from notifiers.postmortem import Postmortems
from notifiers.render import Renderer, TemplateProblem
from rules.oncall import parse_target
from rules.rotation import rotation_segments


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    channels: Channels | None = None


GAP_HORIZON = timedelta(days=28)


def check(settings: Settings, now: datetime | None = None) -> Report:
    report = Report()
    report.warnings.extend(rotation_gaps(settings, now or datetime.now(UTC)))
    refs = settings.channel_references()
    if settings.channels is None:
        if refs:
            report.problems.append(f"channels: not set, but {refs[0][0]} names channel {refs[0][1]!r}")
    else:
        try:
            report.channels = load_channels(settings.channels)
        except ChannelError as exc:
            report.problems.extend(exc.problems)
        else:
            for key, channel in refs:
                if not report.channels.has(channel):
                    known = ", ".join(sorted(report.channels.tags)) or "none"
                    report.problems.append(
                        f"{key}: channel {channel!r} is no tag in {settings.channels} (tags: {known})"
                    )
    try:
        Renderer(settings.public_url, b"check", settings.link_ttl, settings.templates).check()
        Postmortems(settings.templates).check()
    except TemplateProblem as exc:
        report.problems.append(str(exc))
    report.problems.extend(exposure_problems(settings))
    if settings.tls.enabled:
        try:
            server_context(settings.tls)
        except TlsProblem as exc:
            report.problems.append(str(exc))
    report.warnings.extend(silent_setups(settings))
    if not settings.api_tokens:
        report.warnings.append("api_tokens is empty: every /api/v1 call will be refused")
    if not settings.sources.alertmanager.tokens:
        report.warnings.append("sources.alertmanager.tokens is empty: the Alertmanager webhook accepts anyone")
    if settings.link_secret is None:
        report.warnings.append("link_secret is not set: acknowledge links stop working when tocsin restarts")
    return report


def rotation_gaps(settings: Settings, now: datetime) -> list[str]:
    """One warning per rotation a policy pages that has time with nobody on call in the next 28 days."""
    named: dict[tuple[str, str], str] = {}
    for policy_name, policy in settings.policies.items():
        for i, level in enumerate(policy.levels):
            for target in level.notify:
                kind, schedule_name, rotation_name = parse_target(target)
                if kind == "oncall":
                    named.setdefault((schedule_name, rotation_name), f"policies.{policy_name}.levels[{i}].notify")
    warnings = []
    for (schedule_name, rotation_name), key in named.items():
        schedule = settings.schedules[schedule_name]
        found = rotation_segments(schedule.rotations[rotation_name], schedule.timezone, now, now + GAP_HORIZON)
        gaps = [s for s in found if s.person is None]
        if gaps:
            first = gaps[0].start.strftime("%Y-%m-%dT%H:%MZ")
            warnings.append(
                f"{key}: oncall:{schedule_name}/{rotation_name} has nobody on call from {first}"
                f" ({len(gaps)} gap{'s' if len(gaps) != 1 else ''} in the next 28 days)"
            )
    return warnings


def silent_setups(settings: Settings) -> list[str]:
    """Configurations that run but would page nobody, or hand out links that lead nowhere."""
    warnings = []
    if settings.channels is None:
        warnings.append("channels is not set: nothing will page anyone (no notification can be sent)")
    if not settings.routes:
        warnings.append("routes is empty: no incident will page anyone")
    listen_host, _, listen_port = settings.listen.rpartition(":")
    url = urlsplit(settings.public_url)
    public_port = url.port or (443 if url.scheme == "https" else 80)
    host = (url.hostname or "").strip("[]")
    # Behind a proxy the ports may well differ; on loopback or the listen host itself they should not.
    if str(public_port) != listen_port and (host == listen_host.strip("[]") or is_loopback_host(host)):
        warnings.append(
            f"public_url {settings.public_url} names port {public_port} but tocsin listens on {settings.listen}: "
            "links in notifications (acknowledge, incident) will not reach it"
        )
    return warnings
