"""API helpers for tests: build an estate through the public API, as a user would."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from httpx import ASGITransport, AsyncClient, Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.auth.service import create_token
from feesvc.registry.schemas import BuildingCreate, EstateCreate, EstateSettings, UnitCreate
from feesvc.registry.service import create_building, create_estate, create_unit
from feesvc.standards.schemas import FeeStandardCreate
from feesvc.standards.service import create_fee_standard


@dataclass
class Estate:
    id: int
    code: str
    building_id: int
    unit_ids: list[int] = field(default_factory=list)
    owner_ids: list[int] = field(default_factory=list)


class Api:
    def __init__(
        self,
        client: AsyncTestClient[Litestar],
        tokens: dict[Role, str],
        sessions: async_sessionmaker[AsyncSession],
    ) -> None:
        self.client = client
        self.tokens = tokens
        self.sessions = sessions

    def headers(self, role: Role | str, extra: dict[str, str] | None = None) -> dict[str, str]:
        token = self.tokens[role] if isinstance(role, Role) else role
        return {"Authorization": f"Bearer {token}", **(extra or {})}

    async def post(self, path: str, body: Any, role: Role | str = Role.manager, **kw: Any) -> Response:
        return await self.client.post(path, json=body, headers=self.headers(role, kw.pop("headers", None)), **kw)

    async def post_at_once(
        self, path: str, bodies: list[Any], role: Role | str, headers: list[dict[str, str]]
    ) -> list[Response]:
        """POST every body at the same time, the requests truly overlapping. ``gather`` over
        :meth:`post` does not overlap them: Litestar's AsyncTestClient runs each request to its end
        in its portal thread. These go through httpx's ASGI transport inside that portal's event
        loop, where the app and its database engine live."""

        async def send_all() -> list[Response]:
            async with AsyncClient(transport=ASGITransport(app=self.client.app), base_url="http://test") as http:
                posts = [
                    http.post(path, json=body, headers=self.headers(role, extra))
                    for body, extra in zip(bodies, headers, strict=True)
                ]
                return list(await asyncio.gather(*posts))

        return self.client.blocking_portal.call(send_all)

    async def put(self, path: str, body: Any, role: Role | str = Role.manager) -> Response:
        return await self.client.put(path, json=body, headers=self.headers(role))

    async def patch(self, path: str, body: Any, role: Role | str = Role.manager) -> Response:
        return await self.client.patch(path, json=body, headers=self.headers(role))

    async def get(self, path: str, role: Role | str = Role.manager, **kw: Any) -> Response:
        return await self.client.get(path, headers=self.headers(role, kw.pop("headers", None)), **kw)

    async def ok(self, response: Response, status: int | None = None) -> Any:
        expected = status or (201 if response.request.method == "POST" else 200)
        assert response.status_code == expected, response.text
        return response.json()

    async def owner_token(self, owner_id: int) -> str:
        async with self.sessions() as s:
            secret, _ = await create_token(s, COMMAND_LINE, Role.owner, f"owner-{owner_id}", owner_id)
        return secret

    async def make_estate(
        self,
        units: int = 2,
        rate: str = "2.50",
        area: str = "100.00",
        settings: dict[str, Any] | None = None,
        effective_from: str = "2024-01-01",
        owners_from: str = "2024-01-01",
    ) -> Estate:
        code = "T" + uuid.uuid4().hex[:10]
        estate = await self.ok(
            await self.post(
                "/api/v1/estates",
                {
                    "code": code,
                    "name": f"测试小区 {code}",
                    "company_name": "安居物业服务有限公司",
                    "settings": settings or {},
                },
            )
        )
        building = await self.ok(await self.post(f"/api/v1/estates/{estate['id']}/buildings", {"name": "1栋"}))
        await self.ok(
            await self.post(
                f"/api/v1/estates/{estate['id']}/fee-standards",
                {
                    "unit_use": "residential",
                    "item": "service_fee",
                    "item_name": "物业服务费",
                    "basis": "per_m2_month",
                    "rate": rate,
                    "effective_from": effective_from,
                    "posted_on": effective_from,
                    "decision_kind": "contract",
                    "decision_ref": "前期物业服务合同 第5条",
                },
            )
        )
        made = Estate(estate["id"], code, building["id"])
        for n in range(units):
            unit = await self.ok(
                await self.post(
                    "/api/v1/units",
                    {
                        "building_id": building["id"],
                        "number": f"{101 + n}",
                        "floor_area_m2": area,
                    },
                )
            )
            owner = await self.ok(
                await self.post(
                    "/api/v1/owners",
                    {
                        "name": f"业主{n}",
                        "phone": f"1380000{n:04d}",
                        "id_number": f"11010119800101{n:04d}",
                    },
                )
            )
            await self.ok(
                await self.post(
                    f"/api/v1/units/{unit['id']}/ownerships",
                    {
                        "owner_id": owner["id"],
                        "starts_on": owners_from,
                    },
                )
            )
            made.unit_ids.append(unit["id"])
            made.owner_ids.append(owner["id"])
        return made

    async def bill(self, estate_id: int, period: str, issued_on: str | None = None) -> Any:
        body: dict[str, Any] = {"estate_id": estate_id, "period": period}
        if issued_on:
            body["issued_on"] = issued_on
        return await self.ok(await self.post("/api/v1/billing-runs", body), 200)

    async def ledger(self, unit_id: int, as_of: str | None = None, role: Role | str = Role.manager) -> Any:
        params = {"as_of": as_of} if as_of else {}
        return await self.ok(await self.get(f"/api/v1/units/{unit_id}/ledger", role, params=params))

    async def count(self, model: Any, *where: Any) -> int:
        async with self.sessions() as s:
            return int((await s.execute(select(func.count()).select_from(model).where(*where))).scalar_one())


def problem(response: Response, status: int | tuple[int, ...], field: str | None = None) -> dict[str, Any]:
    """Assert a problem-details response, optionally naming ``field``; return its body."""
    statuses = (status,) if isinstance(status, int) else status
    assert response.status_code in statuses, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == response.status_code and body["title"] and body["detail"]
    if field is not None:
        named = [e["field"] for e in body.get("errors", [])]
        assert any(field in n for n in named) or field in body["detail"], body
    return body


async def one_unit_estate(
    session: AsyncSession, settings: EstateSettings | None = None, *, area: str = "100.00", rate: str = "2.50"
) -> tuple[int, int]:
    """Through the services, for tests that run outside the API's portal: an estate with one
    residential unit of ``area`` m² in building A and a service fee of ``rate`` 元/m²·month from
    2024-01-01. Returns (estate id, unit id)."""
    estate = await create_estate(
        session,
        COMMAND_LINE,
        EstateCreate(
            code="S" + uuid.uuid4().hex[:10],
            name="服务层测试",
            company_name="测试物业",
            settings=settings or EstateSettings(),
        ),
    )
    assert estate.id is not None
    building = await create_building(session, COMMAND_LINE, estate.id, BuildingCreate(name="A"))
    assert building.id is not None
    unit, _ = await create_unit(session, COMMAND_LINE, UnitCreate(building.id, "101", area))
    assert unit.id is not None
    standard = FeeStandardCreate(
        unit_use="residential",
        item="service_fee",
        item_name="物业服务费",
        basis="per_m2_month",
        rate=rate,
        effective_from=date(2024, 1, 1),
        posted_on=date(2024, 1, 1),
        decision_kind="contract",
        decision_ref="合同",
    )
    await create_fee_standard(session, COMMAND_LINE, estate.id, standard)
    return estate.id, unit.id
