"""The classifier's input, read from the database: ``CaseFacts`` for one arrears case.

A case is one owner's account at a unit (after a sale the seller and the buyer each have their
own), so everything read from the ledger is that owner's: the entries of the periods they owned.

What goes in (FORMAT.md's record, built from our tables):
- arrears: the owner's debts at the unit already due and still open on ``as_of`` (amount, months,
  oldest period);
- payment history: the owner's last 12 billed periods from the ledger, paid (when, how much) or not;
- vacancy: a vacancy notice covering ``as_of``;
- notes: the contact notes of this owner's cases on this unit;
- complaints: this owner's complaints about the unit, as they stood on ``as_of``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.arrears.classifier import LOCALES, CaseFacts, Complaint, Note, PaymentEntry
from feesvc.arrears.models import ArrearsCase, ArrearsNote
from feesvc.ledger.allocation import OpenDebit
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import entries_as_of, open_debits
from feesvc.registry.models import Estate, Unit, VacancyNotice
from feesvc.service_records.models import Complaint as ComplaintRow
from feesvc.service_records.service import business_date, open_on

HISTORY_PERIODS = 12
# Our estates may be set to zh_HK; the classifier reads Traditional Chinese as zh_TW.
LOCALE_ALIASES = {"zh_HK": "zh_TW"}


@dataclass(frozen=True)
class Arrears:
    amount_fen: int
    periods: tuple[str, ...]  # the months still unpaid, oldest first


async def case_facts(session: AsyncSession, case: ArrearsCase, as_of: date) -> tuple[CaseFacts, dict[str, Any]]:
    """The classifier input for ``case`` on ``as_of``, and a summary of it to store with the result."""
    assert case.id is not None
    unit = await session.get(Unit, case.unit_id)
    estate = await session.get(Estate, case.estate_id)
    assert unit is not None and estate is not None
    entries = await _account_entries(session, case, as_of)
    charges = {e.id: e for e in entries if e.kind == EntryKind.charge}
    arrears = overdue_arrears(await _account_debits(session, case, as_of), charges, as_of)
    history = payment_history(entries, as_of)
    notes = await _notes(session, case, as_of)
    complaints = await _complaints(session, case, as_of)
    vacant = await _vacant(session, case.unit_id, as_of)
    facts = CaseFacts(
        id=f"case-{case.id}",
        locale=_locale(estate.locale),
        vacant=vacant,
        area_m2=unit.floor_area_m2.quantize(Decimal("0.01")),
        amount_fen=arrears.amount_fen,
        months_overdue=len(arrears.periods),
        first_unpaid_period=arrears.periods[0] if arrears.periods else as_of.strftime("%Y-%m"),
        payment_history=history,
        notes=tuple(Note(on=n.noted_on, text=n.text) for n in notes),
        complaints=tuple(_complaint(c, as_of) for c in complaints),
    )
    summary = {
        "as_of": as_of.isoformat(),
        "amount_fen": facts.amount_fen,
        "months_overdue": facts.months_overdue,
        "first_unpaid_period": facts.first_unpaid_period,
        "vacant": vacant,
        "history_periods": [h.period for h in history],
        "note_ids": [n.id for n in notes],
        "complaint_ids": [c.id for c in complaints],
    }
    return facts, summary


async def account_arrears(session: AsyncSession, case: ArrearsCase, as_of: date) -> Arrears:
    """What the case's owner owes at its unit on ``as_of``: past due and still open."""
    entries = await _account_entries(session, case, as_of)
    charges = {e.id: e for e in entries if e.kind == EntryKind.charge}
    return overdue_arrears(await _account_debits(session, case, as_of), charges, as_of)


def _of_the_owner(case: ArrearsCase, owner_id: int | None) -> bool:
    """An entry or debt is the case's when it carries the case's owner (a case with no owner, of a
    unit that had none on record, takes the unit's)."""
    return case.owner_id is None or owner_id == case.owner_id


async def _account_entries(session: AsyncSession, case: ArrearsCase, as_of: date) -> list[LedgerEntry]:
    """The unit's entries of the case's owner: their charges and late fees, the entries of their
    account, and whatever settled their debts (a payment another paid for them, designating them)."""
    entries = await entries_as_of(session, case.unit_id, as_of)
    theirs = {e.id for e in entries if _of_the_owner(case, e.owner_id)}
    return [e for e in entries if e.id in theirs or e.settles_entry_id in theirs]


async def _account_debits(session: AsyncSession, case: ArrearsCase, as_of: date) -> list[OpenDebit]:
    return [d for d in await open_debits(session, case.unit_id, as_of) if _of_the_owner(case, d.owner_id)]


