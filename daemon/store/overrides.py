"""On-call overrides as stored: shared by replicas, numbered by the store so that "created last" is well defined."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daemon.timefmt import iso, parse_iso
from rules.rotation import Override


@dataclass(frozen=True, slots=True)
class NewOverride:
    schedule: str
    rotation: str
    person: str
    start: datetime
    end: datetime
    note: str
    actor: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredOverride:
    id: str
    seq: int
    schedule: str
    rotation: str
    person: str
    start: datetime
    end: datetime
    note: str
    actor: str
    created_at: datetime

    @classmethod
    def make(cls, seq: int, new: NewOverride) -> StoredOverride:
        return cls(
            f"ovr-{seq}",
            seq,
            new.schedule,
            new.rotation,
            new.person,
            new.start,
            new.end,
            new.note,
            new.actor,
            new.created_at,
        )

    def rule(self) -> Override:
        return Override(self.id, self.seq, self.rotation, self.person, self.start, self.end)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "seq": self.seq,
            "schedule": self.schedule,
            "rotation": self.rotation,
            "person": self.person,
            "start": iso(self.start),
            "end": iso(self.end),
            "note": self.note,
            "actor": self.actor,
            "created_at": iso(self.created_at),
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> StoredOverride:
        return cls(
            d["id"],
            int(d["seq"]),
            d["schedule"],
            d["rotation"],
            d["person"],
            parse_iso(d["start"]),
            parse_iso(d["end"]),
            d.get("note", ""),
            d.get("actor", ""),
            parse_iso(d["created_at"]),
        )
