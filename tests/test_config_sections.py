"""The example's newer sections (people, schedules, maintenance, heartbeats, board, tls, Grafana OnCall) load and are
validated; what is not acted on yet is said, never silently ignored; published secrets stay on loopback."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from daemon.config.check import check
from daemon.config.exposure import EXAMPLE_SECRETS
from daemon.config.loader import ConfigError, load_settings
from daemon.config.settings import auto_workers
from tests.support import EXAMPLE
from tests.test_config import write_example

ROOT = Path(__file__).resolve().parent.parent


def problems(tmp_path: Path, edit: Any, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_settings(write_example(tmp_path, edit), environ=environ or {})
    return caught.value.problems


def test_the_example_people_schedules_and_windows_load() -> None:
    s = load_settings(EXAMPLE, environ={})
    assert s.people["carol"].name == "Carol Diaz"
    assert [(step.after, step.contacts) for step in s.people["carol"].notify] == [
        (timedelta(0), ["carol-push"]),
        (timedelta(minutes=2), ["carol-mail"]),
    ]
    platform = s.schedules["platform"]
    assert platform.timezone == "Europe/Berlin"
    assert platform.handoff_notice == timedelta(hours=1)
    assert platform.rotations["primary"].people == ["alice", "bob", "carol"]
    assert platform.rotations["primary"].handoff == "mon 09:00"
    assert s.policies["page-platform"].levels[2].notify == ["person:carol", "eng-manager"]
    [window] = s.maintenance
    assert window.name == "storage-patching"
    watchdog = s.heartbeats[0]
    assert (watchdog.grace, watchdog.service) == (timedelta(minutes=1), "monitoring")
    assert s.sources.grafana_oncall.integrations["example-oncall-key"].service == "legacy"
    assert s.board.session_ttl == timedelta(hours=12)
    assert (s.tls.cert_file, s.tls.key_file) == ("", "")


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        pytest.param(
            lambda d: d["policies"]["page-platform"]["levels"][0].update(notify=["oncall:platfrom/primary"]),
            "policies.page-platform.levels[0].notify: unknown schedule 'platfrom'",
            id="unknown-schedule",
        ),
        pytest.param(
            lambda d: d["policies"]["page-platform"]["levels"][1].update(notify=["oncall:platform/tertiary"]),
            "policies.page-platform.levels[1].notify: unknown rotation 'tertiary'",
            id="unknown-rotation",
        ),
        pytest.param(
            lambda d: d["policies"]["page-platform"]["levels"][2].update(notify=["person:dave"]),
            "policies.page-platform.levels[2].notify: unknown person 'dave'",
            id="unknown-person-in-policy",
        ),
        pytest.param(
            lambda d: d["schedules"]["platform"]["rotations"]["primary"].update(people=["alice", "zed"]),
            "schedules.platform.rotations.primary.people[1]: unknown person 'zed'",
            id="unknown-person-in-rotation",
        ),
        pytest.param(
            lambda d: d["schedules"]["platform"].update(timezone="Europe/Atlantis"),
            "schedules.platform.timezone: unknown time zone 'Europe/Atlantis'",
            id="bad-zone",
        ),
        pytest.param(
            lambda d: d["schedules"]["platform"]["rotations"]["daytime"].update(handoff="mon 09:00"),
            "schedules.platform.rotations.daytime: a handoff with a weekday needs a shift of whole weeks",
            id="weekday-handoff-daily",
        ),
        pytest.param(
            lambda d: d["maintenance"][0]["time_intervals"][0].update(weekdays=["funday"]),
            "maintenance[0].time_intervals[0].weekdays: bad weekday 'funday'",
            id="bad-weekday",
        ),
        pytest.param(
            lambda d: d["people"]["carol"]["notify"][1].update(contacts=["bob-mail"]),
            "people.carol: notify[1].contacts: 'bob-mail' is not one of this person's contacts",
            id="step-contact-not-hers",
        ),
        pytest.param(
            lambda d: d["policies"]["page-soft"].update(repeat=3, repeat_after="0s"),
            "repeat_after: 0s with every level at 0s pages every round at once",
            id="burst-policy",
        ),
        pytest.param(lambda d: d.update(tls={"cert_file": "a.pem"}), "set both cert_file and key_file", id="tls-half"),
        pytest.param(
            lambda d: d.update(link_secret="short"),
            "link_secret: link_secret must be at least 16 bytes",
            id="short-link-secret",
        ),
        pytest.param(
            lambda d: d.update(link_secret=""), "link_secret must be at least 16 bytes", id="empty-link-secret"
        ),
    ],
)
def test_broken_references_name_their_key(tmp_path: Path, edit: Any, expected: str) -> None:
    found = problems(tmp_path, edit)
    assert any(expected in p for p in found), found


def test_an_unknown_contact_tag_is_refused_by_check_config(tmp_path: Path) -> None:
    path = write_example(tmp_path, lambda d: d["people"]["bob"].update(contacts=["bob-push", "bob-pager"]))
    report = check(load_settings(path, environ={}))
    assert any(p.startswith("people.bob.contacts: channel 'bob-pager' is no tag in") for p in report.problems)


def test_every_section_of_the_example_is_acted_on(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, "-m", "daemon", "check-config", str(write_example(tmp_path))],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "parsed, not acted on yet" not in run.stderr  # handoff notices were the last
    assert "warning: sources.grafana_oncall:" not in run.stderr  # its integration URLs are served
    assert "warning: board:" not in run.stderr  # the web board serves it
    assert "tls:" not in run.stderr  # empty cert and key: nothing to act on
    assert "warning: people:" not in run.stderr  # acted on
    assert "warning: schedules:" not in run.stderr
    assert "warning: maintenance:" not in run.stderr  # acted on: windows silence (DESIGN §12)
    assert "warning: heartbeats:" not in run.stderr  # acted on: heartbeats are watched (DESIGN §13)


def test_a_section_left_out_is_not_warned_about(tmp_path: Path) -> None:
    def drop(d: dict[str, Any]) -> None:
        for key in ("maintenance", "board", "tls"):
            d.pop(key)

    warnings = check(load_settings(write_example(tmp_path, drop), environ={})).warnings
    assert not [w for w in warnings if w.startswith(("maintenance:", "board:", "tls:"))]


# --- published example secrets beyond loopback ------------------------------------------------------------------


def test_every_secret_of_the_published_example_is_known() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    published = {
        *data["api_tokens"],
        data["link_secret"],
        *data["sources"]["alertmanager"]["tokens"],
        *data["sources"]["pagerduty"]["integrations"],
        *data["sources"]["pagerduty"]["webhook_secrets"],
        *data["sources"]["grafana_oncall"]["integrations"],
    }
    assert published <= EXAMPLE_SECRETS


@pytest.mark.parametrize("listen", ["0.0.0.0:9097", "[::]:9097", ":9097", "10.1.2.3:9097", "tocsin.internal:9097"])
def test_example_secrets_are_refused_beyond_loopback(tmp_path: Path, listen: str) -> None:
    report = check(load_settings(write_example(tmp_path, lambda d: d.update(listen=listen)), environ={}))
    keys = sorted({p.split(":")[0] for p in report.problems})
    assert keys == [
        "api_tokens",
        "link_secret",
        "sources.alertmanager.tokens",
        "sources.grafana_oncall.integrations",
        "sources.pagerduty.integrations",
        "sources.pagerduty.webhook_secrets",
    ]
    assert all("published example secret" in p for p in report.problems)


@pytest.mark.parametrize("listen", ["127.0.0.1:9097", "[::1]:9097", "localhost:9097", "127.0.0.2:9097"])
def test_example_secrets_stay_usable_on_loopback(tmp_path: Path, listen: str) -> None:
    assert check(load_settings(write_example(tmp_path, lambda d: d.update(listen=listen)), environ={})).problems == []


def test_run_refuses_to_start_beyond_loopback_with_example_secrets(tmp_path: Path) -> None:
    path = write_example(tmp_path, lambda d: d.update(listen="0.0.0.0:0", store="sqlite:///./t.db"))
    run = subprocess.run(
        [sys.executable, "-m", "daemon", "run", "--config", str(path)], capture_output=True, text=True, timeout=30
    )
    assert run.returncode != 0
    assert "api_tokens: the published example secret 'example-api-token' is in force" in run.stderr


def test_a_missing_link_secret_is_allowed_only_for_one_tocsin_on_sqlite_on_loopback(tmp_path: Path) -> None:
    def no_secret(**more: Any) -> Any:
        return lambda d: (d.pop("link_secret"), d.update(more))

    # Its workers share the one random secret `tocsin run` makes before it forks them (test_workers).
    for more in ({}, {"workers": 2}):
        assert check(load_settings(write_example(tmp_path / "a", no_secret(**more)), environ={})).problems == []
    found = check(load_settings(write_example(tmp_path / "b", no_secret(store="redis://127.0.0.1:1/0")), environ={}))
    assert [p.split(":")[0] for p in found.problems] == ["link_secret"]
    found = check(load_settings(write_example(tmp_path / "c", no_secret(listen="0.0.0.0:9097")), environ={}))
    assert "link_secret" in [p.split(":")[0] for p in found.problems]


def test_an_environment_mapping_replaces_the_files_whole(tmp_path: Path) -> None:
    s = load_settings(
        write_example(tmp_path), environ={"TOCSIN_SOURCES__PAGERDUTY__INTEGRATIONS": '{"real-key": {"service": "db"}}'}
    )
    assert list(s.sources.pagerduty.integrations) == ["real-key"]


def test_a_gap_in_a_paged_rotation_is_a_warning_not_an_error(tmp_path: Path) -> None:
    def page_daytime(d: dict[str, Any]) -> None:
        d["policies"]["page-platform"]["levels"][0]["notify"] = ["oncall:platform/daytime"]

    settings = load_settings(write_example(tmp_path, page_daytime), environ={})
    # Tuesday 2026-11-24 12:00Z (13:00 in Berlin): the next gap opens at 18:00 Berlin, 17:00Z; in 28 days the
    # daytime rotation has 5 gaps a week (4 weeknights, and Friday evening to Monday morning): 20, by hand.
    report = check(settings, now=datetime(2026, 11, 24, 12, tzinfo=UTC))
    assert report.problems == []
    assert (
        "policies.page-platform.levels[0].notify: oncall:platform/daytime has nobody on call from 2026-11-24T17:00Z"
        " (20 gaps in the next 28 days)" in report.warnings
    ), report.warnings


@pytest.mark.parametrize(
    ("limits", "expected"),
    [
        ({}, 4),  # no limit anywhere: the cores, at most 4
        ({"": "max 100000"}, 4),
        ({"": "150000 100000"}, 2),  # 1.5 cores (a container's, at the root of its namespace): 2 workers
        ({"system.slice/tocsin.service": "50000 100000"}, 1),  # systemd's CPUQuota=50% on tocsin's own cgroup
        ({"system.slice": "300000 100000", "system.slice/tocsin.service": "max 100000"}, 3),  # a parent's limit
        ({"": "garbage"}, 4),
    ],
)
def test_workers_auto_is_one_per_core_tocsin_may_use_at_most_four(
    tmp_path: Path, limits: dict[str, str], expected: int
) -> None:
    root = tmp_path / "cgroup"
    (root / "system.slice/tocsin.service").mkdir(parents=True)
    for folder, cpu_max in limits.items():
        (root / folder / "cpu.max").write_text(cpu_max + "\n")
    own = tmp_path / "self-cgroup"
    own.write_text("1:cpu:/\n0::/system.slice/tocsin.service\n")
    assert auto_workers(root, own) == min(len(os.sched_getaffinity(0)), expected)


def test_workers_default_to_auto_and_a_number_is_kept(tmp_path: Path) -> None:
    assert "workers" not in yaml.safe_load(EXAMPLE.read_text())
    assert load_settings(write_example(tmp_path / "a"), environ={}).workers == auto_workers()
    assert load_settings(write_example(tmp_path / "b"), environ={"TOCSIN_WORKERS": "auto"}).workers == auto_workers()
    assert load_settings(write_example(tmp_path / "c", lambda d: d.update(workers=1)), environ={}).workers == 1
    with pytest.raises(ConfigError, match="workers"):
        load_settings(write_example(tmp_path / "d", lambda d: d.update(workers="many")), environ={})
