"""Request bodies of the incident API (also the source of its OpenAPI schemas)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from rules.severity import Severity
from rules.types import SeverityField


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TransitionBody(_Body):
    actor: str = Field(default="api", min_length=1, max_length=200, description="who acts (recorded in the timeline)")
    note: str = Field(default="", max_length=4000)


class DeclareBody(_Body):
    title: str = Field(min_length=1, max_length=500)
    severity: SeverityField = Field(default=Severity.SEV3, description="SEV1 (worst) to SEV4")
    service: str = Field(default="", max_length=200)
    labels: dict[str, str] = Field(default_factory=dict)
    actor: str = Field(default="api", min_length=1, max_length=200)
    note: str = Field(default="", max_length=4000)
    commander: str | None = Field(default=None, max_length=200)


class PatchBody(_Body):
    severity: SeverityField | None = None
    title: str | None = Field(default=None, min_length=1, max_length=500)
    commander: str | None = Field(default=None, max_length=200, description="empty string clears it")
    actor: str = Field(default="api", min_length=1, max_length=200)


class StatusUpdateBody(_Body):
    phase: Literal["investigating", "identified", "monitoring", "resolved"]
    message: str = Field(default="", max_length=10_000, description="empty takes the phase's template")
    actor: str = Field(default="api", min_length=1, max_length=200)


class OverrideBody(_Body):
    rotation: str = Field(min_length=1, max_length=200)
    person: str = Field(min_length=1, max_length=200)
    start: datetime = Field(description="RFC 3339 with a zone; the override covers [start, end)")
    end: datetime
    note: str = Field(default="", max_length=4000)
    actor: str = Field(default="api", min_length=1, max_length=200)


class NoteBody(_Body):
    text: str = Field(min_length=1, max_length=4000, description="a line for the timeline")
    actor: str = Field(default="api", min_length=1, max_length=200)
