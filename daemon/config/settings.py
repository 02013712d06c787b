"""tocsin's settings: one typed model for tocsin.yml, every key overridable from TOCSIN_* variables."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from rules.models import Policy, Route, SeverityConfig, StrictModel
from rules.severity import Severity
from rules.types import ChannelName, Duration, SeverityField

_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MiB = 1024 * 1024


class AlertmanagerSource(StrictModel):
    # Compared with the Bearer credentials or the basic_auth password Alertmanager's http_config sends.
    tokens: list[SecretStr] = Field(default_factory=list)


class PagerDutyIntegration(StrictModel):
    service: str = Field(min_length=1)


class PagerDutySource(StrictModel):
    integrations: dict[str, PagerDutyIntegration] = Field(default_factory=dict)
    webhook_secrets: list[SecretStr] = Field(default_factory=list)


class Sources(StrictModel):
    alertmanager: AlertmanagerSource = Field(default_factory=AlertmanagerSource)
    pagerduty: PagerDutySource = Field(default_factory=PagerDutySource)


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
    severity: SeverityField = Severity.SEV2


class LimitsConfig(StrictModel):
    """Bounds on ingest; the defaults fit any real Alertmanager group (Alertmanager never retries a 4xx)."""

    max_body_bytes: int = Field(default=10 * MiB, ge=1024)
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
    workers: int = Field(default=1, ge=1, le=64)
    # Resolved incidents and their alerts are kept this long, so a Redis store's memory stays bounded.
    retention: Duration = timedelta(days=90)
    # How long a replica holds a due timer it claimed; a replica that dies holding one frees it after this.
    timer_lease: Duration = timedelta(seconds=30)
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
    limits: LimitsConfig = Field(default_factory=LimitsConfig)
    notify: NotifyConfig = Field(default_factory=NotifyConfig)
    metrics: MetricsConfig = Field(default_factory=MetricsConfig)

    @field_validator("listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        _, sep, port = value.rpartition(":")
        if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
            raise ValueError(f"bad listen address {value!r} (expected host:port)")
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
        for i, beat in enumerate(self.heartbeats):
            if beat.name in seen:
                raise ValueError(f"heartbeats[{i}].name: duplicate heartbeat {beat.name!r}")
            seen.add(beat.name)
        return self

    def channel_references(self) -> list[tuple[str, str]]:
        """Every channel the configuration names, with the key that names it."""
        refs: list[tuple[str, str]] = []
        for name, policy in self.policies.items():
            for i, level in enumerate(policy.levels):
                refs.extend((f"policies.{name}.levels[{i}].notify", ch) for ch in level.notify)
        refs.extend(("status_updates.remind", ch) for ch in self.status_updates.remind)
        refs.extend(("status_updates.notify", ch) for ch in self.status_updates.notify)
        return refs
