"""Driving the board as a browser does without one: forms, their CSRF tokens, the session cookie."""

from __future__ import annotations

import html
import re
from typing import Any

from tests.support import API_TOKEN, Tocsin

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(page: str) -> str:
    match = CSRF.search(page)
    assert match, page[:2000]
    return html.unescape(match.group(1))


async def sign_in(t: Tocsin, name: str = "alice", token: str = API_TOKEN, next_: str = "/") -> Any:
    form = await t.client.get("/signin", params={"next": next_})
    assert form.status == 200
    return await t.client.post(
        "/signin",
        data={"csrf": csrf_of(await form.text()), "next": next_, "name": name, "token": token},
        allow_redirects=False,
    )


async def page(t: Tocsin, path: str, status: int = 200) -> str:
    response = await t.client.get(path, allow_redirects=False)
    text = await response.text()
    assert response.status == status, (response.status, text[:2000])
    return text


async def submit(t: Tocsin, path: str, data: dict[str, str], from_page: str = "/", status: int = 303) -> Any:
    """A form POST with the CSRF token the board put in ``from_page``."""
    token = csrf_of(await page(t, from_page))
    response = await t.client.post(path, data={"csrf": token, **data}, allow_redirects=False)
    assert response.status == status, (response.status, (await response.text())[:2000])
    return response
