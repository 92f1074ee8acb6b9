"""The exports: each builds its figures through the service that answers the same question in JSON
(the reports, the cash-up) or one read of the ledger, and lays them out as typed worksheets."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, or_
from sqlalchemy import select as sa_select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col, select

from feesvc.errors import DomainError, FieldError
from feesvc.exports.sheet import Column, Kind, Table, english, workbook_bytes
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.cashup import cash_up
from feesvc.payments.schemas import CashUpOut
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit
from feesvc.reports.aging import aging
from feesvc.reports.collection import collection_rate
from feesvc.reports.schemas import AgingReport, AgingRow, CollectionRate

# Longest range one ledger export covers: a year of a large estate is already millions of rows.
MAX_LEDGER_DAYS = 366


class ExportInputError(DomainError):
    status_code = 400
    title = "Invalid input"


KIND_LABELS: dict[EntryKind, tuple[str, str]] = {
    EntryKind.charge: ("应收费用", "Charge"),
    EntryKind.late_fee: ("违约金", "Late fee"),
    EntryKind.payment: ("缴费", "Payment"),
    EntryKind.prepaid_credit: ("预存款", "Prepaid credit"),
    EntryKind.credit_applied: ("预存抵扣", "Credit applied"),
    EntryKind.discount: ("预缴优惠", "Prepay discount"),
    EntryKind.waiver: ("减免", "Waiver"),
    EntryKind.reversal: ("冲正", "Reversal"),
    EntryKind.refund: ("退款", "Refund"),
    EntryKind.adjustment: ("调整", "Adjustment"),
}

METHOD_LABELS = {
    "cash": ("现金", "Cash"),
    "wechat": ("微信", "WeChat"),
    "alipay": ("支付宝", "Alipay"),
    "bank_transfer": ("银行转账", "Bank transfer"),
    "card": ("银行卡", "Card"),
}


def _label(labels: dict[Any, tuple[str, str]], key: Any, en: bool) -> str:
    zh, eng = labels.get(key, (str(key), str(key)))
    return eng if en else zh


def filename(kind: str, estate: Estate, *parts: object) -> str:
    return "-".join([kind, estate.code, *(str(p) for p in parts)]) + ".xlsx"


# --------------------------------------------------------------------------------------------
# Ledger
# --------------------------------------------------------------------------------------------

LEDGER_COLUMNS = (
    Column("记账日期", "Date", Kind.date, 12),
    Column("楼栋", "Building", width=10),
    Column("房号", "Unit", width=8),
    Column("业主", "Owner", width=12),
    Column("类型", "Kind", width=10),
    Column("所属期间", "Period", width=9),
    Column("收费项目", "Item", width=12),
    Column("应缴日期", "Due date", Kind.date, 12),
    Column("金额", "Amount", Kind.money, 12),
    Column("原因", "Reason", width=24),
    Column("经办人", "By", width=14),
    Column("分录号", "Entry", Kind.text, 10),
)


def check_ledger_range(first: date, last: date) -> None:
    """The range names both its ends: which one to move is the caller's choice."""
    if last < first:
        raise ExportInputError(
            "the range ends before it starts",
            errors=[
                FieldError("from", "send a date on or before to"),
                FieldError("to", "send a date on or after from"),
            ],
        )
    if (last - first).days >= MAX_LEDGER_DAYS:
        message = f"send a range of at most {MAX_LEDGER_DAYS} days (export a year at a time)"
        raise ExportInputError(
            f"one export covers at most {MAX_LEDGER_DAYS} days",
            errors=[FieldError("from", message), FieldError("to", message)],
        )


