"""The payment desk of the demo history, in two interchangeable forms.

``ServiceDesk`` posts every payment through ``record_payment``: one transaction per payment, as
at a real desk. ``BulkDesk`` posts a month of payments in one transaction and writes exactly the
rows ``record_payment`` writes (payment, ledger entries, audit event, receipt and its counter),
allocating with the same functions (``allocate``, ``designated_debits``) against the same open
debits. It exists for speed: three years of a thousand units is some 15,000 payments, far too
many for one transaction each in the time ``feesvc demo`` may take. ``tests/test_demo.py`` builds
the same small history through both desks and compares the ledgers, so the two cannot drift.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import sqlalchemy
from sqlalchemy import func, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.audit.service import audit_row
from feesvc.auth.principal import Principal
from feesvc.db import is_postgres, utcnow
from feesvc.demo.registry import insert_audit, insert_returning_ids, table
from feesvc.ledger.allocation import OpenDebit
from feesvc.ledger.models import DEBIT_KINDS, EntryKind, LedgerEntry
from feesvc.ledger.position import note_written
from feesvc.ledger.service import open_debits
from feesvc.payments.models import Payment, Receipt, ReceiptCounter
from feesvc.payments.prepare import payment_allocation, payment_row
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.registry.models import AllocationOrder


class Desk(Protocol):
    async def after_billing(self, estate_id: int, unit_ids: list[int]) -> None:
        """The billing run issued charges and applied credit: what is open has changed."""

    async def pay(
        self, actor: Principal, data: PaymentCreate, key: str, estate_id: int, owner_id: int | None
    ) -> None: ...

    async def flush(self) -> None:
        """Write whatever is pending, before anything else touches the ledger."""

    async def refresh_unit(self, unit_id: int) -> None:
        """A service changed this unit's ledger (a void, a refund)."""

    async def after_accrual(self, estate_id: int, as_of: date) -> None:
        """The month-end run posted late fees dated ``as_of`` (open debts now), corrected others
        down and settled some from prepaid credit."""


class ServiceDesk:
    def __init__(self, session: AsyncSession, today: date) -> None:
        self.session = session
        self.today = today

    async def after_billing(self, estate_id: int, unit_ids: list[int]) -> None:
        return None

    async def pay(self, actor: Principal, data: PaymentCreate, key: str, estate_id: int, owner_id: int | None) -> None:
        await record_payment(self.session, actor, data, key, self.today)

    async def flush(self) -> None:
        return None

    async def refresh_unit(self, unit_id: int) -> None:
        return None

    async def after_accrual(self, estate_id: int, as_of: date) -> None:
        return None


@dataclass
class _Pending:
    actor: Principal
    data: PaymentCreate
    key: str
    estate_id: int
    owner_id: int | None
    # (debit, fen) settled by the payment, and the fen left over as prepaid credit.
    settles: list[tuple[OpenDebit, int]]
    credit_fen: int


