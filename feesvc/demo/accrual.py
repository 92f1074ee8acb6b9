"""The month-end late-fee run of the demo history, in two interchangeable forms.

``ServiceAccrual`` calls ``accrue_late_fees``. ``BulkAccrual`` posts exactly the rows that
service posts, built by the same ``late_fee_row`` (amounts, dates, dedupe keys, detail), but keeps
each estate's charges, their principal changes and the fees posted so far in memory, reading only
the ledger entries written since its last run. The service reads the whole estate's ledger on
every run: 36 month ends of a thousand units is too slow for ``feesvc demo``. Where the service
corrects a charge's late fees down (a sale recorded in a billed period reverses the charge from the
day it took effect, after late fees were posted on it), this run posts the same corrections through
the same ``post_corrections``.
``tests/test_demo.py`` builds the same small history with both and compares the ledgers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Protocol

import sqlalchemy
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import utcnow
from feesvc.latefees.corrections import Correction, post_corrections
from feesvc.latefees.credit import settle_new_late_fees_from_credit
from feesvc.latefees.service import (
    AccrualResult,
    AccrualTerms,
    OverdueCharge,
    accrue_late_fees,
    court_rates,
    frozen_intervals,
    late_fee_row,
)
from feesvc.latefees.terms import EstateTerms, estate_terms
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import insert_entry_rows
from feesvc.registry.models import Estate
from feesvc.registry.service import get_estate
from feesvc.rules.late_fees import PrincipalChange


class Accrual(Protocol):
    async def run(self, actor: Principal, estate_id: int, as_of: date) -> AccrualResult: ...


class ServiceAccrual:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def run(self, actor: Principal, estate_id: int, as_of: date) -> AccrualResult:
        return await accrue_late_fees(self.session, actor, estate_id, as_of)


@dataclass
class _Charge:
    id: int
    unit_id: int
    owner_id: int | None
    amount_fen: int
    due_date: date
    effective_date: date
    period: str | None
    item: str | None
    terms_key: int | None  # as OverdueCharge.terms_key
    # day → sum of the entries settling the charge that day (payments, credit, discounts, voids)
    settled_by_day: dict[date, int] = field(default_factory=dict)
    posted_fen: int = 0
    last_posted: date | None = None
    # Paid in full and its fee computed since: nothing more can accrue until the ledger changes it.
    done: bool = False
    # An entry recorded since its last late fee settles it on or before that fee's date (a
    # transfer's reattribution reverses the charge from the day it took effect): the fees posted
    # may now be above its fee, so the next run computes it even if it was paid off before.
    recheck: bool = False

    def changes(self, as_of: date) -> list[PrincipalChange]:
        """As the service's ``_principal_changes``: the running unpaid principal, day by day."""
        unpaid = self.amount_fen
        out = []
        for day in sorted(d for d in self.settled_by_day if d <= as_of):
            unpaid += self.settled_by_day[day]
            out.append(PrincipalChange(on=day, unpaid_fen=max(unpaid, 0)))
        return out


@dataclass
class _EstateBook:
    estate: Estate
    terms: EstateTerms
    charges: dict[int, _Charge] = field(default_factory=dict)
    watermark: int = 0  # the last ledger entry id read