async def ledger_workbook(session: AsyncSession, estate: Estate, first: date, last: date) -> bytes:
    """Every ledger entry of the estate dated ``first`` to ``last``, in the order they were posted,
    with the amount summed: positive is owed, negative is what reduced it (DOMAIN "Ledger rules")."""
    check_ledger_range(first, last)
    en = english(estate.locale)
    query = (
        sa_select(
            col(LedgerEntry.effective_date),
            col(Building.name),
            col(Unit.number),
            col(Owner.name),
            col(LedgerEntry.kind),
            col(LedgerEntry.period),
            col(LedgerEntry.item),
            col(LedgerEntry.due_date),
            col(LedgerEntry.amount_fen),
            col(LedgerEntry.reason),
            col(LedgerEntry.actor),
            col(LedgerEntry.id),
        )
        .join(Unit, col(Unit.id) == LedgerEntry.unit_id)
        .join(Building, col(Building.id) == Unit.building_id)
        .outerjoin(Owner, col(Owner.id) == LedgerEntry.owner_id)
        .where(col(LedgerEntry.estate_id) == estate.id, col(LedgerEntry.effective_date).between(first, last))
        .order_by(col(LedgerEntry.effective_date), col(LedgerEntry.id))
    )
    rows = [
        (
            day,
            building,
            unit,
            owner or "",
            _label(KIND_LABELS, kind, en),
            period or "",
            item or "",
            due,
            fen,
            reason or "",
            actor,
            str(entry_id),
        )
        for day, building, unit, owner, kind, period, item, due, fen, reason, actor, entry_id in (
            await session.execute(query)
        ).all()
    ]
    caption = [
        f"{estate.name} — ledger {first.isoformat()} to {last.isoformat()}"
        if en
        else f"{estate.name} 收费台账 {first.isoformat()} 至 {last.isoformat()}"
    ]
    return workbook_bytes([Table("台账", "Ledger", LEDGER_COLUMNS, rows, caption=caption)], estate.locale)


# --------------------------------------------------------------------------------------------
# Aging
# --------------------------------------------------------------------------------------------


def _aging_columns(report: AgingReport) -> list[Column]:
    columns = [
        Column("楼栋", "Building", width=12),
        Column("总户数", "Units", Kind.number, 8),
        Column("欠费户数", "Units overdue", Kind.number, 10),
        Column("欠费合计", "Overdue", Kind.money, 14),
    ]
    for bucket in report.estate.buckets:
        columns.append(Column(f"逾期{bucket.label}天", f"{bucket.label} days", Kind.money, 14))
    columns += [
        Column("现业主欠费", "Current owners", Kind.money, 14),
        Column("原业主欠费", "Former owners", Kind.money, 14),
    ]
    return columns


def _aging_line(row: AgingRow) -> list[Any]:
    return [
        row.name,
        row.units_total,
        row.units_overdue,
        row.overdue_fen,
        *(b.overdue_fen for b in row.buckets),
        row.current_owners.overdue_fen,
        row.former_owners.overdue_fen,
    ]


def aging_workbook(report: AgingReport, estate: Estate) -> bytes:
    """The aging report by building, the estate's figures as the sums row (the buildings add up to it)."""
    en = english(estate.locale)
    caption = [
        f"{report.estate_name} — overdue by age as of {report.as_of.isoformat()}"
        if en
        else f"{report.estate_name} 欠费账龄分析 截至 {report.as_of.isoformat()}"
    ]
    rows = [_aging_line(b) for b in report.buildings]
    return workbook_bytes([Table("账龄分析", "Aging", _aging_columns(report), rows, caption=caption)], estate.locale)


# --------------------------------------------------------------------------------------------
# Collection rate
# --------------------------------------------------------------------------------------------

FIGURE_COLUMNS = (
    Column("项目", "Figure", width=28),
    Column("金额", "Amount", Kind.money, 14),
    Column("户数", "Units", Kind.number, 8),
    Column("比率", "Rate", Kind.rate, 10),
)


