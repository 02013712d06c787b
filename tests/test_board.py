"""The web board without a browser: sign-in and sessions, CSRF, what each form does, escaping, links."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from daemon.config.check import check
from daemon.config.exposure import exposure_problems
from tests.board_support import csrf_of, page, sign_in, submit
from tests.conftest import MakeTocsin
from tests.sinks import HttpSink
from tests.support import AM_TOKEN, SEV1, Tocsin, am_alert, am_webhook, make_settings

pytestmark = pytest.mark.both_stores

INC = "INC-2026-0001"
DASH = "\u2013"  # between the first and last alert shown


async def firing(t: Tocsin, *alerts: dict[str, Any]) -> str:
    response = await t.post_alertmanager(am_webhook(*(alerts or (am_alert(),))))
    assert response.status == 200, await response.text()
    return INC


def session_cookie(response: Any) -> str:
    return response.cookies["tocsin_session"].value


async def test_without_a_session_a_page_sends_to_sign_in_and_back(tocsin: Tocsin) -> None:
    await firing(tocsin)
    response = await tocsin.client.get(f"/incidents/{INC}", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"] == f"/signin?next=/incidents/{INC}"

    signed = await sign_in(tocsin, "alice", next_=f"/incidents/{INC}")
    assert signed.status == 303
    assert signed.headers["Location"] == f"/incidents/{INC}"
    shown = await page(tocsin, f"/incidents/{INC}")
    assert "HighErrorRate on checkout" in shown
    assert '<span class="person">alice</span>' in shown


async def test_sign_in_only_sends_back_to_this_site(tocsin: Tocsin) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "/\t/evil.example", "/a\\b"):
        response = await sign_in(tocsin, next_=target)
        assert response.headers["Location"] == "/"


async def test_session_cookie_is_httponly_lax_and_lasts_session_ttl(tocsin: Tocsin) -> None:
    response = await sign_in(tocsin)
    cookie = response.cookies["tocsin_session"]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]  # public_url is http://
    assert cookie["max-age"] == str(12 * 3600)
    assert cookie["path"] == "/"


async def test_session_cookie_is_secure_under_https(make_tocsin: MakeTocsin) -> None:
    t = await make_tocsin({"public_url": "https://tocsin.example"})
    form = await t.client.get("/signin")
    pre = form.cookies["tocsin_signin"]
    assert pre["secure"] is True
    # The test client speaks plain HTTP, so it keeps Secure cookies to itself: hand the form's cookie back by hand.
    response = await t.client.post(
        "/signin",
        data={"csrf": csrf_of(await form.text()), "next": "/", "name": "alice", "token": "example-api-token"},
        headers={"Cookie": f"tocsin_signin={pre.value}"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert response.cookies["tocsin_session"]["secure"] is True


async def test_a_wrong_token_signs_nobody_in(tocsin: Tocsin) -> None:
    response = await sign_in(tocsin, token="not-a-token")
    assert response.status == 401
    assert "tocsin_session" not in response.cookies
    assert (await tocsin.client.get("/", allow_redirects=False)).status == 303


async def test_sign_in_without_its_csrf_token_is_refused(tocsin: Tocsin) -> None:
    await tocsin.client.get("/signin")
    response = await tocsin.client.post(
        "/signin", data={"name": "mallory", "token": "example-api-token", "next": "/"}, allow_redirects=False
    )
    assert response.status == 403
    assert "tocsin_session" not in response.cookies


async def test_session_ends_when_its_token_leaves_api_tokens(make_tocsin: MakeTocsin) -> None:
    both = {"api_tokens": ["example-api-token", "second-token-0123456789"]}
    first = await make_tocsin(both)
    cookie = session_cookie(await sign_in(first, token="second-token-0123456789"))
    headers = {"Cookie": f"tocsin_session={cookie}"}
    # The same configuration elsewhere (another replica, a restart) takes the cookie ...
    same = await make_tocsin(both)
    assert (await same.client.get("/", headers=headers, allow_redirects=False)).status == 200
    # ... but not once that token is no longer configured.
    revoked = await make_tocsin({"api_tokens": ["example-api-token"]})
    response = await revoked.client.get("/", headers=headers, allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/signin")


async def test_session_expires_after_session_ttl(tocsin: Tocsin) -> None:
    await sign_in(tocsin)
    assert (await tocsin.client.get("/", allow_redirects=False)).status == 200
    tocsin.clock.advance(timedelta(hours=12).total_seconds())
    assert (await tocsin.client.get("/", allow_redirects=False)).status == 303


async def test_a_tampered_session_cookie_is_no_session(tocsin: Tocsin) -> None:
    cookie = session_cookie(await sign_in(tocsin))
    payload, _, mac = cookie.partition(".")
    forged = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + mac
    tocsin.client.session.cookie_jar.clear()
    response = await tocsin.client.get("/", headers={"Cookie": f"tocsin_session={forged}"}, allow_redirects=False)
    assert response.status == 303


async def test_sign_out_ends_the_session_in_this_browser(tocsin: Tocsin) -> None:
    await sign_in(tocsin)
    response = await submit(tocsin, "/signout", {}, "/")
    assert response.headers["Location"] == "/signin"
    assert response.cookies["tocsin_session"].value == ""
    assert (await tocsin.client.get("/", allow_redirects=False)).status == 303


async def test_the_api_never_accepts_the_session_cookie(tocsin: Tocsin) -> None:
    await firing(tocsin)
    await sign_in(tocsin)
    for path in ("/api/v1/incidents", f"/api/v1/incidents/{INC}"):
        assert (await tocsin.client.get(path)).status == 401
    response = await tocsin.client.post(f"/api/v1/incidents/{INC}/acknowledge", json={})
    assert response.status == 401
    assert (await tocsin.incident(INC))["state"] == "triggered"


async def test_acknowledge_records_the_signed_in_person(tocsin: Tocsin) -> None:
    await firing(tocsin)
    await sign_in(tocsin, "Dana Example")
    await submit(tocsin, f"/incidents/{INC}/acknowledge", {}, f"/incidents/{INC}")
    incident = await tocsin.incident(INC)
    assert (incident["state"], incident["acknowledged_by"]) == ("acknowledged", "Dana Example")
    assert incident["timeline"][-1]["actor"] == "Dana Example"
    shown = await page(tocsin, f"/incidents/{INC}")
    assert 'id="state">acknowledged<' in shown
    assert ">Acknowledge</button>" not in shown  # nothing left to acknowledge


@pytest.mark.parametrize("token", [None, "", "0" * 64, "from-another-session"])
async def test_forms_without_the_right_csrf_token_are_403_and_change_nothing(tocsin: Tocsin, token: str | None) -> None:
    await firing(tocsin)
    if token == "from-another-session":
        await sign_in(tocsin, "bob")
        token = csrf_of(await page(tocsin, f"/incidents/{INC}"))
    await sign_in(tocsin, "alice")
    before = await tocsin.incident(INC)
    posts = [
        (f"/incidents/{INC}/acknowledge", {}),
        (f"/incidents/{INC}/resolve", {}),
        (f"/incidents/{INC}/note", {"text": "forged"}),
        (f"/incidents/{INC}/severity", {"severity": "SEV4"}),
        (f"/incidents/{INC}/status-update", {"phase": "identified", "message": "forged"}),
        ("/silences", {"incident": INC, "fingerprint": "higherrorrate-checkout-web-1", "duration": "1h"}),
        ("/oncall/overrides", {"rotation": "platform/primary", "person": "bob", "duration": "8h"}),
        ("/signout", {}),
    ]
    for path, data in posts:
        form = dict(data) if token is None else {**data, "csrf": token}
        response = await tocsin.client.post(path, data=form, allow_redirects=False)
        assert response.status == 403, (path, response.status)
    assert await tocsin.incident(INC) == before
    assert await tocsin.api("GET", "/api/v2/silences") == []
    assert (await tocsin.api("GET", "/api/v1/schedules/platform/overrides"))["overrides"] == []


async def test_forms_without_a_session_are_403(tocsin: Tocsin) -> None:
    await firing(tocsin)
    response = await tocsin.client.post(f"/incidents/{INC}/acknowledge", data={"csrf": "x"}, allow_redirects=False)
    assert response.status == 403
    assert (await tocsin.incident(INC))["state"] == "triggered"


async def test_status_update_form_carries_the_phase_template(tocsin: Tocsin) -> None:
    await firing(tocsin)
    await sign_in(tocsin)
    shown = await page(tocsin, f"/incidents/{INC}")
    text = "We are investigating reports of HighErrorRate on checkout."
    assert f'id="status-message">{text}</textarea>' in shown
    await submit(
        tocsin, f"/incidents/{INC}/status-update", {"phase": "investigating", "message": text}, f"/incidents/{INC}"
    )
    incident = await tocsin.incident(INC)
    assert incident["status_phase"] == "investigating"
    assert incident["timeline"][-1]["text"] == f"[investigating] {text}"
    assert incident["timeline"][-1]["actor"] == "alice"
    # The next one proposes the next phase.
    assert "We have identified the cause of HighErrorRate on checkout" in await page(tocsin, f"/incidents/{INC}")


async def test_note_severity_and_commander_are_timeline_entries_by_the_person(tocsin: Tocsin) -> None:
    await firing(tocsin)
    await sign_in(tocsin, "bob")
    await submit(tocsin, f"/incidents/{INC}/note", {"text": "rolled back 4.2"}, f"/incidents/{INC}")
    await submit(tocsin, f"/incidents/{INC}/severity", {"severity": "SEV3"}, f"/incidents/{INC}")
    await submit(tocsin, f"/incidents/{INC}/commander", {"commander": "carol"}, f"/incidents/{INC}")
    incident = await tocsin.incident(INC)
    assert (incident["severity"], incident["commander"]) == ("SEV3", "carol")
    mine = [(e["kind"], e["text"]) for e in incident["timeline"] if e["actor"] == "bob"]
    assert ("note", "rolled back 4.2") in mine
    assert ("commander_changed", "commander is carol") in mine
    assert any(kind == "severity_changed" for kind, _ in mine)


async def test_mitigate_resolve_reopen_from_the_board(tocsin: Tocsin) -> None:
    await firing(tocsin)
    await sign_in(tocsin)
    for action, state in (("mitigate", "mitigated"), ("resolve", "resolved"), ("reopen", "triggered")):
        await submit(tocsin, f"/incidents/{INC}/{action}", {}, f"/incidents/{INC}")
        assert (await tocsin.incident(INC))["state"] == state


async def test_an_illegal_transition_says_why_and_changes_nothing(tocsin: Tocsin) -> None:
    await firing(tocsin)
    await sign_in(tocsin)
    before = await tocsin.incident(INC)
    response = await submit(tocsin, f"/incidents/{INC}/reopen", {}, f"/incidents/{INC}", status=409)
    assert "cannot reopen" in await response.text()
    assert await tocsin.incident(INC) == before


async def test_silence_from_an_alert_and_expire_it(tocsin: Tocsin) -> None:
    await firing(tocsin)
    await sign_in(tocsin)
    [alert] = (await tocsin.incident(INC))["alerts"]
    data = {"incident": INC, "fingerprint": alert["fingerprint"], "duration": "2h"}
    await submit(tocsin, "/silences", data, f"/incidents/{INC}")
    [silence] = await tocsin.api("GET", "/api/v2/silences")
    assert {(m["name"], m["value"], m["isEqual"], m["isRegex"]) for m in silence["matchers"]} == {
        (k, v, True, False) for k, v in alert["labels"].items()
    }
    assert (silence["createdBy"], silence["status"]["state"]) == ("alice", "active")
    assert (silence["startsAt"], silence["endsAt"]) == ("2026-11-22T07:12:30Z", "2026-11-22T09:12:30Z")
    assert f"silenced by {silence['id']}" in await page(tocsin, f"/incidents/{INC}")
    assert silence["id"] in await page(tocsin, "/silences")

    await submit(tocsin, f"/silences/{silence['id']}/expire", {}, "/silences")
    [expired] = await tocsin.api("GET", "/api/v2/silences")
    assert expired["status"]["state"] == "expired"
    assert "silenced by" not in await page(tocsin, f"/incidents/{INC}")


async def test_an_override_from_the_board_changes_who_is_on_call(tocsin: Tocsin) -> None:
    await sign_in(tocsin, "carol")

    def primary(doc: dict[str, Any]) -> dict[str, Any]:
        return next(r for r in doc["oncall"] if (r["schedule"], r["rotation"]) == ("platform", "primary"))

    before = primary(await tocsin.api("GET", "/api/v1/oncall"))
    standin = next(p for p in ("alice", "bob", "carol") if p != before["person"])
    data = {"rotation": "platform/primary", "person": standin, "duration": "8h", "start": "", "note": "swap"}
    await submit(tocsin, "/oncall/overrides", data, "/oncall")
    after = primary(await tocsin.api("GET", "/api/v1/oncall"))
    assert after["person"] == standin
    assert after["override"] is not None
    [override] = (await tocsin.api("GET", "/api/v1/schedules/platform/overrides"))["overrides"]
    assert (override["actor"], override["start"], override["end"]) == (
        "carol",
        "2026-11-22T07:12:30Z",
        "2026-11-22T15:12:30Z",
    )
    shown = await page(tocsin, "/oncall")
    names = {"alice": "Alice Ng", "bob": "Bob Okafor", "carol": "Carol Diaz"}
    row = shown.split('data-rotation="platform/primary"')[1].split("</li>")[0]
    assert f'<strong class="person">{names[standin]}</strong>' in row


async def test_an_override_can_be_removed_from_the_board(tocsin: Tocsin) -> None:
    await sign_in(tocsin, "carol")
    data = {"rotation": "platform/daytime", "person": "bob", "duration": "1d", "note": "covering"}
    await submit(tocsin, "/oncall/overrides", data, "/oncall")
    [override] = (await tocsin.api("GET", "/api/v1/schedules/platform/overrides"))["overrides"]
    shown = await page(tocsin, "/oncall")
    assert f'action="/oncall/overrides/platform/{override["id"]}/remove"' in shown
    await submit(tocsin, f"/oncall/overrides/platform/{override['id']}/remove", {}, "/oncall")
    assert (await tocsin.api("GET", "/api/v1/schedules/platform/overrides"))["overrides"] == []
    response = await submit(tocsin, f"/oncall/overrides/platform/{override['id']}/remove", {}, "/oncall", status=404)
    assert "no override" in await response.text()


async def test_an_override_for_an_unknown_person_is_refused_and_said(tocsin: Tocsin) -> None:
    await sign_in(tocsin)
    data = {"rotation": "platform/primary", "person": "mallory", "duration": "8h"}
    response = await submit(tocsin, "/oncall/overrides", data, "/oncall", status=422)
    assert "unknown person" in await response.text()
    assert (await tocsin.api("GET", "/api/v1/schedules/platform/overrides"))["overrides"] == []


HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img": '"><img src=x onerror=alert(2)>',
}


async def test_hostile_labels_and_annotations_are_text(tocsin: Tocsin) -> None:
    alert = am_alert(**HOSTILE)
    alert["annotations"].update(
        {
            "runbook_url": "javascript:alert(3)",
            "dashboard": "https://grafana.example/d/1?a=1&b=2",
            "description": '<a href="javascript:alert(4)">x</a>',
        }
    )
    await firing(tocsin, alert)
    await sign_in(tocsin)
    for path in ("/", f"/incidents/{INC}"):
        response = await tocsin.client.get(path)
        shown = await response.text()
        assert "<script>alert" not in shown
        assert "<img src=x" not in shown
        assert 'href="javascript:' not in shown.lower()
        csp = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "&#34;&gt;&lt;img src=x onerror=alert(2)&gt;" in shown
    assert '<a href="https://grafana.example/d/1?a=1&amp;b=2"' in shown
    assert "javascript:alert(3)" in shown  # shown as text, not as a link


async def test_list_shows_open_first_with_age_severity_and_who_acknowledged(tocsin: Tocsin) -> None:
    await firing(tocsin, am_alert(service="checkout"))
    tocsin.clock.advance(600)
    await firing(tocsin, am_alert(service="search"))
    await tocsin.api("POST", "/api/v1/incidents/INC-2026-0002/resolve", {"actor": "bob"})
    await tocsin.api("POST", f"/api/v1/incidents/{INC}/acknowledge", {"actor": "carol"})
    await sign_in(tocsin)
    shown = await page(tocsin, "/")
    open_part, _, resolved_part = shown.partition("<h2>Resolved</h2>")
    assert INC in open_part
    assert "INC-2026-0002" not in open_part
    assert "INC-2026-0002" in resolved_part
    assert "acked by carol" in open_part
    assert "10m old" in open_part
    assert "SEV1" in open_part

    only_search = await page(tocsin, "/?service=search")
    assert "INC-2026-0002" in only_search
    assert INC not in only_search
    only_acked = await page(tocsin, "/?state=acknowledged")
    assert INC in only_acked
    assert "INC-2026-0002" not in only_acked


async def test_the_list_pages_through_many(tocsin: Tocsin) -> None:
    for n in range(53):
        await tocsin.api("POST", "/api/v1/incidents", {"title": f"manual {n}", "service": f"s{n}"}, status=201)
    await sign_in(tocsin)
    first = await page(tocsin, "/?state=triggered")
    assert first.count('class="incident ') == 50
    older = re.search(r'<a href="([^"]+)" rel="next">', first)
    assert older
    second = await page(tocsin, older.group(1).replace("&amp;", "&"))
    assert second.count('class="incident ') == 3
    assert "manual 0<" in second
    assert "manual 52<" in first


async def test_an_incident_of_many_alerts_shows_them_a_page_at_a_time(tocsin: Tocsin) -> None:
    alerts = [am_alert("NodeDown", "fleet", instance=f"node-{n:03d}") for n in range(250)]
    await firing(tocsin, *alerts)
    await sign_in(tocsin)
    first = await page(tocsin, f"/incidents/{INC}")
    assert first.count('<article class="alert ') == 100
    assert '<h2>Alerts <span class="count">250</span></h2>' in first
    assert f"Alerts 1{DASH}100 of 250, in order of arrival." in first
    assert "node-000<" in first
    assert "node-099<" in first
    assert "node-100<" not in first
    assert 'rel="prev"' not in first
    later = re.search(r'<a href="([^"]+)" rel="next">Later alerts</a>', first)
    assert later
    assert later.group(1) == f"/incidents/{INC}?alerts=100#alerts"

    second = await page(tocsin, later.group(1))
    assert f"Alerts 101{DASH}200 of 250, in order of arrival." in second
    assert "node-100<" in second
    assert "node-099<" not in second
    assert f'<a href="/incidents/{INC}?alerts=0#alerts" rel="prev">Earlier alerts</a>' in second
    last = await page(tocsin, f"/incidents/{INC}?alerts=200")
    assert last.count('<article class="alert ') == 50
    assert f"Alerts 201{DASH}250 of 250, in order of arrival." in last
    assert "Later alerts" not in last

    beyond = await page(tocsin, f"/incidents/{INC}?alerts=900")
    assert "This incident has 250 alerts: none this far." in beyond
    assert f'<a href="/incidents/{INC}?alerts=150#alerts" rel="prev">Earlier alerts</a>' in beyond
    assert "declared by hand" not in beyond
    # Not a number of ours (negative, a superscript digit, too long): the first page, as if none were asked for.
    for odd in ("-5", "%C2%B2", "9" * 30):
        assert f"Alerts 1{DASH}100 of 250" in await page(tocsin, f"/incidents/{INC}?alerts={odd}")


async def test_the_postmortem_draft_of_an_incident_of_many_alerts_counts_them_all(tocsin: Tocsin) -> None:
    await firing(tocsin, *(am_alert("NodeDown", "fleet", instance=f"node-{n:03d}") for n in range(120)))
    await sign_in(tocsin)
    draft = await page(tocsin, f"/incidents/{INC}/postmortem?alerts=100")
    assert "- Alerts: 120 (120 firing episodes)" in draft
    assert draft.count("\n  - NodeDown (node-") == 120  # each in the impact list


async def test_a_hand_declared_incident_has_no_alert_pages_whatever_is_asked(tocsin: Tocsin) -> None:
    answer = await tocsin.api("POST", "/api/v1/incidents", {"title": "by hand", "service": "s"}, status=201)
    await sign_in(tocsin)
    shown = await page(tocsin, f"/incidents/{answer['id']}?alerts=100")
    assert "No alerts (declared by hand)." in shown
    assert 'class="paging"' not in shown


async def test_an_incident_of_few_alerts_shows_them_all_without_pages(tocsin: Tocsin) -> None:
    await firing(tocsin, am_alert(instance="web-1"), am_alert(instance="web-2"))
    await sign_in(tocsin)
    shown = await page(tocsin, f"/incidents/{INC}")
    assert shown.count('<article class="alert ') == 2
    assert '<h2>Alerts <span class="count">2</span></h2>' in shown
    assert 'class="paging"' not in shown


async def test_postmortem_draft_page(tocsin: Tocsin) -> None:
    await firing(tocsin)
    await sign_in(tocsin)
    shown = await page(tocsin, f"/incidents/{INC}/postmortem")
    assert "# Postmortem: HighErrorRate on checkout\n" in shown
    assert "## Root cause" in shown


async def test_favicon_and_assets_are_served_by_tocsin(tocsin: Tocsin) -> None:
    icon = await tocsin.client.get("/favicon.ico")
    assert icon.status == 200
    assert (await icon.read())[:4] == b"\x00\x00\x01\x00"  # an ICO file
    for asset, kind in (("board.css", "text/css"), ("board.js", "javascript"), ("favicon.svg", "svg")):
        response = await tocsin.client.get(f"/static/{asset}")
        assert response.status == 200
        assert kind in response.headers["Content-Type"]


async def test_heartbeats_page_lists_the_configured_ones(tocsin: Tocsin) -> None:
    await sign_in(tocsin)
    shown = await page(tocsin, "/heartbeats")
    assert "<strong>watchdog</strong>" in shown
    assert "expected every 5m" in shown
    assert "<strong>nightly-backup</strong>" in shown


def heartbeat_item(shown: str, name: str) -> str:
    found = re.search(rf'<li class="heartbeat-\w+"><strong>{name}</strong>.*?</li>', shown, re.S)
    assert found, shown
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(0))).strip()


async def test_heartbeats_page_shows_each_ones_state_last_ping_and_deadline(tocsin: Tocsin) -> None:
    await sign_in(tocsin)
    before = heartbeat_item(await page(tocsin, "/heartbeats"), "nightly-backup")
    assert before == "nightly-backup inactive never pinged expected every 1d1h; SEV3 on backup"
    headers = {"Authorization": f"Bearer {AM_TOKEN}"}
    assert (await tocsin.client.post("/api/v1/heartbeats/nightly-backup", headers=headers)).status == 200
    due = (tocsin.clock.now() + timedelta(hours=25)).strftime("%Y-%m-%d %H:%M:%S UTC")
    await tocsin.tick(90)
    up = heartbeat_item(await page(tocsin, "/heartbeats"), "nightly-backup")
    assert up == f"nightly-backup up last ping 1m ago; missed if none by {due} expected every 1d1h; SEV3 on backup"
    await tocsin.tick(25 * 3600)
    await sign_in(tocsin)  # a day later the session has ended
    missed = heartbeat_item(await page(tocsin, "/heartbeats"), "nightly-backup")
    assert missed == "nightly-backup missed last ping 1d 1h ago expected every 1d1h; SEV3 on backup"


async def test_notifications_and_the_ack_page_lead_to_the_board(paging: Tocsin, http_sink: HttpSink) -> None:
    await paging.send_fixture(SEV1)
    await paging.tick()
    [sent] = http_sink.received["/oncall-primary"]
    assert f"Incident: http://127.0.0.1:9097/incidents/{INC}" in sent["message"]
    ack = re.search(r"Acknowledge: http://127\.0\.0\.1:9097(/ack/\S+)", sent["message"])
    assert ack
    ack_page = await paging.client.get(ack.group(1))
    assert f'href="/incidents/{INC}"' in await ack_page.text()


# -- behind an authenticating proxy -----------------------------------------------------------------


async def test_trusted_header_from_a_trusted_proxy_names_the_person(make_tocsin: MakeTocsin) -> None:
    t = await make_tocsin({"board": {"trusted_header": "X-Forwarded-Email"}})
    await firing(t)
    who = {"X-Forwarded-Email": "erin@example.com"}
    response = await t.client.get(f"/incidents/{INC}", headers=who)
    assert response.status == 200
    token = csrf_of(await response.text())
    acked = await t.client.post(
        f"/incidents/{INC}/acknowledge", data={"csrf": token}, headers=who, allow_redirects=False
    )
    assert acked.status == 303
    assert (await t.incident(INC))["acknowledged_by"] == "erin@example.com"
    # No header, no board; and never the API.
    assert (await t.client.get("/", allow_redirects=False)).status == 403
    assert (await t.client.get("/api/v1/incidents", headers=who)).status == 401
    assert (await t.client.get("/signin")).status == 403  # no form to sign in with


async def test_trusted_header_from_elsewhere_is_ignored(make_tocsin: MakeTocsin) -> None:
    t = await make_tocsin({"board": {"trusted_header": "X-Forwarded-Email", "trusted_proxies": ["10.0.0.0/8"]}})
    response = await t.client.get("/", headers={"X-Forwarded-Email": "erin@example.com"}, allow_redirects=False)
    assert response.status == 403


def test_trusted_header_beyond_loopback_without_proxies_is_refused(tmp_path: Path) -> None:
    def settings(listen: str, proxies: list[str]) -> Any:
        board = {"trusted_header": "X-Forwarded-Email", "trusted_proxies": proxies}
        secrets = {"api_tokens": ["a-real-token-0123456789"], "link_secret": "a-real-link-secret-0123456789"}
        return make_settings(tmp_path, {"listen": listen, "board": board, **secrets})

    problems = exposure_problems(settings("0.0.0.0:9097", []))
    assert any(p.startswith("board.trusted_header:") for p in problems), problems
    assert any(p.startswith("board.trusted_header:") for p in check(settings("0.0.0.0:9097", [])).problems)
    assert not [p for p in exposure_problems(settings("0.0.0.0:9097", ["10.1.2.3/32"])) if "trusted" in p]
    assert not [p for p in exposure_problems(settings("127.0.0.1:9097", [])) if "trusted" in p]
