"""Reload through ``POST /-/reload``: checked first, put in force between decisions, and open incidents follow the
new policies (DESIGN §15). Real Apprise deliveries to a local HTTP sink, an injected clock for the timers."""

from __future__ import annotations

import asyncio
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
import yaml

from daemon.domain import AlertStatus, Source
from daemon.engine import heartbeats
from daemon.engine import reload as engine_reload
from daemon.engine.events import AlertIn, AlertsReceived, StartedUp
from daemon.engine.state import Needs, Slice
from daemon.http.keys import RELOADER
from daemon.reloading import BATCH
from tests.conftest import MakeTocsin
from tests.programs import until
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, SEV1, Tocsin, am_alert, am_webhook, write_config
from tests.test_ack_links import ACK, page_link

pytestmark = pytest.mark.both_stores

NOTIFY = {"notify": {"retries": 0, "timeout": "5s"}}
PAGE_HARD = {"repeat": 2, "repeat_after": "10m"}


def page_hard(*levels: tuple[str, list[str]]) -> dict[str, Any]:
    return {"policies": {"page-hard": {"levels": [{"after": a, "notify": n} for a, n in levels], **PAGE_HARD}}}


class Config:
    """The test's tocsin.yml, rewritten in place (the file the running tocsin reloads)."""

    def __init__(self, directory: Path, store_url: str | None, sink: HttpSink) -> None:
        self.directory, self.store_url, self.sink = directory, store_url, sink

    def overrides(self, extra: dict[str, Any] | None = None) -> dict[str, Any]:
        return {**NOTIFY, **({"store": self.store_url} if self.store_url else {}), **(extra or {})}

    def write(self, extra: dict[str, Any] | None = None, drop_policy: str = "") -> None:
        path = write_config(self.directory, self.overrides(extra), sink=self.sink.address)
        if drop_policy:  # overrides merge into the example: a policy goes only by taking it out of the file
            data = yaml.safe_load(path.read_text())
            del data["policies"][drop_policy]
            path.write_text(yaml.safe_dump(data, sort_keys=False))

    def break_it(self) -> None:
        (self.directory / "tocsin.yml").write_text("routes:\n  - policy: no-such-policy\n")


@pytest.fixture
def config(tmp_path: Path, store_url: str | None, http_sink: HttpSink) -> Config:
    return Config(tmp_path, store_url, http_sink)


async def reload(t: Tocsin, status: int = 200) -> Any:
    return await t.api("POST", "/-/reload", status=status)


async def ping(t: Tocsin, name: str) -> None:
    response = await t.client.post(f"/api/v1/heartbeats/{name}", headers={"Authorization": f"Bearer {AM_TOKEN}"})
    assert response.status == 200, await response.text()


async def metrics(t: Tocsin) -> str:
    response = await t.client.get("/metrics")
    return await response.text()


async def timeline(t: Tocsin, incident_id: str = "INC-2026-0001") -> list[str]:
    return [e["text"] for e in (await t.incident(incident_id))["timeline"]]