class BulkDesk:
    def __init__(self, session: AsyncSession, orders: dict[int, AllocationOrder]) -> None:
        self.session = session
        # Allocation order (principal or late fee first) by estate id.
        self.orders = orders
        self.open: dict[int, list[OpenDebit]] = defaultdict(list)
        self.pending: list[_Pending] = []

    async def after_billing(self, estate_id: int, unit_ids: list[int]) -> None:
        await self.flush()
        debits = await open_debits_of_estate(self.session, estate_id)
        for unit_id in unit_ids:
            self.open[unit_id] = debits.get(unit_id, [])

    async def refresh_unit(self, unit_id: int) -> None:
        await self.flush()
        self.open[unit_id] = await open_debits(self.session, unit_id)

    async def after_accrual(self, estate_id: int, as_of: date) -> None:
        await self.flush()
        # New entries, so wholly open; settled in the same order as every open debit (entry id).
        for unit_id, debit in await _late_fees_posted_on(self.session, estate_id, as_of):
            self.open[unit_id].append(debit)
        # A correction settles late fees (or gives what was paid on them back as credit), and held
        # credit settles new ones: those units' open debits are read again.
        for unit_id in await _settled_by_the_run(self.session, estate_id, as_of):
            self.open[unit_id] = await open_debits(self.session, unit_id)

    async def pay(self, actor: Principal, data: PaymentCreate, key: str, estate_id: int, owner_id: int | None) -> None:
        # As record_payment: designated debts first, then oldest first; what is left becomes credit.
        debits = self.open[data.unit_id]
        allocations, left_over = payment_allocation(debits, data, self.orders[estate_id], owner_id)
        taken = {a.entry_id: a.amount_fen for a in allocations}
        by_id = {d.entry_id: d for d in debits}
        self.open[data.unit_id] = [
            dataclasses.replace(d, open_fen=d.open_fen - taken.get(d.entry_id, 0))
            for d in debits
            if d.open_fen != taken.get(d.entry_id, 0)
        ]
        settles = [(by_id[a.entry_id], a.amount_fen) for a in allocations]
        self.pending.append(_Pending(actor, data, key, estate_id, owner_id, settles, left_over))

    async def flush(self) -> None:
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        now = utcnow()
        payment_ids = await insert_returning_ids(self.session, Payment, [_payment_row(p, now) for p in pending])
        entries: list[dict[str, Any]] = []
        audits = []
        for p, payment_id in zip(pending, payment_ids, strict=True):
            entries += _entry_rows(p, payment_id, now)
            detail = {"unit_id": p.data.unit_id, "amount_fen": p.data.amount_fen, "method": p.data.method}
            audits.append(audit_row(p.actor, "payment.record", "payment", payment_id, detail))
        if entries:
            await self.session.execute(insert(table(LedgerEntry)), entries)
            note_written(self.session, {row["unit_id"] for row in entries})
        await insert_audit(self.session, audits)
        await self._take_receipt_numbers(pending, payment_ids)
        await self.session.commit()

    async def _take_receipt_numbers(self, pending: list[_Pending], payment_ids: list[int]) -> None:
        """Gapless per estate and year, in the order the payments came in, continuing the counter.

        One upsert per estate and year moves the counter on by the whole batch, under its row lock,
        as ``record_payment`` moves it on by one.
        """
        keys = [(p.estate_id, _received(p).year) for p in pending]
        batch = Counter(keys)
        next_seq = {key: await self._advance_counter(*key, by=n) - n for key, n in batch.items()}
        rows = []
        for (estate_id, year), payment_id in zip(keys, payment_ids, strict=True):
            next_seq[(estate_id, year)] += 1
            rows.append(
                {"payment_id": payment_id, "estate_id": estate_id, "year": year, "seq": next_seq[(estate_id, year)]}
            )
        await self.session.execute(insert(table(Receipt)), rows)

    async def _advance_counter(self, estate_id: int, year: int, by: int) -> int:
        """Move the receipt counter on by ``by`` numbers; returns the new last number."""
        dialect = postgresql if is_postgres(self.session) else sqlite
        counter = table(ReceiptCounter)
        statement = (
            dialect.insert(counter)
            .values(estate_id=estate_id, year=year, last_seq=by)
            .on_conflict_do_update(index_elements=["estate_id", "year"], set_={"last_seq": counter.c.last_seq + by})
            .returning(counter.c.last_seq)
        )
        return int((await self.session.execute(statement)).scalar_one())


def _received(p: _Pending) -> date:
    assert p.data.received_on is not None
    return p.data.received_on


def _payment_row(p: _Pending, now: Any) -> dict[str, Any]:
    assert p.data.received_on is not None
    row = payment_row(p.data, p.estate_id, p.data.received_on, p.actor.label, p.key, p.owner_id)
    return {**row, "received_at": now}


def _entry_rows(p: _Pending, payment_id: int, now: Any) -> list[dict[str, Any]]:
    """The payment's ledger entries, as record_payment makes them: one per debit settled, then the credit."""
    base = {
        "estate_id": p.estate_id,
        "unit_id": p.data.unit_id,
        "owner_id": p.owner_id,
        "effective_date": p.data.received_on,
        "actor": p.actor.label,
        "payment_id": payment_id,
        "period_months": None,
        "item": None,
        "due_date": None,
        "fee_standard_id": None,
        "reverses_entry_id": None,
        "basis_entry_id": None,
        "dedupe_key": None,
        "reason": None,
        "detail": None,
        "created_at": now,
    }
    rows = [
        {
            **base,
            "kind": EntryKind.payment,
            "amount_fen": -fen,
            "settles_entry_id": debit.entry_id,
            "period": debit.period,
        }
        for debit, fen in p.settles
    ]
    if p.credit_fen:
        rows.append(
            {
                **base,
                "kind": EntryKind.prepaid_credit,
                "amount_fen": -p.credit_fen,
                "settles_entry_id": None,
                "period": None,
            }
        )
    return rows


