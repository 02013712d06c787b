"""CSRF tokens for every state-changing form: an HMAC of what identifies the visitor, under its own key.

Signed in by cookie, the token is bound to that cookie (a new sign-in gets a new token); signed in through the
trusted header, to the person; before sign-in, to a random pre-session cookie (so that nobody can sign a
visitor in as someone else from another site).
"""

from __future__ import annotations

import hashlib
import hmac

from daemon.signing import derive

FIELD = "csrf"


def token(secret: bytes, binding: str) -> str:
    return hmac.new(derive(secret, "csrf"), binding.encode(), hashlib.sha256).hexdigest()


def valid(secret: bytes, binding: str, presented: str | None) -> bool:
    if not presented or not binding:
        return False
    return hmac.compare_digest(token(secret, binding).encode(), presented.encode())
