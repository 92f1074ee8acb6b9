"""Recording payments at the desk, voiding them, refunding credit, and the daily cash-up.

A payment is one transaction: lock the unit, allocate, write the payment and its ledger entries,
then take the receipt number last, so the per-estate counter row is held only until commit.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import date

import msgspec
from sqlalchemy import and_, exists, func, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.db import is_postgres
from feesvc.errors import Conflict, InvalidInput, NotFound
from feesvc.ledger.allocation import Allocation, OpenDebit, allocate
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.ledger.service import append, lock_unit, open_credits, open_debits, reversal_of
from feesvc.payments.models import Method, Payment, PaymentVoid, Receipt, ReceiptCounter, receipt_number
from feesvc.payments.schemas import (
    AllocationOut,
    CashUpLine,
    CashUpOut,
    Designation,
    PaymentCreate,
    PaymentOut,
    RefundCreate,
    RefundOut,
)
from feesvc.plans.models import InstallmentPlan, PlanState
from feesvc.plans.service import covered_charge_ids
from feesvc.registry.models import AllocationOrder, Estate, Ownership, Unit
from feesvc.registry.service import ownership_covering


def fingerprint(data: PaymentCreate) -> str:
    return hashlib.sha256(msgspec.json.encode(data)).hexdigest()


def designated_debits(debits: list[OpenDebit], designation: Designation | None) -> frozenset[int]:
    if designation is None:
        return frozenset()
    by_id = {d.entry_id for d in debits} | {d.debt_id for d in debits}
    unknown = [i for i in designation.entry_ids if i not in by_id]
    if unknown:
        raise InvalidInput(f"nothing is open on entries {unknown} of this unit", field="designation.entry_ids")
    periods = set(designation.periods)
    open_periods = {d.period for d in debits}
    if periods - open_periods:
        missing = sorted(periods - open_periods)
        raise InvalidInput(f"nothing is open for periods {missing}", field="designation.periods")
    return frozenset(designation.entry_ids) | frozenset(d.debt_id for d in debits if d.period in periods)


def payment_allocation(
    debits: list[OpenDebit], data: PaymentCreate, order: AllocationOrder, owner_id: int | None,
    in_plan: frozenset[int] = frozenset(),
) -> tuple[list[Allocation], int]:
    """What a payment settles: the designated debts first, then the payer's own debts oldest first
    (a former owner's arrears stay theirs), a kept plan's late fees last; the rest is credit."""
    designated = designated_debits(debits, data.designation)
    payable = [d for d in debits if d.owner_id in (None, owner_id) or {d.entry_id, d.debt_id} & designated]
    return allocate(payable, data.amount_fen, order, designated, late_fees_last_for=in_plan)


_NUMBER_RECEIPT_POSTGRES = text(
    """
    WITH counter AS (
        INSERT INTO receipt_counter (estate_id, year, last_seq) VALUES (:estate_id, :year, 1)
        ON CONFLICT (estate_id, year) DO UPDATE SET last_seq = receipt_counter.last_seq + 1
        RETURNING last_seq
    )
    INSERT INTO receipt (payment_id, estate_id, year, seq)
    SELECT :payment_id, :estate_id, :year, last_seq FROM counter
    RETURNING seq
    """
)


async def _number_receipt(session: AsyncSession, payment_id: int, estate_id: int, year: int) -> int:
    """Take the next number and write the receipt; on PostgreSQL in one statement, so the counter
    row is locked for that statement and the commit only."""
    params = {"payment_id": payment_id, "estate_id": estate_id, "year": year}
    if is_postgres(session):
        return int((await session.execute(_NUMBER_RECEIPT_POSTGRES, params)).scalar_one())
    # SQLite's write lock (BEGIN IMMEDIATE) already serialises the whole transaction.
    table = ReceiptCounter.__table__  # type: ignore[attr-defined]
    counter = (
        sqlite.insert(table)
        .values(estate_id=estate_id, year=year, last_seq=1)
        .on_conflict_do_update(index_elements=["estate_id", "year"], set_={"last_seq": table.c.last_seq + 1})
        .returning(table.c.last_seq)
    )
    seq = int((await session.execute(counter)).scalar_one())
    session.add(Receipt(payment_id=payment_id, estate_id=estate_id, year=year, seq=seq))
    return seq


async def current_owner(session: AsyncSession, unit_id: int, on: date) -> int | None:
    query = select(Ownership.owner_id).where(Ownership.unit_id == unit_id, ownership_covering(on))
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def find_payment_by_key(session: AsyncSession, key: str) -> Payment | None:
    return (await session.execute(select(Payment).where(Payment.idempotency_key == key))).scalar_one_or_none()


async def add_payment(session: AsyncSession, payment: Payment) -> Payment | None:
    """Insert a new payment. If a concurrent request committed the same idempotency key first, roll
    back and return that earlier payment, so the caller answers as a retry of it."""
    session.add(payment)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        existing = await find_payment_by_key(session, payment.idempotency_key)
        if existing is None:
            raise
        return existing
    return None


async def _replay(session: AsyncSession, existing: Payment, data: PaymentCreate) -> PaymentOut:
    if existing.request_fingerprint != fingerprint(data):
        raise Conflict(
            "this Idempotency-Key was used for a different payment; use a new key for a new payment",
            field="Idempotency-Key",
        )
    assert existing.id is not None
    return await payment_out(session, existing.id)


async def record_payment(
    session: AsyncSession, actor: Principal, data: PaymentCreate, idempotency_key: str, today: date
) -> tuple[PaymentOut, bool]:
    """Post a payment; returns it and whether it was new (False: a retry of an earlier request)."""
    existing = await find_payment_by_key(session, idempotency_key)
    if existing is not None:
        return await _replay(session, existing, data), False
    received_on = data.received_on or today
    if received_on > today:
        raise InvalidInput("a payment cannot be received in the future", field="received_on")
    # One round trip: lock the unit and learn its estate's rules, its owner that day, and whether a
    # plan covers any of its charges.
    has_plan = exists().where(col(InstallmentPlan.unit_id) == Unit.id, col(InstallmentPlan.state) == PlanState.active)
    locked = (
        await session.execute(
            select(col(Unit.estate_id), col(Estate.allocation_order), col(Ownership.owner_id), has_plan)
            .join(Estate, col(Estate.id) == Unit.estate_id)
            .outerjoin(Ownership, and_(col(Ownership.unit_id) == Unit.id, ownership_covering(received_on)))
            .where(Unit.id == data.unit_id)
            .with_for_update(of=Unit)  # one writer per unit; SQLite's BEGIN IMMEDIATE does the same
        )
    ).first()
    if locked is None:
        raise NotFound(f"unit {data.unit_id} does not exist", field="unit_id")
    estate_id, order, owner_id, planned = locked
    debits = await open_debits(session, data.unit_id)
    in_plan = frozenset(await covered_charge_ids(session, data.unit_id)) if planned else frozenset()
    allocations, left_over = payment_allocation(debits, data, AllocationOrder(order), owner_id, in_plan)
    payment = Payment(
        estate_id=estate_id,
        unit_id=data.unit_id,
        payer_name=data.payer_name or "",
        amount_fen=data.amount_fen,
        method=data.method,
        external_ref=data.external_ref,
        designation=msgspec.to_builtins(data.designation) if data.designation else None,
        received_on=received_on,
        cashier=actor.label,
        idempotency_key=idempotency_key,
        request_fingerprint=fingerprint(data),
    )
    existing = await add_payment(session, payment)
    if existing is not None:
        return await _replay(session, existing, data), False
    by_id = {d.entry_id: d for d in debits}
    entries = [
        payment_entry(payment, owner_id, EntryKind.payment, a.amount_fen, a.entry_id, by_id[a.entry_id].period)
        for a in allocations
    ]
    if left_over:
        entries.append(payment_entry(payment, owner_id, EntryKind.prepaid_credit, left_over))
    append(session, entries)
    await record_audit(
        session,
        actor,
        "payment.record",
        "payment",
        payment.id,
        {"unit_id": data.unit_id, "amount_fen": data.amount_fen, "method": data.method},
    )
    number = await issue_receipt(session, payment)
    await session.commit()
    # Answer from what was just written; a retry reads the same back through payment_out.
    settled = [(a, by_id[a.entry_id]) for a in allocations]
    lines = [AllocationOut(a.entry_id, d.kind, d.period, d.item, a.amount_fen) for a, d in settled]
    return _payment_out(payment, number, lines, left_over, voided=False), True


async def issue_receipt(session: AsyncSession, payment: Payment) -> str:
    """Number the payment's receipt as the last write of its transaction (see :class:`Receipt`)."""
    assert payment.id is not None
    await session.flush()  # everything else first: the counter is held only from here to commit
    seq = await _number_receipt(session, payment.id, payment.estate_id, payment.received_on.year)
    return receipt_number(payment.received_on.year, seq)


def payment_entry(
    payment: Payment,
    owner_id: int | None,
    kind: EntryKind,
    fen: int,
    settles: int | None = None,
    period: str | None = None,
) -> LedgerEntry:
    return LedgerEntry(
        estate_id=payment.estate_id,
        unit_id=payment.unit_id,
        owner_id=owner_id,
        kind=kind,
        amount_fen=-fen,
        effective_date=payment.received_on,
        settles_entry_id=settles,
        period=period,
        actor=payment.cashier,
        payment_id=payment.id,
    )


async def get_payment(session: AsyncSession, payment_id: int) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} does not exist")
    return payment


