"""/api/v2 silences as Alertmanager 0.25 answers them (injected clock: 2026-11-22 07:12:30Z), on both stores."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import API_TOKEN, Tocsin

from .conftest import MakeTocsin

pytestmark = pytest.mark.both_stores

NOW = "2026-11-22T07:12:30Z"


def silence(**over: Any) -> dict[str, Any]:
    return {
        "matchers": [{"name": "service", "value": "db", "isRegex": False, "isEqual": True}],
        "startsAt": NOW,
        "endsAt": "2026-11-22T09:12:30Z",
        "createdBy": "dave",
        "comment": "migration",
        **over,
    }


async def v2(
    tocsin: Tocsin, method: str, path: str, body: Any = None, token: str | None = API_TOKEN
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = await tocsin.client.request(method, f"/api/v2{path}", json=body, headers=headers)
    text = await response.text()
    return response.status, (await response.json() if text else None)


async def test_create_list_get_and_expire(make_tocsin: MakeTocsin) -> None:
    tocsin = await make_tocsin()
    status, made = await v2(tocsin, "POST", "/silences", silence(startsAt="2026-11-22T06:00:00Z"))
    assert status == 200
    sid = made["silenceID"]
    status, one = await v2(tocsin, "GET", f"/silence/{sid}")
    assert status == 200
    # A start in the past moves to now.
    assert (one["startsAt"], one["status"], one["updatedAt"]) == (NOW, {"state": "active"}, NOW)
    _, pending = await v2(tocsin, "POST", "/silences", silence(startsAt="2026-11-22T08:00:00Z"))
    _, later = await v2(tocsin, "POST", "/silences", silence(endsAt="2026-11-22T08:00:00Z"))
    status, listing = await v2(tocsin, "GET", "/silences")
    # A bare array: active first (soonest end first), then pending.
    assert [(s["id"], s["status"]["state"]) for s in listing] == [
        (later["silenceID"], "active"),
        (sid, "active"),
        (pending["silenceID"], "pending"),
    ]
    assert set(listing[0]) == {"id", "status", "updatedAt", "matchers", "startsAt", "endsAt", "createdBy", "comment"}
    assert (await v2(tocsin, "DELETE", f"/silence/{sid}"))[0] == 200
    assert (await v2(tocsin, "DELETE", f"/silence/{sid}"))[0] == 200  # repeatable
    _, gone = await v2(tocsin, "GET", f"/silence/{sid}")
    assert (gone["status"]["state"], gone["endsAt"]) == ("expired", NOW)
    _, listing = await v2(tocsin, "GET", "/silences")
    assert [s["status"]["state"] for s in listing] == ["active", "pending", "expired"]
    # An expired pending silence starts and ends now.
    await v2(tocsin, "DELETE", f"/silence/{pending['silenceID']}")
    _, was_pending = await v2(tocsin, "GET", f"/silence/{pending['silenceID']}")
    assert (was_pending["startsAt"], was_pending["endsAt"]) == (NOW, NOW)


async def test_filters_keep_silences_holding_an_identical_matcher(make_tocsin: MakeTocsin) -> None:
    tocsin = await make_tocsin()
    _, db = await v2(tocsin, "POST", "/silences", silence())
    regex = [{"name": "service", "value": "db|web", "isRegex": True, "isEqual": True}]
    await v2(tocsin, "POST", "/silences", silence(matchers=regex))
    _, found = await v2(tocsin, "GET", "/silences?filter=service%3Ddb")
    assert [s["id"] for s in found] == [db["silenceID"]]
    _, found = await v2(tocsin, "GET", "/silences?filter=service%3D~%22db%7Cweb%22")
    assert len(found) == 1
    assert found[0]["matchers"] == regex


async def test_updates_in_place_or_replace_as_alertmanager_does(make_tocsin: MakeTocsin) -> None:
    tocsin = await make_tocsin()
    _, made = await v2(tocsin, "POST", "/silences", silence())
    sid = made["silenceID"]
    # Same matchers and start, a later end and a new comment: the same silence.
    _, same = await v2(tocsin, "POST", "/silences", silence(id=sid, endsAt="2026-11-22T12:00:00Z", comment="longer"))
    assert same["silenceID"] == sid
    _, one = await v2(tocsin, "GET", f"/silence/{sid}")
    assert (one["endsAt"], one["comment"]) == ("2026-11-22T12:00:00Z", "longer")
    # Other matchers on an active silence: it is expired and a new one takes over.
    other = [{"name": "service", "value": "web", "isRegex": False, "isEqual": True}]
    _, new = await v2(tocsin, "POST", "/silences", silence(id=sid, matchers=other))
    assert new["silenceID"] != sid
    _, old = await v2(tocsin, "GET", f"/silence/{sid}")
    assert old["status"]["state"] == "expired"
    _, listing = await v2(tocsin, "GET", "/silences")
    assert [(s["id"], s["status"]["state"]) for s in listing] == [(new["silenceID"], "active"), (sid, "expired")]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (silence(matchers=[]), "at least one matcher required"),
        (silence(matchers=[{"name": "x", "value": "(", "isRegex": True, "isEqual": True}]), "bad regex"),
        (
            silence(matchers=[{"name": "x", "value": ".*", "isRegex": True, "isEqual": True}]),
            "must not match the empty",
        ),
        (silence(endsAt=NOW, startsAt="2026-11-22T08:00:00Z"), "end time must not be before start time"),
        (silence(startsAt="2026-11-22T05:00:00Z", endsAt="2026-11-22T06:00:00Z"), "end time can't be in the past"),
        (silence(startsAt="yesterday"), "startsAt: 'yesterday' is not an RFC 3339 time"),
        (silence(id="no-such-silence"), "silence no-such-silence not found"),
        ([1, 2], "the body must be a postableSilence object"),
    ],
)
async def test_bad_silences_are_refused_and_nothing_is_stored(make_tocsin: MakeTocsin, body: Any, message: str) -> None:
    tocsin = await make_tocsin()
    status, error = await v2(tocsin, "POST", "/silences", body)
    assert status in (400, 404)
    assert isinstance(error, str)  # Alertmanager's error bodies are JSON strings
    assert message in error
    assert (await v2(tocsin, "GET", "/silences"))[1] == []


async def test_unknown_ids_and_missing_tokens(make_tocsin: MakeTocsin) -> None:
    tocsin = await make_tocsin()
    assert await v2(tocsin, "GET", "/silence/nope") == (404, "silence nope not found")
    assert (await v2(tocsin, "DELETE", "/silence/nope"))[0] == 404
    for method, path, body in (("POST", "/silences", silence()), ("GET", "/silences", None)):
        assert await v2(tocsin, method, path, body, token=None) == (401, "missing or wrong API token")
    assert (await v2(tocsin, "GET", "/silences"))[1] == []
