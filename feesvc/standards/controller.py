from __future__ import annotations

from litestar import Controller, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import managers, staff
from feesvc.auth.principal import Principal
from feesvc.schemas import PathId
from feesvc.standards import service
from feesvc.standards.schemas import FeeStandardCreate, FeeStandardOut


class FeeStandardController(Controller):
    path = "/api/v1/estates/{estate_id:int}/fee-standards"
    tags = ["fee standards"]

    @post("/", guards=[managers])
    async def create(
        self, db: AsyncSession, principal: Principal, estate_id: PathId, data: FeeStandardCreate
    ) -> FeeStandardOut:
        """Add a fee standard (收费标准) for the estate: unit use, item, basis and rate, in force from a date; approved
        rates only."""
        return service.fee_standard_out(await service.create_fee_standard(db, principal, estate_id, data))

    @get("/", guards=[staff])
    async def list(self, db: AsyncSession, estate_id: PathId) -> list[FeeStandardOut]:
        """The estate's fee standards, every version."""
        return [service.fee_standard_out(s) for s in await service.list_fee_standards(db, estate_id)]
