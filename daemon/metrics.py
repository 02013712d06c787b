"""tocsin's own metrics, built on a CollectorRegistry passed in (tests use a fresh one).

Prometheus' ``rate()`` and ``increase()`` see nothing of a series' first sample, so a child that appears with its
first observation already counted hides that observation. Children are therefore created at 0 ahead of time:
the MTTx histograms of an incident when it is declared or changes severity (and at each scrape for every open
incident in the store, which covers incidents declared on another replica or before a restart), and the
counters whose label values are known up front (severities, configured channels and outcomes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector

from daemon.engine.state import Observation

# 30 s to 24 h: MTTA lives at the short end, MTTR at the long one.
MTTX_BUCKETS = (30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 28800, 86400)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
OTHER = "other"
SEVERITIES = ("SEV1", "SEV2", "SEV3", "SEV4")
STATES = ("triggered", "acknowledged", "mitigated")
INGEST_SOURCES = ("alertmanager", "pagerduty", "pagerduty_webhook", "grafana_oncall")
# The codes of daemon.ingest errors, and store_unavailable: each is a value of the `reason` label.
REJECTIONS = (
    "unauthorized",
    "body_too_large",
    "unsupported_media_type",
    "malformed_json",
    "invalid_body",
    "unsupported_version",
    "limit_exceeded",
    "too_many_alerts",
    "invalid_event",
    "unknown_routing_key",
    "missing_signature",
    "bad_signature",
    "store_unavailable",
)
# notifiers.sender.ChannelOutcome.outcome, and given_up (daemon.effects.send)
NOTIFY_OUTCOMES = ("sent", "failed", "timeout", "no_match", "given_up")
QUEUES = ("timers", "outbox")


class Metrics:
    def __init__(self, registry: CollectorRegistry, max_services: int = 200) -> None:
        self.registry = registry
        self._max_services = max_services
        self._services: set[str] = set()
        self.store_read_at = float("-inf")  # when the store-derived gauges were last read (monotonic)
        p = "tocsin_"
        self.alerts_received = Counter(
            f"{p}alerts_received", "Alerts received, by source.", ["source"], registry=registry
        )
        self.alerts_deduplicated = Counter(
            f"{p}alerts_deduplicated", "Alerts that repeated what was already known.", ["source"], registry=registry
        )
        self.alerts_stale = Counter(
            f"{p}alerts_stale",
            "Alert bodies older than what was already known, ignored.",
            ["source"],
            registry=registry,
        )
        self.rejected = Counter(
            f"{p}ingest_rejected",
            "Ingest requests refused, by source and reason.",
            ["source", "reason"],
            registry=registry,
        )
        self.truncated = Counter(
            f"{p}ingest_truncated_alerts",
            "Alerts Alertmanager left out of webhooks (truncatedAlerts).",
            ["source"],
            registry=registry,
        )
        self.ingest_latency = Histogram(
            f"{p}ingest_latency_seconds",
            "Time from request to durable answer.",
            ["source"],
            buckets=LATENCY_BUCKETS,
            registry=registry,
        )
        self.declared = Counter(
            f"{p}incidents_declared", "Incidents declared, by severity.", ["severity"], registry=registry
        )
        self.mtta = Histogram(
            f"{p}incident_time_to_acknowledge_seconds",
            "Declaration to first acknowledgement.",
            ["severity", "service"],
            buckets=MTTX_BUCKETS,
            registry=registry,
        )
        self.mttm = Histogram(
            f"{p}incident_time_to_mitigate_seconds",
            "Declaration to first mitigation.",
            ["severity", "service"],
            buckets=MTTX_BUCKETS,
            registry=registry,
        )
        self.mttr = Histogram(
            f"{p}incident_time_to_resolve_seconds",
            "Declaration to first resolution.",
            ["severity", "service"],
            buckets=MTTX_BUCKETS,
            registry=registry,
        )
        self.notifications = Counter(
            f"{p}notifications", "Notifications per channel and outcome.", ["channel", "outcome"], registry=registry
        )
        self.escalations = Counter(f"{p}escalations", "Escalation steps paged, by level.", ["level"], registry=registry)
        self.pages_without_oncall = Counter(
            f"{p}pages_without_oncall",
            "Pages that found nobody on call in a rotation (schedule=person: a person target).",
            ["schedule", "rotation"],
            registry=registry,
        )
        self.open_incidents = Gauge(
            f"{p}open_incidents",
            "Open incidents by severity and state (read from the store).",
            ["severity", "state"],
            registry=registry,
            # With several workers: the worker answering the scrape has just read the store.
            multiprocess_mode="mostrecent",
        )
        self.alerts_silenced = Counter(
            f"{p}alerts_silenced",
            "Alerts that fired into an active silence or maintenance window, by source.",
            ["source"],
            registry=registry,
        )
        self.silences = Gauge(
            f"{p}silences",
            "Silences kept, by state (read from the store).",
            ["state"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.heartbeat_up = Gauge(
            f"{p}heartbeat_up",
            "1 while the heartbeat is pinged in time, 0 once missed or before its first ping.",
            ["heartbeat"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.heartbeat_last_ping = Gauge(
            f"{p}heartbeat_last_ping_timestamp_seconds",
            "When the heartbeat was last pinged (Unix time; absent before its first ping).",
            ["heartbeat"],
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.timer_lag = Histogram(
            f"{p}timer_lag_seconds",
            "How late durable timers fired.",
            buckets=(*LATENCY_BUCKETS, 10.0, 30.0, 60.0),
            registry=registry,
        )
        self.store_up = Gauge(
            f"{p}store_up",
            "1 when the store answered the last check.",
            registry=registry,
            multiprocess_mode="mostrecent",
        )
        self.loop_restarts = Counter(
            f"{p}background_loop_restarts",
            "Background loops restarted after a step raised, by loop and reason (store_unavailable or crash).",
            ["loop", "reason"],
            registry=registry,
        )
        self.rows_set_aside = Counter(
            f"{p}rows_set_aside",
            "Queued rows (timers, outbox entries) that could not be read and were set aside, by queue.",
            ["queue"],
            registry=registry,
        )
        # Prometheus' and Alertmanager's names, so that dashboards and alerts written for them work unchanged.
        # With several workers: the lowest of the workers' values (0 if any refused, the oldest success).
        self.reload_successful = Gauge(
            f"{p}config_last_reload_successful",
            "1 when the last configuration reload succeeded (and at start-up), 0 when it was refused.",
            registry=registry,
            multiprocess_mode="min",
        )
        self.reload_success_time = Gauge(
            f"{p}config_last_reload_success_timestamp_seconds",
            "When the configuration was last loaded successfully, at start-up or by a reload (Unix time).",
            registry=registry,
            multiprocess_mode="min",
        )
        for queue in QUEUES:
            self.rows_set_aside.labels(queue)
        for severity in SEVERITIES:
            self.declared.labels(severity)
        for source in INGEST_SOURCES:
            for reason in REJECTIONS:
                self.rejected.labels(source, reason)

    def exposition(self) -> bytes:
        """The text format. With several workers (PROMETHEUS_MULTIPROC_DIR set), every worker's values summed."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def service(self, name: str) -> str:
        """A bounded label value: services beyond the cap fold into ``other``."""
        if name in self._services:
            return name
        if len(self._services) >= self._max_services:
            return OTHER
        self._services.add(name)
        return name

    def prepare_incident(self, severity: str, service: str) -> None:
        """Create the incident's MTTx children at 0, so its first observation is an increase Prometheus sees."""
        label = self.service(service)
        for histogram in (self.mtta, self.mttm, self.mttr):
            histogram.labels(severity, label)

    def prepare_channels(self, channels: Iterable[str]) -> None:
        """Create the notification counters of the configured channels at 0 (the first failure must count)."""
        for channel in channels:
            for outcome in NOTIFY_OUTCOMES:
                self.notifications.labels(channel, outcome)

    def observe(self, observations: Iterable[Observation]) -> None:
        for o in observations:
            severity = o.severity.value
            if o.metric == "declared":
                self.declared.labels(severity).inc()
                self.prepare_incident(severity, o.service)
            elif o.metric == "severity_changed":
                self.prepare_incident(severity, o.service)
            elif o.metric == "page_without_oncall":
                schedule, _, rotation = o.target.partition("/")
                self.pages_without_oncall.labels(schedule, rotation).inc()
            else:
                histogram = {
                    "time_to_acknowledge": self.mtta,
                    "time_to_mitigate": self.mttm,
                    "time_to_resolve": self.mttr,
                }[o.metric]
                histogram.labels(severity, self.service(o.service)).observe(o.value)

    def set_open_incidents(self, counts: dict[tuple[str, str], int]) -> None:
        for severity in SEVERITIES:
            for state in STATES:
                self.open_incidents.labels(severity, state).set(counts.get((severity, state), 0))
