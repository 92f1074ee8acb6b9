"""After an accrual run: late fees it posted are settled from the prepaid credit their owner holds.

Why: a payoff (``feesvc/payoff``) includes the late fee accrued up to the day of payment, which no
run has posted yet; the desk allocates a payment to posted debts only, so that part of the payment
is held as prepaid credit. The run that posts the late fee settles it from that credit here, the
way the billing run settles new charges from credit (ledger rule 6): a pair of entries that nets to
zero (``ledger.service.apply_prepaid_credit``), so the balance the payment left (0) stays, and the
ledger shows the fee posted, then paid from the credit the payment left.

It runs after the run's corrections (``latefees/corrections.py``), so it sees what they left open.
Only the (positive) late fees the run posted are settled here, on units that hold open credit:
not the unit's charges, which would change the facts the run has just computed its fees on (a
charge settled on the run's day accrues nothing that day on what was settled), nor a kept plan's
late fees (they wait for its principal). A correction and the credit it frees are left to billing.
A rerun finds the fees settled or the credit used, and applies nothing.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.auth.principal import Principal
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import apply_prepaid_credit
from feesvc.plans.standing import covered_charge_ids
from feesvc.registry.models import Estate

UNIT_BATCH = 10_000  # unit ids per query: asyncpg takes at most 32,767 parameters, SQLite 32,766


async def _new_fees_of_credit_holders(session: AsyncSession, estate_id: int, as_of: date) -> dict[int, int]:
    """Late fee id → unit id: the (positive) late fees posted as of ``as_of`` on the estate's units
    that hold prepaid credit not yet used. The holders first (few), then their fees through the
    (unit, date) index: asked the other way round, the question read every fee the run had just
    posted (millions, their statistics not yet gathered) to test each unit for credit."""
    settling = aliased(LedgerEntry)
    settled = (
        select(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(settling.settles_entry_id == LedgerEntry.id)
        .scalar_subquery()
    )
    holders = await session.execute(
        select(col(LedgerEntry.unit_id))
        .where(
            LedgerEntry.estate_id == estate_id,
            LedgerEntry.kind == EntryKind.prepaid_credit,
            LedgerEntry.amount_fen + settled != 0,
        )
        .distinct()
    )
    units = sorted(holders.scalars())
    fees: dict[int, int] = {}
    for start in range(0, len(units), UNIT_BATCH):
        query = select(col(LedgerEntry.id), col(LedgerEntry.unit_id)).where(
            col(LedgerEntry.unit_id).in_(units[start : start + UNIT_BATCH]),
            LedgerEntry.kind == EntryKind.late_fee,
            LedgerEntry.effective_date == as_of,
            LedgerEntry.amount_fen > 0,  # a late fee posted, not a correction
        )
        fees.update((fee_id, unit_id) for fee_id, unit_id in (await session.execute(query)).all() if fee_id is not None)
    return fees


async def settle_new_late_fees_from_credit(session: AsyncSession, actor: Principal, estate: Estate, as_of: date) -> int:
    """Apply held prepaid credit to the late fees the run as of ``as_of`` posted; returns the fen applied."""
    assert estate.id is not None
    fees = await _new_fees_of_credit_holders(session, estate.id, as_of)
    if not fees:
        return 0
    # As the billing run does: a kept plan's late fees wait until its principal is paid, so they are left to it.
    in_plan = frozenset(await covered_charge_ids(session, as_of, estate_id=estate.id))
    if in_plan:
        planned = select(col(LedgerEntry.id)).where(
            col(LedgerEntry.id).in_(list(fees)), col(LedgerEntry.basis_entry_id).in_(in_plan)
        )
        for fee_id in (await session.execute(planned)).scalars():
            if fee_id is not None:
                del fees[fee_id]
    units = sorted(set(fees.values()))
    return await apply_prepaid_credit(session, units, estate.allocation_order, as_of, actor, only=frozenset(fees))
