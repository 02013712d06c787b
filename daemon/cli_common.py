"""What every command that talks to a running daemon shares: its client, the actor, times and output."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime

from daemon.client import ApiError, Client


def client_of(args: argparse.Namespace) -> Client:
    token = os.environ.get("TOCSIN_API_TOKEN")
    if not token:
        # Before any request: a 401 later would not say what to do about it.
        raise SystemExit("tocsin: set TOCSIN_API_TOKEN to one of the daemon's api_tokens")
    return Client(args.url, token)


def actor_of(args: argparse.Namespace) -> str:
    return getattr(args, "actor", None) or os.environ.get("USER") or "cli"


def when(text: str) -> str:
    """RFC 3339 (or ``now``) in, RFC 3339 UTC out; a time without zone is refused rather than guessed."""
    if text == "now":
        return datetime.now(UTC).isoformat().replace("+00:00", "Z")
    try:
        at = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise SystemExit(
            f"tocsin: bad time {text!r} (expected RFC 3339, e.g. 2026-11-25T09:00:00+01:00, or now)"
        ) from None
    if at.tzinfo is None:
        raise SystemExit(f"tocsin: {text!r} has no time zone (add Z or +01:00)")
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def short(text: str) -> str:
    return text.replace("T", " ").replace(":00Z", "Z")


def show(work: Callable[[], list[str]]) -> int:
    try:
        lines = work()
    except ApiError as exc:
        print(f"tocsin: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
