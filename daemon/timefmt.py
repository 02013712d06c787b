"""Timestamps: always timezone-aware UTC inside tocsin, RFC 3339 with ``Z`` outside."""

from __future__ import annotations

from datetime import UTC, datetime


def utc(dt: datetime) -> datetime:
    """The same instant in UTC; a naive time is taken to be UTC already."""
    if dt.tzinfo is None:
        return dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    return utc(dt).isoformat().replace("+00:00", "Z")


def iso_or_none(dt: datetime | None) -> str | None:
    return None if dt is None else iso(dt)


def parse_iso(text: str) -> datetime:
    return utc(datetime.fromisoformat(text))


def parse_iso_or_none(text: str | None) -> datetime | None:
    return None if text is None else parse_iso(text)
