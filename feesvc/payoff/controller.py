from __future__ import annotations

from datetime import date

from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.payoff.schemas import Payoff
from feesvc.payoff.service import unit_payoff
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.schemas import PathId


async def readable_payoff(db: AsyncSession, principal: Principal, unit_id: int, as_of: date) -> Payoff:
    """The payoff the principal may see: staff the unit owner's on the day, an owner their own."""
    if as_of > business_today():
        raise InvalidInput("a payoff is for today or a past day: late fees are not posted ahead", field="as_of")
    return await unit_payoff(db, unit_id, as_of, principal.owner_id)


class PayoffController(Controller):
    path = "/api/v1/units/{unit_id:int}/payoff"
    tags = ["ledger"]

    @get("/", guards=[anyone])
    async def payoff(
        self, db: AsyncSession, principal: Principal, unit_id: PathId, as_of: date | None = None
    ) -> Payoff:
        """What a payment received on ``as_of`` (default today) must be to leave the owner owing
        nothing on the unit: per charge, the open principal, the posted late fee still open and the
        late fee accrued to that day but not yet posted. An owner sees their own payoff only."""
        if not principal.is_staff:
            # A unit that does not exist is a 404 before a 403; for staff the payoff finds out itself.
            await get_unit(db, unit_id)
            await can_read_unit(db, principal, unit_id)
        return await readable_payoff(db, principal, unit_id, as_of or business_today())
