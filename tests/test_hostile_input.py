"""Hostile input at the ingest edge: raw header bytes, lying encodings, bombs, bodies sent before credentials,
and more large bodies at once than memory should hold. Over real sockets where clients would tidy the bytes."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from typing import Any

import pytest

from daemon.http.keys import BODY_BUDGET
from tests.conftest import MakeTocsin
from tests.rawhttp import Answer, exchange, head, read_answer
from tests.support import AM_TOKEN, API_TOKEN, Tocsin, body, fixture

pytestmark = pytest.mark.both_stores

AM_PATH = "/api/v1/alerts/alertmanager"
PD_PATH = "/v2/enqueue"
V3_PATH = "/api/v1/webhooks/pagerduty"
AM_FIXTURE = "alertmanager-webhook-1.json"
PD_FIXTURE = "pagerduty-events-v2-1.json"
JSON = {"Content-Type": "application/json"}
MiB = 1024 * 1024


def port(t: Tocsin) -> int:
    server = t.client.server
    assert server.port is not None
    return server.port


async def stored(t: Tocsin) -> tuple[list[Any], list[Any]]:
    return (await t.api("GET", "/api/v1/alerts"))["alerts"], await t.incidents()


async def assert_nothing_stored(t: Tocsin) -> None:
    assert await stored(t) == ([], [])


def error_code(path: str, answer: Answer) -> str:
    """The error's code in the route's shape: PagerDuty's on /v2/enqueue, tocsin's elsewhere."""
    assert answer.headers["content-type"].startswith("application/json"), answer
    data = answer.json()
    if path == PD_PATH:
        assert set(data) == {"status", "message", "errors"}, data
        return str(data["status"])
    assert set(data) == {"error"}, data
    return str(data["error"]["code"])


BAD_CREDENTIALS = [
    ("am-bearer-not-utf8", AM_PATH, {"Authorization": b"Bearer \xff\xfe\xfd"}),
    ("am-bearer-non-ascii", AM_PATH, {"Authorization": "Bearer exämple-tökén".encode()}),
    ("am-basic-not-utf8", AM_PATH, {"Authorization": b"Basic \xc3\xa9\xff=="}),
    ("am-basic-decodes-to-not-utf8", AM_PATH, {"Authorization": b"Basic " + __import__("base64").b64encode(b"u:\xff")}),
    ("api-bearer-not-utf8", "/api/v1/incidents", {"Authorization": b"Bearer \xff\xfe"}),
    ("v3-signature-not-utf8", V3_PATH, {"X-PagerDuty-Signature": b"v1=" + b"\xff" * 64}),
    ("v3-signature-non-ascii", V3_PATH, {"X-PagerDuty-Signature": ("v1=" + "é" * 64).encode()}),
]


@pytest.mark.parametrize(("name", "path", "headers"), BAD_CREDENTIALS, ids=[c[0] for c in BAD_CREDENTIALS])
async def test_non_ascii_credentials_get_401_not_500(
    tocsin: Tocsin, name: str, path: str, headers: dict[str, bytes]
) -> None:
    raw = json.dumps(body(AM_FIXTURE)).encode()
    method = "GET" if path.startswith("/api/v1/incidents") else "POST"
    answer = await exchange(port(tocsin), head(method, path, {**JSON, **headers}, len(raw)) + raw)
    assert answer.status == 401, answer
    assert error_code(path, answer) in ("unauthorized", "bad_signature")
    await assert_nothing_stored(tocsin)


LYING = [
    ("am-gzip-plain", AM_PATH, "gzip", json.dumps(body(AM_FIXTURE)).encode()),
    ("am-deflate-plain", AM_PATH, "deflate", json.dumps(body(AM_FIXTURE)).encode()),
    ("am-gzip-truncated", AM_PATH, "gzip", gzip.compress(json.dumps(body(AM_FIXTURE)).encode())[:-30]),
    ("pd-gzip-plain", PD_PATH, "gzip", json.dumps(body(PD_FIXTURE)).encode()),
]


@pytest.mark.parametrize(("name", "path", "encoding", "raw"), LYING, ids=[c[0] for c in LYING])
async def test_content_encoding_that_lies_gets_400(
    tocsin: Tocsin, name: str, path: str, encoding: str, raw: bytes
) -> None:
    headers = {**JSON, "Content-Encoding": encoding, "Authorization": f"Bearer {AM_TOKEN}"}
    answer = await exchange(port(tocsin), head("POST", path, headers, len(raw)) + raw)
    assert answer.status == 400, answer
    error_code(path, answer)
    await assert_nothing_stored(tocsin)
    # The connection that lied does not poison the process: the real thing still goes in.
    await tocsin.send_fixture(AM_FIXTURE)


async def test_gzip_and_deflate_bodies_are_accepted(tocsin: Tocsin) -> None:
    am = json.dumps(body(AM_FIXTURE)).encode()
    headers = {**JSON, "Authorization": f"Bearer {AM_TOKEN}", "Content-Encoding": "gzip"}
    answer = await exchange(port(tocsin), head("POST", AM_PATH, headers, len(gzip.compress(am))) + gzip.compress(am))
    assert answer.status == 200, answer
    pd = zlib.compress(json.dumps(body(PD_FIXTURE)).encode())
    answer = await exchange(port(tocsin), head("POST", PD_PATH, {**JSON, "Content-Encoding": "deflate"}, len(pd)) + pd)
    assert answer.status == 202, answer
    alerts, incidents = await stored(tocsin)
    assert {a["source"] for a in alerts} == {"alertmanager", "pagerduty"}
    assert len(incidents) == 2


BOMBS = [("am", AM_PATH, 11 * MiB, "max_body_bytes"), ("pd", PD_PATH, 1 * MiB, "max_event_bytes")]


@pytest.mark.parametrize(("name", "path", "size", "limit"), BOMBS, ids=[b[0] for b in BOMBS])
async def test_decompression_bomb_gets_413(tocsin: Tocsin, name: str, path: str, size: int, limit: str) -> None:
    # Valid JSON once inflated, but larger than the route's limit: a few KiB on the wire.
    inflated = b" " * size + json.dumps(body(AM_FIXTURE if path == AM_PATH else PD_FIXTURE)).encode()
    bomb = gzip.compress(inflated, compresslevel=9)
    assert len(bomb) < 64 * 1024
    headers = {**JSON, "Authorization": f"Bearer {AM_TOKEN}", "Content-Encoding": "gzip"}
    answer = await exchange(port(tocsin), head("POST", path, headers, len(bomb)) + bomb)
    assert answer.status == 413, answer
    assert limit in answer.body.decode()
    await assert_nothing_stored(tocsin)


UNREAD = [
    # (route, headers, expected status): decided from the headers alone, the declared 10 MiB never sent.
    ("am-no-token", AM_PATH, {**JSON}, 401),
    ("am-wrong-token", AM_PATH, {**JSON, "Authorization": "Bearer wrong"}, 401),
    ("v3-no-signature", V3_PATH, {**JSON}, 401),
    ("v3-malformed-signature", V3_PATH, {**JSON, "X-PagerDuty-Signature": "v1=not-hex"}, 401),
    ("v3-too-large", V3_PATH, {**JSON, "X-PagerDuty-Signature": "v1=" + "0" * 64}, 413),
    ("pd-too-large", PD_PATH, {**JSON}, 413),
]


@pytest.mark.parametrize(("name", "path", "headers", "status"), UNREAD, ids=[u[0] for u in UNREAD])
async def test_answered_before_the_body_is_sent(
    tocsin: Tocsin, name: str, path: str, headers: dict[str, str], status: int
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port(tocsin))
    try:
        writer.write(head("POST", path, headers, 10 * MiB))
        await writer.drain()
        answer = await read_answer(reader)  # not one byte of the body was sent
    finally:
        writer.close()
    assert answer.status == status, answer
    error_code(path, answer)
    await assert_nothing_stored(tocsin)


async def test_large_bodies_in_flight_are_bounded_and_a_real_alert_still_goes_in(make_tocsin: MakeTocsin) -> None:
    limit = 256 * 1024
    t = await make_tocsin({"channels": None, "limits": {"max_body_bytes": limit, "max_event_bytes": 64 * 1024}})
    budget = t.client.app[BODY_BUDGET]
    assert budget.total == 4 * limit
    headers = {**JSON, "Authorization": f"Bearer {AM_TOKEN}"}
    stalled = []
    for _ in range(4):  # four authenticated senders each start a body of the largest size and stall
        reader, writer = await asyncio.open_connection("127.0.0.1", port(t))
        writer.write(head("POST", AM_PATH, headers, limit) + b'{"version"')
        await writer.drain()
        stalled.append((reader, writer))
    for _ in range(100):
        if budget.used == budget.total:
            break
        await asyncio.sleep(0.02)
    assert budget.used == budget.total

    # A fifth large body is turned away before it is read, with a hint to retry...
    answer = await exchange(port(t), head("POST", AM_PATH, headers, limit // 2) + b" " * (limit // 2))
    assert answer.status == 503, answer
    assert answer.headers["retry-after"] == "1"
    assert error_code(AM_PATH, answer) == "busy"
    # A compressed body counts as large as it may inflate, however few bytes it declares.
    small = gzip.compress(json.dumps(body(AM_FIXTURE)).encode())
    answer = await exchange(port(t), head("POST", AM_PATH, {**headers, "Content-Encoding": "gzip"}, len(small)) + small)
    assert answer.status == 503, answer
    # An empty body takes nothing: it gets its own answer (400), not a 503.
    assert (await exchange(port(t), head("POST", AM_PATH, headers, 0))).status == 400
    # ...while a real alert (a few KiB) goes in at once.
    captured = fixture(AM_FIXTURE)
    response = await t.client.post(AM_PATH, json=captured["body"], headers={"Authorization": captured["authorization"]})
    assert response.status == 200, await response.text()

    for _, writer in stalled:
        writer.close()
    for _ in range(100):
        if budget.used == 0:
            break
        await asyncio.sleep(0.02)
    assert budget.used == 0  # the senders that went away gave their share back
    alerts, incidents = await stored(t)
    assert [a["fingerprint"] for a in alerts] == ["40f56d76da7d4a2d"]
    assert len(incidents) == 1


async def test_api_answers_stay_json_for_bad_api_tokens(tocsin: Tocsin) -> None:
    answer = await exchange(port(tocsin), head("GET", "/api/v1/incidents", {"Authorization": f"Bearer {API_TOKEN}x"}))
    assert answer.status == 401
    assert answer.json()["error"]["code"] == "unauthorized"
