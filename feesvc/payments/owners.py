"""What an owner may read of payments: those on their own periods, nothing else.

A payment settles its payer's debts (DOMAIN "Change of owner"), and each of its ledger entries
carries the owner of the period it belongs to. A payment is an owner's when every one of its
entries carries that owner: a seller never sees the buyer's payments, nor a buyer the seller's.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Forbidden
from feesvc.ledger.models import LedgerEntry
from feesvc.payments.models import Payment
from feesvc.registry.models import Ownership

_ENTRY = LedgerEntry.__table__  # type: ignore[attr-defined]
_PAYMENT = Payment.__table__  # type: ignore[attr-defined]
_OWNERSHIP = Ownership.__table__  # type: ignore[attr-defined]


def _owned_by(owner_id: int) -> list[ColumnElement[bool]]:
    """Conditions on ``payment``: it has entries, and all of them are ``owner_id``'s."""
    mine = exists().where(_ENTRY.c.payment_id == _PAYMENT.c.id, _ENTRY.c.owner_id == owner_id)
    others = exists().where(
        _ENTRY.c.payment_id == _PAYMENT.c.id, or_(_ENTRY.c.owner_id.is_(None), _ENTRY.c.owner_id != owner_id)
    )
    # Only units they owned at some time can hold their payments: the ownership index narrows first.
    units = sa_select(_OWNERSHIP.c.unit_id).where(_OWNERSHIP.c.owner_id == owner_id)
    return [_PAYMENT.c.unit_id.in_(units), mine, ~others]


async def owner_payment_ids(session: AsyncSession, owner_id: int, offset: int, limit: int) -> tuple[list[int], int]:
    """One page of the owner's payment ids, newest first, and how many there are in all."""
    conditions = _owned_by(owner_id)
    total = (await session.execute(sa_select(func.count()).select_from(_PAYMENT).where(*conditions))).scalar_one()
    query = (
        sa_select(_PAYMENT.c.id)
        .where(*conditions)
        .order_by(_PAYMENT.c.received_on.desc(), _PAYMENT.c.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [row[0] for row in await session.execute(query)], int(total)


async def check_owner_may_read(session: AsyncSession, principal: Principal, payment_id: int) -> None:
    """Staff read any payment; an owner only their own (403 otherwise, the same for one that
    does not exist, so an owner cannot probe payment ids)."""
    if principal.is_staff:
        return
    assert principal.owner_id is not None  # an owner token always names its owner
    query = sa_select(_PAYMENT.c.id).where(and_(_PAYMENT.c.id == payment_id, *_owned_by(principal.owner_id)))
    if (await session.execute(query)).first() is None:
        raise Forbidden("this payment is not yours")


async def audit_read(session: AsyncSession, principal: Principal, action: str, entity: str, entity_id: object) -> None:
    """Record a read of personal payment data in the audit log and commit it."""
    await record_audit(session, principal, action, entity, entity_id)
    await session.commit()
