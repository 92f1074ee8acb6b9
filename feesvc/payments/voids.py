"""Voiding a payment: reversing entries; its receipt stays, marked void, its number never reused."""

from __future__ import annotations

from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.errors import Conflict
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, lock_unit, reversal_of
from feesvc.payments.lookup import get_payment, payment_out
from feesvc.payments.models import PaymentVoid
from feesvc.payments.schemas import PaymentOut


async def _is_void(session: AsyncSession, payment_id: int) -> bool:
    query = select(PaymentVoid.id).where(PaymentVoid.payment_id == payment_id)
    return (await session.execute(query)).first() is not None


async def void_payment(
    session: AsyncSession, actor: Principal, payment_id: int, reason: str, today: date
) -> PaymentOut:
    """Undo a payment with reversing entries; its receipt stays, marked void, its number never reused."""
    payment = await get_payment(session, payment_id)
    await lock_unit(session, payment.unit_id)
    if await _is_void(session, payment_id):
        raise Conflict(f"payment {payment_id} is already void")
    reversed_ids = select(LedgerEntry.reverses_entry_id).where(col(LedgerEntry.reverses_entry_id).is_not(None))
    to_reverse = (
        (
            await session.execute(
                select(LedgerEntry)
                .where(
                    LedgerEntry.payment_id == payment_id,
                    LedgerEntry.kind != EntryKind.reversal,
                    col(LedgerEntry.id).not_in(reversed_ids),
                )
                .order_by(col(LedgerEntry.id).desc())
            )
        )
        .scalars()
        .all()
    )
    append(session, [reversal_of(e, today, actor, f"void of payment {payment_id}: {reason}") for e in to_reverse])
    session.add(PaymentVoid(payment_id=payment_id, reason=reason, actor=actor.label, voided_on=today))
    await record_audit(session, actor, "payment.void", "payment", payment_id, {"reason": reason})
    await session.commit()
    return await payment_out(session, payment_id)
