"""deploy/ agrees with tocsin: the metrics its rules and dashboard query exist, its configurations load.

The real programs run these files in test_e2e_alertmanager.py; here, fast checks that they name what tocsin has.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import CollectorRegistry

from daemon.config.check import check
from daemon.config.loader import load_settings
from daemon.metrics import Metrics
from tests.support import ROOT

DEPLOY = ROOT / "deploy"
PROMETHEUS = DEPLOY / "prometheus"
DASHBOARD = DEPLOY / "grafana" / "dashboards" / "tocsin.json"
KUBERNETES = DEPLOY / "kubernetes"
RECORDED = re.compile(r"\b[a-z_]+:[a-z_]+:[a-z0-9_]+\b")
EXPOSED = re.compile(r"\btocsin_[a-z_]+\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count"), "gauge": ("",)}


def exposed_names() -> set[str]:
    registry = CollectorRegistry()
    Metrics(registry)
    return {family.name + suffix for family in registry.collect() for suffix in SUFFIXES[family.type]}


def yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def rules(name: str) -> list[dict[str, Any]]:
    return [rule for group in yaml_file(PROMETHEUS / name)["groups"] for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


def test_rules_and_dashboard_query_only_what_tocsin_exposes() -> None:
    exposed = exposed_names()
    recorded = {r["record"] for r in rules("recording.yml")}
    queries = [r["expr"] for r in rules("recording.yml") + rules("alerts.yml")] + dashboard_exprs()
    for expr in queries:
        for name in RECORDED.findall(expr):
            assert name in recorded, (name, expr)
        for name in EXPOSED.findall(RECORDED.sub("", expr)):
            assert name in exposed, (name, expr)
    # MTTA, MTTM and MTTR per severity, each as rate(sum) / rate(count).
    for what in ("acknowledge", "mitigate", "resolve"):
        [rule] = [
            r
            for r in rules("recording.yml")
            if r["record"] == f"severity:tocsin_incident_time_to_{what}_seconds:mean1d"
        ]
        assert f"rate(tocsin_incident_time_to_{what}_seconds_sum[1d])" in rule["expr"]
        assert f"rate(tocsin_incident_time_to_{what}_seconds_count[1d])" in rule["expr"]
    # Every panel of the dashboard queries something, through the provisioned data source's variable.
    assert all(dashboard_exprs())
    datasource = yaml_file(DEPLOY / "grafana" / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    variables = json.loads(DASHBOARD.read_text())["templating"]["list"]
    assert [v["current"]["value"] for v in variables if v["name"] == "datasource"] == [datasource["uid"]]


def test_alerts_about_tocsin_reach_a_receiver_outside_tocsin() -> None:
    for rule in rules("alerts.yml"):
        assert rule["labels"]["component"] == "tocsin", rule["alert"]
    am = yaml_file(DEPLOY / "alertmanager.yml")
    [route] = [r for r in am["route"]["routes"] if r["matchers"] == ['component="tocsin"']]
    [receiver] = [r for r in am["receivers"] if r["name"] == route["receiver"]]
    urls = [c["url"] for key, configs in receiver.items() if key.endswith("_configs") for c in configs]
    assert urls
    for url in urls:
        assert "//tocsin:" not in url, url
        assert not url.endswith(("/api/v1/alerts/alertmanager", "/v2/enqueue")), url


def test_alertmanager_example_matches_the_example_config() -> None:
    settings = load_settings(DEPLOY / "tocsin.yml", environ={})
    receivers = {r["name"]: r for r in yaml_file(DEPLOY / "alertmanager.yml")["receivers"]}
    [webhook] = receivers["tocsin"]["webhook_configs"]
    assert webhook["url"].endswith("/api/v1/alerts/alertmanager")
    tokens = [t.get_secret_value() for t in settings.sources.alertmanager.tokens]
    assert webhook["http_config"]["authorization"]["credentials"] in tokens
    assert 0 < webhook["max_alerts"] <= settings.limits.max_alerts_per_request
    [pagerduty] = receivers["tocsin-pagerduty"]["pagerduty_configs"]
    assert pagerduty["url"].endswith("/v2/enqueue")
    assert pagerduty["routing_key"] in settings.sources.pagerduty.integrations


def test_kubernetes_configmap_and_secrets_make_a_valid_configuration(tmp_path: Path) -> None:
    [configmap] = yaml.safe_load_all((KUBERNETES / "configmap.yaml").read_text())
    secrets = {
        s["metadata"]["name"]: s["stringData"]
        for s in yaml.safe_load_all((KUBERNETES / "secrets.example.yaml").read_text())
    }
    (tmp_path / "tocsin.yml").write_text(configmap["data"]["tocsin.yml"])
    (tmp_path / "apprise.yml").write_text(secrets["tocsin-channels"]["apprise.yml"])
    deployment = yaml_file(KUBERNETES / "deployment.yaml")
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env = {**env, **secrets["tocsin-env"], "TOCSIN_CONFIG": str(tmp_path / "tocsin.yml")}
    env["TOCSIN_STORE"] = env["TOCSIN_STORE"].replace("$(REDIS_PASSWORD)", secrets["tocsin-redis"]["password"])
    env["TOCSIN_CHANNELS"] = str(tmp_path / "apprise.yml")  # where the Secret is mounted, here
    # As published, every change-me secret is refused: the Deployment listens beyond loopback.
    refused = check(load_settings(None, environ=env)).problems
    assert sorted(p.split(":")[0] for p in refused) == [
        "api_tokens",
        "link_secret",
        "sources.alertmanager.tokens",
        "sources.pagerduty.integrations",
        "sources.pagerduty.webhook_secrets",
    ]
    # With the values replaced, as the file's comment says, it is a valid configuration.
    env = {k: v.replace("change-me", "s3cr3t") if k.startswith("TOCSIN_") else v for k, v in env.items()}
    settings = load_settings(None, environ=env)
    report = check(settings)
    assert report.problems == []
    assert report.warnings == []
    assert settings.store.startswith("redis://:")
    assert settings.listen == "0.0.0.0:9097"
    assert list(settings.sources.pagerduty.integrations) == ["s3cr3t-routing-key"]
    # The probes and the Service use the container's named port.
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert deployment["spec"]["replicas"] == 2


def test_compose_and_dockerfile_name_files_that_exist(tmp_path: Path) -> None:
    # make-secrets.sh writes the files compose needs beside it: run it on a copy of deploy/.
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy, ignore=shutil.ignore_patterns(".env", "alertmanager.compose.yml", "data"))
    made = subprocess.run([str(deploy / "make-secrets.sh")], capture_output=True, text=True, check=True)
    assert "wrote deploy/.env" in made.stdout
    compose = yaml_file(deploy / "docker-compose.yml")
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (deploy / source).exists(), (name, volume)
    # The compose environment (from .env) over the baked-in example, listening as in the image: no problems.
    dotenv = dict(line.split("=", 1) for line in (deploy / ".env").read_text().splitlines())
    env = {**dotenv, "TOCSIN_LISTEN": "0.0.0.0:9097", "TOCSIN_STORE": "redis://redis:6379/0"}
    settings = load_settings(deploy / "tocsin.yml", environ=env)
    assert check(settings).problems == []
    # Without it, the published examples are refused on that listener.
    assert check(load_settings(deploy / "tocsin.yml", environ={"TOCSIN_LISTEN": "0.0.0.0:9097"})).problems
    # Alertmanager in compose sends the credentials tocsin now expects.
    am = yaml_file(deploy / "alertmanager.compose.yml")
    receivers = {r["name"]: r for r in am["receivers"]}
    [webhook] = receivers["tocsin"]["webhook_configs"]
    token = webhook["http_config"]["authorization"]["credentials"]
    assert [t.get_secret_value() for t in settings.sources.alertmanager.tokens] == [token]
    [pagerduty] = receivers["tocsin-pagerduty"]["pagerduty_configs"]
    assert pagerduty["routing_key"] in settings.sources.pagerduty.integrations
    assert compose["services"]["tocsin"]["environment"]["TOCSIN_STORE"].startswith("redis://redis:")
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    copied = [
        part.rstrip("/")
        for line in dockerfile.splitlines()
        if line.startswith("COPY ") and "--from" not in line
        for part in line.split()[1:-1]
    ]
    ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    for path in copied:
        assert (ROOT / path).exists(), path
        assert f"!{path}" in ignore or f"!{path}/" in ignore, path
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile
