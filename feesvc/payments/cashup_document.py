"""The printed cash-up (收款日结表): ``letters/cashup.html`` filled from a ``CashUpOut``, for the
cashiers and their supervisor to check and sign.

``cashup_context`` turns the figures into plain data for the template, with each cashier's
subtotal, the totals per payment method (what the drawer and each payment channel's statement
should hold) and the words in the estate's locale; ``cashup_file`` renders it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Final

import anyio.to_thread
import msgspec

from feesvc.documents.render import render_pdf
from feesvc.formatting import normalize_locale
from feesvc.payments.receipt import METHOD_NAMES, script_of
from feesvc.payments.schemas import CashUpLine, CashUpOut
from feesvc.registry.models import Estate

__all__ = ["cashup_context", "cashup_file", "cashup_filename"]

TEMPLATE: Final = "cashup.html"

# Every word the cash-up prints, per script. zh_TW and zh_HK share the traditional set.
_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "title": "收款日结表",
        "phone": "服务电话",
        "estate": "项目",
        "day": "日结日期",
        "summary": "收款汇总",
        "cashier": "收款人",
        "method": "付款方式",
        "received": "收款",
        "voided": "作废",
        "count": "笔数",
        "net": "净额",
        "subtotal": "{name} 小计",
        "total": "合计",
        "by_method": "按付款方式合计",
        "nothing": "当日没有收款或作废记录。",
        "voids": "当日作废",
        "receipt": "收据号",
        "received_on": "原收款日期",
        "amount": "金额",
        "reason": "作废原因",
        "voided_by": "作废人",
        "earlier_note": "* 以前日期收取的款项在作废当日计入本表作废金额；其原收款日的日结不变。",
        "reconcile": "账务核对",
        "reconciled": (
            "当日收款 {received} 与账务记录 {ledger_received} 一致；当日作废 {voided} 与冲销记录 {ledger_voided} 一致。"
        ),
        "unreconciled": (
            "不一致：当日收款 {received}，账务记录 {ledger_received}；当日作废 {voided}，冲销记录 {ledger_voided}。"
            "请核查以下收据："
        ),
        "figure": "类别",
        "figure_received": "收款",
        "figure_voided": "作废",
        "payment_fen": "收据金额",
        "ledger_fen": "账务金额",
        "signatures": "签字确认",
        "sign_cashier": "收款人签字（{name}）",
        "sign_supervisor": "复核人（主管）签字",
        "sign_date": "日期",
        "printed_note": "本表由系统生成。收款人清点现金及各渠道款项无误后签字，交主管复核。",
    },
    "zh_Hant": {
        "title": "收款日結表",
        "phone": "服務電話",
        "estate": "項目",
        "day": "日結日期",
        "summary": "收款匯總",
        "cashier": "收款人",
        "method": "付款方式",
        "received": "收款",
        "voided": "作廢",
        "count": "筆數",
        "net": "淨額",
        "subtotal": "{name} 小計",
        "total": "合計",
        "by_method": "按付款方式合計",
        "nothing": "當日沒有收款或作廢記錄。",
        "voids": "當日作廢",
        "receipt": "收據號",
        "received_on": "原收款日期",
        "amount": "金額",
        "reason": "作廢原因",
        "voided_by": "作廢人",
        "earlier_note": "* 以前日期收取的款項在作廢當日計入本表作廢金額；其原收款日的日結不變。",
        "reconcile": "賬務核對",
        "reconciled": (
            "當日收款 {received} 與賬務記錄 {ledger_received} 一致；當日作廢 {voided} 與沖銷記錄 {ledger_voided} 一致。"
        ),
        "unreconciled": (
            "不一致：當日收款 {received}，賬務記錄 {ledger_received}；當日作廢 {voided}，沖銷記錄 {ledger_voided}。"
            "請核查以下收據："
        ),
        "figure": "類別",
        "figure_received": "收款",
        "figure_voided": "作廢",
        "payment_fen": "收據金額",
        "ledger_fen": "賬務金額",
        "signatures": "簽字確認",
        "sign_cashier": "收款人簽字（{name}）",
        "sign_supervisor": "覆核人（主管）簽字",
        "sign_date": "日期",
        "printed_note": "本表由系統生成。收款人清點現金及各渠道款項無誤後簽字，交主管覆核。",
    },
    "en": {
        "title": "Daily cash-up",
        "phone": "Service phone",
        "estate": "Estate",
        "day": "Day",
        "summary": "Takings",
        "cashier": "Cashier",
        "method": "Method",
        "received": "Received",
        "voided": "Voided",
        "count": "No.",
        "net": "Net",
        "subtotal": "{name}, subtotal",
        "total": "Total",
        "by_method": "Totals by method",
        "nothing": "Nothing was received or voided on this day.",
        "voids": "Voided on this day",
        "receipt": "Receipt",
        "received_on": "Received on",
        "amount": "Amount",
        "reason": "Reason",
        "voided_by": "Voided by",
        "earlier_note": (
            "* A payment received on an earlier day is counted as voided on the day of the void; "
            "the cash-up of the day it was received does not change."
        ),
        "reconcile": "Ledger check",
        "reconciled": (
            "Received {received} matches the ledger's {ledger_received}; "
            "voided {voided} matches the ledger's reversals of {ledger_voided}."
        ),
        "unreconciled": (
            "Does not match: received {received}, ledger {ledger_received}; voided {voided}, "
            "reversals {ledger_voided}. Check these receipts:"
        ),
        "figure": "Figure",
        "figure_received": "received",
        "figure_voided": "voided",
        "payment_fen": "Receipt amount",
        "ledger_fen": "Ledger amount",
        "signatures": "Signatures",
        "sign_cashier": "Cashier ({name})",
        "sign_supervisor": "Checked by (supervisor)",
        "sign_date": "Date",
        "printed_note": "Generated by the system. Cashiers sign after counting the cash and checking each "
        "payment channel; the supervisor checks and countersigns.",
    },
}


def _sum(lines: list[dict[str, Any]]) -> dict[str, int]:
    keys = ("received_payments", "received_fen", "voided_payments", "voided_fen", "net_fen")
    return {key: sum(line[key] for line in lines) for key in keys}


def _groups(lines: list[CashUpLine], methods: dict[Any, str]) -> list[dict[str, Any]]:
    """The lines per cashier, in the order given, each with its methods and subtotal."""
    by_cashier: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        row = msgspec.to_builtins(line)
        by_cashier[line.cashier].append({**row, "method": methods[line.method]})
    return [{"cashier": name, "lines": rows, "subtotal": _sum(rows)} for name, rows in by_cashier.items()]


def _by_method(lines: list[CashUpLine], methods: dict[Any, str]) -> list[dict[str, Any]]:
    totals: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for line in lines:
        totals[line.method].append(msgspec.to_builtins(line))
    return [{"method": methods[method], **_sum(rows)} for method, rows in sorted(totals.items())]


def cashup_context(cash_up: CashUpOut, estate: Estate) -> dict[str, Any]:
    """Everything ``letters/cashup.html`` prints, as plain data."""
    locale = normalize_locale(estate.locale)
    script = script_of(locale)
    methods = METHOD_NAMES[script]
    labels = _LABELS[script]
    return {
        "locale": locale,
        "t": labels,
        "company": {"name": estate.company_name, "phone": estate.service_phone},
        "estate_name": estate.name,
        "day": cash_up.day,
        "groups": _groups(cash_up.lines, methods),
        "by_method": _by_method(cash_up.lines, methods),
        "totals": {
            "received_payments": cash_up.received_payments,
            "received_fen": cash_up.received_fen,
            "voided_payments": cash_up.voided_payments,
            "voided_fen": cash_up.voided_fen,
            "net_fen": cash_up.net_fen,
        },
        "voids": [
            {**msgspec.to_builtins(v), "received_on": v.received_on, "method": methods[v.method]} for v in cash_up.voids
        ],
        "ledger": {
            "reconciled": cash_up.reconciled,
            "received_fen": cash_up.ledger_received_fen,
            "voided_fen": cash_up.ledger_voided_fen,
        },
        "mismatches": [{**msgspec.to_builtins(m), "figure": labels[f"figure_{m.figure}"]} for m in cash_up.mismatches],
        # One signature line per cashier on the sheet, then the supervisor's.
        "cashiers": list(dict.fromkeys(line.cashier for line in cash_up.lines)),
    }


def cashup_filename(estate_code: str, cash_up: CashUpOut) -> str:
    return f"cash-up-{estate_code}-{cash_up.day.isoformat()}.pdf"


async def cashup_file(cash_up: CashUpOut, estate: Estate) -> tuple[str, bytes]:
    """The cash-up as a download: ("cash-up-DEMO-2026-03-03.pdf", PDF bytes)."""
    context = cashup_context(cash_up, estate)
    # WeasyPrint is synchronous and CPU-bound: keep the event loop serving other requests meanwhile.
    pdf = await anyio.to_thread.run_sync(render_pdf, TEMPLATE, context)
    return cashup_filename(estate.code, cash_up), pdf
