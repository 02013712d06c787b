"""Every error is JSON: ``{"error": {"code", "message", "details"}}``; store trouble is a fast 503."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import orjson
import structlog
from aiohttp import web

from daemon.engine.state import IllegalTransition, NotFound
from daemon.ingest.errors import IngestError
from daemon.store.base import StoreUnavailable
from daemon.store.cursor import BadCursor

log = structlog.get_logger("tocsin.http")
RETRY_AFTER = "5"

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    410: "gone",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_body",
    503: "unavailable",
}


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    response = web.Response(body=orjson.dumps(data), status=status, content_type="application/json", headers=headers)
    if headers and headers.get("Connection") == "close":
        response.force_close()  # not kept alive: what the client sends next on it is not trusted
    return response


def error_response(
    status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
) -> web.Response:
    return json_response({"error": {"code": code, "message": message, "details": details}}, status, headers)


def unavailable(exc: Exception) -> web.Response:
    log.warning("store_unavailable", error=str(exc))
    return error_response(
        503, "store_unavailable", "the store is unavailable; retry later", None, {"Retry-After": RETRY_AFTER}
    )


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


PAGERDUTY_PATH = "/v2/enqueue"


def _pagerduty_shaped(response: web.StreamResponse) -> web.StreamResponse:
    """/v2/enqueue speaks PagerDuty's error shape, also for 405s and internal errors."""
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return response
    parsed = orjson.loads(response.body)  # type: ignore[arg-type]
    if "error" not in parsed:
        return response  # the handler answered in PagerDuty's shape already
    error = parsed["error"]
    body = {"status": error["code"].replace("_", " "), "message": error["message"], "errors": [error["message"]]}
    return json_response(body, response.status, {k: v for k, v in response.headers.items() if k == "Retry-After"})


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await _errors(request, handler)
    if request.path == PAGERDUTY_PATH and response.status >= 400:
        return _pagerduty_shaped(response)
    return response


async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except IngestError as exc:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)
    except NotFound as exc:
        return error_response(404, "not_found", str(exc), {"id": exc.incident_id})
    except IllegalTransition as exc:
        return error_response(409, "illegal_transition", str(exc), {"id": exc.incident_id, "state": exc.state})
    except BadCursor as exc:
        return error_response(400, "bad_cursor", str(exc))
    except StoreUnavailable as exc:
        return unavailable(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = _CODES.get(exc.status, "http_error")
        return error_response(
            exc.status, code, exc.reason, None, {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        )
    except Exception:
        # The route's template, not the path: a path can carry a credential (an OnCall key, a signed link).
        resource = request.match_info.route.resource
        log.exception("unhandled", route=resource.canonical if resource else "?", method=request.method)
        return error_response(500, "internal_error", "internal error; see tocsin's log")
