"""Typed rule, escalation-policy and route models, as they appear in tocsin.yml."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rules.severity import Severity
from rules.types import Duration, MatcherField, SeverityField, Target


class StrictModel(BaseModel):
    """Unknown keys are errors everywhere in the configuration."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SeverityRule(StrictModel):
    name: str = Field(min_length=1)
    matchers: list[MatcherField] = Field(default_factory=list)
    severity: SeverityField


class RaiseWhen(StrictModel):
    firing_alerts: int | None = Field(default=None, ge=1)
    firing_for: Duration | None = None

    @model_validator(mode="after")
    def _one_condition(self) -> RaiseWhen:
        if self.firing_alerts is None and self.firing_for is None:
            raise ValueError("a raise needs firing_alerts or firing_for")
        return self


class RaiseRule(StrictModel):
    name: str = Field(min_length=1)
    when: RaiseWhen
    severity: SeverityField
    # tocsin accepts more than the example: a raise may be limited to incidents with these labels.
    matchers: list[MatcherField] = Field(default_factory=list)


class SeverityConfig(StrictModel):
    declare_at: SeverityField = Severity.SEV3
    rules: list[SeverityRule] = Field(default_factory=list)
    raises: list[RaiseRule] = Field(default_factory=list, alias="raise")

    @model_validator(mode="after")
    def _unique_names(self) -> SeverityConfig:
        named: list[tuple[str, list[str]]] = [
            ("rules", [r.name for r in self.rules]),
            ("raise", [r.name for r in self.raises]),
        ]
        for kind, names in named:
            seen: set[str] = set()
            for i, name in enumerate(names):
                if name in seen:
                    raise ValueError(f"severity.{kind}[{i}].name: duplicate rule name {name!r}")
                seen.add(name)
        return self


class Level(StrictModel):
    after: Duration
    notify: list[Target] = Field(min_length=1)


class Policy(StrictModel):
    levels: list[Level] = Field(min_length=1)
    repeat: int = Field(default=1, ge=1)
    repeat_after: Duration = timedelta(minutes=5)

    @model_validator(mode="after")
    def _levels_in_order(self) -> Policy:
        for i in range(1, len(self.levels)):
            if self.levels[i].after < self.levels[i - 1].after:
                raise ValueError(f"levels[{i}].after is earlier than levels[{i - 1}].after")
        if self.repeat > 1 and self.levels[-1].after + self.repeat_after == timedelta(0):
            # Every round would fall due in the same instant: one burst of identical pages, not a ladder.
            raise ValueError("repeat_after: 0s with every level at 0s pages every round at once; give it a delay")
        return self


class Route(StrictModel):
    severities: list[SeverityField] = Field(default_factory=list)
    matchers: list[MatcherField] = Field(default_factory=list)
    policy: str
