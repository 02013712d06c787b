"""Source credentials as Alertmanager's http_config sends them: Bearer, or Basic with the token as password."""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence

from pydantic import SecretStr


def presented_secret(header: str | None) -> str | None:
    """The secret in an Authorization header: a Bearer token or a Basic password."""
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    scheme = scheme.lower()
    if scheme == "bearer":
        return value.strip() or None
    if scheme == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None
        _, sep, password = decoded.partition(":")
        return password if sep else None
    return None


def token_matches(presented: str | None, tokens: Sequence[SecretStr]) -> bool:
    """Constant-time comparison against every configured token (the time does not say which one nearly matched)."""
    if presented is None:
        return False
    given = presented.encode()
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given, token.get_secret_value().encode())
    return found
