"""Reading request bodies within the limits, and the API's JSON bodies into typed models.

A body is read only after the route's cheap checks (credentials in headers, Content-Type, declared length), in
chunks counted as they arrive (decompressed, when the sender used gzip or deflate), and under a byte budget shared
by every request of the process: however many senders push large bodies at once, at most ``BodyBudget.total``
bytes of them are held in memory; past it a large body is answered 503 with Retry-After before it is read.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import TypeVar

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.web_protocol import RequestPayloadError
from pydantic import BaseModel, ValidationError

from daemon.ingest.errors import IngestError, bad_media_type, from_validation, too_large

M = TypeVar("M", bound=BaseModel)

# A sender gets this long to deliver its whole body once the handler starts reading it (slow-body clients).
BODY_READ_TIMEOUT = 30.0
# Bodies declared at most this large are read without a reservation: the connection cap bounds their sum, and
# a real alert or event (a few KiB) is never turned away because large bodies are in flight.
SMALL_BODY = 64 * 1024
RETRY_AFTER = "1"
CLOSE = {"Connection": "close"}


class BodyBudget:
    """Bytes of request bodies being read at once across all requests; over it, a large body is refused (503)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0

    @contextlib.contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        if size <= SMALL_BODY:
            yield
            return
        if self.used + size > self.total:
            raise IngestError(
                503,
                "busy",
                "too many large request bodies are being read at once; retry later",
                {"limit": "body_budget", "max": self.total},
                {"Retry-After": RETRY_AFTER},
            )
        self.used += size
        try:
            yield
        finally:
            self.used -= size


def require_json(request: web.Request) -> None:
    if request.content_type != "application/json":
        raise bad_media_type(request.headers.get("Content-Type", ""))


def check_declared_length(request: web.Request, limit: int, name: str = "max_body_bytes") -> None:
    """Refuse at once a body whose Content-Length already says it is too large."""
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit, name)


def _may_take(request: web.Request, limit: int) -> int:
    """How much memory the body may take: its declared length, unless it is chunked (no length declared) or
    compressed (the length is that of the compressed bytes): then as much as the limit allows."""
    encoded = request.headers.get("Content-Encoding", "identity").strip().lower() not in ("", "identity")
    if request.content_length is None or encoded:
        return limit
    return request.content_length


async def read_body(
    request: web.Request, limit: int, budget: BodyBudget | None = None, name: str = "max_body_bytes"
) -> bytes:
    """The whole body, at most ``limit`` bytes once decompressed: 413 past it, 400 when its Content-Encoding
    lies, 408 when it arrives too slowly, 503 when the budget of bodies in flight is spent."""
    check_declared_length(request, limit, name)
    reservation = budget.reserve(_may_take(request, limit)) if budget is not None else contextlib.nullcontext()
    with reservation:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout(BODY_READ_TIMEOUT):
                while chunk := await request.content.readany():
                    size += len(chunk)
                    if size > limit:
                        raise too_large(limit, name)
                    chunks.append(chunk)
        except RequestPayloadError as exc:
            # The parser gave up on this body; what follows on the connection cannot be trusted to be a request.
            # Marked finished, so that aiohttp does not read it again after the answer (and log a traceback).
            request.content.feed_eof()
            if isinstance(exc.__cause__, ContentEncodingError):
                encoding = request.headers.get("Content-Encoding", "")
                raise IngestError(
                    400,
                    "bad_encoding",
                    f"the body is not valid {encoding or 'encoded'} data (Content-Encoding)",
                    headers=CLOSE,
                ) from None
            raise IngestError(
                400, "bad_body", "the body could not be read: its transfer framing is broken", headers=CLOSE
            ) from None
        except ConnectionError:
            # The sender went away mid-body: nobody reads this answer, but it is an ordinary rejection, not a 500.
            raise IngestError(400, "body_incomplete", "the connection closed before the whole body arrived") from None
        except TimeoutError:
            raise IngestError(
                408, "body_timeout", f"the body did not arrive within {BODY_READ_TIMEOUT:.0f} s"
            ) from None
        return b"".join(chunks)


async def parse_json_body(request: web.Request, model: type[M], limit: int) -> M:
    """An API request body: 415 unless JSON, 400 if malformed, 422 if it has the wrong shape."""
    raw = await read_body(request, limit)
    if not raw.strip():
        raw = b"{}"
    elif request.content_type != "application/json":
        raise bad_media_type(request.headers.get("Content-Type", ""))
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise from_validation(exc) from None


def query_int(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not (raw.isascii() and raw.isdigit()) or not low <= int(raw) <= high:
        raise IngestError(400, "bad_query", f"{name} must be a whole number from {low} to {high}")
    return int(raw)
