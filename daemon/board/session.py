"""The board's session cookie: who signed in, a hash of the API token they used, and until when; signed.

The key is HMAC(link_secret, "session"), so a session cookie is worth nothing as an acknowledge link or a calendar
token. The token's hash, not the token, travels in the cookie: a cookie that leaks does not give API access, and
the session ends as soon as that token leaves ``api_tokens``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from pydantic import SecretStr

from daemon.signing import derive

COOKIE = "tocsin_session"
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class Session:
    person: str
    token_hash: str
    expires: int  # unix seconds


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(derive(secret, "session"), payload.encode(), hashlib.sha256).digest())


def issue(secret: bytes, person: str, token: str, now: datetime, ttl: timedelta) -> str:
    payload = _b64(orjson.dumps({"p": person, "t": token_hash(token), "e": int((now + ttl).timestamp())}))
    return f"{payload}.{_mac(secret, payload)}"


def read(secret: bytes, cookie: str | None, now: datetime, tokens: Sequence[SecretStr]) -> Session | None:
    """The session a cookie carries when it is genuine, unexpired and its token is still configured."""
    if not cookie:
        return None
    payload, dot, mac = cookie.partition(".")
    if not dot or not hmac.compare_digest(_mac(secret, payload).encode(), mac.encode()):
        return None
    try:
        doc = orjson.loads(_unb64(payload))
        session = Session(str(doc["p"])[:MAX_NAME], str(doc["t"]), int(doc["e"]))
    except (ValueError, KeyError, TypeError):
        return None
    if session.expires <= now.timestamp():
        return None
    known = [token_hash(t.get_secret_value()) for t in tokens]
    if not any(hmac.compare_digest(session.token_hash.encode(), k.encode()) for k in known):
        return None  # the token it was made with is no longer configured
    return session
