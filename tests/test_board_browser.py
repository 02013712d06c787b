"""The board in a real browser: Debian's Chromium driven by Playwright, against a real `tocsin run`.

One tocsin and one browser for the module; each test makes its own incidents (its own service) so the tests do not
depend on their order. Every page opened here is watched: a JavaScript dialog, a console error or a CSP violation
on any of them fails the test that opened it.
"""

from __future__ import annotations

import json
import os
import shutil
import time
import urllib.request
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.process import TocsinProcess, free_port
from tests.support import AM_TOKEN, API_TOKEN, am_alert, am_webhook, write_config

CHROMIUM = "/usr/bin/chromium"
if not Path(CHROMIUM).exists() and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)

from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright  # noqa: E402

PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1280, "height": 900}
LIVE_WAIT_MS = 15_000  # the list re-reads itself every 3 s


# -- tocsin and the browser -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TocsinProcess]:
    directory = tmp_path_factory.mktemp("board")
    config = write_config(directory, {"notify": {"retries": 0}}, sink=f"127.0.0.1:{free_port()}")
    process = TocsinProcess(config, free_port())
    process.start()
    deadline = time.monotonic() + 20
    while True:
        try:
            with urllib.request.urlopen(f"{process.url}/readyz", timeout=2) as response:  # noqa: S310 - http://127.0.0.1
                if response.status == 200:
                    break
        except OSError:
            pass
        assert process.proc is not None
        assert process.proc.poll() is None, process.log.read_text()[-3000:]
        assert time.monotonic() < deadline, process.log.read_text()[-3000:]
        time.sleep(0.1)
    yield process
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        # Debian's build, never a downloaded one; tests run as root, hence no sandbox.
        launched = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


class Watched:
    """Pages whose dialogs, console errors, page errors and CSP violations are collected."""

    # Run before any page script, whatever the CSP (Playwright injects it): CSP violations become console errors.
    REPORT_CSP = (
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.problems: list[str] = []
        context.add_init_script(self.REPORT_CSP)
        context.on("page", self._watch)

    def _watch(self, page: Page) -> None:
        page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))

    def new_page(self) -> Page:
        return self.context.new_page()


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport=DESKTOP)
    watched = Watched(context)
    yield watched
    context.close()
    assert watched.problems == []


