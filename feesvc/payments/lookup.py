"""Reading payments back (the answer a retry gets, a receipt's payment) and whose account of a
unit a payment may be for.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from sqlalchemy import bindparam, exists
from sqlalchemy import select as sa_select  # rows wider than sqlmodel's typed select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.errors import NotFound
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.models import Payment, PaymentVoid, Receipt, receipt_number
from feesvc.payments.schemas import AllocationOut, PaymentOut
from feesvc.registry.models import Ownership
from feesvc.registry.service import ownership_covering

_PAYMENT = Payment.__table__  # type: ignore[attr-defined]
_RECEIPT = Receipt.__table__  # type: ignore[attr-defined]
_ENTRY = LedgerEntry.__table__  # type: ignore[attr-defined]


async def current_owner(session: AsyncSession, unit_id: int, on: date) -> int | None:
    query = select(Ownership.owner_id).where(Ownership.unit_id == unit_id, ownership_covering(on))
    return (await session.execute(query.limit(1))).scalar_one_or_none()


async def held_unit(session: AsyncSession, unit_id: int, owner_id: int, on: date) -> bool:
    """Whether ``owner_id`` owns or owned the unit by ``on``: whose account of it may be paid into."""
    query = select(Ownership.id).where(
        Ownership.unit_id == unit_id, Ownership.owner_id == owner_id, col(Ownership.starts_on) <= on
    )
    return (await session.execute(query.limit(1))).first() is not None


async def get_payment(session: AsyncSession, payment_id: int) -> Payment:
    payment = await session.get(Payment, payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} does not exist")
    return payment


_VOIDED = exists().where(PaymentVoid.__table__.c.payment_id == _PAYMENT.c.id)  # type: ignore[attr-defined]
_PAYMENTS_AND_RECEIPTS = (
    sa_select(_PAYMENT, _RECEIPT.c.year, _RECEIPT.c.seq, _VOIDED)
    .join(_RECEIPT, _RECEIPT.c.payment_id == _PAYMENT.c.id)
    .where(_PAYMENT.c.id.in_(bindparam("payment_ids", expanding=True)))
)
_SETTLED = _ENTRY.alias("settled")
_SPLITS = (
    sa_select(
        _ENTRY.c.payment_id,
        _ENTRY.c.kind,
        _ENTRY.c.settles_entry_id,
        _ENTRY.c.period,
        _ENTRY.c.amount_fen,
        _SETTLED.c.kind,
        _SETTLED.c.item,
    )
    .outerjoin(_SETTLED, _SETTLED.c.id == _ENTRY.c.settles_entry_id)
    .where(
        _ENTRY.c.payment_id.in_(bindparam("payment_ids", expanding=True)),
        _ENTRY.c.kind.in_([EntryKind.payment, EntryKind.prepaid_credit]),
    )
    .order_by(_ENTRY.c.id)
)


async def payment_out(session: AsyncSession, payment_id: int) -> PaymentOut:
    found = await payments_out(session, [payment_id])
    if not found:
        raise NotFound(f"payment {payment_id} does not exist")
    return found[0]


async def payments_out(session: AsyncSession, payment_ids: list[int]) -> list[PaymentOut]:
    """The payments with their receipts and splits, in the order of ``payment_ids`` (those that
    exist): two queries for a page of them, not two per payment."""
    if not payment_ids:
        return []
    params = {"payment_ids": payment_ids}
    rows = {row._mapping["id"]: row for row in await session.execute(_PAYMENTS_AND_RECEIPTS, params)}
    allocations: dict[int, list[AllocationOut]] = {payment_id: [] for payment_id in rows}
    credit = dict.fromkeys(rows, 0)
    for payment_id, kind, settles, period, amount, settled_kind, item in await session.execute(_SPLITS, params):
        if kind == EntryKind.prepaid_credit:
            credit[payment_id] += -amount
        else:
            allocations[payment_id].append(AllocationOut(settles, EntryKind(settled_kind), period, item, -amount))
    found = []
    for payment_id in payment_ids:
        row = rows.get(payment_id)
        if row is None:
            continue
        payment = row._mapping
        number = receipt_number(payment["year"], payment["seq"])
        found.append(
            build_payment_out(payment_id, payment, number, allocations[payment_id], credit[payment_id], bool(row[-1]))
        )
    return found


def build_payment_out(
    payment_id: int,
    payment: Mapping[Any, Any],
    number: str,
    allocations: list[AllocationOut],
    credit_fen: int,
    voided: bool,
) -> PaymentOut:
    return PaymentOut(
        id=payment_id,
        receipt_number=number,
        estate_id=payment["estate_id"],
        unit_id=payment["unit_id"],
        owner_id=payment["owner_id"],
        payer_name=payment["payer_name"],
        amount_fen=payment["amount_fen"],
        currency="CNY",
        method=payment["method"],
        external_ref=payment["external_ref"],
        received_on=payment["received_on"],
        cashier=payment["cashier"],
        allocations=allocations,
        prepaid_credit_fen=credit_fen,
        voided=voided,
    )


async def receipt_for(session: AsyncSession, payment_id: int) -> tuple[Payment, Receipt]:
    payment = await get_payment(session, payment_id)
    receipt = await session.get(Receipt, payment_id)
    assert receipt is not None
    return payment, receipt
