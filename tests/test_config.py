"""Settings: the example loads, TOCSIN_* overrides YAML, mistakes name their key; `tocsin check-config` says so."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.config.loader import ConfigError, load_settings
from daemon.store.sqlite import parse_sqlite_url
from rules.severity import Severity
from tests.support import EXAMPLE, EXAMPLE_CHANNELS

SHARED_EXAMPLE = Path("/work/shared/example-config")

Edit = Callable[[dict[str, Any]], None]


def write_example(directory: Path, edit: Edit | None = None, apprise: str | None = None) -> Path:
    """deploy/tocsin.yml and deploy/apprise.yml copied into ``directory``, the former changed by ``edit``."""
    directory.mkdir(parents=True, exist_ok=True)
    data = yaml.safe_load(EXAMPLE.read_text())
    if edit is not None:
        edit(data)
    path = directory / "tocsin.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))
    (directory / "apprise.yml").write_text(EXAMPLE_CHANNELS.read_text() if apprise is None else apprise)
    return path


def problems_of(path: Path, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ or {})
    return caught.value.problems


# --- the example configuration ----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["tocsin.yml", "apprise.yml"])
def test_shared_example_config_is_identical_to_deploy(name: str) -> None:
    if not SHARED_EXAMPLE.is_dir():
        pytest.skip(f"{SHARED_EXAMPLE} is not on this machine")
    assert (SHARED_EXAMPLE / name).read_bytes() == (EXAMPLE.parent / name).read_bytes()


def test_example_config_loads_as_it_stands() -> None:
    s = load_settings(EXAMPLE, environ={})
    assert s.listen == "127.0.0.1:9097"
    assert s.public_url == "http://127.0.0.1:9097"
    assert [t.get_secret_value() for t in s.api_tokens] == ["example-api-token"]
    assert s.link_secret is not None
    assert s.link_secret.get_secret_value() == "example-link-secret"
    assert s.link_ttl == timedelta(hours=24)
    assert [t.get_secret_value() for t in s.sources.alertmanager.tokens] == ["example-token"]
    assert s.sources.pagerduty.integrations["example-routing-key"].service == "db"
    assert [t.get_secret_value() for t in s.sources.pagerduty.webhook_secrets] == ["example-pd-secret"]
    assert s.correlation.group_by == ["service"]
    assert s.correlation.reopen_within == timedelta(minutes=30)

    assert s.severity.declare_at is Severity.SEV3
    assert [(r.name, r.severity, [str(m) for m in r.matchers]) for r in s.severity.rules] == [
        ("prod-critical", Severity.SEV1, ['severity="critical"', 'env="prod"']),
        ("critical", Severity.SEV2, ['severity=~"critical|page|error"']),
        ("warning", Severity.SEV3, ['severity="warning"']),
        ("default", Severity.SEV4, []),
    ]
    [wide, long_running] = s.severity.raises
    assert (wide.name, wide.when.firing_alerts, wide.when.firing_for, wide.severity) == (
        "wide-outage",
        5,
        None,
        Severity.SEV1,
    )
    assert (long_running.name, long_running.when.firing_for, long_running.severity) == (
        "long-running",
        timedelta(minutes=30),
        Severity.SEV2,
    )

    hard, soft = s.policies["page-hard"], s.policies["page-soft"]
    assert [(level.after, level.notify) for level in hard.levels] == [
        (timedelta(0), ["oncall-primary"]),
        (timedelta(minutes=5), ["oncall-primary", "oncall-secondary"]),
        (timedelta(minutes=15), ["eng-manager"]),
    ]
    assert (hard.repeat, hard.repeat_after) == (2, timedelta(minutes=10))
    assert [(level.after, level.notify) for level in soft.levels] == [(timedelta(0), ["team-chat"])]
    assert (soft.repeat, soft.repeat_after) == (1, timedelta(minutes=5))  # the defaults

    assert [(r.severities, [str(m) for m in r.matchers], r.policy) for r in s.routes] == [
        ([Severity.SEV1, Severity.SEV2], ['team="platform"'], "page-platform"),
        ([Severity.SEV1, Severity.SEV2], [], "page-hard"),
        ([], ['team="sandbox"'], "page-soft"),
        ([], [], "page-soft"),
    ]
    assert s.status_updates.cadence == {Severity.SEV1: timedelta(minutes=15), Severity.SEV2: timedelta(minutes=30)}
    assert s.status_updates.remind == ["incident-comms"]
    assert s.status_updates.notify == ["stakeholders"]
    assert s.resolution.verify_for == {Severity.SEV1: timedelta(minutes=15), Severity.SEV2: timedelta(minutes=15)}
    [beat, backup] = s.heartbeats
    assert (beat.name, beat.alertname, beat.expect_every, beat.severity) == (
        "watchdog",
        "Watchdog",
        timedelta(minutes=5),
        Severity.SEV2,
    )
    assert (backup.name, backup.alertname, backup.expect_every, backup.service) == (
        "nightly-backup",
        None,
        timedelta(hours=25),
        "backup",
    )
    # Relative paths are the example's own folder's.
    assert s.channels == str(EXAMPLE_CHANNELS)
    assert parse_sqlite_url(s.store)[0] == EXAMPLE.parent / "data" / "tocsin.db"


def test_config_file_can_come_from_tocsin_config(tmp_path: Path) -> None:
    path = write_example(tmp_path, lambda d: d.update(listen="0.0.0.0:9100"))
    assert load_settings(None, environ={"TOCSIN_CONFIG": str(path)}).listen == "0.0.0.0:9100"


# --- the environment above the YAML file -------------------------------------------------------------------------


def test_top_level_env_overrides_yaml(tmp_path: Path) -> None:
    path = write_example(tmp_path)
    s = load_settings(path, environ={"TOCSIN_LISTEN": "0.0.0.0:8000", "TOCSIN_STORE": "redis://redis:6379/2"})
    assert s.listen == "0.0.0.0:8000"
    assert s.store == "redis://redis:6379/2"
    assert s.public_url == "http://127.0.0.1:9097"  # what the environment does not name stays the file's


def test_env_values_are_parsed_like_yaml_values(tmp_path: Path) -> None:
    path = write_example(tmp_path)
    s = load_settings(path, environ={"TOCSIN_LINK_TTL": "1h30m", "TOCSIN_LINK_SECRET": "from-env-0123456789"})
    assert s.link_ttl == timedelta(hours=1, minutes=30)
    assert s.link_secret is not None
    assert s.link_secret.get_secret_value() == "from-env-0123456789"
    assert problems_of(path, {"TOCSIN_LINK_TTL": "soon"}) == [
        "link_ttl: bad duration 'soon' (expected e.g. 30s, 5m, 1h30m)"
    ]


def test_nested_env_with_double_underscore_overrides_one_key(tmp_path: Path) -> None:
    path = write_example(tmp_path)
    s = load_settings(path, environ={"TOCSIN_SOURCES__ALERTMANAGER__TOKENS": "am-1,am-2"})
    assert [t.get_secret_value() for t in s.sources.alertmanager.tokens] == ["am-1", "am-2"]
    # The rest of `sources` still comes from the file.
    assert s.sources.pagerduty.integrations["example-routing-key"].service == "db"
    assert [t.get_secret_value() for t in s.sources.pagerduty.webhook_secrets] == ["example-pd-secret"]

    s = load_settings(path, environ={"TOCSIN_SEVERITY__DECLARE_AT": "SEV2"})
    assert s.severity.declare_at is Severity.SEV2
    assert [r.name for r in s.severity.rules] == ["prod-critical", "critical", "warning", "default"]


@pytest.mark.parametrize(
    ("value", "tokens"),
    [
        ("a,b", ["a", "b"]),
        (" a , b ", ["a", "b"]),
        ("single", ["single"]),
        ('["a", "b"]', ["a", "b"]),
        ('["with,comma", "b"]', ["with,comma", "b"]),  # JSON when a token holds a comma
    ],
)
def test_env_lists_comma_separated_or_json(tmp_path: Path, value: str, tokens: list[str]) -> None:
    s = load_settings(write_example(tmp_path), environ={"TOCSIN_API_TOKENS": value})
    assert [t.get_secret_value() for t in s.api_tokens] == tokens


def test_env_list_of_plain_strings(tmp_path: Path) -> None:
    s = load_settings(write_example(tmp_path), environ={"TOCSIN_CORRELATION__GROUP_BY": "service,env"})
    assert s.correlation.group_by == ["service", "env"]


def test_environ_given_is_the_only_environment(tmp_path: Path) -> None:
    """environ= stands for the whole environment: an empty one leaves the file's values."""
    s = load_settings(write_example(tmp_path), environ={})
    assert s.listen == "127.0.0.1:9097"
    assert [t.get_secret_value() for t in s.api_tokens] == ["example-api-token"]


