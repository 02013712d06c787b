"""Grafana OnCall's integration URLs, so a team leaving OnCall changes only the host.

``/integrations/v1/alertmanager/<key>/`` takes Alertmanager's webhook; ``/integrations/v1/formatted_webhook/<key>/``
OnCall's generic format (``alert_uid``, ``title``, ``message``, ``image_url``, ``state`` — ``ok`` resolves —,
``link_to_upstream_details``). The key in the URL is the credential and names an integration of
``sources.grafana_oncall``, which gives the service and the severity of everything it receives. Fingerprints are
scoped to the integration (``oncall:<integration>:<id>``), so one integration never touches another's alerts.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from daemon.config.settings import GrafanaOnCallIntegration, LimitsConfig
from daemon.domain import AlertStatus, Source
from daemon.engine.events import AlertIn
from daemon.ingest.errors import IngestError

PREFIX = "oncall:"
INTEGRATION_LABEL = "oncall_integration"  # a one-way hash of the key: which integration, never the key itself


def integration_id(key: str) -> str:
    return hashlib.sha256(b"tocsin grafana oncall integration\0" + key.encode()).hexdigest()[:12]


def find(integrations: Mapping[str, GrafanaOnCallIntegration], key: str) -> GrafanaOnCallIntegration | None:
    """The integration of ``key``, compared in constant time (the key is the credential)."""
    found = None
    for known, integration in integrations.items():
        if hmac.compare_digest(known.encode(), key.encode()):
            found = integration
    return found


def severity_of(
    integrations: Mapping[str, GrafanaOnCallIntegration], labels: Mapping[str, str]
) -> GrafanaOnCallIntegration | None:
    """The integration an OnCall alert came through, from its label (for its severity)."""
    wanted = labels.get(INTEGRATION_LABEL)
    return next((i for key, i in integrations.items() if integration_id(key) == wanted), None)


def _scoped(report: AlertIn, key: str, integration: GrafanaOnCallIntegration, uid: str) -> AlertIn:
    labels = {**report.labels, "service": integration.service, INTEGRATION_LABEL: integration_id(key)}
    return dataclasses.replace(
        report, fingerprint=f"{PREFIX}{integration_id(key)}:{uid}", source=Source.GRAFANA_ONCALL, labels=labels
    )


def from_alertmanager(
    reports: tuple[AlertIn, ...], key: str, integration: GrafanaOnCallIntegration
) -> tuple[AlertIn, ...]:
    """Alertmanager's alerts as this integration's: its service, its severity, fingerprints of its own."""
    return tuple(_scoped(r, key, integration, r.fingerprint) for r in reports)


class _Formatted(BaseModel):
    model_config = ConfigDict(extra="ignore")  # OnCall's senders add fields of their own

    alert_uid: str = Field(min_length=1, max_length=256)
    title: str = Field(default="", max_length=1024)
    message: str = Field(default="", max_length=64 * 1024)
    image_url: str = Field(default="", max_length=2048)
    state: str = Field(default="alerting", max_length=64)
    link_to_upstream_details: str = Field(default="", max_length=2048)


def parse_formatted(raw: bytes, key: str, integration: GrafanaOnCallIntegration, limits: LimitsConfig) -> AlertIn:
    try:
        body = _Formatted.model_validate_json(raw)
    except ValidationError as exc:
        details = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in exc.errors()]
        raise IngestError(422, "invalid_body", "not an OnCall formatted webhook", details) from None
    if len(body.title.encode()) > limits.max_label_value_bytes:
        raise IngestError(422, "limit_exceeded", "title is longer than limits.max_label_value_bytes")
    title = body.title or body.alert_uid
    annotations = {"summary": title}
    if body.message:
        annotations["description"] = body.message
    if body.image_url.startswith(("http://", "https://")):
        annotations["image_url"] = body.image_url
    link = body.link_to_upstream_details
    report = AlertIn(
        fingerprint="",
        source=Source.GRAFANA_ONCALL,
        status=AlertStatus.RESOLVED if body.state == "ok" else AlertStatus.FIRING,
        labels={"alertname": title},
        annotations=annotations,
        generator_url=link if link.startswith(("http://", "https://")) else "",
    )
    return _scoped(report, key, integration, body.alert_uid)
