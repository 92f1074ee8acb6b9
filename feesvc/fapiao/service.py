"""The day's fapiao data of an estate: the payments received that day (blue rows) and the payments
voided that day (red-letter rows, 红冲), read in a few statements and turned into rows by
:mod:`feesvc.fapiao.rules`. Issuing the fapiao stays with the company's tax system."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import msgspec
from sqlalchemy import ColumnElement
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from feesvc.fapiao.rules import (
    BLUE,
    LATE_FEE_NAME,
    PREPAID_NAME,
    FapiaoRow,
    PaidPayment,
    Part,
    TaxTerms,
    blue_rows,
    red_rows,
)
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.models import Payment, PaymentVoid, Receipt, receipt_number
from feesvc.registry.models import Building, Estate, Owner, Unit
from feesvc.standards.models import FeeStandard

CHUNK = 1_000


class FapiaoRowOut(msgspec.Struct):
    kind: str  # blue: invoice it; red: a red-letter correction (红冲) of the original
    day: date
    payment_id: int
    receipt_number: str
    buyer_name: str
    unit: str
    goods_name: str
    periods: str
    tax_code: str
    tax_rate: str
    amount_fen: int  # including tax (价税合计)
    net_fen: int
    tax_fen: int
    original_receipt_number: str
    original_day: date | None
    note: str


class FapiaoDayOut(msgspec.Struct):
    """The day's rows; ``received_fen`` (blue rows) equals the payments received that day, and
    ``corrected_fen`` (red rows, negative) the payments voided that day."""

    estate_id: int
    day: date
    payments: int
    voids: int
    received_fen: int
    corrected_fen: int
    rows: list[FapiaoRowOut]


def terms_of(estate: Estate) -> TaxTerms:
    return TaxTerms(estate.fapiao_tax_code, estate.fapiao_tax_rate, estate.fapiao_category)


async def fapiao_rows(session: AsyncSession, estate: Estate, day: date) -> list[FapiaoRow]:
    """Blue rows of the payments received on ``day`` (receipt order), then the red rows of the
    payments voided on ``day`` (whenever they were received)."""
    received = await _payments(session, [col(Payment.estate_id) == estate.id, col(Payment.received_on) == day])
    voids = {
        payment_id: (voided_on, reason)
        for payment_id, voided_on, reason in await session.execute(
            sa_select(col(PaymentVoid.payment_id), col(PaymentVoid.voided_on), col(PaymentVoid.reason))
            .join(Payment, col(Payment.id) == PaymentVoid.payment_id)
            .where(col(Payment.estate_id) == estate.id, col(PaymentVoid.voided_on) == day)
        )
    }
    voided = await _payments(session, [col(Payment.id).in_(list(voids))]) if voids else []
    parts = await _parts(session, estate, [p[0] for p in received] + [p[0] for p in voided])
    terms = terms_of(estate)
    rows = [row for facts in received for row in blue_rows(_paid(facts, parts), terms)]
    for facts in voided:
        voided_on, reason = voids[facts[0]]
        rows += red_rows(_paid(facts, parts), terms, voided_on, reason)
    return rows


_Facts = tuple[int, str, date, str, str, int]  # id, receipt number, received on, buyer, unit, amount


def _paid(facts: _Facts, parts: dict[int, list[Part]]) -> PaidPayment:
    return PaidPayment(*facts[:6], tuple(parts.get(facts[0], [])))


async def _payments(session: AsyncSession, where: list[ColumnElement[bool]]) -> list[_Facts]:
    query = (
        sa_select(
            col(Payment.id),
            col(Receipt.year),
            col(Receipt.seq),
            col(Payment.received_on),
            col(Owner.name),
            col(Payment.payer_name),
            col(Building.name),
            col(Unit.number),
            col(Payment.amount_fen),
        )
        .join(Receipt, col(Receipt.payment_id) == Payment.id)
        .join(Unit, col(Unit.id) == Payment.unit_id)
        .join(Building, col(Building.id) == Unit.building_id)
        .outerjoin(Owner, col(Owner.id) == Payment.owner_id)
        .where(*where)
        .order_by(col(Receipt.year), col(Receipt.seq))
    )
    return [
        # The buyer is the owner whose account it paid into; a unit without an owner: the payer.
        (int(pid or 0), receipt_number(year, seq), on, owner or payer, f"{building} {number}", int(fen))
        for pid, year, seq, on, owner, payer, building, number, fen in await session.execute(query)
    ]


async def _parts(session: AsyncSession, estate: Estate, payment_ids: Sequence[int]) -> dict[int, list[Part]]:
    """What each payment paid for, from its ledger entries: the charges by their fee standard's item
    name, late fees, and the credit it left."""
    names = await _item_names(session, estate)
    entry = LedgerEntry.__table__  # type: ignore[attr-defined]
    settled = entry.alias("settled")
    parts: dict[int, list[Part]] = {}
    for start in range(0, len(payment_ids), CHUNK):
        query = (
            sa_select(
                entry.c.payment_id, entry.c.kind, entry.c.period, entry.c.amount_fen, settled.c.kind, settled.c.item
            )
            .outerjoin(settled, settled.c.id == entry.c.settles_entry_id)
            .where(
                entry.c.payment_id.in_(list(payment_ids[start : start + CHUNK])),
                entry.c.kind.in_([EntryKind.payment, EntryKind.prepaid_credit]),
            )
            .order_by(entry.c.id)
        )
        for payment_id, kind, period, amount, settled_kind, item in await session.execute(query):
            if kind == EntryKind.prepaid_credit:
                name = PREPAID_NAME
            elif settled_kind == EntryKind.late_fee:
                name = LATE_FEE_NAME
            else:
                name = names.get(item or "", item or "其他费用")
            parts.setdefault(payment_id, []).append(Part(name, period, -int(amount)))
    return parts


async def _item_names(session: AsyncSession, estate: Estate) -> dict[str, str]:
    """Each item's name as its latest fee standard of the estate calls it (物业服务费)."""
    query = (
        sa_select(col(FeeStandard.item), col(FeeStandard.item_name))
        .where(col(FeeStandard.estate_id) == estate.id)
        .order_by(col(FeeStandard.effective_from))
    )
    return {item: name for item, name in await session.execute(query)}


def day_out(estate: Estate, day: date, rows: list[FapiaoRow]) -> FapiaoDayOut:
    assert estate.id is not None
    return FapiaoDayOut(
        estate_id=estate.id,
        day=day,
        payments=len({r.payment_id for r in rows if r.kind == BLUE}),
        voids=len({r.payment_id for r in rows if r.kind != BLUE}),
        received_fen=sum(r.amount_fen for r in rows if r.kind == BLUE),
        corrected_fen=sum(r.amount_fen for r in rows if r.kind != BLUE),
        rows=[
            FapiaoRowOut(
                kind=r.kind,
                day=r.day,
                payment_id=r.payment_id,
                receipt_number=r.receipt_number,
                buyer_name=r.buyer_name,
                unit=r.unit_label,
                goods_name=r.goods_name,
                periods=r.periods,
                tax_code=r.tax_code,
                tax_rate=str(r.tax_rate),
                amount_fen=r.amount_fen,
                net_fen=r.net_fen,
                tax_fen=r.tax_fen,
                original_receipt_number=r.original_receipt_number,
                original_day=r.original_day,
                note=r.note,
            )
            for r in rows
        ],
    )
