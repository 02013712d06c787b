"""The workload: D distinct alerts across S services, R passes over them in webhooks of B alerts.

The same alerts are rendered two ways: as Alertmanager 0.25's webhook to tocsin (``version: "4"``, one alert list
per request) and as the list that Prometheus posts to Alertmanager's ``/api/v2/alerts``. Alerts are ordered by
service, so that a webhook carries the alerts of one service, as Alertmanager grouping by service sends them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ALERTNAMES = (
    "HighErrorRate",
    "HighLatency",
    "DiskFull",
    "PodCrashLooping",
    "TargetDown",
    "CPUThrottling",
    "MemoryPressure",
    "CertificateExpiry",
)
GO_ZERO_TIME = "0001-01-01T00:00:00Z"  # what Alertmanager sends as endsAt of a firing alert
TOCSIN_PATH = "/api/v1/alerts/alertmanager"
ALERTMANAGER_PATH = "/api/v2/alerts"


@dataclass(frozen=True, slots=True)
class Alert:
    labels: dict[str, str]
    annotations: dict[str, str]


def fingerprint(labels: dict[str, str]) -> str:
    """16 hex digits from the sorted label pairs, shaped like Alertmanager's (which uses FNV-1a)."""
    digest = hashlib.blake2b(digest_size=8)
    for name in sorted(labels):
        digest.update(name.encode() + b"\xff" + labels[name].encode() + b"\xff")
    return digest.hexdigest()


def rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass(frozen=True)
class Workload:
    distinct: int = 2000  # D
    services: int = 50  # S
    resends: int = 10  # R
    batch: int = 20  # B
    prefix: str = "svc"  # service names: <prefix>-00007
    severity: str = "mixed"  # "mixed": every tenth alert critical, the others warning; or one severity for all
    changing: bool = False  # each pass changes an annotation: every re-send is a change, not a duplicate

    def alerts(self) -> list[Alert]:
        out = []
        per_service = max(1, -(-self.distinct // self.services))  # ceil
        for j in range(self.distinct):
            index = min(j // per_service, self.services - 1)
            service = f"{self.prefix}-{index:05d}"
            severity = self.severity
            if severity == "mixed":
                severity = "critical" if j % 10 == 0 else "warning"
            labels = {
                "alertname": ALERTNAMES[j % len(ALERTNAMES)],
                "service": service,
                "instance": f"{service}-host-{j:06d}:9100",
                "job": "node",
                "env": "prod",
                "team": f"team-{index % 12}",
                "severity": severity,
            }
            annotations = {
                "summary": f"{labels['alertname']} on {labels['instance']}",
                "description": f"{labels['alertname']} has been firing on {service} for more than 5 minutes.",
                "runbook_url": f"https://runbooks.example/{labels['alertname'].lower()}",
            }
            out.append(Alert(labels, annotations))
        return out

    def batches(self) -> list[list[Alert]]:
        """R passes over the D alerts, cut into webhooks of B (a batch may straddle two passes)."""
        alerts = self.alerts()
        if self.changing:
            sequence = [
                Alert(a.labels, {**a.annotations, "value": f"pass {p + 1} of {self.resends}"})
                for p in range(self.resends)
                for a in alerts
            ]
        else:
            sequence = [a for _ in range(self.resends) for a in alerts]
        return [sequence[i : i + self.batch] for i in range(0, len(sequence), self.batch)]

    def first_pass(self) -> list[list[Alert]]:
        """The D alerts once, in batches of B: sent before measuring, so that what is measured is the re-sends."""
        alerts = self.alerts()
        return [alerts[i : i + self.batch] for i in range(0, len(alerts), self.batch)]


def tocsin_alert(alert: Alert, starts_at: datetime) -> dict[str, Any]:
    """One alert as Alertmanager 0.25 puts it in a webhook (tests/support.py's am_alert, without its defaults)."""
    return {
        "status": "firing",
        "labels": alert.labels,
        "annotations": alert.annotations,
        "startsAt": rfc3339(starts_at),
        "endsAt": GO_ZERO_TIME,
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
        "fingerprint": fingerprint(alert.labels),
    }


def tocsin_body(alerts: Sequence[Alert], starts_at: datetime) -> bytes:
    """An Alertmanager webhook (version 4) carrying ``alerts``, as tests/support.py's am_webhook builds it."""
    common = {k: v for k, v in alerts[0].labels.items() if all(a.labels.get(k) == v for a in alerts)}
    body = {
        "receiver": "tocsin",
        "status": "firing",
        "alerts": [tocsin_alert(a, starts_at) for a in alerts],
        "groupLabels": {"service": common["service"]} if "service" in common else {},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager.example:9093",
        "version": "4",
        "groupKey": "{}:{service=" + json.dumps(common.get("service", "")) + "}",
        "truncatedAlerts": 0,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def alertmanager_body(alerts: Sequence[Alert], starts_at: datetime, ends_at: datetime) -> bytes:
    """The same alerts as Prometheus posts them to Alertmanager's /api/v2/alerts: a JSON list."""
    body = [
        {
            "labels": a.labels,
            "annotations": a.annotations,
            "startsAt": rfc3339(starts_at),
            "endsAt": rfc3339(ends_at),
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=up",
        }
        for a in alerts
    ]
    return json.dumps(body, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Bodies:
    """Pre-built request bodies, in the order they are sent, and the number of alerts each carries."""

    bodies: list[bytes]
    alerts: list[int]

    @property
    def alerts_per_request(self) -> float:
        return sum(self.alerts) / len(self.alerts)

    def write_lines(self, path: Path) -> Path:
        """One body per line (JSON has no raw newlines), for the open-loop generator."""
        path.write_bytes(b"".join(b + b"\n" for b in self.bodies))
        return path

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.bodies)

    def __len__(self) -> int:
        return len(self.bodies)


def build(batches: list[list[Alert]], target: str, now: datetime | None = None) -> Bodies:
    """``target`` is "tocsin" (webhooks) or "alertmanager" (/api/v2/alerts lists); built once, up front."""
    now = now or datetime.now(UTC)
    starts_at = now - timedelta(minutes=10)
    ends_at = now + timedelta(hours=6)  # Alertmanager keeps them firing for the whole bench
    if target == "tocsin":
        bodies = [tocsin_body(b, starts_at) for b in batches]
    else:
        bodies = [alertmanager_body(b, starts_at, ends_at) for b in batches]
    return Bodies(bodies, [len(b) for b in batches])


def wrk_script(bodies: Bodies, path: str, headers: dict[str, str], threads: int) -> str:
    """A wrk Lua script cycling over ``bodies``: each distinct body is stored once, requests are formatted once per
    thread at start-up, and each thread starts at its own offset in the cycle. ``done`` prints the figures as one
    machine-readable line (wrk's own summary follows as usual)."""
    distinct: dict[bytes, int] = {}
    order = [distinct.setdefault(b, len(distinct) + 1) for b in bodies.bodies]
    lines = ["-- generated by tests/bench/workload.py: do not edit", "local bodies = {"]
    for body in distinct:
        text = body.decode()
        level = "=" * next(n for n in range(1, 10) if f"]{'=' * n}]" not in text)
        lines.append(f"[{level}[{text}]{level}],")
    lines.append("}")
    lines.append("local order = {" + ",".join(map(str, order)) + "}")
    header_lua = ", ".join(f'["{k}"] = "{v}"' for k, v in headers.items())
    lines.append(
        f"""
local path = "{path}"
local headers = {{{header_lua}}}
local counter = 1
local thread_count = 0

function setup(thread)
  thread:set("offset", thread_count)
  thread_count = thread_count + 1
end

function init(args)
  local formatted = {{}}
  for i, body in ipairs(bodies) do
    formatted[i] = wrk.format("POST", path, headers, body)
  end
  requests = {{}}
  for i, j in ipairs(order) do
    requests[i] = formatted[j]
  end
  local n = #requests
  counter = (math.floor(n * (offset or 0) / {threads})) % n + 1
end

function request()
  local r = requests[counter]
  counter = counter % #requests + 1
  return r
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH requests=%d duration_us=%d bytes=%d non2xx=%d connect=%d read=%d write=%d timeout=%d " ..
    "p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\\n",
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
"""
    )
    return "\n".join(lines)
