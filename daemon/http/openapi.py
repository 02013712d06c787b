"""The OpenAPI 3.1 document of every endpoint, served open at /api/v1/openapi.json."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from daemon.http.errors import json_response
from daemon.http.models import DeclareBody, NoteBody, OverrideBody, PatchBody, StatusUpdateBody, TransitionBody

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
                f"{action.capitalize()} the incident (see Lifecycle in the README)",
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
        **{
            path: {
                "post": _op(
                    f"Grafana OnCall {kind} integration URL; the key names an integration of sources.grafana_oncall",
                    ok_schema={"type": "object"},
                    errors=(400, 401, 413, 415, 422, 503),
                    security=[],
                    params=[{"name": "key", "in": "path", "required": True, "schema": {"type": "string"}}],
                )
            }
            for kind, base in (
                ("Alertmanager", "/integrations/v1/alertmanager/{key}"),
                ("formatted webhook", "/integrations/v1/formatted_webhook/{key}"),
            )
            for path in (base, base + "/")
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
                    _q(
                        "state",
                        "filter (open: all but resolved)",
                        ["triggered", "acknowledged", "mitigated", "resolved", "open"],
                    ),
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
        "/api/v1/incidents/{id}/notes": {
            "post": _op(
                "Add a note to the timeline",
                ok=201,
                ok_schema=INCIDENT,
                body="NoteBody",
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
            method: {
                **_op(summary, security=[]),
                # Pages for a person who followed a link from a page: HTML, errors included.
                "responses": {
                    str(code): {"description": text, "content": {"text/html": {"schema": {"type": "string"}}}}
                    for code, text in ((200, "the page"), (403, "tampered link"), (410, "expired or outdated link"))
                },
            }
            for method, summary in (
                ("get", "Acknowledge page (shows a button; never acknowledges)"),
                ("post", "Acknowledge through a signed link; answers the resulting page"),
            )
        },
        "/api/v1/oncall": {
            "get": _op(
                "Who is on call now (or at `at`) and next, one row per rotation",
                ok_schema={"type": "object"},
                errors=(400, 401),
                params=[_q("at", "RFC 3339 time, default now")],
            )
        },
        "/api/v1/schedules": {"get": _op("The configured schedules", ok_schema={"type": "object"})},
        "/api/v1/schedules/{name}": {
            "get": _op(
                "A schedule's shifts (overrides applied) and its calendar feed URL",
                ok_schema={"type": "object"},
                errors=(400, 401, 404),
                params=[
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    _q("from", "RFC 3339, default now"),
                    _q("to", "RFC 3339, default from + 14 days"),
                ],
            )
        },
        "/api/v1/schedules/{name}/overrides": {
            "get": _op(
                "A schedule's current and future overrides (stale: naming something no longer configured)",
                ok_schema={"type": "object"},
                errors=(401, 404),
                params=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            ),
            "post": _op(
                "Put a person on a rotation for [start, end); where overrides overlap the later wins",
                ok=201,
                ok_schema={"type": "object"},
                body="OverrideBody",
                errors=(401, 404, 415, 422),
                params=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
            ),
        },
        "/api/v1/schedules/{name}/overrides/{id}": {
            "delete": _op(
                "Delete an override",
                ok=204,
                errors=(401, 404),
                params=[
                    {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                ],
            )
        },
        "/api/v1/heartbeats": {
            "get": _op(
                "Heartbeats: name, state (inactive, up, missed), last ping and when the next one is due",
                ok_schema={"type": "object"},
            )
        },
        "/api/v1/heartbeats/{name}": {
            "post": _op(
                "A heartbeat ping (credentials of sources.alertmanager; the body is ignored)",
                ok_schema={"type": "object"},
                errors=(401, 404, 503),
                params=[{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}],
                security=[],
            )
        },
        "/api/v2/silences": {
            "get": _op(
                "Alertmanager API v2: silences as a bare array (filter=name=value, repeatable)",
                ok_schema={"type": "array"},
                errors=(400, 401),
                params=[_q("filter", "a matcher each silence must hold, e.g. service=db")],
            ),
            "post": _op(
                "Alertmanager API v2: create (or, with id, update) a silence → {silenceID}; errors are JSON strings",
                ok_schema={"type": "object", "properties": {"silenceID": {"type": "string"}}},
                errors=(400, 401, 404),
            ),
        },
        "/api/v2/silence/{id}": {
            "get": _op(
                "Alertmanager API v2: one silence", ok_schema={"type": "object"}, errors=(401, 404), params=[ID]
            ),
            "delete": _op("Alertmanager API v2: expire a silence (repeatable)", errors=(401, 404), params=[ID]),
        },
        "/calendar/{token}.ics": {
            "get": {
                **_op("A schedule's shifts as an iCalendar feed (the signed URL is the credential)", security=[]),
                "responses": {
                    "200": {"description": "ok", "content": {"text/calendar": {"schema": {"type": "string"}}}},
                    **_err(403, 404),
                },
            }
        },
        "/api/v1/openapi.json": {"get": _op("This document", ok_schema={"type": "object"}, errors=(), security=[])},
        "/healthz": {"get": _op("Liveness and the background loops' states", errors=(503,), security=[])},
        "/readyz": {"get": _op("Readiness: the store answers", errors=(503,), security=[])},
        "/metrics": {"get": _op("Prometheus metrics", errors=(), security=[])},
        "/-/reload": {
            "post": _op(
                "Reload the configuration file, checked first (every worker, when workers > 1); 400 config_refused"
                " with details.problems when it is not valid (the running one stays); 503 reload_incomplete when"
                " it is in force but open incidents could not all follow it",
                ok_schema={
                    "type": "object",
                    "required": ["status", "changed", "restart_needed", "open_incidents"],
                    "properties": {
                        "status": {"const": "reloaded"},
                        "changed": {"type": "array", "items": {"type": "string"}},
                        "restart_needed": {"type": "array", "items": {"type": "string"}},
                        "open_incidents": {"type": "integer"},
                    },
                },
                errors=(400, 401, 503),
            )
        },
    }
    schemas: dict[str, Any] = {
        "Error": ERROR,
        "Incident": {
            "type": "object",
            "required": ["id", "title", "severity", "state", "service", "labels", "declared_at"],
        },
    }
    for model in (TransitionBody, DeclareBody, PatchBody, StatusUpdateBody, OverrideBody, NoteBody):
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