# --- unknown keys and relative paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (lambda d: d.update(bogus=1), "bogus"),
        (lambda d: d.update(listen_address="0.0.0.0:1"), "listen_address"),
        (lambda d: d["sources"]["alertmanager"].update(token=["x"]), "sources.alertmanager.token"),
        (lambda d: d["sources"].update(grafana={}), "sources.grafana"),
        (lambda d: d["policies"]["page-hard"]["levels"][0].update(wait="1m"), "policies.page-hard.levels[0].wait"),
        (lambda d: d["routes"][1].update(match={"team": "sandbox"}), "routes[1].match"),
        (lambda d: d["severity"]["rules"][0].update(continue_=True), "severity.rules[0].continue_"),
        (lambda d: d["heartbeats"][0].update(every="5m"), "heartbeats[0].every"),
    ],
)
def test_unknown_keys_are_errors_naming_the_key(tmp_path: Path, edit: Edit, key: str) -> None:
    assert problems_of(write_example(tmp_path, edit)) == [f"{key}: unknown key"]


def test_unknown_env_key_below_a_known_one_is_an_error(tmp_path: Path) -> None:
    problems = problems_of(write_example(tmp_path), {"TOCSIN_SOURCES__ALERTMANAGER__TOKEN": "typo"})
    assert problems == ["sources.alertmanager.token: unknown key"]


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d.update(bogus=1)
        d["correlation"]["reopen_within"] = "half an hour"
        d["severity"]["rules"][2]["severity"] = "SEV0"

    problems = problems_of(write_example(tmp_path, edit))
    assert sorted(p.partition(":")[0] for p in problems) == [
        "bogus",
        "correlation.reopen_within",
        "severity.rules[2].severity",
    ]


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "etc" / "tocsin"

    def edit(d: dict[str, Any]) -> None:
        d.update(store="sqlite:///state/tocsin.db?synchronous=FULL", channels="apprise.yml", templates="templates")

    path = write_example(conf, edit)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    for given in (path, Path("..") / "etc" / "tocsin" / "tocsin.yml"):
        s = load_settings(given, environ={})
        db, options = parse_sqlite_url(s.store)
        assert db == conf / "state" / "tocsin.db"
        assert options == {"synchronous": "FULL"}
        assert s.channels == str(conf / "apprise.yml")
        assert s.templates == str(conf / "templates")


