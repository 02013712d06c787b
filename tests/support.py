"""Test helpers: the example configuration, fixture bodies, and a tocsin driven through its HTTP API."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from daemon.clock import ManualClock
from daemon.config.loader import load_settings
from daemon.config.settings import Settings
from daemon.http.app import build_app
from daemon.http.keys import SERVICES
from daemon.services import Services
from daemon.store.base import Store

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"
EXAMPLE = ROOT / "deploy" / "tocsin.yml"
EXAMPLE_CHANNELS = ROOT / "deploy" / "apprise.yml"
AM_TOKEN = "example-token"
API_TOKEN = "example-api-token"
ROUTING_KEY = "example-routing-key"
SEV1 = "alertmanager-webhook-2.json"  # HighErrorRate, severity=critical env=prod: SEV1, policy page-hard


def fixture(name: str) -> dict[str, Any]:
    """A captured request: path, user_agent, authorization and body."""
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return data


def body(name: str) -> dict[str, Any]:
    return copy.deepcopy(fixture(name)["body"])


def deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(
    directory: Path, overrides: dict[str, Any] | None = None, sink: str | None = None, extra_urls: str = ""
) -> Path:
    """The example configuration in ``directory``, with ``overrides`` merged in and channels sent to ``sink``;
    ``extra_urls`` is appended to the Apprise file's ``urls:`` list."""
    data = yaml.safe_load(EXAMPLE.read_text())
    data = deep_merge(data, overrides or {})
    channels = EXAMPLE_CHANNELS.read_text()
    if sink is not None:
        channels = channels.replace("json://127.0.0.1:8099", f"json://{sink}")
    channels += extra_urls
    (directory / "apprise.yml").write_text(channels)
    path = directory / "tocsin.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def make_settings(
    directory: Path, overrides: dict[str, Any] | None = None, sink: str | None = None, extra_urls: str = ""
) -> Settings:
    return load_settings(write_config(directory, overrides, sink, extra_urls), environ={})


@dataclass
class Tocsin:
    """One tocsin app on the aiohttp test server, its clock and its services; background loops off."""

    settings: Settings
    clock: ManualClock
    client: TestClient[Any, Any]
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    @property
    def services(self) -> Services:
        return self.client.app[SERVICES]  # type: ignore[index]

    async def post_alertmanager(self, payload: Any, token: str = AM_TOKEN) -> Any:
        return await self.client.post(
            "/api/v1/alerts/alertmanager", json=payload, headers={"Authorization": f"Bearer {token}"}
        )

    async def send_fixture(self, name: str) -> Any:
        captured = fixture(name)
        headers = {"User-Agent": captured["user_agent"]}
        if captured["authorization"]:
            headers["Authorization"] = captured["authorization"]
        path = "/api/v1/alerts/alertmanager" if name.startswith("alertmanager") else "/v2/enqueue"
        response = await self.client.post(path, json=captured["body"], headers=headers)
        assert response.status in (200, 202), await response.text()
        return await response.json()

    async def api(self, method: str, path: str, payload: Any = None, status: int | None = 200) -> Any:
        response = await self.client.request(
            method, path, json=payload, headers={"Authorization": f"Bearer {API_TOKEN}"}
        )
        data = await response.json() if response.content_type == "application/json" else await response.text()
        if status is not None:
            assert response.status == status, (response.status, data)
        return data

    async def incident(self, incident_id: str) -> Any:
        return await self.api("GET", f"/api/v1/incidents/{incident_id}")

    async def incidents(self, query: str = "") -> list[Any]:
        page = await self.api("GET", "/api/v1/incidents" + (f"?{query}" if query else ""))
        result: list[Any] = page["incidents"]
        return result

    async def snapshot(self) -> dict[str, Any]:
        """Everything the API shows: every incident in full, and every alert."""
        incidents = [await self.incident(i["id"]) for i in await self.incidents("limit=500")]
        alerts = (await self.api("GET", "/api/v1/alerts?limit=1000"))["alerts"]
        return {"incidents": incidents, "alerts": alerts}

    async def tick(self, seconds: float = 0) -> None:
        """Move the clock, fire due timers, send what is in the outbox and wait for it to be recorded."""
        if seconds:
            self.clock.advance(seconds)
        await self.services.scheduler.run_due()
        if self.services.dispatcher is not None:
            await self.services.dispatcher.drain()


async def start_tocsin(
    settings: Settings,
    clock: ManualClock,
    registry: CollectorRegistry | None = None,
    background: bool = False,
    store: Store | None = None,
    config_path: Path | None = None,
) -> Tocsin:
    """``config_path``: the file a reload reads again (without the test process's environment)."""
    registry = registry or CollectorRegistry()
    path = str(config_path) if config_path is not None else None
    app = build_app(
        settings, clock=clock, registry=registry, store=store, background=background, config_path=path, environ={}
    )
    client: TestClient[Any, Any] = TestClient(TestServer(app))
    await client.start_server()
    return Tocsin(settings, clock, client, registry)


def am_alert(
    name: str = "HighErrorRate",
    service: str = "checkout",
    severity: str = "critical",
    *,
    instance: str = "web-1",
    env: str = "prod",
    status: str = "firing",
    starts_at: str = "2026-11-22T07:00:00Z",
    ends_at: str = "0001-01-01T00:00:00Z",
    fingerprint: str | None = None,
    summary: str = "",
    **labels: str,
) -> dict[str, Any]:
    """One alert as Alertmanager 0.25 sends it in a webhook."""
    all_labels = {"alertname": name, "env": env, "instance": instance, "service": service, "severity": severity}
    all_labels.update(labels)
    return {
        "status": status,
        "labels": {k: v for k, v in all_labels.items() if v},
        "annotations": {"summary": summary or f"{name} on {service}"},
        "startsAt": starts_at,
        "endsAt": ends_at,
        "generatorURL": "",
        "fingerprint": fingerprint or f"{name}-{service}-{instance}".lower(),
    }


def am_webhook(*alerts: dict[str, Any]) -> dict[str, Any]:
    firing = any(a["status"] == "firing" for a in alerts)
    return {
        "receiver": "tocsin",
        "status": "firing" if firing else "resolved",
        "alerts": list(alerts),
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "version": "4",
        "groupKey": "{}:{}",
        "truncatedAlerts": 0,
    }


def resolved(alert: dict[str, Any], ends_at: str = "2026-11-22T07:30:00Z") -> dict[str, Any]:
    return {**alert, "status": "resolved", "endsAt": ends_at}