@pytest.fixture
def phone(browser: Browser) -> Iterator[Watched]:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    watched = Watched(context)
    yield watched
    context.close()
    assert watched.problems == []


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: TOCSIN_SCREENSHOTS (deploy/screenshots for the README), else a temporary folder."""
    chosen = os.environ.get("TOCSIN_SCREENSHOTS")
    path = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


# -- talking to tocsin as Alertmanager and as the API ----------------------------------------------------


def post_json(url: str, body: Any, token: str) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the test's own http://127.0.0.1 tocsin
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read() or b"null")


def get_json(url: str) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {API_TOKEN}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
        return json.loads(response.read())


def fire(server: TocsinProcess, alert: dict[str, Any]) -> str:
    """Send one alert as Alertmanager does; the id of the incident it declared."""
    post_json(f"{server.url}/api/v1/alerts/alertmanager", am_webhook(alert), AM_TOKEN)
    service = alert["labels"]["service"]
    found = get_json(f"{server.url}/api/v1/incidents?service={service}")["incidents"]
    assert found, f"no incident for {service}"
    return str(found[0]["id"])


def sign_in(page: Page, name: str = "alice") -> None:
    """On the sign-in form (where the board sent us): name and token."""
    expect(page.locator("h1")).to_have_text("Sign in")
    page.fill("input[name=name]", name)
    page.fill("input[name=token]", API_TOKEN)
    page.click("button:has-text('Sign in')")


def signed_in(watched: Watched, server: TocsinProcess, name: str = "alice") -> Page:
    page = watched.new_page()
    page.goto(f"{server.url}/signin")
    sign_in(page, name)
    expect(page.locator(".who .person")).to_have_text(name)
    return page


# -- the tests -------------------------------------------------------------------------------------------


def test_a_webhook_appears_live_then_acknowledge_update_and_silence(
    server: TocsinProcess, desktop: Watched, shots: Path
) -> None:
    page = desktop.new_page()
    page.goto(server.url + "/")
    assert "/signin" in page.url
    sign_in(page, "alice")
    expect(page.locator("h1")).to_have_text("Incidents")
    page.evaluate("window.stillTheSamePage = true")

    incident = fire(server, am_alert("HighErrorRate", service="browser-live", summary="5% of checkouts fail"))
    row = page.locator("#open-incidents li", has_text=incident)
    expect(row).to_be_visible(timeout=LIVE_WAIT_MS)
    assert page.evaluate("window.stillTheSamePage") is True  # refreshed in place, not reloaded
    expect(row).to_contain_text("SEV1")
    expect(row).to_contain_text("triggered")

    row.locator("a.title").click()
    expect(page).to_have_url(f"{server.url}/incidents/{incident}")
    page.click("button:has-text('Acknowledge')")
    expect(page.locator("#state")).to_have_text("acknowledged")
    expect(page.locator("#acked")).to_contain_text("by alice")
    expect(page.locator(".timeline li.acknowledged .actor")).to_have_text("alice")

    template = "We are investigating reports of HighErrorRate on browser-live."
    expect(page.locator("#status-message")).to_have_value(template)
    page.click("button:has-text('Post status update')")
    expect(page.locator(".timeline li.status_update")).to_contain_text(f"[investigating] {template}")
    expect(page.locator(".timeline li.status_update .actor")).to_have_text("alice")
    # Choosing the next phase brings that phase's template (the field was not edited).
    page.select_option("#phase", "monitoring")
    expect(page.locator("#status-message")).to_have_value(
        "A fix has been applied for HighErrorRate on browser-live; we are monitoring the results."
    )

    page.click("button:has-text('Silence these labels')")
    expect(page.locator(".alert .badge.silenced")).to_contain_text("silenced by")
    silences = get_json(f"{server.url}/api/v2/silences?filter=service%3Dbrowser-live")
    assert [s["createdBy"] for s in silences] == ["alice"]


def test_live_refresh_keeps_a_half_typed_form(server: TocsinProcess, desktop: Watched) -> None:
    incident = fire(server, am_alert("DiskFull", service="browser-typing"))
    page = signed_in(desktop, server, "bob")
    page.goto(f"{server.url}/incidents/{incident}")
    page.fill("textarea[name=text]", "half a thought")
    # Someone else acknowledges meanwhile: the page shows it by itself, and the note is still there.
    post_json(f"{server.url}/api/v1/incidents/{incident}/acknowledge", {"actor": "carol"}, API_TOKEN)
    expect(page.locator("#state")).to_have_text("acknowledged", timeout=LIVE_WAIT_MS)
    expect(page.locator("textarea[name=text]")).to_have_value("half a thought")


def test_without_a_session_sign_in_leads_back(server: TocsinProcess, desktop: Watched) -> None:
    incident = fire(server, am_alert("QueueBacklog", service="browser-return", severity="warning"))
    page = desktop.new_page()
    page.goto(f"{server.url}/incidents/{incident}")
    assert "/signin?next=" in page.url
    sign_in(page, "carol")
    expect(page).to_have_url(f"{server.url}/incidents/{incident}")
    expect(page.locator("h1")).to_contain_text("QueueBacklog on browser-return")


def test_an_override_changes_who_is_on_call(server: TocsinProcess, desktop: Watched) -> None:
    page = signed_in(desktop, server, "carol")
    page.goto(f"{server.url}/oncall")
    row = page.locator('li[data-rotation="platform/secondary"]')
    before = row.locator(".person").inner_text()
    names = {"alice": "Alice Ng", "bob": "Bob Okafor", "carol": "Carol Diaz"}
    standin = next(key for key, name in names.items() if name != before)
    page.select_option("select[name=rotation]", "platform/secondary")
    page.select_option("select[name=person]", standin)
    page.click("button:has-text('Add override')")
    expect(row.locator(".person")).to_have_text(names[standin])
    expect(row).to_contain_text("override")


def test_hostile_alert_text_stays_text(server: TocsinProcess, desktop: Watched) -> None:
    alert = am_alert("Hostile", service="browser-hostile", script="<script>alert(1)</script>")
    alert["labels"]["img"] = '"><img src=x onerror=alert(2)>'
    alert["annotations"].update({"runbook_url": "javascript:alert(3)", "summary": "<b onmouseover=alert(4)>bold</b>"})
    incident = fire(server, alert)
    page = signed_in(desktop, server)
    for path in ("/", f"/incidents/{incident}"):
        page.goto(server.url + path)
        expect(page.locator("main")).to_contain_text("Hostile on browser-hostile")
    expect(page.locator(".labels")).to_contain_text("<script>alert(1)</script>")
    expect(page.locator(".labels")).to_contain_text('"><img src=x onerror=alert(2)>')
    expect(page.locator(".annotations")).to_contain_text("javascript:alert(3)")
    assert page.locator("main img, main b, main script").count() == 0
    assert page.locator("a[href^='javascript']").count() == 0
    page.hover(".annotations")  # nothing to trigger


def test_times_read_in_the_readers_own_time_zone(server: TocsinProcess, browser: Browser) -> None:
    incident = fire(server, am_alert("ClockCheck", service="browser-clock"))
    context = browser.new_context(viewport=DESKTOP, timezone_id="Europe/Berlin", locale="en-US")
    watched = Watched(context)
    try:
        page = signed_in(watched, server)
        page.goto(f"{server.url}/incidents/{incident}")
        declared = page.locator("dd time[datetime]").first
        expect(declared).to_have_attribute("data-local", "1")
        stamp = declared.get_attribute("datetime")
        assert stamp is not None
        at = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        berlin = at.astimezone(ZoneInfo("Europe/Berlin"))
        zone = "GMT+1" if berlin.utcoffset() == timedelta(hours=1) else "GMT+2"
        assert declared.inner_text() == berlin.strftime("%Y-%m-%d %H:%M:%S ") + zone
        assert declared.get_attribute("title") == at.strftime("%Y-%m-%d %H:%M:%S UTC")  # UTC on hover
        # Every time on the page, timeline included, is the reader's.
        assert page.locator("time[datetime]:not([data-local])").count() == 0
    finally:
        context.close()
    assert watched.problems == []


def test_phone_pages_fit_the_screen(server: TocsinProcess, phone: Watched, shots: Path) -> None:
    alert = am_alert("HighLatency", service="browser-phone", summary="p99 over 2 s for 10 minutes")
    alert["labels"]["a_very_long_label_name_without_any_break"] = "x" * 120
    alert["annotations"]["runbook_url"] = "https://runbooks.example/" + "very-long-path/" * 8
    incident = fire(server, alert)
    page = signed_in(phone, server, "alice")
    widths = {}
    for path in (
        "/",
        f"/incidents/{incident}",
        f"/incidents/{incident}/postmortem",
        "/oncall",
        "/silences",
        "/heartbeats",
        "/signin",
    ):
        page.goto(server.url + path)
        widths[path] = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert {p: w for p, w in widths.items() if w[0] > w[1]} == {}
    page.goto(f"{server.url}/incidents/{incident}")
    button = page.locator("button:has-text('Acknowledge')").bounding_box()
    assert button is not None
    assert button["height"] >= 48
    assert button["width"] >= PHONE["width"] * 0.8  # the whole width: hard to miss with a thumb
    page.screenshot(path=str(shots / "board-phone-incident.png"))


def test_desktop_list_open_first(server: TocsinProcess, desktop: Watched, shots: Path) -> None:
    done = fire(server, am_alert("CertExpiring", service="browser-certs", severity="warning"))
    post_json(f"{server.url}/api/v1/incidents/{done}/resolve", {"actor": "bob"}, API_TOKEN)
    fire(server, am_alert("ReplicationLag", service="browser-db", severity="error"))
    fire(server, am_alert("PodCrashLooping", service="browser-api", severity="warning", env="staging"))
    page = signed_in(desktop, server, "alice")
    expect(page.locator("#open-incidents")).to_contain_text("ReplicationLag on browser-db")
    expect(page.locator("#open-incidents")).not_to_contain_text("CertExpiring")
    expect(page.locator("#listed-incidents")).to_contain_text("CertExpiring on browser-certs")
    severities = page.locator("#open-incidents .badge.sev").all_inner_texts()
    assert severities == sorted(severities)  # worst first
    page.screenshot(path=str(shots / "board-desktop-list.png"))


def test_the_favicon_is_tocsins(server: TocsinProcess, desktop: Watched) -> None:
    page = desktop.new_page()
    response = page.goto(f"{server.url}/favicon.ico")
    assert response is not None
    assert response.status == 200
    assert response.headers["content-type"] in ("image/x-icon", "image/vnd.microsoft.icon")


def test_chromium_is_debians(browser: Browser) -> None:
    assert shutil.which("chromium") == CHROMIUM
    assert browser.version.split(".")[0].isdigit()


def test_the_watch_sees_an_inline_script_refused(server: TocsinProcess, desktop: Watched) -> None:
    """The guard the other tests lean on: the CSP refuses inline script, and the refusal is seen."""
    page = signed_in(desktop, server)
    page.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
        " document.body.appendChild(s); }"
    )
    page.wait_for_timeout(200)  # violation reports are dispatched asynchronously
    assert page.evaluate("window.ran") is None
    assert any("CSP violation: script-src" in p for p in desktop.problems), desktop.problems
    desktop.problems.clear()
