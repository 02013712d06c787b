"""The OpenAPI 3.1 document of every endpoint, served open at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from daemon.http.errors import json_response
from daemon.http.models import DeclareBody, PatchBody, StatusUpdateBody, TransitionBody

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "message": {"type": "string"}, "details": {}},
        }
    },
}
PD_ANSWER = {
    "type": "object",
    "properties": {
        "status": {"type": "string"},
        "message": {"type": "string"},
        "dedup_key": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "string"}},
    },
}


def _err(*codes: int) -> dict[str, Any]:
    return {
        str(c): {
            "description": "error",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def _op(
    summary: str,
    ok: int = 200,
    ok_schema: dict[str, Any] | None = None,
    body: str | None = None,
    errors: tuple[int, ...] = (401,),
    security: list[dict[str, list[str]]] | None = None,
    params: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "responses": {str(ok): {"description": "ok", **(_json(ok_schema) if ok_schema else {})}, **_err(*errors)},
    }
    if body:
        op["requestBody"] = {"required": body != "TransitionBody", **_json({"$ref": f"#/components/schemas/{body}"})}
    op["security"] = security if security is not None else [{"apiToken": []}]
    if params:
        op["parameters"] = params
    return op


def _q(name: str, description: str, enum: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string"}
    if enum:
        schema["enum"] = enum
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "example": "INC-2026-0007"}}
INCIDENT = {"$ref": "#/components/schemas/Incident"}


def document() -> dict[str, Any]:
    incident_ops = {
        f"/api/v1/incidents/{{id}}/{action}": {
            "post": _op(
                f"{action.capitalize()} the incident (DESIGN §5's table)",
                ok_schema=INCIDENT,
                body="TransitionBody",
                errors=(401, 404, 409, 415, 422),
                params=[ID],
            )
        }
        for action in ("acknowledge", "mitigate", "resolve", "reopen")
    }
    paths: dict[str, Any] = {
        "/api/v1/alerts/alertmanager": {
            "post": _op(
                "Alertmanager webhook (version 4)",
                ok_schema={"type": "object"},
                errors=(400, 401, 413, 415, 422, 503),
                security=[{"sourceToken": []}, {"sourceBasic": []}],
            )
        },
        "/v2/enqueue": {
            "post": _op(
                "PagerDuty Events API v2 (trigger, acknowledge, resolve); answers in PagerDuty's shape",
                ok=202,
                ok_schema=PD_ANSWER,
                errors=(),
                security=[],
            )
        },
        "/api/v1/webhooks/pagerduty": {
            "post": _op(
                "PagerDuty V3 webhook, verified by X-PagerDuty-Signature",
                ok_schema={"type": "object"},
                errors=(400, 401, 413, 415, 503),
                security=[],
            )
        },
        "/api/v1/incidents": {
            "get": _op(
                "List incidents, newest first",
                ok_schema={
                    "type": "object",
                    "properties": {
                        "incidents": {"type": "array", "items": INCIDENT},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
                errors=(400, 401),
                params=[
                    _q("state", "filter", ["triggered", "acknowledged", "mitigated", "resolved"]),
                    _q("severity", "filter", ["SEV1", "SEV2", "SEV3", "SEV4"]),
                    _q("service", "filter"),
                    _q("limit", "1-500, default 50"),
                    _q("cursor", "next_cursor of the previous page"),
                ],
            ),
            "post": _op(
                "Declare an incident by hand", ok=201, ok_schema=INCIDENT, body="DeclareBody", errors=(401, 415, 422)
            ),
        },
        "/api/v1/incidents/{id}": {
            "get": _op("An incident with its alerts and timeline", ok_schema=INCIDENT, errors=(401, 404), params=[ID]),
            "patch": _op(
                "Change severity, title or commander",
                ok_schema=INCIDENT,
                body="PatchBody",
                errors=(401, 404, 415, 422),
                params=[ID],
            ),
        },
        **incident_ops,
        "/api/v1/incidents/{id}/status-updates": {
            "post": _op(
                "Post a status update to the stakeholders",
                ok_schema=INCIDENT,
                body="StatusUpdateBody",
                errors=(401, 404, 415, 422),
                params=[ID],
            )
        },
        "/api/v1/incidents/{id}/postmortem": {
            "get": {
                **_op("A Markdown postmortem draft", errors=(401, 404), params=[ID]),
                "responses": {
                    "200": {"description": "ok", "content": {"text/markdown": {"schema": {"type": "string"}}}},
                    **_err(401, 404),
                },
            }
        },
        "/api/v1/alerts": {
            "get": _op(
                "List alerts (also those below the declare threshold)",
                ok_schema={"type": "object"},
                errors=(400, 401),
                params=[
                    _q("status", "filter", ["firing", "resolved"]),
                    _q("limit", "1-1000"),
                    _q("cursor", "next page"),
                ],
            )
        },
        "/ack/{token}": {
            "get": _op("Acknowledge page (shows a button; never acknowledges)", errors=(403, 410), security=[]),
            "post": _op("Acknowledge through a signed link", errors=(403, 410), security=[]),
        },
        "/api/v1/openapi.json": {"get": _op("This document", ok_schema={"type": "object"}, errors=(), security=[])},
        "/healthz": {"get": _op("Liveness and the background loops' states", errors=(503,), security=[])},
        "/readyz": {"get": _op("Readiness: the store answers", errors=(503,), security=[])},
        "/metrics": {"get": _op("Prometheus metrics", errors=(), security=[])},
    }
    schemas: dict[str, Any] = {
        "Error": ERROR,
        "Incident": {
            "type": "object",
            "required": ["id", "title", "severity", "state", "service", "labels", "declared_at"],
        },
    }
    for model in (TransitionBody, DeclareBody, PatchBody, StatusUpdateBody):
        schemas[model.__name__] = model.model_json_schema()
    return {
        "openapi": "3.1.0",
        "info": {"title": "tocsin", "version": "1", "description": "Alert ingest, incidents and paging."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer"},
                "sourceToken": {"type": "http", "scheme": "bearer"},
                "sourceBasic": {"type": "http", "scheme": "basic"},
            },
        },
    }


async def openapi(request: web.Request) -> web.Response:
    return json_response(document())
