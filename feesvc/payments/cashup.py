"""The daily cash-up (日结) of an estate's desk.

For one business day, per cashier and payment method: what was received (payments received that
day), what was voided (payments voided that day, under the cashier and method that received them;
a void of an earlier day's payment counts on the day of the void, when the money goes back, and is
listed with the day it was received) and the net. A day's cash-up is reproducible: a later void
changes the cash-up of the void's day, not the one already signed for the day the payment was
received.

Each figure is checked against the ledger: a received payment against its own payment and
prepaid-credit entries, a void against the reversals of those entries posted on the day. A
payment whose entries do not account for its amount is named as a mismatch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any, Final, Literal

from sqlalchemy import and_, bindparam, func
from sqlalchemy import select as sa_select  # plain rows over aliased tables
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.models import Method, Payment, PaymentVoid, Receipt, receipt_number
from feesvc.payments.receipt import cashier_name
from feesvc.payments.schemas import CashUpLine, CashUpMismatch, CashUpOut, CashUpVoid

__all__ = ["cash_up"]

_PAYMENT: Final = Payment.__table__  # type: ignore[attr-defined]
_RECEIPT: Final = Receipt.__table__  # type: ignore[attr-defined]
_VOID: Final = PaymentVoid.__table__  # type: ignore[attr-defined]
_ENTRY: Final = LedgerEntry.__table__  # type: ignore[attr-defined]
_ORIGINAL: Final = _ENTRY.alias("original")

# A payment's money in the ledger: the splits that settle debts and the credit it left.
_MONEY_KINDS: Final = (EntryKind.payment, EntryKind.prepaid_credit)

# What the ledger holds for a payment: its money entries, as a positive amount.
_LEDGER_RECEIVED = (
    sa_select(func.coalesce(-func.sum(_ENTRY.c.amount_fen), 0))
    .where(_ENTRY.c.payment_id == _PAYMENT.c.id, _ENTRY.c.kind.in_(_MONEY_KINDS))
    .scalar_subquery()
    .label("ledger_fen")
)

# What the ledger reversed of a payment's money on the day it was voided.
_LEDGER_VOIDED = (
    sa_select(func.coalesce(func.sum(_ENTRY.c.amount_fen), 0))
    .join(_ORIGINAL, _ORIGINAL.c.id == _ENTRY.c.reverses_entry_id)
    .where(
        _ENTRY.c.payment_id == _PAYMENT.c.id,
        _ENTRY.c.kind == EntryKind.reversal,
        _ENTRY.c.effective_date == _VOID.c.voided_on,
        _ORIGINAL.c.kind.in_(_MONEY_KINDS),
    )
    .scalar_subquery()
    .label("ledger_fen")
)

_RECEIVED = (
    sa_select(
        _PAYMENT.c.id,
        _RECEIPT.c.year,
        _RECEIPT.c.seq,
        _PAYMENT.c.cashier,
        _PAYMENT.c.method,
        _PAYMENT.c.amount_fen,
        _LEDGER_RECEIVED,
    )
    .join(_RECEIPT, _RECEIPT.c.payment_id == _PAYMENT.c.id)
    .where(_PAYMENT.c.estate_id == bindparam("estate_id"), _PAYMENT.c.received_on == bindparam("day"))
    .order_by(_RECEIPT.c.year, _RECEIPT.c.seq)
)

_VOIDED = (
    sa_select(
        _PAYMENT.c.id,
        _RECEIPT.c.year,
        _RECEIPT.c.seq,
        _PAYMENT.c.cashier,
        _PAYMENT.c.method,
        _PAYMENT.c.amount_fen,
        _LEDGER_VOIDED,
        _PAYMENT.c.received_on,
        _VOID.c.reason,
        _VOID.c.actor,
    )
    .join(_PAYMENT, _PAYMENT.c.id == _VOID.c.payment_id)
    .join(_RECEIPT, _RECEIPT.c.payment_id == _PAYMENT.c.id)
    .where(and_(_PAYMENT.c.estate_id == bindparam("estate_id"), _VOID.c.voided_on == bindparam("day")))
    .order_by(_PAYMENT.c.received_on, _RECEIPT.c.year, _RECEIPT.c.seq)
)


def _lines(received: Iterable[Any], voided: Iterable[Any]) -> list[CashUpLine]:
    # Per cashier (by name: a cashier's new token is still the same person) and method:
    # [received count, received fen, voided count, voided fen].
    totals: dict[tuple[str, Method], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for row in received:
        line = totals[(cashier_name(row.cashier), Method(row.method))]
        line[0] += 1
        line[1] += row.amount_fen
    for row in voided:
        line = totals[(cashier_name(row.cashier), Method(row.method))]
        line[2] += 1
        line[3] += row.amount_fen
    return [
        CashUpLine(cashier, method, n_in, fen_in, n_void, fen_void, fen_in - fen_void)
        for (cashier, method), (n_in, fen_in, n_void, fen_void) in sorted(totals.items())
    ]


def _mismatches(rows: Iterable[Any], figure: Literal["received", "voided"]) -> list[CashUpMismatch]:
    return [
        CashUpMismatch(row.id, receipt_number(row.year, row.seq), figure, row.amount_fen, ledger)
        for row in rows
        if (ledger := int(row.ledger_fen)) != row.amount_fen
    ]


async def cash_up(session: AsyncSession, estate_id: int, day: date) -> CashUpOut:
    """The cash-up of ``day``: received, voided and net per cashier and method, reconciled with the ledger."""
    params = {"estate_id": estate_id, "day": day}
    received = (await session.execute(_RECEIVED, params)).all()
    voided = (await session.execute(_VOIDED, params)).all()
    mismatches = [*_mismatches(received, "received"), *_mismatches(voided, "voided")]
    received_fen = sum(row.amount_fen for row in received)
    voided_fen = sum(row.amount_fen for row in voided)
    return CashUpOut(
        estate_id=estate_id,
        day=day,
        lines=_lines(received, voided),
        voids=[
            CashUpVoid(
                payment_id=row.id,
                receipt_number=receipt_number(row.year, row.seq),
                received_on=row.received_on,
                cashier=cashier_name(row.cashier),
                method=Method(row.method),
                amount_fen=row.amount_fen,
                reason=row.reason,
                voided_by=cashier_name(row.actor),
            )
            for row in voided
        ],
        received_payments=len(received),
        received_fen=received_fen,
        voided_payments=len(voided),
        voided_fen=voided_fen,
        net_fen=received_fen - voided_fen,
        ledger_received_fen=sum(int(row.ledger_fen) for row in received),
        ledger_voided_fen=sum(int(row.ledger_fen) for row in voided),
        reconciled=not mismatches,
        mismatches=mismatches,
    )
