"""Helpers for the sign-in tests: an app on a clock the test moves, owners with phones of their
own, and the SMS the outbox holds for them (the code and the invitation link are read from it)."""

from __future__ import annotations

import re
import uuid
from datetime import datetime, timedelta
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.letters.models import OutboxMessage
from tests.support import Api

CODE_IN_SMS = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")
LINK_IN_SMS = re.compile(r"/owner/invitation/(fsi_[A-Za-z0-9_-]{43})")


class Clock:
    """The app's clock (``app.state.clock``): each test sets its own hour, so that rate-limit
    windows (fixed hours) of one test never hold another's attempts."""

    def __init__(self, start: datetime) -> None:
        self.start = start
        self.now = start
        self.hours = 0

    def __call__(self) -> datetime:
        return self.now

    def next_hour(self) -> datetime:
        self.hours += 2
        self.now = self.start + timedelta(hours=self.hours, minutes=1)
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def new_phone() -> str:
    return "139" + f"{uuid.uuid4().int % 10**8:08d}"


async def new_owner(api: Api, client: AsyncTestClient[Litestar], phone: str | None = None) -> dict[str, Any]:
    """An owner with a phone of their own who starts owning a new unit through ``client``'s app
    (whose clock the invitation follows). Returns the owner's id, phone and unit id."""
    phone = phone or new_phone()
    code = "S" + uuid.uuid4().hex[:10]
    estate = await api.ok(
        await api.post("/api/v1/estates", {"code": code, "name": f"登录小区 {code}", "company_name": "安居物业"})
    )
    building = await api.ok(await api.post(f"/api/v1/estates/{estate['id']}/buildings", {"name": "1栋"}))
    unit = await api.ok(
        await api.post("/api/v1/units", {"building_id": building["id"], "number": "101", "floor_area_m2": "90.00"})
    )
    owner = await api.ok(await api.post("/api/v1/owners", {"name": "王小明", "phone": phone}))
    ownership = await client.post(
        f"/api/v1/units/{unit['id']}/ownerships",
        json={"owner_id": owner["id"], "starts_on": "2020-01-01"},
        headers=api.headers(Role.manager),
    )
    assert ownership.status_code == 201, ownership.text
    return {"id": owner["id"], "phone": phone, "unit_id": unit["id"]}


async def sms_to(api: Api, phone: str, kind: str) -> list[OutboxMessage]:
    """The sign-in SMS of ``kind`` (code, invitation) queued for ``phone``, oldest first."""
    async with api.sessions() as s:
        query = (
            select(OutboxMessage)
            .where(OutboxMessage.recipient == phone, col(OutboxMessage.dedupe_key).startswith(f"signin:{kind}:"))
            .order_by(col(OutboxMessage.id))
        )
        return list((await s.execute(query)).scalars())


async def latest_code(api: Api, phone: str) -> str:
    messages = await sms_to(api, phone, "code")
    match = CODE_IN_SMS.search(messages[-1].body)
    assert match is not None, messages[-1].body
    return match.group(1)


async def latest_invitation(api: Api, phone: str) -> str:
    messages = await sms_to(api, phone, "invitation")
    match = LINK_IN_SMS.search(messages[-1].body)
    assert match is not None, messages[-1].body
    return match.group(1)
