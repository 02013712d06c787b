"""Signed acknowledge links: ``/ack/<token>`` carries the incident id, an expiry and the incident's episode when
it was signed, HMAC-signed. The episode binds a link to one open stretch: after a resolve and reopen it is Gone."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime


class BadLink(Exception):
    """Tampered or malformed: answer 403."""


class ExpiredLink(Exception):
    """Signed by us but past its expiry: answer 410."""

    def __init__(self, incident_id: str) -> None:
        super().__init__(f"the link for {incident_id} has expired")
        self.incident_id = incident_id


@dataclass(frozen=True, slots=True)
class AckClaim:
    incident_id: str
    expires_at: datetime
    episode: int
    person: str | None = None  # sent to this person: acknowledging through it records them


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(secret: bytes, payload: str) -> str:
    return _b64(hmac.new(secret, b"tocsin-ack:" + payload.encode(), hashlib.sha256).digest()[:20])


def sign(secret: bytes, incident_id: str, expires_at: datetime, episode: int, person: str | None = None) -> str:
    fields = f"{incident_id}|{int(expires_at.timestamp())}|{episode}" + (f"|{person}" if person else "")
    payload = _b64(fields.encode())
    return f"{payload}.{_mac(secret, payload)}"


def verify(secret: bytes, token: str, now: datetime) -> AckClaim:
    payload, dot, mac = token.partition(".")
    if not dot or not token.isascii() or not hmac.compare_digest(_mac(secret, payload), mac):
        raise BadLink("bad signature")
    try:
        incident_id, expiry, *rest = _unb64(payload).decode().split("|")
        expires_at = datetime.fromtimestamp(int(expiry), UTC)
        # Links signed before they carried an episode are taken as the incident's first.
        episode = int(rest[0]) if rest else 1
        person = rest[1] if len(rest) > 1 else None
    except (ValueError, UnicodeDecodeError):
        raise BadLink("malformed token") from None
    if now >= expires_at:
        raise ExpiredLink(incident_id)
    return AckClaim(incident_id, expires_at, episode, person)
