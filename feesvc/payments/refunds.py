"""Refunding prepaid credit: paid back to the owner whose account holds it, oldest credit first."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import InvalidInput, NotFound
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, lock_unit, open_credits
from feesvc.payments.lookup import current_owner, held_unit
from feesvc.payments.models import Method
from feesvc.payments.schemas import RefundCreate, RefundOut


async def refund_credit(
    session: AsyncSession, actor: Principal, unit_id: int, data: RefundCreate, today: date
) -> RefundOut:
    """Pay back prepaid credit of one owner's account (``data.owner_id``, default the unit's current
    owner) to that owner, oldest credit first."""
    unit = await lock_unit(session, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    owner_id = await current_owner(session, unit_id, today) if data.owner_id is None else data.owner_id
    if data.owner_id is not None and not await held_unit(session, unit_id, data.owner_id, today):
        raise InvalidInput(f"owner {data.owner_id} never owned unit {unit_id}", field="owner_id")
    credits = [(credit, fen) for credit, fen in await open_credits(session, unit_id) if credit.owner_id == owner_id]
    available = -sum(open_fen for _, open_fen in credits)
    if data.amount_fen > available:
        raise InvalidInput(
            f"only {available} fen of prepaid credit is held for owner {owner_id} on this unit", field="amount_fen"
        )
    need, entries = data.amount_fen, []
    for credit, open_fen in credits:
        take = min(need, -open_fen)
        entries.append(refund_entry(credit, take, today, actor, data.reason, data.method))
        need -= take
        if need == 0:
            break
    append(session, entries)
    await record_audit(
        session,
        actor,
        "credit.refund",
        "unit",
        unit_id,
        {"amount_fen": data.amount_fen, "reason": data.reason, "method": data.method, "owner_id": owner_id},
    )
    await session.commit()
    left = available - data.amount_fen
    return RefundOut(unit_id=unit_id, owner_id=owner_id, refunded_fen=data.amount_fen, prepaid_credit_left_fen=left)


def refund_entry(
    credit: LedgerEntry, fen: int, today: date, actor: Principal, reason: str, method: Method
) -> LedgerEntry:
    """Paying ``fen`` of a prepaid credit back to the owner: it settles (uses up) that credit."""
    return LedgerEntry(
        estate_id=credit.estate_id,
        unit_id=credit.unit_id,
        owner_id=credit.owner_id,
        kind=EntryKind.refund,
        amount_fen=fen,
        effective_date=today,
        settles_entry_id=credit.id,
        payment_id=credit.payment_id,
        actor=actor.label,
        reason=reason,
        detail={"method": method},
    )
