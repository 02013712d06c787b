"""Alertmanager's API v2 for silences, as amtool 0.25 speaks it: bare arrays, JSON-string errors, UUID ids."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

import orjson
import structlog
from aiohttp import web

from daemon.engine.events import SaveSilences
from daemon.http.auth import Handler, bearer
from daemon.http.body import read_body
from daemon.http.keys import SERVICES
from daemon.ingest.auth import token_matches
from daemon.ingest.errors import IngestError
from daemon.timefmt import iso
from rules.matchers import Matcher, parse_matcher
from rules.silences import BadSilence, Silence, expire, listed, matcher_json, matcher_of, post

log = structlog.get_logger("tocsin.silences")
SILENCE_BODY_LIMIT = 256 * 1024


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    # Alertmanager's API v2 answers errors as a bare JSON string; amtool prints it as it is.
    return web.Response(body=orjson.dumps(message), status=status, content_type="application/json", headers=headers)


def v2_token(handler: Handler) -> Handler:
    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        if not token_matches(bearer(request), request.app[SERVICES].settings.api_tokens):
            return _error(401, "missing or wrong API token", {"WWW-Authenticate": 'Bearer realm="tocsin"'})
        try:
            return await handler(request)
        except IngestError as exc:
            return _error(exc.status, exc.message)

    return wrapped


def gettable(s: Silence, now: datetime) -> dict[str, Any]:
    return {
        "id": s.id,
        "status": {"state": s.state(now).value},
        "updatedAt": iso(s.updated_at),
        "matchers": [matcher_json(m) for m in s.matchers],
        "startsAt": iso(s.starts_at),
        "endsAt": iso(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
    }


def _time(doc: dict[str, Any], key: str) -> datetime:
    value = doc.get(key)
    if not isinstance(value, str):
        raise BadSilence(f"{key} is required (an RFC 3339 time)")
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadSilence(f"{key}: {value!r} is not an RFC 3339 time") from None
    if at.tzinfo is None:
        raise BadSilence(f"{key}: {value!r} has no time zone")
    return at


def _matchers(doc: dict[str, Any]) -> tuple[Matcher, ...]:
    raw = doc.get("matchers")
    if not isinstance(raw, list):
        raise BadSilence("matchers is required (a list)")
    found = []
    for i, m in enumerate(raw):
        if not isinstance(m, dict) or not isinstance(m.get("name"), str) or not isinstance(m.get("value"), str):
            raise BadSilence(f"matchers[{i}]: needs a name and a value")
        if not isinstance(m.get("isRegex", False), bool) or not isinstance(m.get("isEqual", True), bool):
            raise BadSilence(f"matchers[{i}]: isRegex and isEqual are true or false")
        try:
            found.append(matcher_of(m["name"], m["value"], m.get("isRegex", False), m.get("isEqual", True)))
        except ValueError as exc:
            raise BadSilence(f"matchers[{i}]: {exc}") from None
    return tuple(found)


@v2_token
async def post_silence(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    raw = await read_body(request, SILENCE_BODY_LIMIT)
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _error(400, "the body is not valid JSON")
    if not isinstance(doc, dict):
        return _error(400, "the body must be a postableSilence object")
    now = services.clock.now()
    try:
        matchers = _matchers(doc)
        starts_at, ends_at = _time(doc, "startsAt"), _time(doc, "endsAt")
        created_by, comment = doc.get("createdBy", ""), doc.get("comment", "")
        if not isinstance(created_by, str) or not isinstance(comment, str):
            raise BadSilence("createdBy and comment are strings")
        existing = None
        if doc.get("id"):
            existing = await services.store.get_silence(str(doc["id"]))
            if existing is None:
                return _error(404, f"silence {doc['id']} not found")
        written = post(existing, matchers, starts_at, ends_at, created_by, comment, now)
    except BadSilence as exc:
        return _error(400, str(exc))
    # Through the engine: the silence and the sweep timer at its end commit together (DESIGN §12).
    await services.pipeline.submit(SaveSilences(tuple(written)))
    new = written[-1]
    log.info(
        "silence_saved",
        silence=new.id,
        matchers=[str(m) for m in new.matchers],
        ends_at=iso(new.ends_at),
        created_by=created_by,
        replaced=written[0].id if len(written) > 1 else None,
    )
    return web.Response(body=orjson.dumps({"silenceID": new.id}), content_type="application/json")


@v2_token
async def list_silences(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    try:
        filters = [parse_matcher(f) for f in request.query.getall("filter", [])]
    except ValueError as exc:
        return _error(400, f"bad filter: {exc}")
    now = services.clock.now()
    found = listed(await services.store.list_silences(), now, filters)
    return web.Response(body=orjson.dumps([gettable(s, now) for s in found]), content_type="application/json")


@v2_token
async def get_silence(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    silence = await services.store.get_silence(request.match_info["id"])
    if silence is None:
        return _error(404, f"silence {request.match_info['id']} not found")
    return web.Response(body=orjson.dumps(gettable(silence, services.clock.now())), content_type="application/json")


@v2_token
async def delete_silence(request: web.Request) -> web.Response:
    """Expire it; repeating is fine (an expired silence stays as it is)."""
    services = request.app[SERVICES]
    silence = await services.store.get_silence(request.match_info["id"])
    if silence is None:
        return _error(404, f"silence {request.match_info['id']} not found")
    now = services.clock.now()
    ended = expire(silence, now)
    if ended is not silence:
        await services.pipeline.submit(SaveSilences((ended,)))
        log.info("silence_expired", silence=silence.id)
    return web.Response(status=200)