class BulkAccrual:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.books: dict[int, _EstateBook] = {}

    async def _book(self, estate_id: int) -> _EstateBook:
        if estate_id not in self.books:
            estate: Estate = await get_estate(self.session, estate_id, field="estate_id")
            self.books[estate_id] = _EstateBook(estate=estate, terms=await estate_terms(self.session, estate_id))
        return self.books[estate_id]

    async def _read_new_entries(self, estate_id: int, book: _EstateBook) -> None:
        rows: Any = await self.session.execute(
            sqlalchemy.select(
                col(LedgerEntry.id),
                col(LedgerEntry.unit_id),
                col(LedgerEntry.owner_id),
                col(LedgerEntry.kind),
                col(LedgerEntry.amount_fen),
                col(LedgerEntry.due_date),
                col(LedgerEntry.effective_date),
                col(LedgerEntry.period),
                col(LedgerEntry.item),
                col(LedgerEntry.fee_standard_id),
                col(LedgerEntry.settles_entry_id),
                col(LedgerEntry.basis_entry_id),
            )
            .where(col(LedgerEntry.estate_id) == estate_id, col(LedgerEntry.id) > book.watermark)
            .order_by(col(LedgerEntry.id))
        )
        for entry_id, unit_id, owner_id, kind, amount, due, effective, period, item, standard, settles, basis in rows:
            book.watermark = max(book.watermark, entry_id)
            if kind == EntryKind.charge and due is not None:
                book.charges[entry_id] = _Charge(
                    entry_id,
                    unit_id,
                    owner_id,
                    amount,
                    due,
                    effective,
                    period,
                    item,
                    book.terms.key_for(standard),
                )
            elif kind == EntryKind.late_fee and basis in book.charges:
                charge = book.charges[basis]
                charge.posted_fen += amount
                charge.last_posted = effective if charge.last_posted is None else max(charge.last_posted, effective)
            elif settles in book.charges:
                charge = book.charges[settles]
                charge.settled_by_day[effective] = charge.settled_by_day.get(effective, 0) + amount
                charge.done = False
                # Read in id order: the late fees posted before this entry was recorded are known.
                if charge.last_posted is not None and effective <= charge.last_posted:
                    charge.recheck = True

    async def run(self, actor: Principal, estate_id: int, as_of: date) -> AccrualResult:
        book = await self._book(estate_id)
        await self._read_new_entries(estate_id, book)
        last_due = as_of - timedelta(days=min((v.policy.grace_days for v in book.terms.estate), default=0) + 1)
        frozen = await frozen_intervals(self.session, estate_id, as_of)
        terms = AccrualTerms(
            estate_id, book.terms, as_of, await court_rates(self.session, estate_id), actor.label, utcnow()
        )
        rows: list[dict[str, Any]] = []
        corrections: list[Correction] = []
        considered = 0
        for charge in book.charges.values():
            if charge.due_date > last_due or charge.effective_date > as_of:
                continue
            considered += 1
            if charge.done:
                continue
            changes = charge.changes(as_of)
            if paid_before_last_run(changes, charge.last_posted) and not charge.recheck:
                continue
            charge.recheck = False
            still_open = not changes or changes[-1].unpaid_fen > 0
            overdue = OverdueCharge(
                id=charge.id,
                unit_id=charge.unit_id,
                owner_id=charge.owner_id,
                amount_fen=charge.amount_fen,
                due_date=charge.due_date,
                period=charge.period,
                item=charge.item,
                terms_key=charge.terms_key,
                changes=changes,
                posted_fen=charge.posted_fen,
                last_posted=charge.last_posted,
            )
            freezes = frozen.get(charge.id, [])
            computed = terms.fee_of(overdue, freezes)
            increment = computed.contract.total_fen - charge.posted_fen
            if increment < 0:
                # As the service: brought down to its fee after the run's new late fees are posted.
                corrections.append(Correction(overdue, computed, freezes))
            row = late_fee_row(terms, overdue, computed, freezes, increment) if increment > 0 else None
            if not still_open:
                # Paid in full: the fee stands as computed now until an entry changes the charge again.
                charge.done = row is None
            if row is not None:
                rows.append(row)
        await insert_entry_rows(self.session, rows)
        await post_corrections(self.session, actor, terms, corrections)
        posted = sum(r["amount_fen"] for r in rows)
        corrected = sum(c.charge.posted_fen - c.fee.contract.total_fen for c in corrections)
        credit_applied = await settle_new_late_fees_from_credit(self.session, actor, book.estate, as_of)
        await record_audit(
            self.session,
            actor,
            "late_fees.accrue",
            "estate",
            estate_id,
            {
                "as_of": as_of.isoformat(),
                "entries": len(rows),
                "posted_fen": posted,
                "corrections": len(corrections),
                "corrected_fen": corrected,
                "credit_applied_fen": credit_applied,
            },
        )
        await self.session.commit()
        return AccrualResult(
            estate_id=estate_id,
            as_of=as_of,
            charges_considered=considered,
            late_fees_posted=len(rows),
            posted_fen=posted,
            corrections_posted=len(corrections),
            corrected_fen=corrected,
            credit_applied_fen=credit_applied,
        )


def paid_before_last_run(changes: Sequence[PrincipalChange], last_posted: date | None) -> bool:
    """Whether a charge was paid off before its late fees were last posted: they are then final,
    unless an entry recorded since settles it on an earlier day (``_Charge.recheck``)."""
    paid_off = changes[-1] if changes and changes[-1].unpaid_fen <= 0 else None
    return paid_off is not None and last_posted is not None and paid_off.on <= last_posted


def month_ends(months: tuple[date, ...], today: date) -> dict[date, date]:
    """First day of each month → its last day, for the months whose last day has come by ``today``."""
    ends = {}
    for month in months:
        end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        if end <= today:
            ends[month] = end
    return ends
