"""After an accrual run: late fees it posted are settled from the prepaid credit their owner holds.

Why: a payoff (``feesvc/payoff``) includes the late fee accrued up to the day of payment, which no
run has posted yet; the desk allocates a payment to posted debts only, so that part of the payment
is held as prepaid credit. The run that posts the late fee settles it from that credit here, the
way the billing run settles new charges from credit (ledger rule 6): a pair of entries that nets to
zero (``ledger.service.apply_prepaid_credit``), so the balance the payment left (0) stays, and the
ledger shows the fee posted, then paid from the credit the payment left.

It runs after the run's corrections (``latefees/corrections.py``), so it sees what they left open.
Only units that hold open credit and got a (positive) late fee from this run are touched; a unit
whose only entry of the run is a correction is left to billing, like the credit the correction
freed. A rerun finds the fees settled or the credit used, and applies nothing.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import exists, func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.auth.principal import Principal
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import apply_prepaid_credit
from feesvc.plans.standing import covered_charge_ids
from feesvc.registry.models import Estate


async def _units_with_credit_and_new_fees(session: AsyncSession, estate_id: int, as_of: date) -> list[int]:
    """Units of the estate holding prepaid credit not yet used, with a late fee posted as of ``as_of``."""
    settling = aliased(LedgerEntry)
    fee = aliased(LedgerEntry)
    settled = (
        select(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(settling.settles_entry_id == LedgerEntry.id)
        .scalar_subquery()
    )
    new_fee = exists().where(  # a late fee posted, not a correction (what that frees is the billing's to use)
        col(fee.unit_id) == LedgerEntry.unit_id,
        col(fee.kind) == EntryKind.late_fee,
        col(fee.effective_date) == as_of,
        col(fee.amount_fen) > 0,
    )
    query = select(LedgerEntry.unit_id).where(
        LedgerEntry.estate_id == estate_id,
        LedgerEntry.kind == EntryKind.prepaid_credit,
        LedgerEntry.amount_fen + settled != 0,
        new_fee,
    )
    return sorted({unit_id for (unit_id,) in (await session.execute(query.distinct())).all()})


async def settle_new_late_fees_from_credit(session: AsyncSession, actor: Principal, estate: Estate, as_of: date) -> int:
    """Apply held prepaid credit to the late fees the run as of ``as_of`` posted; returns the fen applied."""
    assert estate.id is not None
    units = await _units_with_credit_and_new_fees(session, estate.id, as_of)
    if not units:
        return 0
    # As the billing run does: a kept plan's late fees wait until its principal is paid.
    in_plan = frozenset(await covered_charge_ids(session, as_of, estate_id=estate.id))
    return await apply_prepaid_credit(session, units, estate.allocation_order, as_of, actor, late_fees_last_for=in_plan)
