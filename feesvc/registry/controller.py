from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, post, put
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone, managers, staff
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.registry import service
from feesvc.registry.schemas import (
    BuildingCreate,
    BuildingOut,
    EstateCreate,
    EstateOut,
    EstateSettings,
    OwnerCreate,
    OwnerOut,
    OwnershipCreate,
    OwnershipOut,
    UnitCreate,
    UnitOut,
    VacancyNoticeCreate,
    VacancyNoticeOut,
)


class RegistryController(Controller):
    path = "/api/v1"
    tags = ["registry"]

    @post("/estates", guards=[managers])
    async def create_estate(self, db: AsyncSession, principal: Principal, data: EstateCreate) -> EstateOut:
        return service.estate_out(await service.create_estate(db, principal, data))

    @get("/estates", guards=[staff])
    async def list_estates(self, db: AsyncSession) -> list[EstateOut]:
        return [service.estate_out(e) for e in await service.list_estates(db)]

    @get("/estates/{estate_id:int}", guards=[staff])
    async def get_estate(self, db: AsyncSession, estate_id: int) -> EstateOut:
        return service.estate_out(await service.get_estate(db, estate_id))

    @put("/estates/{estate_id:int}/settings", guards=[managers])
    async def update_settings(
        self, db: AsyncSession, principal: Principal, estate_id: int, data: EstateSettings
    ) -> EstateOut:
        return service.estate_out(
            await service.update_estate_settings(db, principal, estate_id, data, business_today())
        )

    @post("/estates/{estate_id:int}/buildings", guards=[managers])
    async def create_building(
        self, db: AsyncSession, principal: Principal, estate_id: int, data: BuildingCreate
    ) -> BuildingOut:
        b = await service.create_building(db, principal, estate_id, data)
        assert b.id is not None
        return BuildingOut(id=b.id, estate_id=b.estate_id, name=b.name)

    @get("/estates/{estate_id:int}/buildings", guards=[staff])
    async def list_buildings(self, db: AsyncSession, estate_id: int) -> list[BuildingOut]:
        return [
            BuildingOut(id=b.id or 0, estate_id=b.estate_id, name=b.name)
            for b in await service.list_buildings(db, estate_id)
        ]

    @get("/estates/{estate_id:int}/units", guards=[staff])
    async def list_units(
        self,
        db: AsyncSession,
        estate_id: int,
        offset: Annotated[int, Parameter(ge=0)] = 0,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> list[UnitOut]:
        return [service.unit_out(u, b) for u, b in await service.list_units(db, estate_id, offset, limit)]

    @post("/units", guards=[managers])
    async def create_unit(self, db: AsyncSession, principal: Principal, data: UnitCreate) -> UnitOut:
        return service.unit_out(*await service.create_unit(db, principal, data))

    @get("/units/{unit_id:int}", guards=[anyone])
    async def get_unit(self, db: AsyncSession, principal: Principal, unit_id: int) -> UnitOut:
        await service.can_read_unit(db, principal, unit_id)
        return service.unit_out(*await service.get_unit(db, unit_id))

    @post("/owners", guards=[managers])
    async def create_owner(self, db: AsyncSession, principal: Principal, data: OwnerCreate) -> OwnerOut:
        return service.owner_out(await service.create_owner(db, principal, data))

    @get("/owners/{owner_id:int}", guards=[staff])
    async def get_owner(self, db: AsyncSession, owner_id: int) -> OwnerOut:
        return service.owner_out(await service.get_owner(db, owner_id))

    @post("/units/{unit_id:int}/ownerships", guards=[managers])
    async def transfer_ownership(
        self, db: AsyncSession, principal: Principal, unit_id: int, data: OwnershipCreate
    ) -> OwnershipOut:
        o = await service.transfer_ownership(db, principal, unit_id, data.owner_id, data.starts_on)
        return OwnershipOut(
            id=o.id or 0, unit_id=o.unit_id, owner_id=o.owner_id, starts_on=o.starts_on, ends_on=o.ends_on
        )

    @get("/units/{unit_id:int}/ownerships", guards=[staff])
    async def list_ownerships(self, db: AsyncSession, unit_id: int) -> list[OwnershipOut]:
        await service.get_unit(db, unit_id)
        return [
            OwnershipOut(id=o.id or 0, unit_id=o.unit_id, owner_id=o.owner_id, starts_on=o.starts_on, ends_on=o.ends_on)
            for o in await service.ownerships(db, unit_id)
        ]

    @post("/units/{unit_id:int}/vacancy-notices", guards=[staff])
    async def add_vacancy_notice(
        self, db: AsyncSession, principal: Principal, unit_id: int, data: VacancyNoticeCreate
    ) -> VacancyNoticeOut:
        n = await service.add_vacancy_notice(db, principal, unit_id, data)
        return VacancyNoticeOut(
            id=n.id or 0,
            unit_id=n.unit_id,
            starts_on=n.starts_on,
            ends_on=n.ends_on,
            notified_on=n.notified_on,
            reference=n.reference,
        )
