"""The printed receipt (收款收据) of a payment: ``letters/receipt.html`` filled from the ledger.

``receipt_context`` gathers everything the receipt shows into plain dicts, lists, strings, ints and
dates (no ORM objects reach the template); ``receipt_pdf`` renders it. A voided payment keeps its
receipt and number and is printed with a 作废 mark.

The lines say what the payment settled per period and item, each period's late fees summed on one
line (the accrual posts a late fee per charge per run, and corrections, so a payment over long
arrears settles hundreds of them), then any prepaid credit it left: an ordinary payment fits one
A5 page, and only a long list (years of arrears) continues on numbered pages.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import anyio.to_thread
from sqlalchemy import and_, bindparam, case, func
from sqlalchemy import select as sa_select  # plain rows from aliased tables
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.documents.render import render_pdf
from feesvc.formatting import normalize_locale
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.lookup import payment_out
from feesvc.payments.models import Method, PaymentVoid
from feesvc.payments.schemas import AllocationOut, PaymentOut
from feesvc.registry.masking import WHOLE_NAMES, Masking
from feesvc.registry.models import Building, Estate, Owner, Ownership, Unit
from feesvc.registry.service import ownership_covering
from feesvc.rules.prepay import refund_terms

__all__ = [
    "METHOD_NAMES",
    "cashier_name",
    "receipt_context",
    "receipt_file",
    "receipt_filename",
    "receipt_pdf",
    "script_of",
]

TEMPLATE: Final = "receipt.html"

# Every word the receipt prints, per script. zh_TW and zh_HK share the traditional set.
_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "title": "收款收据",
        "phone": "服务电话",
        "number": "No.",
        "received_on": "收款日期",
        "unit": "房号",
        "payer": "交款人",
        "item": "收费项目",
        "period": "所属期间",
        "amount": "金额",
        "prepaid": "预存物业费",
        "total": "合计",
        "capitals": "合计人民币（大写）",
        "method": "付款方式",
        "external_ref": "交易单号",
        "cashier": "收款人",
        "seal": "收款单位（盖章）",
        "seal_hint": "财务专用章",
        "void": "作废",
        "voided_on": "本收据已于{date}作废，原因：{reason}",
        "range_sep": "至",
        "prepay_note": "预存款项将自动抵扣以后各期费用。" + refund_terms("zh_CN"),
        "printed_note": "本收据由系统打印，涂改无效。",
        "page_before": "第 ",
        "page_middle": " 页 共 ",
        "page_after": " 页",
        "continued": "（续）",
    },
    "zh_Hant": {
        "title": "收款收據",
        "phone": "服務電話",
        "number": "No.",
        "received_on": "收款日期",
        "unit": "房號",
        "payer": "交款人",
        "item": "收費項目",
        "period": "所屬期間",
        "amount": "金額",
        "prepaid": "預存物業費",
        "total": "合計",
        "capitals": "合計人民幣（大寫）",
        "method": "付款方式",
        "external_ref": "交易單號",
        "cashier": "收款人",
        "seal": "收款單位（蓋章）",
        "seal_hint": "財務專用章",
        "void": "作廢",
        "voided_on": "本收據已於{date}作廢，原因：{reason}",
        "range_sep": "至",
        "prepay_note": "預存款項將自動抵扣以後各期費用。" + refund_terms("zh_TW"),
        "printed_note": "本收據由系統列印，塗改無效。",
        "page_before": "第 ",
        "page_middle": " 頁 共 ",
        "page_after": " 頁",
        "continued": "（續）",
    },
    "en": {
        "title": "Receipt",
        "phone": "Service phone",
        "number": "No.",
        "received_on": "Date received",
        "unit": "Unit",
        "payer": "Paid by",
        "item": "Item",
        "period": "Period",
        "amount": "Amount",
        "prepaid": "Prepaid property fee",
        "total": "Total",
        "capitals": "Total in words (大写)",
        "method": "Payment method",
        "external_ref": "Reference",
        "cashier": "Cashier",
        "seal": "Received by (company seal)",
        "seal_hint": "Seal",
        "void": "VOID",
        "voided_on": "This receipt was voided on {date}. Reason: {reason}",
        "range_sep": " – ",
        "prepay_note": "Prepaid credit is applied automatically to later charges. " + refund_terms("en"),
        "printed_note": "Printed by the system; not valid if altered.",
        "page_before": "Page ",
        "page_middle": " of ",
        "page_after": "",
        "continued": " (continued)",
    },
}

METHOD_NAMES: Final[dict[str, dict[Method, str]]] = {
    "zh_Hans": {
        Method.cash: "现金",
        Method.wechat: "微信",
        Method.alipay: "支付宝",
        Method.bank_transfer: "银行转账",
        Method.card: "银行卡",
    },
    "zh_Hant": {
        Method.cash: "現金",
        Method.wechat: "微信",
        Method.alipay: "支付寶",
        Method.bank_transfer: "銀行轉帳",
        Method.card: "銀行卡",
    },
    "en": {
        Method.cash: "Cash",
        Method.wechat: "WeChat Pay",
        Method.alipay: "Alipay",
        Method.bank_transfer: "Bank transfer",
        Method.card: "Bank card",
    },
}

# Names for charges whose fee standard left no item_name in the entry's detail.
_ITEM_NAMES: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {"service_fee": "物业服务费", "parking": "车位管理费", "garbage": "垃圾处理费", "late_fee": "违约金"},
    "zh_Hant": {"service_fee": "物業服務費", "parking": "車位管理費", "garbage": "垃圾處理費", "late_fee": "違約金"},
    "en": {
        "service_fee": "Property service fee",
        "parking": "Parking fee",
        "garbage": "Refuse fee",
        "late_fee": "Late fee",
    },
}

_OTHER_ITEM: Final[dict[str, str]] = {"zh_Hans": "其他费用", "zh_Hant": "其他費用", "en": "Other charge"}


def script_of(locale: str) -> str:
    """Which word set a locale prints: zh_Hans, zh_Hant (zh_TW, zh_HK) or en."""
    loc = normalize_locale(locale)
    if loc == "en":
        return "en"
    return "zh_Hant" if loc in ("zh_TW", "zh_HK") else "zh_Hans"


def cashier_name(label: str) -> str:
    """Actor labels read "cashier:王芳#12" (role:name#token); the receipt and the cash-up show the name."""
    name = label.split(":", 1)[-1]
    head, sep, tail = name.rpartition("#")
    return head if sep and tail.isdigit() else name


def _end_period(period: str, months: int) -> str:
    year, month = map(int, period.split("-"))
    index = year * 12 + month - 1 + months - 1
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _item_name(allocation: AllocationOut, item_name: str | None, script: str) -> str:
    """The printed name of what an allocation settled: the fee standard's own name for its item
    (``item_name``, when the charge's detail has one), else the item code's usual name."""
    names = _ITEM_NAMES[script]
    # A late fee carries its charge's item code (service_fee), so its kind decides the name.
    if allocation.kind == EntryKind.late_fee:
        return names["late_fee"]
    if item_name:
        return item_name
    return names.get(allocation.item or "", allocation.item or _OTHER_ITEM[script])


@dataclass
class _Line:
    """One printed line: what the payment settled of one item in one period (or its late fees)."""

    name: str
    period: str | None
    period_end: str | None
    amount_fen: int = 0

    def printed(self) -> dict[str, Any]:
        return {"name": self.name, "period": self.period, "period_end": self.period_end, "amount_fen": self.amount_fen}


@dataclass(frozen=True)
class _Settled:
    """What the receipt needs of an entry the payment settled: the months it covers (a late fee:
    its charge's) and, for a charge, the fee standard's item name."""

    months: int
    item_name: str | None = None


def _period_end(period: str | None, months: int) -> str | None:
    # A quarterly or yearly charge covers a range of months: print its last month too.
    return _end_period(period, months) if period and months > 1 else None


def _lines(out: PaymentOut, settled: dict[int, _Settled], script: str) -> list[dict[str, Any]]:
    """The payment's allocations as printed lines: per period, each item's charges summed, then the
    period's late fees summed into one line (an accrual run posts one late fee per charge per run,
    and later runs may post negative corrections, so they are added up, never listed); then any
    prepaid credit it left."""
    lines: dict[tuple[str, bool, str, str], _Line] = {}
    for allocation in out.allocations:
        info = settled.get(allocation.entry_id, _Settled(1))
        late = allocation.kind == EntryKind.late_fee
        name = _ITEM_NAMES[script]["late_fee"] if late else _item_name(allocation, info.item_name, script)
        period_end = _period_end(allocation.period, info.months)
        # Late fees of one period are one line whatever their charges' items; a charge's name and
        # range together say what it was.
        key = (allocation.period or "", late, "" if late else name, "" if late else period_end or "")
        line = lines.setdefault(key, _Line(name, allocation.period, period_end))
        line.amount_fen += allocation.amount_fen
        if late and period_end and (line.period_end is None or period_end > line.period_end):
            line.period_end = period_end
    # Oldest period first; in each period its charges in the order they were settled, then its late fees.
    ordered = sorted(lines.items(), key=lambda kv: (kv[0][0] == "", kv[0][0], kv[0][1]))
    printed = [line.printed() for _, line in ordered]
    if out.prepaid_credit_fen:
        # Money beyond what was due: one line, no period (it is applied as later charges are issued).
        prepaid = _LABELS[script]["prepaid"]
        printed.append({"name": prepaid, "period": None, "period_end": None, "amount_fen": out.prepaid_credit_fen})
    return printed


_PAID = LedgerEntry.__table__.alias("paid")  # type: ignore[attr-defined]
_TARGET = LedgerEntry.__table__.alias("target")  # type: ignore[attr-defined]
_BASIS = LedgerEntry.__table__.alias("basis")  # type: ignore[attr-defined]
# The charges and late fees a payment's entries settle, found from the payment (no list of ids:
# a payment over years of arrears settles thousands of late fees). A late fee's months are its charge's.
_SETTLED_QUERY = (
    sa_select(
        _TARGET.c.id,
        func.coalesce(_BASIS.c.period_months, _TARGET.c.period_months),
        # Only a charge's detail names its item; a late fee's holds its calculation, not wanted here.
        case((_TARGET.c.kind == EntryKind.charge, _TARGET.c.detail), else_=None),
    )
    .join(_TARGET, _TARGET.c.id == _PAID.c.settles_entry_id)
    .outerjoin(_BASIS, and_(_TARGET.c.kind == EntryKind.late_fee, _BASIS.c.id == _TARGET.c.basis_entry_id))
    .where(_PAID.c.payment_id == bindparam("payment_id"), _PAID.c.kind == EntryKind.payment)
)


async def _settled_entries(session: AsyncSession, payment_id: int) -> dict[int, _Settled]:
    rows = await session.execute(_SETTLED_QUERY, {"payment_id": payment_id})
    settled = {}
    for entry_id, months, detail in rows:
        item_name = detail.get("item_name") if isinstance(detail, dict) else None
        settled[entry_id] = _Settled(months or 1, str(item_name) if item_name else None)
    return settled


async def _owner_name(session: AsyncSession, out: PaymentOut) -> str:
    """The name of the owner whose account the payment is for (a seller paying after the sale is
    named, not the buyer); for a payment without one, the unit's owner on the day received."""
    if out.owner_id is not None:
        query = select(Owner.name).where(Owner.id == out.owner_id)
    else:
        query = (
            select(Owner.name)
            .join(Ownership, col(Ownership.owner_id) == Owner.id)
            .where(Ownership.unit_id == out.unit_id, ownership_covering(out.received_on))
            .limit(1)
        )
    return (await session.execute(query)).scalar_one_or_none() or ""


async def _has_discount(session: AsyncSession, payment_id: int) -> bool:
    query = select(LedgerEntry.id).where(LedgerEntry.payment_id == payment_id, LedgerEntry.kind == EntryKind.discount)
    return (await session.execute(query.limit(1))).first() is not None


async def _void(session: AsyncSession, payment_id: int) -> dict[str, Any] | None:
    query = select(PaymentVoid).where(PaymentVoid.payment_id == payment_id)
    void = (await session.execute(query)).scalar_one_or_none()
    return None if void is None else {"voided_on": void.voided_on, "reason": void.reason}


async def _places(session: AsyncSession, out: PaymentOut) -> tuple[Estate, Building, Unit]:
    unit = await session.get(Unit, out.unit_id)
    estate = await session.get(Estate, out.estate_id)
    assert unit is not None and estate is not None  # foreign keys guarantee both
    building = await session.get(Building, unit.building_id)
    assert building is not None
    return estate, building, unit


async def receipt_context(session: AsyncSession, payment_id: int, masking: Masking = WHOLE_NAMES) -> dict[str, Any]:
    """Everything ``letters/receipt.html`` prints for one payment, as plain data; the payer's name
    as ``masking`` shows it (the route passes the caller's, see ``registry.masking``).

    Raises ``NotFound`` (through ``payment_out``) when the payment does not exist.
    """
    out = await payment_out(session, payment_id)
    estate, building, unit = await _places(session, out)
    locale = normalize_locale(estate.locale)
    script = script_of(locale)
    settled = await _settled_entries(session, payment_id)
    payer = masking.name(out.payer_name or await _owner_name(session, out))
    return {
        "locale": locale,
        "t": _LABELS[script],
        "company": {"name": estate.company_name, "address": estate.address, "phone": estate.service_phone},
        "estate_name": estate.name,
        "receipt_number": out.receipt_number,
        "received_on": out.received_on,
        "unit_label": f"{building.name} {unit.number}",
        "payer": payer,
        "lines": _lines(out, settled, script),
        "total_fen": out.amount_fen,
        "method": METHOD_NAMES[script][out.method],
        "external_ref": out.external_ref,
        "cashier": cashier_name(out.cashier),
        "void": await _void(session, payment_id) if out.voided else None,
        # DOMAIN "Prepay discount": the take-back on refund or sale must be stated on the receipt.
        "prepay_note": out.prepaid_credit_fen > 0 or await _has_discount(session, payment_id),
    }


def receipt_filename(receipt_number: str) -> str:
    return f"receipt-{receipt_number}.pdf"


async def receipt_file(session: AsyncSession, payment_id: int, masking: Masking) -> tuple[str, bytes]:
    """The receipt as a download: ("receipt-2026-000123.pdf", PDF bytes)."""
    context = await receipt_context(session, payment_id, masking)
    # WeasyPrint is synchronous and CPU-bound: keep the event loop serving other requests meanwhile.
    pdf = await anyio.to_thread.run_sync(render_pdf, TEMPLATE, context)
    return receipt_filename(context["receipt_number"]), pdf


async def receipt_pdf(session: AsyncSession, payment_id: int, masking: Masking = WHOLE_NAMES) -> bytes:
    """The receipt as PDF bytes (A5 landscape, one page for a usual payment)."""
    _, pdf = await receipt_file(session, payment_id, masking)
    return pdf
