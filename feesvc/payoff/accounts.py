"""A unit's owner accounts: whose statement or payoff is read, and the other owners listed apart.

An account is (unit, owner) (DOMAIN "Change of owner"). Staff choose whose account they read
(default: the owner on the day); an owner token reads its own only.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, NamedTuple

from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.errors import InvalidInput
from feesvc.registry.models import Owner, Ownership
from feesvc.schemas import INT4_MAX

# The ``owner_id`` query parameter of staff's per-account reads (statement, payoff).
AccountOwnerId = Annotated[
    int | None,
    Parameter(ge=1, le=INT4_MAX, description="whose account (staff): one of the unit's owners; default the owner then"),
]


class UnitOwner(NamedTuple):
    owner_id: int
    name: str
    starts_on: date  # the handover date
    ends_on: date | None  # None: owns it still


async def unit_owners(session: AsyncSession, unit_id: int) -> list[UnitOwner]:
    """Every ownership of the unit, oldest first, with the owner's name."""
    query = (
        select(col(Ownership.owner_id), col(Owner.name), col(Ownership.starts_on), col(Ownership.ends_on))
        .join(Owner, col(Owner.id) == Ownership.owner_id)
        .where(Ownership.unit_id == unit_id)
        .order_by(col(Ownership.starts_on))
    )
    return [UnitOwner(*row) for row in await session.execute(query)]


def owner_on(owners: list[UnitOwner], day: date) -> int | None:
    """The owner whose ownership covers ``day``."""
    for o in owners:
        if o.starts_on <= day and (o.ends_on is None or day <= o.ends_on):
            return o.owner_id
    return None


def account_owner(owners: list[UnitOwner], chosen: int | None, day: date) -> int | None:
    """Whose account staff read: ``chosen`` (one of the unit's owners, else a 422 naming
    ``owner_id``), by default the owner on ``day``."""
    if chosen is None:
        return owner_on(owners, day)
    if all(o.owner_id != chosen for o in owners):
        raise InvalidInput(f"owner {chosen} has never owned this unit", field="owner_id")
    return chosen


def is_former(owners: list[UnitOwner], owner_id: int, day: date) -> bool:
    """Whether every ownership of ``owner_id`` ended before ``day`` (a seller)."""
    ends = [o.ends_on for o in owners if o.owner_id == owner_id]
    return bool(ends) and all(e is not None and e < day for e in ends)


def entry_owner(entry_owner_id: int | None, effective_date: date, owners: list[UnitOwner]) -> int | None:
    """The account an entry belongs to: the owner it carries; one that carries none (written
    before entries carried owners) is the owner's on its date."""
    return entry_owner_id if entry_owner_id is not None else owner_on(owners, effective_date)
