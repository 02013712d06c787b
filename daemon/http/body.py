"""Reading request bodies within the limits, and the API's JSON bodies into typed models."""

from __future__ import annotations

from typing import TypeVar

from aiohttp import web
from pydantic import BaseModel, ValidationError

from daemon.ingest.errors import IngestError, bad_media_type, from_validation, too_large

M = TypeVar("M", bound=BaseModel)


def require_json(request: web.Request) -> None:
    if request.content_type != "application/json":
        raise bad_media_type(request.headers.get("Content-Type", ""))


async def read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise too_large(limit)
    try:
        return await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise too_large(limit) from None


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
