from __future__ import annotations

from datetime import date

import msgspec
from litestar import Controller, get
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone
from feesvc.auth.principal import Principal
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.payoff.accounts import AccountOwnerId, account_owner, unit_owners
from feesvc.payoff.schemas import Payoff
from feesvc.payoff.service import unit_payoff
from feesvc.registry.masking import masking_for
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.schemas import PathId


async def readable_payoff(
    db: AsyncSession, principal: Principal, unit_id: int, as_of: date, owner_id: int | None = None
) -> Payoff:
    """The payoff the principal may see: an owner their own; staff the account of ``owner_id``
    (default: the owner on the day), with the unit's other owners listed apart, names masked."""
    if as_of > business_today():
        raise InvalidInput("a payoff is for today or a past day: late fees are not posted ahead", field="as_of")
    if not principal.is_staff:
        return await unit_payoff(db, unit_id, as_of, principal.owner_id)
    if owner_id is not None:
        await get_unit(db, unit_id)  # a unit that does not exist is a 404 before an owner it never had
    owners = await unit_owners(db, unit_id)
    payoff = await unit_payoff(db, unit_id, as_of, account_owner(owners, owner_id, as_of), others=owners)
    masking = masking_for(principal)
    payoff.other_owners = [msgspec.structs.replace(o, name=masking.name(o.name)) for o in payoff.other_owners]
    return payoff


class PayoffController(Controller):
    path = "/api/v1/units/{unit_id:int}/payoff"
    tags = ["ledger"]

    @get("/", guards=[anyone])
    async def payoff(
        self,
        db: AsyncSession,
        principal: Principal,
        unit_id: PathId,
        as_of: date | None = None,
        owner_id: AccountOwnerId = None,
    ) -> Payoff:
        """What a payment received on ``as_of`` (default today) must be to leave the owner owing
        nothing on the unit: per charge, the open principal, the posted late fee still open and the
        late fee accrued to that day but not yet posted. An owner sees their own payoff only; staff
        the account of ``owner_id`` (default: the owner on the day), other owners' totals apart."""
        if not principal.is_staff:
            # A unit that does not exist is a 404 before a 403; for staff the payoff finds out itself.
            await get_unit(db, unit_id)
            await can_read_unit(db, principal, unit_id)
        return await readable_payoff(db, principal, unit_id, as_of or business_today(), owner_id)
