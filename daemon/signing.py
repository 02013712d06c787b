"""Keys derived from link_secret, one per use, so that a token made for one purpose is worth nothing in another."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets


@functools.cache
def made_at_start() -> bytes:
    """The link secret when none is configured: random, made once per `tocsin run`. The parent makes it before
    it forks its workers, so that every worker signs and checks links, sessions and calendar addresses with the
    same one; it is gone at the next restart."""
    return secrets.token_bytes(32)


def derive(secret: bytes, purpose: str) -> bytes:
    return hmac.new(secret, purpose.encode(), hashlib.sha256).digest()


def calendar_token(secret: bytes, schedule: str, generation: int) -> str:
    """``<schedule>.<mac>``: names one schedule; raising its calendar_generation revokes every older token."""
    mac = hmac.new(derive(secret, "calendar"), f"calendar:{schedule}:{generation}".encode(), hashlib.sha256)
    return f"{schedule}.{base64.urlsafe_b64encode(mac.digest()[:18]).decode()}"


def check_calendar_token(secret: bytes, token: str, generation_of: dict[str, int]) -> str | None:
    """The schedule a token names when it is genuine; None when tampered (or for a schedule now unknown)."""
    schedule, dot, _ = token.partition(".")
    if not dot or schedule not in generation_of:
        return None
    expected = calendar_token(secret, schedule, generation_of[schedule])
    return schedule if hmac.compare_digest(expected.encode(), token.encode()) else None
