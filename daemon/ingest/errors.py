"""Ingest errors: each is a 4xx with a code, a message and details, and changes nothing."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

MAX_DETAILS = 20


class IngestError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.headers = headers
        self.status = status
        self.code = code  # also the ``reason`` label of tocsin_ingest_rejected_total
        self.message = message
        self.details = details


def unauthorized() -> IngestError:
    challenge = {"WWW-Authenticate": 'Bearer, Basic realm="tocsin"'}
    return IngestError(401, "unauthorized", "missing or wrong credentials", headers=challenge)


def too_large(limit: int, name: str = "max_body_bytes") -> IngestError:
    return IngestError(
        413, "body_too_large", f"request body exceeds {name} ({limit} bytes)", {"limit": name, "max": limit}
    )


def bad_media_type(got: str) -> IngestError:
    return IngestError(415, "unsupported_media_type", f"expected Content-Type application/json, got {got or 'none'}")


def from_validation(exc: ValidationError) -> IngestError:
    errors = exc.errors(include_url=False, include_input=False)
    if any(e["type"] == "json_invalid" for e in errors):
        return IngestError(
            400, "malformed_json", "the body is not valid UTF-8 JSON", [e["msg"] for e in errors[:MAX_DETAILS]]
        )
    details = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in errors[:MAX_DETAILS]]
    return IngestError(422, "invalid_body", "the body does not have the expected shape", details)