async def _is_void(session: AsyncSession, payment_id: int) -> bool:
    query = select(PaymentVoid.id).where(PaymentVoid.payment_id == payment_id)
    return (await session.execute(query)).first() is not None


async def payment_out(session: AsyncSession, payment_id: int) -> PaymentOut:
    payment = await get_payment(session, payment_id)
    receipt = await session.get(Receipt, payment_id)
    assert receipt is not None and payment.id is not None
    voided = await _is_void(session, payment_id)
    settled = LedgerEntry.__table__.alias("settled")  # type: ignore[attr-defined]
    rows = await session.execute(
        select(LedgerEntry, settled.c.kind, settled.c.item)
        .outerjoin(settled, settled.c.id == LedgerEntry.settles_entry_id)
        .where(
            LedgerEntry.payment_id == payment_id,
            col(LedgerEntry.kind).in_([EntryKind.payment, EntryKind.prepaid_credit]),
        )
        .order_by(col(LedgerEntry.id))
    )
    allocations, credit = [], 0
    for entry, kind, item in rows.all():
        if entry.kind == EntryKind.prepaid_credit:
            credit += -entry.amount_fen
        else:
            allocations.append(
                AllocationOut(entry.settles_entry_id, EntryKind(kind), entry.period, item, -entry.amount_fen)
            )
    return _payment_out(payment, receipt.number, allocations, credit, voided)