async def _late_fees_posted_on(session: AsyncSession, estate_id: int, as_of: date) -> list[tuple[int, OpenDebit]]:
    """The late fees of an estate's run on ``as_of`` as open debits of their charges (as open_debits)."""
    basis = aliased(LedgerEntry)
    rows: Any = await session.execute(
        sqlalchemy.select(
            col(LedgerEntry.id),
            col(LedgerEntry.unit_id),
            col(LedgerEntry.owner_id),
            col(LedgerEntry.amount_fen),
            col(basis.id),
            col(basis.due_date),
            col(basis.effective_date),
            col(basis.period),
        )
        .join(basis, col(basis.id) == LedgerEntry.basis_entry_id)
        .where(
            col(LedgerEntry.estate_id) == estate_id,
            col(LedgerEntry.kind) == EntryKind.late_fee,
            col(LedgerEntry.effective_date) == as_of,
            col(LedgerEntry.amount_fen) > 0,  # a late fee posted, not a correction
        )
        .order_by(col(LedgerEntry.id))
    )
    return [
        (
            int(unit_id),
            OpenDebit(
                entry_id=int(entry_id),
                kind=EntryKind.late_fee,
                open_fen=int(amount),
                debt_id=int(basis_id),
                debt_due=basis_due or basis_effective,
                period=basis_period,
                owner_id=owner_id,
            ),
        )
        for entry_id, unit_id, owner_id, amount, basis_id, basis_due, basis_effective, basis_period in rows.all()
    ]


async def _settled_by_the_run(session: AsyncSession, estate_id: int, as_of: date) -> list[int]:
    """The units where the late-fee run as of ``as_of`` corrected late fees or applied credit to them."""
    rows = await session.execute(
        select(LedgerEntry.unit_id)
        .where(
            LedgerEntry.estate_id == estate_id,
            LedgerEntry.effective_date == as_of,
            ((col(LedgerEntry.kind) == EntryKind.late_fee) & (col(LedgerEntry.amount_fen) < 0))
            | (col(LedgerEntry.kind) == EntryKind.credit_applied),
        )
        .distinct()
        .order_by(col(LedgerEntry.unit_id))
    )
    return list(rows.scalars())


async def open_debits_of_estate(session: AsyncSession, estate_id: int) -> dict[int, list[OpenDebit]]:
    """``open_debits`` for every unit of an estate in one query: open = amount + what settles it."""
    settling = (
        select(
            col(LedgerEntry.settles_entry_id).label("entry_id"),
            func.sum(LedgerEntry.amount_fen).label("settled"),
        )
        .where(LedgerEntry.estate_id == estate_id, col(LedgerEntry.settles_entry_id).is_not(None))
        .group_by(col(LedgerEntry.settles_entry_id))
        .subquery()
    )
    basis = aliased(LedgerEntry)
    open_fen = col(LedgerEntry.amount_fen) + func.coalesce(settling.c.settled, 0)
    # sqlalchemy's own select: sqlmodel's typed overloads stop at four columns.
    rows: Any = await session.execute(
        sqlalchemy.select(
            col(LedgerEntry.id),
            col(LedgerEntry.unit_id),
            col(LedgerEntry.owner_id),
            col(LedgerEntry.kind),
            open_fen,
            col(LedgerEntry.due_date),
            col(LedgerEntry.effective_date),
            col(LedgerEntry.period),
            col(basis.id),
            col(basis.due_date),
            col(basis.effective_date),
            col(basis.period),
        )
        .outerjoin(settling, settling.c.entry_id == LedgerEntry.id)
        .outerjoin(basis, col(basis.id) == LedgerEntry.basis_entry_id)
        .where(col(LedgerEntry.estate_id) == estate_id, col(LedgerEntry.kind).in_(DEBIT_KINDS), open_fen != 0)
        .order_by(col(LedgerEntry.id))
    )
    debits: dict[int, list[OpenDebit]] = defaultdict(list)
    for (
        entry_id,
        unit_id,
        owner_id,
        kind,
        open_amount,
        due,
        effective,
        period,
        basis_id,
        basis_due,
        basis_effective,
        basis_period,
    ) in rows.all():
        # A late fee belongs to the debt of its charge (as in open_debits).
        late = kind == EntryKind.late_fee
        debits[unit_id].append(
            OpenDebit(
                entry_id=int(entry_id),
                kind=EntryKind(kind),
                open_fen=int(open_amount),
                debt_id=int(basis_id if late else entry_id),
                debt_due=(basis_due or basis_effective) if late else (due or effective),
                period=basis_period if late else period,
                # The owner of the period: only their payments settle it (payment_allocation).
                owner_id=owner_id,
            )
        )
    return debits
