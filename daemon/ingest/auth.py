"""Source credentials as Alertmanager's http_config sends them: Bearer, or Basic with the token as password."""

from __future__ import annotations

import base64
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
        except (ValueError, UnicodeDecodeError):  # binascii.Error, and non-ASCII text, are ValueErrors
            return None
        _, sep, password = decoded.partition(":")
        return password if sep else None
    return None


def token_matches(presented: str | None, tokens: Sequence[SecretStr]) -> bool:
    """Constant-time comparison against every configured token (the time does not say which one nearly matched)."""
    if presented is None:
        return False
    try:
        given = presented.encode()
    except UnicodeEncodeError:  # header bytes that were not UTF-8 (kept as surrogates): no token is
        return False
    found = False
    for token in tokens:
        found |= hmac.compare_digest(given, token.get_secret_value().encode())
    return found