def _payment_out(
    payment: Payment, number: str, allocations: list[AllocationOut], credit_fen: int, voided: bool
) -> PaymentOut:
    assert payment.id is not None
    return PaymentOut(
        id=payment.id,
        receipt_number=number,
        estate_id=payment.estate_id,
        unit_id=payment.unit_id,
        payer_name=payment.payer_name,
        amount_fen=payment.amount_fen,
        currency="CNY",
        method=payment.method,
        external_ref=payment.external_ref,
        received_on=payment.received_on,
        cashier=payment.cashier,
        allocations=allocations,
        prepaid_credit_fen=credit_fen,
        voided=voided,
    )


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


async def refund_credit(
    session: AsyncSession, actor: Principal, unit_id: int, data: RefundCreate, today: date
) -> RefundOut:
    unit = await lock_unit(session, unit_id)
    if unit is None:
        raise NotFound(f"unit {unit_id} does not exist")
    credits = await open_credits(session, unit_id)
    available = -sum(open_fen for _, open_fen in credits)
    if data.amount_fen > available:
        raise InvalidInput(f"only {available} fen of prepaid credit is held for this unit", field="amount_fen")
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
        {"amount_fen": data.amount_fen, "reason": data.reason, "method": data.method},
    )
    await session.commit()
    return RefundOut(unit_id=unit_id, refunded_fen=data.amount_fen, prepaid_credit_left_fen=available - data.amount_fen)


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


async def cash_up(session: AsyncSession, estate_id: int, day: date) -> CashUpOut:
    """The day's takings per cashier and method, checked against what the ledger holds for them."""
    payments = (
        (await session.execute(select(Payment).where(Payment.estate_id == estate_id, Payment.received_on == day)))
        .scalars()
        .all()
    )
    totals: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for p in payments:
        line = totals[(p.cashier, p.method)]
        line[0] += 1
        line[1] += p.amount_fen
    ids = [p.id for p in payments]
    ledger_total = 0
    if ids:
        ledger_total = -int(
            (
                await session.execute(
                    select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                        col(LedgerEntry.payment_id).in_(ids),
                        col(LedgerEntry.kind).in_([EntryKind.payment, EntryKind.prepaid_credit]),
                    )
                )
            ).scalar_one()
        )
    voids = (
        (
            await session.execute(
                select(Payment.amount_fen)
                .join(PaymentVoid, col(PaymentVoid.payment_id) == Payment.id)
                .where(Payment.estate_id == estate_id, PaymentVoid.voided_on == day)
            )
        )
        .scalars()
        .all()
    )
    total = sum(p.amount_fen for p in payments)
    return CashUpOut(
        estate_id=estate_id,
        day=day,
        lines=[CashUpLine(cashier, Method(method), n, fen) for (cashier, method), (n, fen) in sorted(totals.items())],
        payments=len(payments),
        total_fen=total,
        voided_payments=len(voids),
        voided_fen=sum(voids),
        ledger_payments_fen=ledger_total,
        reconciled=ledger_total == total,
    )


async def receipt_for(session: AsyncSession, payment_id: int) -> tuple[Payment, Receipt]:
    payment = await get_payment(session, payment_id)
    receipt = await session.get(Receipt, payment_id)
    assert receipt is not None
    return payment, receipt
