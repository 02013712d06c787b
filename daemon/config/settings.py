"""tocsin's settings: one typed model for tocsin.yml, every key overridable from TOCSIN_* variables."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import Field, IPvAnyNetwork, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rules.models import Policy, Route, SeverityConfig, StrictModel
from rules.oncall import MaintenanceWindow, Name, Person, Schedule, parse_target
from rules.severity import Severity
from rules.types import ChannelName, Duration, SeverityField

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MiB = 1024 * 1024
# More workers than this mostly wait for one another: they share one store, and on SQLite one writer at a time.
AUTO_WORKERS_MAX = 4


def auto_workers(cgroups: Path = Path("/sys/fs/cgroup"), own: Path = Path("/proc/self/cgroup")) -> int:
    """``workers: auto``: the CPU cores this process may run on (its affinity, a container's cpuset, and the CPU
    limit of its cgroup or any above it, rounded up: Kubernetes' ``limits.cpu``, systemd's ``CPUQuota=``; cgroup
    v2 only), at most AUTO_WORKERS_MAX."""
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not on Linux, or not allowed to ask
        cores = os.cpu_count() or 1
    limit = cpu_limit(cgroups, own)
    if limit is not None:
        cores = min(cores, limit)
    return max(1, min(cores, AUTO_WORKERS_MAX))


def cpu_limit(cgroups: Path, own: Path) -> int | None:
    """The tightest ``cpu.max`` from this process's cgroup up to the root, in cores rounded up; None if none."""
    try:
        lines = own.read_text().splitlines()
        relative = next(line.split(":", 2)[2] for line in lines if line.startswith("0::")).strip().lstrip("/")
    except (OSError, StopIteration, IndexError):
        relative = ""
    limits: list[int] = []
    folder = cgroups / relative
    while True:
        try:
            quota, period = (folder / "cpu.max").read_text().split()[:2]
            if quota != "max":
                limits.append(-(-int(quota) // int(period)))
        except (OSError, ValueError):
            pass  # no limit here
        if folder == cgroups or cgroups not in folder.parents:
            break
        folder = folder.parent
    return min(limits) if limits else None


class AlertmanagerSource(StrictModel):
    # Compared with the Bearer credentials or the basic_auth password Alertmanager's http_config sends.
    tokens: list[SecretStr] = Field(default_factory=list)


class PagerDutyIntegration(StrictModel):
    service: str = Field(min_length=1)


class PagerDutySource(StrictModel):
    integrations: dict[str, PagerDutyIntegration] = Field(default_factory=dict)
    webhook_secrets: list[SecretStr] = Field(default_factory=list)


class GrafanaOnCallIntegration(StrictModel):
    service: str = Field(min_length=1)
    severity: SeverityField = Severity.SEV2


class GrafanaOnCallSource(StrictModel):
    # Integration key (the last part of OnCall's integration URL) -> what its alerts are.
    integrations: dict[str, GrafanaOnCallIntegration] = Field(default_factory=dict)


class Sources(StrictModel):
    alertmanager: AlertmanagerSource = Field(default_factory=AlertmanagerSource)
    pagerduty: PagerDutySource = Field(default_factory=PagerDutySource)
    grafana_oncall: GrafanaOnCallSource = Field(default_factory=GrafanaOnCallSource)


class CorrelationConfig(StrictModel):
    group_by: list[str] = Field(default_factory=lambda: ["service"])
    reopen_within: Duration = timedelta(minutes=30)

    @field_validator("group_by")
    @classmethod
    def _label_names(cls, names: list[str]) -> list[str]:
        for name in names:
            if not _LABEL_NAME.match(name):
                raise ValueError(f"bad label name {name!r}")
        return names


class StatusUpdatesConfig(StrictModel):
    cadence: dict[SeverityField, Duration] = Field(default_factory=dict)
    remind: list[ChannelName] = Field(default_factory=list)
    notify: list[ChannelName] = Field(default_factory=list)


class ResolutionConfig(StrictModel):
    verify_for: dict[SeverityField, Duration] = Field(default_factory=dict)


class HeartbeatConfig(StrictModel):
    name: str = Field(min_length=1)
    alertname: str | None = None
    expect_every: Duration
    grace: Duration = timedelta(0)
    severity: SeverityField = Severity.SEV2
    service: str | None = None  # default: the heartbeat's name


class BoardConfig(StrictModel):
    session_ttl: Duration = timedelta(hours=12)
    trusted_header: str = ""  # e.g. X-Forwarded-Email behind an authenticating proxy
    trusted_proxies: list[IPvAnyNetwork] = Field(default_factory=lambda: ["127.0.0.1/32", "::1/128"])  # type: ignore[arg-type]


class TlsConfig(StrictModel):
    cert_file: str = ""
    key_file: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.cert_file and self.key_file)

    @model_validator(mode="after")
    def _both(self) -> TlsConfig:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("tls: set both cert_file and key_file, or neither")
        return self


class LimitsConfig(StrictModel):
    """Bounds on ingest; the defaults fit any real Alertmanager group (Alertmanager never retries a 4xx)."""

    max_body_bytes: int = Field(default=10 * MiB, ge=1024)
    # PagerDuty's senders (Events v2 and V3 webhooks) send events of a few KiB: their routes get this bound.
    max_event_bytes: int = Field(default=512 * 1024, ge=1024)
    # A signed V3 webhook whose occurred_at is further than this from now is refused (a replay, not a retry).
    max_webhook_age: Duration = timedelta(minutes=10)
    max_alerts_per_request: int = Field(default=50_000, ge=1)
    max_labels_per_alert: int = Field(default=256, ge=1)
    max_annotations_per_alert: int = Field(default=256, ge=1)
    max_label_name_bytes: int = Field(default=1024, ge=1)
    max_label_value_bytes: int = Field(default=16 * 1024, ge=1)
    max_annotation_value_bytes: int = Field(default=64 * 1024, ge=1)


class NotifyConfig(StrictModel):
    """How notifications are sent through Apprise."""

    timeout: Duration = timedelta(seconds=30)  # overall bound on one notification's fan-out
    retries: int = Field(default=2, ge=0, le=10)  # Apprise's own per-service retry count
    retry_wait: Duration = timedelta(seconds=2)  # Apprise's wait between those retries
    per_channel: int = Field(default=8, ge=1, le=256)  # sends under way at once per channel (a slow one slows itself)


class MetricsConfig(StrictModel):
    # Distinct `service` label values per process; later services fold into "other" (bounded series count).
    max_services: int = Field(default=200, ge=1)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOCSIN_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
        case_sensitive=False,
    )

    listen: str = "127.0.0.1:9097"
    store: str = "sqlite:///./data/tocsin.db"
    public_url: str = "http://127.0.0.1:9097"
    api_tokens: list[SecretStr] = Field(default_factory=list)
    link_secret: SecretStr | None = None
    link_ttl: Duration = timedelta(hours=24)
    # Worker processes sharing the listen port (SO_REUSEPORT); each runs the whole pipeline on the one store.
    # "auto": one per CPU core tocsin may run on, at most AUTO_WORKERS_MAX.
    workers: int = Field(default_factory=lambda: auto_workers(), ge=1, le=64)
    # Resolved incidents and their alerts are kept this long, so a Redis store's memory stays bounded.
    retention: Duration = timedelta(days=90)
    # How long a replica holds a due timer it claimed; a replica that dies holding one frees it after this.
    timer_lease: Duration = timedelta(seconds=30)
    # SIGTERM to exit, all of it (requests in flight, sends under way, the store's last commits): keep it under
    # the supervisor's own grace (Kubernetes' terminationGracePeriodSeconds, 30 s by default).
    drain_timeout: Duration = Field(default=timedelta(seconds=20), gt=timedelta(0))
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "console"] = "json"

    sources: Sources = Field(default_factory=Sources)
    correlation: CorrelationConfig = Field(default_factory=CorrelationConfig)
    severity: SeverityConfig = Field(default_factory=SeverityConfig)
    channels: str | None = None
    templates: str | None = None  # a folder whose files override notifiers/templates/ by name
    policies: dict[str, Policy] = Field(default_factory=dict)
    routes: list[Route] = Field(default_factory=list)
    status_updates: StatusUpdatesConfig = Field(default_factory=StatusUpdatesConfig)
    resolution: ResolutionConfig = Field(default_factory=ResolutionConfig)
    heartbeats: list[HeartbeatConfig] = Field(default_factory=list)
    people: dict[Name, Person] = Field(default_factory=dict)
    schedules: dict[Name, Schedule] = Field(default_factory=dict)
    maintenance: list[MaintenanceWindow] = Field(default_factory=list)
    board: BoardConfig = Field(default_factory=BoardConfig)
    tls: TlsConfig = Field(default_factory=TlsConfig)
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        _, sep, port = value.rpartition(":")
        if not sep or not (port.isascii() and port.isdigit()) or not 0 <= int(port) <= 65535:
            raise ValueError(f"bad listen address {value!r} (expected host:port)")
        return value

    @field_validator("workers", mode="before")
    @classmethod
    def _workers(cls, value: object) -> object:
        return auto_workers() if isinstance(value, str) and value.strip().lower() == "auto" else value

    @field_validator("link_secret")
    @classmethod
    def _link_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # It signs acknowledge links: an empty or short key makes them forgeable.
        if value is not None and len(value.get_secret_value().encode()) < 16:
            raise ValueError("link_secret must be at least 16 bytes (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("store")
    @classmethod
    def _store(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "redis://", "rediss://", "redis+sentinel://", "unix://")):
            raise ValueError(f"unsupported store {value!r} (expected sqlite:///path or redis://host:port/db)")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"bad public_url {value!r} (expected http:// or https://)")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _references(self) -> Settings:
        for i, route in enumerate(self.routes):
            if route.policy not in self.policies:
                known = ", ".join(sorted(self.policies)) or "none defined"
                raise ValueError(f"routes[{i}].policy: unknown policy {route.policy!r} (known: {known})")
        seen: set[str] = set()
        alertnames: set[str] = set()
        for i, beat in enumerate(self.heartbeats):
            if beat.name in seen:
                raise ValueError(f"heartbeats[{i}].name: duplicate heartbeat {beat.name!r}")
            seen.add(beat.name)
            if beat.alertname is not None:
                if beat.alertname in alertnames:
                    raise ValueError(f"heartbeats[{i}].alertname: {beat.alertname!r} is another heartbeat's too")
                alertnames.add(beat.alertname)
        windows: set[str] = set()
        for i, window in enumerate(self.maintenance):
            if window.name in windows:
                raise ValueError(f"maintenance[{i}].name: duplicate maintenance window {window.name!r}")
            windows.add(window.name)
        for name, schedule in self.schedules.items():
            for rotation_name, rotation in schedule.rotations.items():
                for i, person in enumerate(rotation.people):
                    if person not in self.people:
                        raise ValueError(
                            f"schedules.{name}.rotations.{rotation_name}.people[{i}]: unknown person {person!r}"
                            f" (people: {', '.join(sorted(self.people)) or 'none defined'})"
                        )
        for name, policy in self.policies.items():
            for i, level in enumerate(policy.levels):
                for target in level.notify:
                    problem = self._target_problem(target)
                    if problem:
                        raise ValueError(f"policies.{name}.levels[{i}].notify: {problem}")
        return self

    def _target_problem(self, target: str) -> str | None:
        kind, name, rotation = parse_target(target)
        if kind == "person" and name not in self.people:
            return f"unknown person {name!r} in {target!r} (people: {', '.join(sorted(self.people)) or 'none'})"
        if kind == "oncall":
            schedule = self.schedules.get(name)
            if schedule is None:
                known = ", ".join(sorted(self.schedules)) or "none"
                return f"unknown schedule {name!r} in {target!r} (schedules: {known})"
            if rotation not in schedule.rotations:
                return (
                    f"unknown rotation {rotation!r} in {target!r} (rotations: {', '.join(sorted(schedule.rotations))})"
                )
        return None

    def channel_references(self) -> list[tuple[str, str]]:
        """Every channel the configuration names, with the key that names it."""
        refs: list[tuple[str, str]] = []
        for name, policy in self.policies.items():
            for i, level in enumerate(policy.levels):
                refs.extend(
                    (f"policies.{name}.levels[{i}].notify", ch)
                    for ch in level.notify
                    if parse_target(ch)[0] == "channel"
                )
        for name, person in self.people.items():
            refs.extend((f"people.{name}.contacts", ch) for ch in person.contacts)
        refs.extend(("status_updates.remind", ch) for ch in self.status_updates.remind)
        refs.extend(("status_updates.notify", ch) for ch in self.status_updates.notify)
        return refs
