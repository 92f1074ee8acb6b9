"""A new fee standard inside prepaid periods: the difference is billed or credited (多退少补).

A prepayment books its periods' charges at the standards in force when it is booked. When a period
is billed and a newer standard for the item is in force at its start, the billing run posts the
difference between the charge at the new standard and what the period holds, as one entry linked
to the prepaid charge, with its reason:

* more to pay: an ``adjustment`` settling the prepaid charge (the charge is open again by that
  much, due when it was due);
* less: ``prepaid_credit`` for the owner (DOMAIN.md ledger rule 6: applied to new charges as they
  are issued, refunded when the contract ends).

The discount treatment: the period keeps the percent it was prepaid at, so the difference carries
it too (feesvc.rules.prepay.difference_discount); the entry's detail shows gross, discount and net.
The new amount is computed on the facts the charge was booked with (area, vacancy ratio, months):
only the standard changed. Each difference has a dedupe key (the charge and the standard), and
what is already posted counts, so a rerun posts nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.billing.rules import charge_amount
from feesvc.db import utcnow
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import insert_entry_rows
from feesvc.payments.models import Payment
from feesvc.registry.models import Estate, Unit
from feesvc.rules.prepay import difference_discount, difference_reason
from feesvc.schemas import period_start
from feesvc.standards.models import FeeStandard
from feesvc.standards.service import standards_in_force

KEY_PREFIX = "prepaid-difference:"


@dataclass(frozen=True)
class Differences:
    count: int
    net_fen: int  # positive: billed; negative: credited


def difference_key(charge_id: int, standard_id: int) -> str:
    return f"{KEY_PREFIX}{charge_id}:{standard_id}"


async def _posted(session: AsyncSession, estate_id: int, period: str) -> dict[int, list[dict[str, Any]]]:
    """The differences already posted for the period, per prepaid charge (their details), oldest first."""
    query = (
        select(LedgerEntry.detail)
        .where(
            LedgerEntry.estate_id == estate_id,
            # The kinds a difference has: the (estate, kind, period) index finds them without
            # reading the period's other entries.
            col(LedgerEntry.kind).in_([EntryKind.adjustment, EntryKind.prepaid_credit]),
            LedgerEntry.period == period,
            col(LedgerEntry.dedupe_key).like(f"{KEY_PREFIX}%"),
        )
        .order_by(col(LedgerEntry.id))
    )
    posted: dict[int, list[dict[str, Any]]] = {}
    for (detail,) in (await session.execute(query)).all():
        posted.setdefault(int(detail["prepaid_charge_id"]), []).append(detail)
    return posted


async def _candidates(
    session: AsyncSession, estate_id: int, period: str, in_force: set[int], differenced: set[int]
) -> list[LedgerEntry]:
    """The period's standing charges booked under a standard no longer in force, or that already
    carry a difference (a later standard may change it again). Usually none: one cheap query."""
    reversal = aliased(LedgerEntry)
    reversed_ = select(reversal.id).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists()
    query = select(LedgerEntry).where(
        LedgerEntry.estate_id == estate_id,
        LedgerEntry.kind == EntryKind.charge,
        LedgerEntry.period == period,
        col(LedgerEntry.fee_standard_id).is_not(None),
        or_(col(LedgerEntry.fee_standard_id).not_in(in_force), col(LedgerEntry.id).in_(differenced)),
        ~reversed_,
    )
    return list((await session.execute(query.order_by(col(LedgerEntry.id)))).scalars())


async def _prepaid_by(session: AsyncSession, charge_ids: list[int]) -> dict[int, int]:
    """Charge → the prepayment that booked it (its payment's designation names the charge)."""
    paid = select(LedgerEntry.payment_id).where(
        col(LedgerEntry.settles_entry_id).in_(charge_ids),
        LedgerEntry.kind == EntryKind.payment,
        col(LedgerEntry.payment_id).is_not(None),
    )
    payments = (await session.execute(select(Payment).where(col(Payment.id).in_(paid)))).scalars()
    wanted = set(charge_ids)
    return {
        entry_id: payment.id
        for payment in payments
        if payment.id is not None
        for entry_id in (payment.designation or {}).get("entry_ids", [])
        if entry_id in wanted
    }


async def _percents(session: AsyncSession, charge_ids: list[int]) -> dict[int, Decimal]:
    """Charge → the prepay discount percent it stands at now (its standing discount entry)."""
    reversal = aliased(LedgerEntry)
    reversed_ = select(reversal.id).where(col(reversal.reverses_entry_id) == LedgerEntry.id).exists()
    query = select(LedgerEntry.settles_entry_id, LedgerEntry.detail).where(
        col(LedgerEntry.settles_entry_id).in_(charge_ids), LedgerEntry.kind == EntryKind.discount, ~reversed_
    )
    return {
        int(charge_id): Decimal(detail["percent_off"])
        for charge_id, detail in (await session.execute(query)).all()
        if charge_id is not None and detail and "percent_off" in detail
    }


def _row(
    charge: LedgerEntry,
    standard: FeeStandard,
    net: int,
    reason: str,
    detail: dict[str, Any],
    issued_on: date,
    actor: str,
) -> dict[str, Any]:
    assert charge.id is not None and standard.id is not None
    rise = net > 0
    return {
        "estate_id": charge.estate_id,
        "unit_id": charge.unit_id,
        "owner_id": charge.owner_id,
        # More to pay opens the prepaid charge again; less is credit held for the owner.
        "kind": EntryKind.adjustment if rise else EntryKind.prepaid_credit,
        "amount_fen": net,
        "effective_date": issued_on,
        "period": charge.period,
        "period_months": charge.period_months,
        "item": charge.item,
        "due_date": charge.due_date if rise else None,
        "fee_standard_id": standard.id,
        "dedupe_key": difference_key(charge.id, standard.id),
        "actor": actor,
        "detail": detail,
        "created_at": utcnow(),
        "settles_entry_id": charge.id if rise else None,
        "reverses_entry_id": None,
        "basis_entry_id": None,
        "payment_id": None,
        "reason": reason,
    }


async def bill_prepaid_differences(
    session: AsyncSession, estate: Estate, period: str, issued_on: date, actor: str
) -> Differences:
    """Post the differences of the period's prepaid charges under the standards in force at its start."""
    assert estate.id is not None
    standards = await standards_in_force(session, estate.id, period_start(period))
    in_force = {(s.unit_use, s.item): s for s in standards}
    posted = await _posted(session, estate.id, period)
    candidates = await _candidates(session, estate.id, period, {s.id for s in standards if s.id}, set(posted))
    if not candidates:
        return Differences(0, 0)
    ids = [c.id for c in candidates if c.id is not None]
    prepaid = await _prepaid_by(session, ids)
    percents = await _percents(session, ids)
    unit_ids = {c.unit_id for c in candidates}
    units = {u.id: u for u in (await session.execute(select(Unit).where(col(Unit.id).in_(unit_ids)))).scalars()}
    rows: list[dict[str, Any]] = []
    for charge in candidates:
        assert charge.id is not None
        unit = units[charge.unit_id]
        standard = in_force.get((unit.use, charge.item or ""))
        earlier = posted.get(charge.id, [])
        if charge.id not in prepaid or standard is None:
            continue  # not prepaid, or no standard charges the item any more (not billed: see the report)
        if (earlier[-1]["fee_standard_id"] if earlier else charge.fee_standard_id) == standard.id:
            continue  # the period holds this standard's amount already
        booked = charge.detail or {}
        area = Decimal(booked.get("area_m2", unit.floor_area_m2))
        ratio = Decimal(booked.get("vacancy_payable_ratio", "1"))
        months = charge.period_months or estate.cycle_months
        target = charge_amount(standard.basis, standard.rate, area, months, ratio)
        gross = target - charge.amount_fen - sum(int(d["gross_difference_fen"]) for d in earlier)
        percent = percents.get(charge.id)
        discount = difference_discount(gross, percent)
        if gross - discount == 0:
            continue
        old_rate = Decimal(earlier[-1]["new_rate"] if earlier else booked.get("rate", "0"))
        item_name = str(booked.get("item_name", charge.item))
        detail = {
            "prepaid_charge_id": charge.id,
            "prepayment_payment_id": prepaid[charge.id],
            "fee_standard_id": standard.id,
            "old_rate": str(old_rate),
            "new_rate": str(standard.rate),
            "basis": standard.basis,
            "months": months,
            "gross_difference_fen": gross,
            "percent_off": str(percent) if percent else None,
            "discount_fen": discount,
            "net_fen": gross - discount,
        }
        reason = difference_reason(estate.locale, item_name, old_rate, standard.rate, percent)
        rows.append(_row(charge, standard, gross - discount, reason, detail, issued_on, actor))
    await insert_entry_rows(session, rows)
    return Differences(len(rows), sum(r["amount_fen"] for r in rows))
