"""Reading the owner's pages in tests: the session cookie, the figures the pages mark with
``data-fen``, and an estate with history up to today whatever today is."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from typing import Any

from httpx import Response

from feesvc.db import business_today
from feesvc.signin.pages import CSRF_COOKIE
from tests.support import Api, Estate

TODAY = business_today()
# The latest period fell due three weeks ago (tests/letters/test_reminder_runs.py does the same).
LATEST_DUE = TODAY - timedelta(days=21)
DUE_DAY = min(LATEST_DUE.day, 28)


def months_back(n: int) -> str:
    first = LATEST_DUE.replace(day=1)
    for _ in range(n):
        first = (first - timedelta(days=1)).replace(day=1)
    return f"{first:%Y-%m}"


def cookie(secret: str) -> dict[str, str]:
    return {"Cookie": f"feesvc_session={secret}"}


async def page(api: Api, path: str, secret: str | None, **kw: Any) -> Response:
    headers = cookie(secret) if secret else {}
    return await api.client.get(path, headers=headers, follow_redirects=False, **kw)


async def post_form(api: Api, path: str, secret: str, fields: dict[str, str]) -> Response:
    """Post as the browser that was shown the latest page: the session and that page's CSRF cookie."""
    csrf = api.client.cookies.get(CSRF_COOKIE, path="/owner/")
    headers = {"Cookie": f"feesvc_session={secret}" + (f"; {CSRF_COOKIE}={csrf}" if csrf else "")}
    return await api.client.post(path, data=fields, headers=headers, follow_redirects=False)


def fen_of(text: str, element_id: str) -> int:
    """The ``data-fen`` of the element with ``id``."""
    match = re.search(rf'id="{element_id}"[^>]*data-fen="(-?\d+)"|data-fen="(-?\d+)"[^>]*id="{element_id}"', text)
    assert match, f"no figure #{element_id}"
    return int(match.group(1) or match.group(2))


def lines_of(text: str) -> list[tuple[list[int], int]]:
    """Each statement line: its entry ids and its amount (fen)."""
    found = re.findall(r'data-entry-ids="([\d,]+)">\s*<div class="row">.*?data-fen="(-?\d+)"', text, re.DOTALL)
    return [([int(i) for i in ids.split(",")], int(fen)) for ids, fen in found]


def csrf_of(text: str) -> str:
    match = re.search(r'name="_csrf_token" value="([0-9a-f]+)"', text)
    assert match, "no CSRF token on the form"
    return match.group(1)


def form_key_of(text: str) -> str:
    match = re.search(r'name="form_key" value="([A-Za-z0-9_-]+)"', text)
    assert match, "no key on the form"
    return match.group(1)


def plain(text: str) -> str:
    return html.unescape(text)


async def estate_with_history(api: Api, units: int = 2) -> Estate:
    """Units billed four months up to the latest (250 元 a month, due on ``DUE_DAY``), late fees
    posted to yesterday, the building's cleaning recorded for the latest period."""
    estate = await api.make_estate(units=units, settings={"due_day": DUE_DAY}, owners_from="2024-01-01")
    for n in (3, 2, 1, 0):
        await api.bill(estate.id, months_back(n), f"{months_back(n)}-01")
    await api.ok(
        await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": f"{TODAY - timedelta(days=1)}"}),
        200,
    )
    activity = {"period": months_back(0), "kind": "cleaning_rounds", "count": 30, "building_id": estate.building_id}
    await api.ok(await api.post(f"/api/v1/estates/{estate.id}/service-activity", activity))
    return estate
