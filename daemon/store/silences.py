"""Silences as stored: one JSON document each, the same on both stores."""

from __future__ import annotations

import functools
from typing import Any

import orjson

from daemon.timefmt import iso, parse_iso
from rules.silences import Silence, matcher_json, matcher_of


def encode(s: Silence) -> bytes:
    doc: dict[str, Any] = {
        "id": s.id,
        "matchers": [matcher_json(m) for m in s.matchers],
        "startsAt": iso(s.starts_at),
        "endsAt": iso(s.ends_at),
        "createdBy": s.created_by,
        "comment": s.comment,
        "updatedAt": iso(s.updated_at),
    }
    return orjson.dumps(doc)


# Every decision reads the silences in force: the same documents, decoded once per process (Silence is frozen).
@functools.lru_cache(maxsize=4096)
def decode(raw: bytes | str) -> Silence:
    d = orjson.loads(raw)
    return Silence(
        d["id"],
        tuple(matcher_of(m["name"], m["value"], m["isRegex"], m["isEqual"]) for m in d["matchers"]),
        parse_iso(d["startsAt"]),
        parse_iso(d["endsAt"]),
        d["createdBy"],
        d["comment"],
        parse_iso(d["updatedAt"]),
    )
