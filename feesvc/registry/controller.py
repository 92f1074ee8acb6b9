from __future__ import annotations

from pathlib import Path
from typing import Annotated

from litestar import Controller, Response, get, post, put
from litestar.datastructures import State
from litestar.handlers import patch
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone, managers, staff
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.registry import service
from feesvc.registry.masking import masking_for
from feesvc.registry.schemas import (
    BuildingCreate,
    BuildingOut,
    EstateCreate,
    EstateOut,
    EstateSettings,
    OwnerContactOut,
    OwnerContactUpdate,
    OwnerCreate,
    OwnerOut,
    OwnershipCreate,
    OwnershipOut,
    UnitCreate,
    UnitOut,
    UnitSearchPage,
    VacancyNoticeCreate,
    VacancyNoticeOut,
)
from feesvc.registry.search import UnitQuery, search_units
from feesvc.sales.service import record_transfer
from feesvc.schemas import LINE_PATTERN, PathId
from feesvc.signin.service import OwnerInvite


class RegistryController(Controller):
    path = "/api/v1"
    tags = ["registry"]

    @post("/estates", guards=[managers])
    async def create_estate(self, db: AsyncSession, principal: Principal, data: EstateCreate) -> EstateOut:
        """Create an estate (小区) with its code, name, management company and settings; the code is unique."""
        return service.estate_out(await service.create_estate(db, principal, data))

    @get("/estates", guards=[staff])
    async def list_estates(self, db: AsyncSession) -> list[EstateOut]:
        """Every estate, with its settings."""
        return [service.estate_out(e) for e in await service.list_estates(db)]

    @get("/estates/{estate_id:int}", guards=[staff])
    async def get_estate(self, db: AsyncSession, estate_id: PathId) -> EstateOut:
        """One estate, with its settings."""
        return service.estate_out(await service.get_estate(db, estate_id))

    @put("/estates/{estate_id:int}/settings", guards=[managers])
    async def update_settings(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: EstateSettings
    ) -> EstateOut:
        """Replace the estate's settings (late-fee terms, billing and reminder settings); later runs use them."""
        return service.estate_out(
            await service.update_estate_settings(db, principal, estate_id, data, business_today())
        )

    @post("/estates/{estate_id:int}/buildings", guards=[managers])
    async def create_building(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: BuildingCreate
    ) -> BuildingOut:
        """Add a building to the estate; its name is unique within the estate."""
        b = await service.create_building(db, principal, estate_id, data)
        assert b.id is not None
        return BuildingOut(id=b.id, estate_id=b.estate_id, name=b.name)

    @get("/estates/{estate_id:int}/buildings", guards=[staff])
    async def list_buildings(self, db: AsyncSession, estate_id: PathId) -> list[BuildingOut]:
        """The estate's buildings."""
        return [
            BuildingOut(id=b.id or 0, estate_id=b.estate_id, name=b.name)
            for b in await service.list_buildings(db, estate_id)
        ]

    @get("/estates/{estate_id:int}/units", guards=[staff])
    async def search_units(
        self,
        db: AsyncSession,
        principal: Principal,
        estate_id: PathId,
        q: Annotated[
            str | None,
            Parameter(
                min_length=1,
                max_length=40,
                pattern=LINE_PATTERN,
                description="the start of a unit number: 12 finds 1201",
            ),
        ] = None,
        building: Annotated[
            str | None,
            Parameter(min_length=1, max_length=100, pattern=LINE_PATTERN, description="a building's name, exactly"),
        ] = None,
        in_arrears: Annotated[
            bool | None, Parameter(description="true: units with overdue charges open today; false: none")
        ] = None,
        owner_phone_last4: Annotated[
            str | None, Parameter(pattern=r"^[0-9]{4}$", description="the last 4 digits of the owner's phone")
        ] = None,
        page: Annotated[int, Parameter(ge=1, le=100_000)] = 1,
        page_size: Annotated[int, Parameter(ge=1, le=100)] = 20,
    ) -> UnitSearchPage:
        """Find an estate's units (cashiers, managers, system): by the start of the unit number, the
        building's name, whether they are in arrears today, or the last 4 digits of the current
        owner's phone; the filters combine. Each unit with its current owner (masked for the
        caller's role), balance, overdue amount and open arrears case with its cause. Pages in a
        stable order (building, then unit number) with the total count."""
        number = q.strip() if q else None
        query = UnitQuery(number or None, building, in_arrears, owner_phone_last4, page, page_size)
        return await search_units(db, principal, estate_id, query, business_today())

    @post("/units", guards=[managers])
    async def create_unit(self, db: AsyncSession, principal: Principal, data: UnitCreate) -> UnitOut:
        """Add a unit to a building: number, use and floor area; the number is unique within the building."""
        return service.unit_out(*await service.create_unit(db, principal, data))

    @get("/units/{unit_id:int}", guards=[anyone])
    async def get_unit(self, db: AsyncSession, principal: Principal, unit_id: PathId) -> UnitOut:
        """One unit with its current owner (masked for the caller's role). An owner: only a unit they own or owned."""
        await service.can_read_unit(db, principal, unit_id)
        return service.unit_out(*await service.get_unit(db, unit_id))

    @post("/owners", guards=[managers])
    async def create_owner(self, db: AsyncSession, principal: Principal, data: OwnerCreate) -> OwnerOut:
        """Record an owner (name, phone, ID number); the answer masks them as the caller's role sees them."""
        return service.owner_out(await service.create_owner(db, principal, data), masking_for(principal))

    @get("/owners/{owner_id:int}", guards=[staff])
    async def get_owner(self, db: AsyncSession, principal: Principal, owner_id: PathId) -> OwnerOut:
        """An owner: the name as the caller's role may see it; phone and ID number always masked."""
        return service.owner_out(await service.get_owner(db, owner_id), masking_for(principal))

    @post("/units/{unit_id:int}/ownerships", guards=[managers])
    async def transfer_ownership(
        self, db: AsyncSession, principal: Principal, state: State, unit_id: PathId, data: OwnershipCreate
    ) -> Response[OwnershipOut]:
        """Record who owns the unit from the handover date ``starts_on``. A sale settles, in the same
        transaction, the seller's prepaid periods after the handover and unused credit (refunded, or
        moved to the buyer with ``seller_consent``) and issues the buyer's payment notice (缴费须知);
        ``settlement`` says what was settled. The new owner, if their phone is on record, gets an
        invitation to sign in by SMS. Sending the same transfer again changes nothing and returns
        the first answer (``Idempotent-Replayed: true``)."""
        out, created = await record_transfer(
            db,
            principal,
            unit_id,
            data,
            business_today(),
            Path(state.settings.server.files_dir),
            OwnerInvite(state.clock(), state.settings.server.public_base_url),
        )
        return Response(out, status_code=201, headers={"Idempotent-Replayed": "false" if created else "true"})

    @get("/units/{unit_id:int}/ownerships", guards=[staff])
    async def list_ownerships(self, db: AsyncSession, unit_id: PathId) -> list[OwnershipOut]:
        """Who owned the unit and when, oldest first."""
        await service.get_unit(db, unit_id)
        return [
            OwnershipOut(id=o.id or 0, unit_id=o.unit_id, owner_id=o.owner_id, starts_on=o.starts_on, ends_on=o.ends_on)
            for o in await service.ownerships(db, unit_id)
        ]

    @post("/units/{unit_id:int}/vacancy-notices", guards=[staff])
    async def add_vacancy_notice(
        self, db: AsyncSession, principal: Principal, unit_id: PathId, data: VacancyNoticeCreate
    ) -> VacancyNoticeOut:
        """Record the owner's notice, given on ``notified_on``, that the unit stands empty from ``starts_on`` (to
        ``ends_on``); billing applies the estate's vacancy rule."""
        n = await service.add_vacancy_notice(db, principal, unit_id, data)
        return VacancyNoticeOut(
            id=n.id or 0,
            unit_id=n.unit_id,
            starts_on=n.starts_on,
            ends_on=n.ends_on,
            notified_on=n.notified_on,
            reference=n.reference,
        )

    @patch("/owners/{owner_id:int}", guards=[managers])
    async def update_owner_contact(
        self, db: AsyncSession, principal: Principal, owner_id: PathId, data: OwnerContactUpdate
    ) -> OwnerContactOut:
        """Keep an owner's contact details (phone, e-mail, postal address, preferred channel, locale):
        letters go there, and a former owner can be reached only so. Masked in the response."""
        owner = await service.update_owner_contact(db, principal, owner_id, data)
        return service.owner_contact_out(owner, masking_for(principal))
