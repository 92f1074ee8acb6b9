"""Fapiao rows of a payment: plain functions over plain data (nothing here reads the database).

A payment is invoiced by what it paid for: one row per item it settled (the charges of an item, its
late fees, the prepaid credit it left), with the estate's tax classification code and rate, the
amount including tax (价税合计) split into the amount before tax and the tax, rounded half-up to the
fen once, on the row. A voided payment gets the same rows negated on the day of its void, marked for
a red-letter correction (红冲) of the original.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

LATE_FEE_NAME = "违约金"
PREPAID_NAME = "预收物业服务费"
BLUE, RED = "blue", "red"  # 蓝字 (the invoice), 红冲 (its red-letter correction)


@dataclass(frozen=True)
class TaxTerms:
    code: str  # 税收分类编码, 19 digits
    rate: Decimal  # VAT rate, e.g. 0.06
    category: str  # the code's short name: *物业管理服务*物业服务费


@dataclass(frozen=True)
class Part:
    """What a payment paid for: ``name`` of the item (a late fee: 违约金; credit: 预收物业服务费)."""

    name: str
    period: str | None
    amount_fen: int


@dataclass(frozen=True)
class PaidPayment:
    payment_id: int
    receipt_number: str
    received_on: date
    buyer_name: str
    unit_label: str
    amount_fen: int
    parts: tuple[Part, ...]


@dataclass(frozen=True)
class FapiaoRow:
    kind: str  # blue or red
    day: date  # the day the row belongs to: received (blue) or voided (red)
    payment_id: int
    receipt_number: str
    buyer_name: str
    unit_label: str
    goods_name: str  # *物业管理服务*物业服务费
    periods: str  # "2026-01 至 2026-03"
    tax_code: str
    tax_rate: Decimal
    amount_fen: int  # including tax (价税合计); negative on a red row
    net_fen: int  # before tax (金额)
    tax_fen: int  # 税额
    # A red row: the original payment's receipt and day, and why it was voided.
    original_receipt_number: str = ""
    original_day: date | None = None
    note: str = ""


def split_tax(gross_fen: int, rate: Decimal) -> tuple[int, int]:
    """(net, tax) of an amount including tax: tax = gross × rate ÷ (1 + rate), half-up to the fen."""
    tax = (Decimal(gross_fen) * rate / (1 + rate)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return gross_fen - int(tax), int(tax)


def _periods(periods: list[str]) -> str:
    if not periods:
        return ""
    first, last = min(periods), max(periods)
    return first if first == last else f"{first} 至 {last}"


def blue_rows(payment: PaidPayment, terms: TaxTerms) -> list[FapiaoRow]:
    """The payment's rows: one per item paid for, in the order first paid; they sum to the payment."""
    amounts: dict[str, int] = {}
    periods: dict[str, list[str]] = {}
    for part in payment.parts:
        amounts[part.name] = amounts.get(part.name, 0) + part.amount_fen
        periods.setdefault(part.name, [])
        if part.period:
            periods[part.name].append(part.period)
    rows = []
    for name, gross in amounts.items():
        if not gross:
            continue
        net, tax = split_tax(gross, terms.rate)
        rows.append(
            FapiaoRow(
                kind=BLUE,
                day=payment.received_on,
                payment_id=payment.payment_id,
                receipt_number=payment.receipt_number,
                buyer_name=payment.buyer_name,
                unit_label=payment.unit_label,
                goods_name=f"*{terms.category}*{name}",
                periods=_periods(periods[name]),
                tax_code=terms.code,
                tax_rate=terms.rate,
                amount_fen=gross,
                net_fen=net,
                tax_fen=tax,
            )
        )
    return rows


def red_rows(payment: PaidPayment, terms: TaxTerms, voided_on: date, reason: str) -> list[FapiaoRow]:
    """The red-letter correction (红冲) of a voided payment's rows: each negated exactly, referencing
    the original receipt and day."""
    return [
        FapiaoRow(
            kind=RED,
            day=voided_on,
            payment_id=row.payment_id,
            receipt_number=row.receipt_number,
            buyer_name=row.buyer_name,
            unit_label=row.unit_label,
            goods_name=row.goods_name,
            periods=row.periods,
            tax_code=row.tax_code,
            tax_rate=row.tax_rate,
            amount_fen=-row.amount_fen,
            net_fen=-row.net_fen,
            tax_fen=-row.tax_fen,
            original_receipt_number=row.receipt_number,
            original_day=row.day,
            note=f"红冲：收据 {row.receipt_number}（{row.day.isoformat()}）作废：{reason}",
        )
        for row in blue_rows(payment, terms)
    ]