def _locale(locale: str) -> str:
    locale = LOCALE_ALIASES.get(locale, locale)
    return locale if locale in LOCALES else "zh_CN"


def overdue_arrears(debits: Iterable[OpenDebit], charges: dict[int | None, LedgerEntry], as_of: date) -> Arrears:
    """Open debts already past their due date; a charge not yet due is not arrears."""
    amount, months = 0, set()
    for debit in debits:
        if debit.debt_due >= as_of:
            continue
        amount += debit.open_fen
        charge = charges.get(debit.debt_id)
        if charge is not None and charge.period:
            months.update(_months(charge.period, charge.period_months or 1))
        elif debit.period:
            months.add(debit.period)
    return Arrears(amount_fen=amount, periods=tuple(sorted(months)))


def _months(first: str, count: int) -> list[str]:
    year, month = int(first[:4]), int(first[5:7])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def payment_history(entries: Sequence[LedgerEntry], as_of: date) -> tuple[PaymentEntry, ...]:
    """Per billed period (oldest first, the last 12): paid when and how much, or unpaid and billed.

    Paid counts payments, prepaid credit and discounts settling the period's charges, less any
    voided payment; a charge that was itself reversed was never owed and is left out.
    """
    charges = {e.id: e for e in entries if e.kind == EntryKind.charge and e.period}
    cancelled = {e.reverses_entry_id for e in entries if e.reverses_entry_id in charges}
    billed: dict[str, int] = defaultdict(int)
    paid: dict[str, int] = defaultdict(int)
    last_paid: dict[str, date] = {}
    for charge_id, charge in charges.items():
        if charge_id not in cancelled and charge.period:
            billed[charge.period] += charge.amount_fen
    for entry in entries:
        settled = charges.get(entry.settles_entry_id)
        if settled is None or settled.id in cancelled or not settled.period:
            continue
        paid[settled.period] -= entry.amount_fen
        if entry.amount_fen < 0:
            last_paid[settled.period] = max(entry.effective_date, last_paid.get(settled.period, entry.effective_date))
    periods = sorted(p for p in billed if p <= as_of.strftime("%Y-%m"))[-HISTORY_PERIODS:]
    return tuple(
        PaymentEntry(period=p, paid_on=last_paid[p], amount_fen=paid[p])
        if paid[p] > 0
        else PaymentEntry(period=p, paid_on=None, amount_fen=billed[p])
        for p in periods
    )


async def _notes(session: AsyncSession, case: ArrearsCase, as_of: date) -> list[ArrearsNote]:
    same_owner = (
        col(ArrearsCase.owner_id).is_(None) if case.owner_id is None else col(ArrearsCase.owner_id) == case.owner_id
    )
    query = (
        select(ArrearsNote)
        .join(ArrearsCase, col(ArrearsCase.id) == ArrearsNote.case_id)
        .where(ArrearsCase.unit_id == case.unit_id, same_owner, col(ArrearsNote.noted_on) <= as_of)
        .order_by(col(ArrearsNote.noted_on), col(ArrearsNote.id))
    )
    return list((await session.execute(query)).scalars())


async def _complaints(session: AsyncSession, case: ArrearsCase, as_of: date) -> list[ComplaintRow]:
    query = select(ComplaintRow).where(ComplaintRow.unit_id == case.unit_id)
    if case.owner_id is not None:
        query = query.where(ComplaintRow.owner_id == case.owner_id)
    query = query.order_by(col(ComplaintRow.opened_at), col(ComplaintRow.id))
    return [c for c in (await session.execute(query)).scalars() if business_date(c.opened_at) <= as_of]


def _complaint(row: ComplaintRow, as_of: date) -> Complaint:
    # As it stood on as_of: a complaint closed later was still open then, with no verdict yet.
    still_open = open_on(row, as_of)
    return Complaint(
        opened=business_date(row.opened_at),
        closed=None if still_open or row.closed_at is None else business_date(row.closed_at),
        category=row.category.value,
        status="open" if still_open else "closed",
        owner_satisfied=None if still_open else row.owner_satisfied,
        text=row.text,
    )


async def _vacant(session: AsyncSession, unit_id: int, as_of: date) -> bool:
    query = select(VacancyNotice.id).where(
        VacancyNotice.unit_id == unit_id,
        col(VacancyNotice.starts_on) <= as_of,
        or_(col(VacancyNotice.ends_on).is_(None), col(VacancyNotice.ends_on) >= as_of),
    )
    return (await session.execute(query.limit(1))).first() is not None