def test_example_store_and_channels_land_beside_the_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_example(tmp_path / "conf")
    monkeypatch.chdir(tmp_path)
    s = load_settings(path, environ={})
    assert parse_sqlite_url(s.store)[0] == tmp_path / "conf" / "data" / "tocsin.db"  # sqlite:///./data/tocsin.db
    assert s.channels == str(tmp_path / "conf" / "apprise.yml")


def test_absolute_paths_and_redis_urls_stay_as_written(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d.update(store=f"sqlite:///{tmp_path}/abs.db", channels=str(tmp_path / "ch.yml"))

    s = load_settings(write_example(tmp_path / "conf", edit), environ={})
    assert parse_sqlite_url(s.store)[0] == tmp_path / "abs.db"
    assert s.channels == str(tmp_path / "ch.yml")

    s = load_settings(write_example(tmp_path / "conf", lambda d: d.update(store="redis://r:6379/0")), environ={})
    assert s.store == "redis://r:6379/0"


# --- mistakes name the key path and say why ----------------------------------------------------------------------


def _set(path: str, value: Any) -> Edit:
    """An edit setting a dotted path (list indexes as numbers) of the config to ``value``."""

    def edit(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = d
        for part in parents:
            node = node[int(part)] if part.isdigit() else node[part]
        node[int(last) if last.isdigit() else last] = value

    return edit


def _append(path: str, value: Any) -> Edit:
    def edit(d: dict[str, Any]) -> None:
        node: Any = d
        for part in path.split("."):
            node = node[part]
        node.append(copy.deepcopy(value))

    return edit


BAD_CONFIGS = [
    pytest.param(
        _set("routes.0.policy", "page-everyone"),
        "routes[0].policy",
        "unknown policy 'page-everyone' (known: page-hard, page-platform, page-soft)",
        id="route-unknown-policy",
    ),
    pytest.param(
        _set("policies.page-hard.repeat_after", "10 minutes"),
        "policies.page-hard.repeat_after",
        "bad duration '10 minutes'",
        id="bad-duration",
    ),
    pytest.param(
        _set("policies.page-hard.levels.1.after", "5mm"),
        "policies.page-hard.levels[1].after",
        "bad duration '5mm'",
        id="bad-level-duration",
    ),
    pytest.param(
        _set("correlation.reopen_within", "1m30h"),  # Prometheus wants units largest first
        "correlation.reopen_within",
        "bad duration '1m30h'",
        id="duration-units-out-of-order",
    ),
    pytest.param(
        _set("heartbeats.0.expect_every", 300),
        "heartbeats[0].expect_every",
        "bad duration 300",
        id="duration-without-unit",
    ),
    pytest.param(
        _set("severity.rules.0.severity", "SEV5"),
        "severity.rules[0].severity",
        "unknown severity 'SEV5'",
        id="unknown-severity",
    ),
    pytest.param(
        _set("severity.declare_at", "critical"),
        "severity.declare_at",
        "unknown severity 'critical'",
        id="unknown-declare-at",
    ),
    pytest.param(
        _set("routes.0.severities", ["SEV1", "P1"]),
        "routes[0].severities[1]",
        "unknown severity 'P1'",
        id="unknown-route-severity",
    ),
    pytest.param(
        _set("status_updates.cadence.SEV9", "1m"),
        "status_updates.cadence.SEV9",
        "unknown severity 'SEV9'",
        id="unknown-cadence-severity",
    ),
    pytest.param(
        _set("severity.rules.1.matchers", ['severity=~"critical|(page"']),
        "severity.rules[1].matchers[0]",
        "bad regex 'critical|(page'",
        id="bad-regex",
    ),
    pytest.param(
        _set("routes.1.matchers", ["team sandbox"]),
        "routes[1].matchers[0]",
        "bad matcher 'team sandbox'",
        id="bad-matcher",
    ),
    pytest.param(
        _set("routes.1.matchers", ['team="sandbox"', 'env!~"(?!prod).*"']),
        "routes[1].matchers[1]",
        "RE2",
        id="matcher-with-lookahead",
    ),
    pytest.param(
        _set("severity.rules.0.matchers", ['severity="crit"ical"']),
        "severity.rules[0].matchers[0]",
        "unescaped double quote",
        id="matcher-with-inner-quote",
    ),
    pytest.param(
        _append("severity.rules", {"name": "warning", "severity": "SEV4"}),
        "severity.rules[4].name",
        "duplicate rule name 'warning'",
        id="duplicate-rule-name",
    ),
    pytest.param(
        _append("severity.raise", {"name": "wide-outage", "when": {"firing_alerts": 2}, "severity": "SEV2"}),
        "severity.raise[2].name",
        "duplicate rule name 'wide-outage'",
        id="duplicate-raise-name",
    ),
    pytest.param(
        _append("heartbeats", {"name": "watchdog", "expect_every": "1m"}),
        "heartbeats[2].name",
        "duplicate heartbeat 'watchdog'",
        id="duplicate-heartbeat",
    ),
    pytest.param(
        _set("policies.page-soft.levels.0.notify", ["team chat"]),
        "policies.page-soft.levels[0].notify[0]",
        "bad notify target 'team chat' (a channel tag, oncall:<schedule>/<rotation> or person:<name>)",
        id="bad-channel-name",
    ),
    pytest.param(
        _set("listen", "9097"),
        "listen",
        "bad listen address '9097'",
        id="bad-listen",
    ),
    pytest.param(
        _set("listen", "127.0.0.1:\u00b9\u2070"),  # superscript digits: digits to str.isdigit, not to int()
        "listen",
        "bad listen address '127.0.0.1:\u00b9\u2070'",
        id="bad-listen-port-digits",
    ),
]


@pytest.mark.parametrize(("edit", "key", "why"), BAD_CONFIGS)
def test_mistakes_name_their_key_and_why(tmp_path: Path, edit: Edit, key: str, why: str) -> None:
    [problem] = problems_of(write_example(tmp_path, edit))
    assert problem.startswith(f"{key}: "), problem
    assert why in problem.removeprefix(f"{key}: ")


def test_unreadable_or_malformed_files_are_config_errors(tmp_path: Path) -> None:
    assert problems_of(tmp_path / "missing.yml") == [
        f"{tmp_path / 'missing.yml'}: cannot read: No such file or directory"
    ]
    broken = tmp_path / "broken.yml"
    broken.write_text("listen: [unclosed\n")
    [problem] = problems_of(broken)
    assert problem.startswith(f"{broken}: not valid YAML")
    listed = tmp_path / "list.yml"
    listed.write_text("- listen: 127.0.0.1:1\n")
    assert problems_of(listed) == [f"{listed}: the top level must be a mapping of keys"]


# --- `tocsin check-config` as the operator runs it ---------------------------------------------------------------


def check_config(path: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOCSIN_")}
    return subprocess.run(
        [sys.executable, "-m", "daemon", "check-config", str(path)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_config_accepts_the_example(tmp_path: Path) -> None:
    result = check_config(EXAMPLE, tmp_path)
    assert result.returncode == 0, result.stderr
    [line] = result.stdout.splitlines()
    assert line.startswith("ok: 4 severity rules, 3 policies, 4 routes, 12 channels; ")
    assert f"store sqlite:///{EXAMPLE.parent / 'data' / 'tocsin.db'}" in line
    # Only the sections this version parses but does not act on yet are warned about.
    assert all(": parsed, not acted on yet: " in w for w in result.stderr.splitlines()), result.stderr


def test_check_config_accepts_a_copy_of_the_example_elsewhere(tmp_path: Path) -> None:
    result = check_config(write_example(tmp_path / "conf"), tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok: ")


def _without_apprise(d: dict[str, Any]) -> None:
    d["channels"] = "missing-apprise.yml"


CHANNEL_URLS = EXAMPLE_CHANNELS.read_text()

BAD_FOR_CHECK = [
    # Settings that do not load at all: exit 2.
    pytest.param(_set("routes.2.policy", "page-nobody"), None, 2, "routes[2].policy", id="unknown-policy"),
    pytest.param(_set("routes.1.matchers", ['team=~"sand(box"']), None, 2, "routes[1].matchers[0]", id="bad-matcher"),
    pytest.param(
        _set("status_updates.cadence.SEV1", "fifteen minutes"),
        None,
        2,
        "status_updates.cadence.SEV1",
        id="bad-duration",
    ),
    pytest.param(_set("heartbeats.0.severity", "urgent"), None, 2, "heartbeats[0].severity", id="unknown-severity"),
    # Settings that load but do not fit their Apprise file: exit 1.
    pytest.param(
        _set("policies.page-hard.levels.2.notify", ["eng-director"]),
        None,
        2,
        "policies.page-hard.levels[2].notify: channel 'eng-director' is no tag",
        id="channel-no-tag",
    ),
    pytest.param(
        _set("status_updates.remind", ["war-room"]),
        None,
        2,
        "status_updates.remind: channel 'war-room' is no tag",
        id="status-channel-no-tag",
    ),
    pytest.param(
        None,
        CHANNEL_URLS + "  - notaschema://x:\n      - tag: team-chat\n",
        2,
        "notaschema://x",
        id="unparsable-apprise-url",
    ),
    pytest.param(_without_apprise, None, 2, "channels: cannot read", id="missing-apprise-file"),
]


@pytest.mark.parametrize(("edit", "apprise", "exit_code", "expected"), BAD_FOR_CHECK)
def test_check_config_refuses_naming_the_offender(
    tmp_path: Path, edit: Edit | None, apprise: str | None, exit_code: int, expected: str
) -> None:
    path = write_example(tmp_path / "conf", edit, apprise)
    result = check_config(path, tmp_path)
    assert result.returncode == exit_code, (result.stdout, result.stderr)
    assert expected in result.stderr
    assert f"configuration {path} is not valid" in result.stderr
    assert result.stdout == ""


def test_check_config_on_a_missing_file(tmp_path: Path) -> None:
    result = check_config(tmp_path / "nope.yml", tmp_path)
    assert result.returncode == 2
    assert "nope.yml: cannot read" in result.stderr
