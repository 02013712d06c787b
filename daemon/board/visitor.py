"""Who is looking at the board, and what their CSRF tokens are bound to."""

from __future__ import annotations

from dataclasses import dataclass

from daemon.board import csrf


@dataclass(frozen=True, slots=True)
class Visitor:
    person: str
    binding: str  # the session cookie, or the person named by the trusted header

    def csrf(self, secret: bytes) -> str:
        return csrf.token(secret, self.binding)