async def test_a_new_after_and_notify_take_effect_for_the_next_level(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick(60)
    assert http_sink.count("oncall-primary") == 1  # level 0 paged; level 1 due at 5m
    config.write(page_hard(("0s", ["oncall-primary"]), ("3m", ["eng-manager"]), ("15m", ["eng-manager"])))
    answer = await reload(t)
    assert answer["status"] == "reloaded"
    assert answer["changed"] == ["policies"]
    assert answer["open_incidents"] == 1
    await t.tick(119)  # 2:59 after the page
    assert http_sink.count("eng-manager") == 0
    await t.tick(1)  # 3:00: the new level 1, to its new channel
    assert http_sink.count("eng-manager") == 1
    await t.tick(180)  # 6:00, past the old 5m: nothing more (level 2 is at 15m)
    assert (http_sink.count("oncall-secondary"), http_sink.count("eng-manager")) == (0, 1)
    assert "level 1 (round 1) of page-hard is due at 2026" in "\n".join(await timeline(t))


async def test_a_level_whose_new_time_is_past_pages_at_once_and_once(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick(180)
    config.write(page_hard(("0s", ["oncall-primary"]), ("1m", ["eng-manager"]), ("10m", ["oncall-secondary"])))
    await reload(t)
    await t.tick()
    assert http_sink.count("eng-manager") == 1  # 1m was two minutes ago: it pages now
    for _ in range(6):
        await t.tick(60)  # up to 9:00
    assert (http_sink.count("eng-manager"), http_sink.count("oncall-secondary")) == (1, 0)
    await t.tick(60)
    assert http_sink.count("oncall-secondary") == 1  # level 2 keeps its own time from the round's start


async def test_a_broken_file_is_refused_and_the_running_configuration_keeps_paging(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    assert "tocsin_config_last_reload_successful 1.0" in await metrics(t)
    started = t.registry.get_sample_value("tocsin_config_last_reload_success_timestamp_seconds")
    assert started == t.clock.now().timestamp()
    config.break_it()
    t.clock.advance(60)
    with structlog.testing.capture_logs() as logs:
        answer = await reload(t, status=400)
    assert answer["error"]["code"] == "config_refused"
    assert answer["error"]["details"]["problems"] == [
        "routes[0].policy: unknown policy 'no-such-policy' (known: none defined)"
    ]
    [refused] = [line for line in logs if line["event"] == "reload_refused"]
    assert refused["log_level"] == "error"
    assert refused["problems"] == answer["error"]["details"]["problems"]
    text = await metrics(t)
    assert "tocsin_config_last_reload_successful 0.0" in text
    assert t.registry.get_sample_value("tocsin_config_last_reload_success_timestamp_seconds") == started
    # The running configuration still pages.
    await t.send_fixture(SEV1)
    await t.tick()
    assert http_sink.titles("oncall-primary") == ["[SEV1] INC-2026-0001 HighErrorRate on checkout"]
    # A good file again: in force, and the metrics say so.
    config.write()
    await reload(t)
    assert "tocsin_config_last_reload_successful 1.0" in await metrics(t)
    reloaded = t.registry.get_sample_value("tocsin_config_last_reload_success_timestamp_seconds")
    assert reloaded == started + 60


async def test_reload_needs_the_api_token(make_tocsin: MakeTocsin, http_sink: HttpSink) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    response = await t.client.post("/-/reload")
    assert response.status == 401
    response = await t.client.post("/-/reload", headers={"Authorization": "Bearer wrong"})
    assert response.status == 401


async def test_removing_a_schedule_a_policy_still_names_is_refused(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config, tmp_path: Path
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    config.write()
    text = (tmp_path / "tocsin.yml").read_text()
    start, end = text.index("schedules:\n"), text.index("maintenance:\n")
    (tmp_path / "tocsin.yml").write_text(text[:start] + text[end:])
    answer = await reload(t, status=400)
    [problem] = answer["error"]["details"]["problems"]
    assert problem.startswith("policies.page-platform.levels[0].notify: unknown schedule 'platform'")
    schedules = await t.api("GET", "/api/v1/schedules")
    assert [s["name"] for s in schedules["schedules"]] == ["platform"]


async def test_a_vanished_policy_routes_the_incident_again(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick(60)
    routes = [
        {"severities": ["SEV1", "SEV2"], "matchers": ['team="platform"'], "policy": "page-platform"},
        {"severities": ["SEV1", "SEV2"], "policy": "page-critical"},
        {"policy": "page-soft"},
    ]
    policies = {"page-critical": {"levels": [{"after": "0s", "notify": ["eng-manager"]}]}}
    config.write({"routes": routes, "policies": policies}, drop_policy="page-hard")
    await reload(t)
    await t.tick()
    incident = await t.incident("INC-2026-0001")
    assert (incident["state"], incident["policy"]) == ("triggered", "page-critical")
    lines = await timeline(t)
    gone = "escalation policy page-hard is no longer in the configuration (configuration reloaded)"
    assert gone in lines
    assert any("page-critical" in line for line in lines[lines.index(gone) + 1 :])
    assert http_sink.count("eng-manager") == 1  # the new policy's level 0, at once
    await t.tick(10 * 60)
    assert http_sink.count("oncall-secondary") == 0  # page-hard's level 1 is gone with it


async def test_a_removed_persons_pending_step_is_dropped_with_a_timeline_entry(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    dave = {
        "name": "Dave Li",
        "contacts": ["team-chat", "stakeholders"],
        "notify": [{"after": "0s", "contacts": ["team-chat"]}, {"after": "2m", "contacts": ["stakeholders"]}],
    }
    first = {"people": {"dave": dave}, **page_hard(("0s", ["person:dave"]), ("10m", ["oncall-secondary"]))}
    t = await make_tocsin({**NOTIFY, **first}, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick()
    assert http_sink.count("team-chat") == 1  # dave's first step
    config.write(page_hard(("0s", ["oncall-primary"]), ("10m", ["oncall-secondary"])))
    await reload(t)
    assert "dave is no longer in the configuration (configuration reloaded): their steps are dropped" in (
        await timeline(t)
    )
    await t.tick(5 * 60)
    assert http_sink.count("stakeholders") == 0  # his 2m step never pages


async def test_a_removed_heartbeat_resolves_its_missed_alert_and_loses_its_deadline(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await ping(t, "nightly-backup")
    await ping(t, "watchdog")
    await t.tick(25 * 3600 + 1)  # both missed: each fires its HeartbeatMissed alert
    await ping(t, "watchdog")  # watchdog is up again, with a deadline
    missed = {a["fingerprint"]: a["status"] for a in (await t.api("GET", "/api/v1/alerts"))["alerts"]}
    assert missed["heartbeat:nightly-backup"] == "firing"
    [incident] = [i for i in await t.incidents() if i["service"] == "backup"]
    assert incident["state"] == "triggered"
    config.write({"heartbeats": []})
    await reload(t)
    alerts = {a["fingerprint"]: a["status"] for a in (await t.api("GET", "/api/v1/alerts"))["alerts"]}
    assert alerts["heartbeat:nightly-backup"] == "resolved"
    after = await t.incident(incident["id"])
    assert after["state"] in ("mitigated", "resolved")
    texts = [e["text"] for e in after["timeline"]]
    assert (
        "heartbeat nightly-backup is no longer in the configuration (configuration reloaded): its alert resolves"
        in (texts)
    )
    assert (await t.api("GET", "/api/v1/heartbeats"))["heartbeats"] == []
    owners = frozenset({heartbeats.owner("watchdog"), heartbeats.owner("nightly-backup")})
    left = await t.services.store.load(Needs(timer_owners=owners))
    assert left.timers == {}


async def test_a_change_that_needs_a_restart_is_warned_about_and_kept(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    workers = t.services.settings.workers
    # More than `workers: auto` (the default) ever makes, so a change on any machine.
    config.write({"listen": "127.0.0.1:9999", "workers": 5, "api_tokens": ["example-api-token", "second-token"]})
    with structlog.testing.capture_logs() as logs:
        answer = await reload(t)
    assert answer["restart_needed"] == ["listen", "workers"]
    assert answer["changed"] == ["api_tokens"]
    warned = [(line["key"], line["log_level"]) for line in logs if line["event"] == "reload_needs_restart"]
    assert warned == [("listen", "warning"), ("workers", "warning")]
    assert (t.services.settings.listen, t.services.settings.workers) == ("127.0.0.1:9097", workers)
    # What could change did: the new token is accepted.
    response = await t.client.get("/api/v1/incidents", headers={"Authorization": "Bearer second-token"})
    assert response.status == 200


async def test_every_open_incident_follows_when_there_are_more_than_a_batch(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    def soft(after: str) -> dict[str, Any]:
        levels = [{"after": "0s", "notify": ["team-chat"]}, {"after": after, "notify": ["stakeholders"]}]
        return {"policies": {"page-soft": {"levels": levels}}}

    t = await make_tocsin({**NOTIFY, **soft("10m")}, sink=http_sink.address)
    count = BATCH * 2 + 50
    alerts = [am_alert("Lag", f"svc-{n}", severity="warning") for n in range(count)]
    response = await t.post_alertmanager(am_webhook(*alerts))
    assert response.status == 200
    config.write(soft("2m"))
    answer = await reload(t)
    assert answer["open_incidents"] == count
    t.clock.advance(120)
    await t.services.scheduler.run_due()  # level 1 of each, at the new 2m (the outbox is not sent here)
    page = await t.api("GET", "/api/v1/incidents?limit=500")
    assert len(page["incidents"]) == count
    for summary in page["incidents"]:
        lines = [e["text"] for e in (await t.incident(summary["id"]))["timeline"] if e["kind"] == "escalated"]
        # Escalation wording is the notifiers' to choose: what matters is level 1, to its channel, at 2m.
        assert "level 1" in lines[-1], (summary["id"], lines)
        assert "stakeholders" in lines[-1], (summary["id"], lines)


async def test_a_handoff_notice_set_by_a_reload_is_armed(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin({**NOTIFY, "schedules": {"platform": {"handoff_notice": None}}}, sink=http_sink.address)
    config.write()  # the example's handoff_notice: 1h
    await reload(t)
    # The clock starts Sunday 07:12:30Z; Monday's 09:00 Berlin handoff is 08:00Z, its notice 07:00Z.
    await t.tick((24 - 7) * 3600 - 12 * 60 - 30 + 7 * 3600)
    assert http_sink.titles("bob-push") == ["On call from Mon 2026-11-23 09:00 CET: platform/primary"]


async def test_concurrent_reloads_take_turns_and_each_answers(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick()
    config.write(page_hard(("0s", ["oncall-primary"]), ("2m", ["eng-manager"])))
    answers = await asyncio.gather(*(reload(t) for _ in range(5)))
    assert [a["changed"] for a in answers] == [["policies"], [], [], [], []]  # the first put it in force
    await t.tick(120)
    assert http_sink.count("eng-manager") == 1


async def test_when_several_levels_are_past_only_the_latest_pages(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick(180)
    config.write(page_hard(("0s", ["oncall-primary"]), ("1m", ["oncall-secondary"]), ("2m", ["eng-manager"])))
    await reload(t)
    await t.tick()
    # Not a burst: one page now, for the latest level due; the earlier one counts as run.
    assert (http_sink.count("oncall-secondary"), http_sink.count("eng-manager")) == (0, 1)
    await t.tick(60)
    assert (http_sink.count("oncall-primary"), http_sink.count("oncall-secondary")) == (1, 0)


async def test_an_acknowledged_incident_whose_policy_vanished_changes_policy_and_pages_nobody(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick()
    await t.api("POST", "/api/v1/incidents/INC-2026-0001/acknowledge", {"actor": "alice"})
    routes = [{"severities": ["SEV1", "SEV2"], "policy": "page-critical"}, {"policy": "page-soft"}]
    policies = {"page-critical": {"levels": [{"after": "0s", "notify": ["eng-manager"]}]}}
    config.write({"routes": routes, "policies": policies}, drop_policy="page-hard")
    await reload(t)
    await t.tick(3600)
    incident = await t.incident("INC-2026-0001")
    assert (incident["state"], incident["policy"]) == ("acknowledged", "page-critical")
    assert http_sink.count("eng-manager") == 0


async def test_an_incident_declared_under_the_old_policy_after_the_reload_is_routed_again_not_dropped(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # Another worker (or replica) on the store that has not reloaded yet, or a decision already under way when
    # the configuration was swapped: the incident it declares follows the old policy and is not in the reload's
    # list. When its next level falls due under the new configuration, it must be routed again, not left silent.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    other = await make_tocsin(NOTIFY, sink=http_sink.address)
    routes = [{"severities": ["SEV1", "SEV2"], "policy": "page-critical"}, {"policy": "page-soft"}]
    policies = {"page-critical": {"levels": [{"after": "0s", "notify": ["eng-manager"]}]}}
    config.write({"routes": routes, "policies": policies}, drop_policy="page-hard")
    assert (await reload(t))["open_incidents"] == 0
    await other.send_fixture(SEV1)  # declared under page-hard: level 1 due at 5m
    await other.tick()
    assert http_sink.count("oncall-primary") == 1
    await t.tick(5 * 60)  # this process, on the new configuration, fires level 1
    incident = await t.incident("INC-2026-0001")
    assert (incident["state"], incident["policy"]) == ("triggered", "page-critical")
    assert http_sink.count("eng-manager") == 1  # page-critical's level 0
    assert http_sink.count("oncall-secondary") == 0  # page-hard's level 1 went with it
    assert "escalation policy page-hard is no longer in the configuration (configuration reloaded)" in (
        await timeline(t)
    )


async def test_an_incident_at_a_level_the_new_policy_no_longer_has_goes_on_to_its_next_round(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    other = await make_tocsin(NOTIFY, sink=http_sink.address)  # not reloaded yet
    config.write(page_hard(("0s", ["oncall-primary"])))  # one level now; still 2 rounds, 10m apart
    await reload(t)
    await other.send_fixture(SEV1)  # declared with three levels: level 1 due at 5m
    await other.tick()
    assert http_sink.count("oncall-primary") == 1
    await t.tick(5 * 60)  # level 1 is gone: round 1 ends with its last level
    assert (http_sink.count("oncall-primary"), http_sink.count("oncall-secondary")) == (1, 0)
    await t.tick(5 * 60)  # round 2 at 0s + 10m
    assert http_sink.count("oncall-primary") == 2
    assert (await t.incident("INC-2026-0001"))["state"] == "triggered"


@pytest.mark.sqlite_only  # Redis commits concurrent decisions in no set order: there the next level may be late
async def test_an_incident_declared_by_a_decision_under_way_at_the_swap_follows_the_new_after(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # A busy disk at 3 a.m.: an alert's decision, begun under the old configuration, waits behind a slow commit
    # while the reload swaps the configuration and lists the open incidents.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    inside, release = threading.Event(), threading.Event()

    def slow_commit(_: Slice) -> None:
        inside.set()
        release.wait(10)

    blocker = asyncio.create_task(t.services.pipeline.submit(StartedUp(), slow_commit))
    assert await asyncio.to_thread(inside.wait, 10)
    labels = {"alertname": "HighErrorRate", "severity": "critical", "env": "prod", "service": "api"}
    alert = AlertIn("in-flight", Source.ALERTMANAGER, AlertStatus.FIRING, labels, {}, t.clock.now())
    declared = asyncio.create_task(t.services.pipeline.submit(AlertsReceived((alert,))))
    await asyncio.sleep(0)  # the decision is queued, its configuration taken: page-hard, level 1 at 5m
    config.write(page_hard(("0s", ["oncall-primary"]), ("1m", ["oncall-secondary"])))
    reloading = asyncio.create_task(reload(t))

    async def reload_decision_queued() -> bool | None:
        return True if len(t.services.store._queue) == 2 else None  # type: ignore[attr-defined]

    await until(reload_decision_queued, "the reload's first decision to wait for the disk", 10)
    release.set()
    await blocker
    await declared
    assert (await reloading)["open_incidents"] == 1
    await t.tick()
    assert http_sink.count("oncall-primary") == 1
    await t.tick(60)  # the new level 1 at 1m, not the old one at 5m
    assert http_sink.count("oncall-secondary") == 1


async def test_a_refused_reload_names_the_problem_without_the_secrets_in_it(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config, tmp_path: Path
) -> None:
    # A typo in an Apprise scheme at 3 a.m.: Apprise quotes the whole URL, bot token and all; and a store URL
    # that cannot be used is quoted with its password. Neither goes into the answer nor into the log.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    config.write({"store": "postgres://tocsin:SECRET-store-pw@db.internal/tocsin"})
    with structlog.testing.capture_logs() as logs:
        answer = await reload(t, status=400)
    [problem] = answer["error"]["details"]["problems"]
    assert problem.startswith("store: unsupported store 'postgres://"), problem  # still says which key
    config.write()
    apprise = tmp_path / "apprise.yml"
    apprise.write_text(apprise.read_text() + '  - "tgrm://123456789:SECRET-bot-token/4242":\n      - tag: ops\n')
    with structlog.testing.capture_logs() as more:
        again = await reload(t, status=400)
    problems = again["error"]["details"]["problems"]
    assert any("tgrm://" in p for p in problems), problems  # still says which URL is wrong
    refused = [line for line in logs + more if line["event"] == "reload_refused"]
    assert len(refused) == 2
    assert "SECRET" not in repr(answer) + repr(again) + repr(refused)


async def test_a_new_link_secret_retires_the_links_already_sent_and_says_so(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # Rotating link_secret is how a leaked one is retired: pages already sent lose their acknowledge link (as do
    # board sessions and calendar addresses), which the operator is told at the reload, not at the next click.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    old_link = await page_link(t, http_sink)
    config.write({"link_secret": "a-brand-new-link-secret-0123456789"})
    with structlog.testing.capture_logs() as logs:
        answer = await reload(t)
    assert answer["changed"] == ["link_secret"]
    [warning] = [line for line in logs if line["event"] == "link_secret_changed"]
    assert warning["log_level"] == "warning"
    assert "brand-new" not in repr(logs) + repr(answer)
    response = await t.client.post(old_link, data={"name": "carol"})
    assert response.status == 403
    assert (await t.incident("INC-2026-0001"))["state"] == "triggered"
    await t.tick(5 * 60)  # level 1's page is signed with the new secret, and its link acknowledges
    [*_, page] = http_sink.received["/oncall-primary"]
    match = ACK.search(page["message"])
    assert match, page["message"]
    response = await t.client.post(match.group(1), data={"name": "carol"})
    assert response.status == 200
    assert (await t.incident("INC-2026-0001"))["state"] == "acknowledged"


async def test_an_incident_no_route_matched_is_routed_by_a_reload_that_adds_one(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # 3 a.m.: a warning declares an incident that no route matches, so nobody is paged and the timeline says so.
    # The operator adds the missing route and reloads: the incident, still triggered, must page now.
    routes = [{"severities": ["SEV1", "SEV2"], "policy": "page-hard"}]
    t = await make_tocsin({**NOTIFY, "routes": routes}, sink=http_sink.address)
    response = await t.post_alertmanager(am_webhook(am_alert("QueueLag", "billing", severity="warning")))
    assert response.status == 200
    await t.tick()
    [incident] = await t.incidents()
    assert "no route matched: nobody is paged for this incident" in await timeline(t, incident["id"])
    assert http_sink.count("team-chat") == 0
    config.write({"routes": [*routes, {"policy": "page-soft"}]})
    await reload(t)
    await t.tick()
    assert (await t.incident(incident["id"]))["policy"] == "page-soft"
    assert http_sink.count("team-chat") == 1
    config.write({"routes": [*routes, {"policy": "page-soft"}], "link_ttl": "12h"})
    await reload(t)  # reloading again pages nobody twice
    await t.tick(60)
    assert http_sink.count("team-chat") == 1


async def test_files_edited_in_place_are_named_in_changed(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config, tmp_path: Path
) -> None:
    # The Apprise file fixed at 3 a.m. (same path, so tocsin.yml is unchanged): the answer must not say that
    # nothing changed, or the operator will think the reload missed it.
    (tmp_path / "templates").mkdir()
    t = await make_tocsin({**NOTIFY, "templates": str(tmp_path / "templates")}, sink=http_sink.address)
    assert (await reload(t))["changed"] == []
    apprise = tmp_path / "apprise.yml"
    apprise.write_text(apprise.read_text() + f'  - "json://{http_sink.address}/night-desk":\n      - tag: ops\n')
    (tmp_path / "templates" / "title.txt.j2").write_text("[{{ incident.severity }}] {{ incident.title }}\n")
    assert (await reload(t))["changed"] == ["channels", "templates"]
    assert (await reload(t))["changed"] == []


async def test_a_reload_that_fails_unforeseen_says_so_in_the_answer_and_the_metric(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever breaks while the open incidents are brought in line (here a fault put in on purpose), the alert on
    # tocsin_config_last_reload_successful must fire, and the caller gets a JSON 503 naming the log, not a 500.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await t.send_fixture(SEV1)

    def broken(*_: object) -> None:
        raise RuntimeError("fault injected by the test")

    monkeypatch.setattr(engine_reload, "follow", broken)
    config.write(page_hard(("0s", ["oncall-primary"]), ("2m", ["eng-manager"])))
    with structlog.testing.capture_logs() as logs:
        answer = await reload(t, status=503)
    assert answer["error"]["code"] == "reload_incomplete"
    assert t.registry.get_sample_value("tocsin_config_last_reload_successful") == 0
    assert [line["log_level"] for line in logs if line["event"] == "reload_failed"] == ["error"]
    monkeypatch.undo()
    await reload(t)  # once fixed, a reload finishes the job
    assert t.registry.get_sample_value("tocsin_config_last_reload_successful") == 1


async def test_settings_kept_until_a_restart_are_named_in_restart_needed(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # notify.per_channel and metrics.max_services are sized at start-up: the answer must not call them changed.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    config.write({"notify": {**NOTIFY["notify"], "per_channel": 2}, "metrics": {"max_services": 10}})
    with structlog.testing.capture_logs() as logs:
        answer = await reload(t)
    assert (answer["changed"], answer["restart_needed"]) == ([], ["metrics.max_services", "notify.per_channel"])
    warned = [line["key"] for line in logs if line["event"] == "reload_needs_restart"]
    assert warned == ["metrics.max_services", "notify.per_channel"]
    config.write({"notify": {**NOTIFY["notify"], "per_channel": 2, "timeout": "7s"}})
    answer = await reload(t)
    assert (answer["changed"], answer["restart_needed"]) == (["notify"], ["notify.per_channel"])
    assert t.services.settings.notify.timeout.total_seconds() == 7


async def test_a_burst_of_sighups_is_one_reload_not_one_each(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # A configuration tool that sends SIGHUP for each file it changed: every reload brings every open incident in
    # line, so the signals that arrive while one waits its turn are that one reload (it reads the newest files).
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    reloader = t.client.app[RELOADER]
    config.write(page_hard(("0s", ["oncall-primary"]), ("2m", ["eng-manager"])))
    with structlog.testing.capture_logs() as logs:
        for _ in range(5):
            reloader.on_sighup()
        await asyncio.gather(*reloader._tasks)
    assert [line["changed"] for line in logs if line["event"] == "config_reloaded"] == [["policies"]]
    assert t.services.settings.policies["page-hard"].levels[1].notify == ["eng-manager"]


async def test_an_open_incident_at_a_level_the_new_policy_no_longer_has_goes_on_to_its_next_round(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    await t.send_fixture(SEV1)
    await t.tick(60)  # level 0 paged; level 1 due at 5m
    config.write(page_hard(("0s", ["oncall-primary"])))  # one level now; still 2 rounds, 10m apart
    assert (await reload(t))["open_incidents"] == 1
    assert "page-hard has fewer levels now (configuration reloaded): round 1 ends" in await timeline(t)
    await t.tick(4 * 60)  # 5m: nothing (level 1 is gone)
    assert (http_sink.count("oncall-primary"), http_sink.count("oncall-secondary")) == (1, 0)
    await t.tick(5 * 60)  # 10m: round 2's level 0
    assert http_sink.count("oncall-primary") == 2
    await t.tick(60 * 60)  # two rounds in all: nothing more
    assert http_sink.count("oncall-primary") == 2


async def test_a_longer_notify_timeout_lengthens_the_claim_of_what_it_sends(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # A claim must outlast a send: with the old lease a 60 s send could lose its claim to another replica mid-way.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    assert t.services.outbox is not None
    assert t.services.outbox.lease == timedelta(seconds=35)  # 5 s + the margin
    config.write({"notify": {"retries": 0, "timeout": "60s"}})
    assert (await reload(t))["changed"] == ["notify"]
    assert t.services.outbox.lease == timedelta(seconds=90)
    await t.send_fixture(SEV1)
    await t.tick()
    assert http_sink.count("oncall-primary") == 1  # the new channels page


async def test_a_body_accepted_before_is_judged_again_under_lowered_limits(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # Bodies are parsed once and remembered by their bytes; the limits they parsed under are part of that memory.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    body = am_webhook(am_alert(**{f"extra{i}": "x" for i in range(6)}))
    for _ in range(3):  # new, then a re-send (remembered as it changed nothing), then answered from memory
        assert (await t.post_alertmanager(body)).status == 200
    config.write({"limits": {"max_labels_per_alert": 8}})
    await reload(t)
    refused = await t.post_alertmanager(body)
    assert refused.status == 422
    assert (await refused.json())["error"]["details"] == {"limit": "max_labels_per_alert", "max": 8, "alert": 0}


async def test_reloaded_severity_rules_classify_the_next_alert(
    make_tocsin: MakeTocsin, http_sink: HttpSink, config: Config
) -> None:
    # Verdicts are kept per engine; a reload makes a new engine, so an alert like one classified before is judged
    # by the new rules.
    t = await make_tocsin(NOTIFY, sink=http_sink.address)
    assert (await t.post_alertmanager(am_webhook(am_alert(service="checkout")))).status == 200
    config.write({"severity": {"rules": [{"name": "all-sev3", "severity": "SEV3"}]}})
    await reload(t)
    assert (await t.post_alertmanager(am_webhook(am_alert(service="billing")))).status == 200
    by_service = {i["service"]: i["severity"] for i in await t.incidents()}
    assert by_service == {"checkout": "SEV1", "billing": "SEV3"}