def _rate(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def collection_workbook(report: CollectionRate, estate: Estate) -> bytes:
    """收缴率 of one period as one figure a line: billed = collected + discount + waived + outstanding,
    and old arrears (清欠) apart. No sums row: the lines are parts of one another, not a list."""
    en = english(estate.locale)
    o = report.old_arrears
    zh_lines: list[tuple[str, str, int | None, int | None, str | None]] = [
        ("本期应收（开单）", "Charged", report.charged_fen, None, None),
        ("更正", "Corrections", report.corrections_fen, None, None),
        ("本期应收", "Billed", report.billed_fen, report.units_billed, None),
        ("本期实收", "Collected", report.collected_fen, report.units_settled, None),
        ("预缴优惠", "Prepay discount", report.discount_fen, None, None),
        ("减免", "Waived", report.waived_fen, None, None),
        ("未收", "Outstanding", report.outstanding_fen, None, None),
        ("其中原业主未收", "of which former owners", report.outstanding_former_owners_fen, None, None),
        ("收缴率（按金额）", "Rate by amount", None, None, report.rate_by_amount),
        ("收缴率（按户数）", "Rate by households", None, None, report.rate_by_households),
        ("清欠：期初欠费", "Old arrears open at start", o.open_at_start_fen, o.units_at_start, None),
        ("清欠：收回", "Old arrears collected", o.collected_fen, o.units_cleared, o.rate),
        ("清欠：优惠与减免", "Old arrears relieved", o.relieved_fen, None, None),
        ("清欠：更正", "Old arrears corrected", o.corrected_fen, None, None),
        ("清欠：期末欠费", "Old arrears open at end", o.open_at_end_fen, None, None),
        (
            "清欠：原业主期初欠费",
            "Former owners open at start",
            o.former_owners_open_at_start_fen,
            o.former_owners_accounts_at_start,
            None,
        ),
        ("清欠：原业主收回", "Former owners collected", o.former_owners_collected_fen, None, None),
        ("清欠：原业主期末欠费", "Former owners open at end", o.former_owners_open_at_end_fen, None, None),
    ]
    rows = [[eng if en else zh, fen, units, _rate(r)] for zh, eng, fen, units, r in zh_lines]
    caption = [
        f"{estate.name} — collection rate {report.period} as of {report.as_of.isoformat()}"
        if en
        else f"{estate.name} {report.period_label}收缴率 截至 {report.as_of.isoformat()}"
    ]
    table = Table("收缴率", "Collection rate", FIGURE_COLUMNS, rows, sums=False, caption=caption)
    return workbook_bytes([table], estate.locale)


# --------------------------------------------------------------------------------------------
# Cash-up
# --------------------------------------------------------------------------------------------

CASHUP_COLUMNS = (
    Column("收费员", "Cashier", width=14),
    Column("收款方式", "Method", width=10),
    Column("收款笔数", "Payments", Kind.number, 8),
    Column("收款", "Received", Kind.money, 12),
    Column("作废笔数", "Voided payments", Kind.number, 8),
    Column("作废", "Voided", Kind.money, 12),
    Column("净额", "Net", Kind.money, 12),
)

VOID_COLUMNS = (
    Column("收据号", "Receipt", width=16),
    Column("收款日期", "Received on", Kind.date, 12),
    Column("收费员", "Cashier", width=14),
    Column("收款方式", "Method", width=10),
    Column("金额", "Amount", Kind.money, 12),
    Column("作废原因", "Reason", width=24),
    Column("作废人", "Voided by", width=14),
)


def cashup_workbook(out: CashUpOut, estate: Estate) -> bytes:
    """The day's cash-up (日结): per cashier and method, with the voids of the day on a second sheet."""
    en = english(estate.locale)
    lines = [
        [
            line.cashier,
            _label(METHOD_LABELS, line.method, en),
            line.received_payments,
            line.received_fen,
            line.voided_payments,
            line.voided_fen,
            line.net_fen,
        ]
        for line in out.lines
    ]
    voids = [
        [
            v.receipt_number,
            v.received_on,
            v.cashier,
            _label(METHOD_LABELS, v.method, en),
            v.amount_fen,
            v.reason,
            v.voided_by,
        ]
        for v in out.voids
    ]
    state = (
        ("reconciled with the ledger" if out.reconciled else "NOT reconciled with the ledger")
        if en
        else ("与台账核对一致" if out.reconciled else "与台账核对不一致")
    )
    caption = [
        f"{estate.name} — cash-up {out.day.isoformat()}, {state}"
        if en
        else f"{estate.name} {out.day.isoformat()} 日结，{state}"
    ]
    return workbook_bytes(
        [
            Table("日结", "Cash-up", CASHUP_COLUMNS, lines, caption=caption),
            Table(
                "作废",
                "Voids",
                VOID_COLUMNS,
                voids,
                caption=[f"Payments voided on {out.day.isoformat()}" if en else f"{out.day.isoformat()} 作废的收款"],
            ),
        ],
        estate.locale,
    )


async def cashup_export(session: AsyncSession, estate: Estate, day: date) -> bytes:
    assert estate.id is not None
    return cashup_workbook(await cash_up(session, estate.id, day), estate)


# --------------------------------------------------------------------------------------------
# Prepaid credit
# --------------------------------------------------------------------------------------------

CREDIT_COLUMNS = (
    Column("楼栋", "Building", width=10),
    Column("房号", "Unit", width=8),
    Column("业主", "Owner", width=14),
    Column("预存余额", "Prepaid credit", Kind.money, 14),
)


async def prepaid_credit(session: AsyncSession, estate_id: int, as_of: date) -> list[tuple[str, str, str, int]]:
    """Per unit, the prepaid credit held and not yet used at the end of ``as_of`` (positive fen),
    with the owner on that day; units holding none are left out."""
    settling = aliased(LedgerEntry)
    used = (
        select(func.coalesce(func.sum(settling.amount_fen), 0))
        .where(col(settling.settles_entry_id) == LedgerEntry.id, settling.effective_date <= as_of)
        .correlate(LedgerEntry)
        .scalar_subquery()
    )
    held = (
        sa_select(col(LedgerEntry.unit_id), (-func.sum(col(LedgerEntry.amount_fen) + used)).label("fen"))
        .where(
            col(LedgerEntry.estate_id) == estate_id,
            col(LedgerEntry.kind) == EntryKind.prepaid_credit,
            col(LedgerEntry.effective_date) <= as_of,
        )
        .group_by(col(LedgerEntry.unit_id))
        .subquery()
    )
    owner_on_day = and_(
        col(Ownership.unit_id) == Unit.id,
        col(Ownership.starts_on) <= as_of,
        or_(col(Ownership.ends_on).is_(None), col(Ownership.ends_on) >= as_of),
    )
    query = (
        sa_select(col(Building.name), col(Unit.number), col(Owner.name), held.c.fen)
        .select_from(held)
        .join(Unit, col(Unit.id) == held.c.unit_id)
        .join(Building, col(Building.id) == Unit.building_id)
        .outerjoin(Ownership, owner_on_day)
        .outerjoin(Owner, col(Owner.id) == Ownership.owner_id)
        .where(held.c.fen != 0)
        .order_by(col(Building.name), col(Unit.number))
    )
    return [(b, u, o or "", int(fen)) for b, u, o, fen in (await session.execute(query)).all()]


async def credit_workbook(session: AsyncSession, estate: Estate, as_of: date) -> bytes:
    assert estate.id is not None
    en = english(estate.locale)
    rows = await prepaid_credit(session, estate.id, as_of)
    caption = [
        f"{estate.name} — prepaid credit held at the end of {as_of.isoformat()}"
        if en
        else f"{estate.name} 预存款余额 截至 {as_of.isoformat()}"
    ]
    return workbook_bytes([Table("预存款", "Prepaid credit", CREDIT_COLUMNS, rows, caption=caption)], estate.locale)


async def aging_export(session: AsyncSession, estate: Estate, as_of: date) -> bytes:
    return aging_workbook(await aging(session, estate, as_of), estate)


async def collection_export(session: AsyncSession, estate: Estate, period: str, as_of: date) -> bytes:
    return collection_workbook(await collection_rate(session, estate, period, as_of), estate)
