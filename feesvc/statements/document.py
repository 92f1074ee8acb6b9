"""The printed statement (物业费对账单) of a unit: ``letters/statement.html`` filled from a ``Statement``.

``statement_context`` turns the API's ``Statement`` into plain data for the template (via
``msgspec.to_builtins``, keeping dates and decimals for the filters) and adds the words the page
prints in the estate's locale; ``statement_pdf`` renders it. The printed page leaves out what is not
for owners: a late fee's court-likely figure (``detail.court_likely_fen``) belongs in evidence packs.

The statement service words its descriptions and calculations in Simplified Chinese for every
Chinese locale; for zh_TW and zh_HK the phrases it can produce are converted to Traditional here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from functools import partial
from typing import Any, Final

import anyio.to_thread
import msgspec

from feesvc.documents.render import render_pdf
from feesvc.formatting import area_text, normalize_locale, rate_text
from feesvc.rules.late_fees import TERMS_FROM_THE_START
from feesvc.statements.schemas import Statement
from feesvc.statements.service import KIND_LABELS, script_of

__all__ = ["statement_context", "statement_filename", "statement_pdf", "statement_pdf_async"]

TEMPLATE: Final = "statement.html"

# Every word the statement prints, per script. zh_TW and zh_HK share the traditional set, apart
# from the few words in _HK_WORDS.
_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "title": "物业费对账单",
        "phone": "服务电话",
        "unit": "房号",
        "area": "建筑面积",
        "owner": "业主",
        "range": "对账期间",
        "range_sep": "至",
        "as_of": "截至日期",
        "opening": "期初余额",
        "closing": "期末余额",
        "date": "日期",
        "description": "摘要",
        "period": "所属期间",
        "amount": "金额",
        "balance": "余额",
        "no_lines": "本期间内没有新的费用或缴费记录。",
        "applied_to": "本次冲抵",
        "basis": "收费依据",
        "basis_text": "{decision}（{ref}），",
        "posted_text": "{posted}公示",
        "late_principal": "本金 {principal}，应缴日期 {due}",
        "late_grace": "，宽限 {days} 天",
        "late_span": "{start}至{end}：",
        "late_formula": "{base} × {rate} × {days} 天",
        "late_total": "累计违约金 {total}",
        "late_previous": "，此前已计 {previous}，本次计入 {amount}",
        "late_capped": "（已按上限封顶）",
        "late_terms_from": "（{since}起的违约金条款）",
        "reason": "说明",
        "summary": "余额汇总",
        "owed": "应缴金额",
        "overdue": "其中已逾期",
        "prepaid": "预存余额",
        "ages": "逾期账龄",
        "overdue_total": "逾期合计",
        "age_days": "{low}–{high} 天",
        "age_over": "{low} 天以上",
        "balance_note": "余额为正数表示尚欠费用，为负数表示预存余额（将自动抵扣以后各期费用）。",
        "payoff": "{date}一次结清",
        "payoff_unposted": "其中尚未计入的违约金",
        "payoff_returned": "下次计算违约金时冲减退回为预存款",
        "payoff_note": "一次结清：于该日缴纳此金额即结清本户业主的欠费，含截至该日已产生、尚未计入账单的违约金。",
        "services": "服务情况",
        "services_line": "本期服务：{items}",
        "services_item": "{label} {count} 次",
        "services_sep": "、",
        "how_to_pay": (
            "缴费方式：可通过微信、支付宝、银行转账缴纳，或到物业服务中心以现金、银行卡缴纳；"
            "转账时请注明房号，缴费后可索取收款收据。"
        ),
        "thanks": "感谢您对我们工作的支持！如对本对账单有疑问，欢迎致电或到物业服务中心查询。",
        "printed_note": "本对账单由系统生成，仅供核对。",
        "running": "{title}（续）· {unit}",
    },
    "zh_Hant": {
        "title": "物業費對帳單",
        "phone": "服務電話",
        "unit": "房號",
        "area": "建築面積",
        "owner": "業主",
        "range": "對帳期間",
        "range_sep": "至",
        "as_of": "截至日期",
        "opening": "期初餘額",
        "closing": "期末餘額",
        "date": "日期",
        "description": "摘要",
        "period": "所屬期間",
        "amount": "金額",
        "balance": "餘額",
        "no_lines": "本期間內沒有新的費用或繳費紀錄。",
        "applied_to": "本次沖抵",
        "basis": "收費依據",
        "basis_text": "{decision}（{ref}），",
        "posted_text": "{posted}公示",
        "late_principal": "本金 {principal}，應繳日期 {due}",
        "late_grace": "，寬限 {days} 天",
        "late_span": "{start}至{end}：",
        "late_formula": "{base} × {rate} × {days} 天",
        "late_total": "累計違約金 {total}",
        "late_previous": "，此前已計 {previous}，本次計入 {amount}",
        "late_capped": "（已按上限封頂）",
        "late_terms_from": "（{since}起的違約金條款）",
        "reason": "說明",
        "summary": "餘額匯總",
        "owed": "應繳金額",
        "overdue": "其中已逾期",
        "prepaid": "預存餘額",
        "ages": "逾期帳齡",
        "overdue_total": "逾期合計",
        "age_days": "{low}–{high} 天",
        "age_over": "{low} 天以上",
        "balance_note": "餘額為正數表示尚欠費用，為負數表示預存餘額（將自動抵扣以後各期費用）。",
        "payoff": "{date}一次結清",
        "payoff_unposted": "其中尚未計入的違約金",
        "payoff_returned": "下次計算違約金時沖減退回為預存款",
        "payoff_note": "一次結清：於該日繳納此金額即結清本戶業主的欠費，含截至該日已產生、尚未計入帳單的違約金。",
        "services": "服務情況",
        "services_line": "本期服務：{items}",
        "services_item": "{label} {count} 次",
        "services_sep": "、",
        "how_to_pay": (
            "繳費方式：可透過微信、支付寶、銀行轉帳繳納，或到物業服務中心以現金、銀行卡繳納；"
            "轉帳時請註明房號，繳費後可索取收款收據。"
        ),
        "thanks": "感謝您對我們工作的支持！如對本對帳單有疑問，歡迎致電或到物業服務中心查詢。",
        "printed_note": "本對帳單由系統產生，僅供核對。",
        "running": "{title}（續）· {unit}",
    },
    "en": {
        "title": "Property Fee Statement",
        "phone": "Service phone",
        "unit": "Unit",
        "area": "Floor area",
        "owner": "Owner",
        "range": "Statement period",
        "range_sep": " to ",
        "as_of": "As of",
        "opening": "Opening balance",
        "closing": "Closing balance",
        "date": "Date",
        "description": "Description",
        "period": "Period",
        "amount": "Amount",
        "balance": "Balance",
        "no_lines": "No new charges or payments in this period.",
        "applied_to": "Applied to",
        "basis": "Fee basis",
        "basis_text": "{decision} ({ref}), ",
        "posted_text": "posted {posted}",
        "late_principal": "Principal {principal}, due {due}",
        "late_grace": ", {days} days' grace",
        "late_span": "{start} to {end}: ",
        "late_formula": "{base} × {rate} × {days} days",
        "late_total": "Late fee to date {total}",
        "late_previous": "; previously charged {previous}, charged now {amount}",
        "late_capped": " (capped)",
        "late_terms_from": " (late-fee terms from {since})",
        "reason": "Note",
        "summary": "Balance summary",
        "owed": "Amount owed",
        "overdue": "of which overdue",
        "prepaid": "Prepaid credit",
        "ages": "Overdue by age",
        "overdue_total": "Total overdue",
        "age_days": "{low}–{high} days",
        "age_over": "over {low} days",
        "balance_note": (
            "A positive balance is owed; a negative balance is prepaid credit, applied automatically to later charges."
        ),
        "payoff": "To pay off on {date}",
        "payoff_unposted": "of which late fee not yet charged",
        "payoff_returned": "returned as prepaid credit when the next late-fee run corrects it",
        "payoff_note": (
            "To pay off: paid on that day, this amount settles everything the owner owes here, including the "
            "late fee accrued up to that day and not yet charged."
        ),
        "services": "Services",
        "services_line": "Services this month: {items}",
        "services_item": "{count} {label}",
        "services_sep": ", ",
        "how_to_pay": (
            "How to pay: WeChat Pay, Alipay or bank transfer, or cash or bank card at the property service "
            "centre. Please quote your unit number with a transfer; a receipt is issued for every payment."
        ),
        "thanks": "Thank you for your support. If anything on this statement is unclear, please call or visit us.",
        "printed_note": "Generated by the system for your information.",
        "running": "{title} (continued) · {unit}",
    },
}

# Hong Kong writes 賬 where Taiwan writes 帳 (對賬單, 賬齡).
_HK_WORDS: Final[tuple[tuple[str, str], ...]] = (("帳", "賬"),)


# Names for items whose fee standard is not at hand (what a payment settled).
_ITEM_NAMES: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {"service_fee": "物业服务费", "parking": "车位管理费", "garbage": "垃圾处理费"},
    "zh_Hant": {"service_fee": "物業服務費", "parking": "車位管理費", "garbage": "垃圾處理費"},
    "en": {"service_fee": "Property service fee", "parking": "Parking fee", "garbage": "Refuse fee"},
}

_DECISIONS: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "contract": "合同约定",
        "owners_vote": "业主大会决定",
        "government_price": "政府指导价",
        "filing": "价格备案",
    },
    "zh_Hant": {
        "contract": "合同約定",
        "owners_vote": "業主大會決定",
        "government_price": "政府指導價",
        "filing": "價格備案",
    },
    "en": {
        "contract": "contract",
        "owners_vote": "owners' general meeting",
        "government_price": "government guidance price",
        "filing": "price filing",
    },
}

_ACTIVITIES: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "cleaning_rounds": "保洁",
        "repairs_done": "维修",
        "security_patrols": "安保巡逻",
        "greenery": "绿化养护",
        "other": "其他服务",
    },
    "zh_Hant": {
        "cleaning_rounds": "清潔",
        "repairs_done": "維修",
        "security_patrols": "保安巡邏",
        "greenery": "綠化養護",
        "other": "其他服務",
    },
    "en": {
        "cleaning_rounds": "cleaning rounds",
        "repairs_done": "repairs",
        "security_patrols": "security patrols",
        "greenery": "greenery care",
        "other": "other services",
    },
}

# Phrases the statement service writes in Simplified Chinese (payment descriptions, calculations),
# as Traditional. Longest first, so a phrase wins over the words inside it.
_TO_HANT: Final[tuple[tuple[str, str], ...]] = tuple(
    sorted(
        {
            "银行转账": "銀行轉帳",
            "银行卡": "銀行卡",
            "支付宝": "支付寶",
            "现金": "現金",
            "缴费": "繳費",
            "收据": "收據",
            "个月": "個月",
            "预存款抵扣": "預存款抵扣",
            "退还预存款": "退還預存款",
            "预缴优惠": "預繳優惠",
            "违约金减免": "違約金減免",
            "违约金": "違約金",
            "冲正": "沖正",
            "调整": "調整",
            "预存": "預存",
            "费用": "費用",
        }.items(),
        key=lambda pair: -len(pair[0]),
    )
)

_AGE_RE: Final = re.compile(r"(\d+)-(\d+)")

# Charge names by ledger entry id and by item code (see _charge_names).
_Names = tuple[dict[int, str], dict[str, str]]


def _labels(locale: str) -> dict[str, str]:
    labels = _LABELS[script_of(locale)]
    if locale != "zh_HK":
        return labels
    return {key: _for_hk(text) for key, text in labels.items()}


def _for_hk(text: str) -> str:
    for tw, hk in _HK_WORDS:
        text = text.replace(tw, hk)
    return text


def _localize(text: str | None, locale: str) -> str | None:
    """Service-made text (Simplified Chinese) in the estate's script."""
    if text is None or locale not in ("zh_TW", "zh_HK"):
        return text
    for hans, hant in _TO_HANT:
        text = text.replace(hans, hant)
    if locale == "zh_TW":
        # formatting.area_text writes 平方公尺 for Taiwan; the rate's unit must match it.
        text = text.replace("元/平方米", "元/平方公尺")
    return _for_hk(text) if locale == "zh_HK" else text


def _fee_basis(basis: Mapping[str, Any] | None, script: str) -> dict[str, Any] | None:
    if basis is None:
        return None
    kind = str(basis["decision_kind"])
    return {
        "decision": _DECISIONS[script].get(kind, kind),
        "decision_ref": basis["decision_ref"],
        "posted_on": basis["posted_on"],
    }


def _late_fee(line: Mapping[str, Any], locale: str) -> dict[str, Any] | None:
    """What the formula lines need from a late fee's detail; never its court-likely figure."""
    detail = line.get("detail") or {}
    segments = detail.get("segments") or []
    if not segments:
        return None
    total = int(detail.get("total_to_date_fen") or line["amount_fen"])
    texts = _LABELS[script_of(locale)]

    def terms(since: str | None) -> str:
        # Which version of the late-fee terms the days used, unless the terms never changed.
        return (
            ""
            if not since or since <= TERMS_FROM_THE_START.isoformat()
            else texts["late_terms_from"].format(since=since)
        )

    return {
        "principal_fen": detail.get("principal_fen"),
        "due_date": date.fromisoformat(detail["due_date"]) if detail.get("due_date") else None,
        "grace_days": int(detail.get("grace_days") or 0),
        "segments": [
            {
                "start": date.fromisoformat(s["start"]),
                "end": date.fromisoformat(s["end"]),
                "days": int(s["days"]),
                "base_fen": int(s["base_fen"]),
                "rate": rate_text(Decimal(s["daily_rate"]), locale) + terms(s.get("terms_from")),
            }
            for s in segments
        ],
        "total_fen": total,
        "previous_fen": int(detail.get("previously_posted_fen") or 0),
        "capped": bool(detail.get("capped")),
    }


def _charge_names(lines: list[dict[str, Any]], script: str) -> _Names:
    """What this statement calls each charge, by ledger entry and by item code.

    A payment's settled entries carry an item code only; naming them as their charge lines do keeps
    "物業管理費" from turning into the generic "物業服務費" next to it. Item codes are learnt from the
    entries the statement itself shows, for charges made before its range.
    """
    by_entry: dict[int, str] = {}
    for line in lines:
        if line["kind"] == "charge":
            by_entry.update(dict.fromkeys(line["entry_ids"], _charge_name(line, script)))
    by_item: dict[str, str] = {}
    for line in lines:
        for settled in line.get("settles") or []:
            if settled.get("item") and settled["entry_id"] in by_entry:
                by_item.setdefault(settled["item"], by_entry[settled["entry_id"]])
    return by_entry, by_item


def _settled_name(settled: Mapping[str, Any], script: str, names: _Names) -> str:
    if settled["kind"] == "late_fee":
        return KIND_LABELS[script]["late_fee"]
    by_entry, by_item = names
    if settled["entry_id"] in by_entry:
        return by_entry[settled["entry_id"]]
    item = settled.get("item") or ""
    return by_item.get(item) or _ITEM_NAMES[script].get(item, item or KIND_LABELS[script]["charge"])


def _charge_name(line: Mapping[str, Any], script: str) -> str:
    """The fee standard's item name ("物业服务费"), as the estate wrote it."""
    basis = line.get("fee_basis")
    if basis is not None:
        return str(basis["item_name"])
    item = (line.get("detail") or {}).get("item_name")
    return str(item) if item else KIND_LABELS[script]["charge"]


def _description(line: Mapping[str, Any], script: str, locale: str) -> str:
    """The period has its own column, so charges and late fees name only what they are for."""
    kind = line["kind"]
    kinds = KIND_LABELS[script]
    if kind == "charge":
        return _charge_name(line, script)
    if kind in ("late_fee", "discount", "waiver") and line.get("period"):
        return kinds[kind]
    return _localize(str(line["description"]), locale) or kinds.get(kind, kind)


def _line(line: Mapping[str, Any], script: str, locale: str, names: _Names) -> dict[str, Any]:
    calculation = line.get("calculation") if line["kind"] == "charge" else None
    late = _late_fee(line, locale) if line["kind"] == "late_fee" else None
    # A late fee without segment detail still shows the service's formula text, one segment a line.
    late_text = (
        [_localize(part, locale) for part in str(line["calculation"]).split("; ")]
        if line["kind"] == "late_fee" and late is None and line.get("calculation")
        else []
    )
    return {
        "date": line["date"],
        "kind": line["kind"],
        "description": _description(line, script, locale),
        "period": line.get("period"),
        "amount_fen": line["amount_fen"],
        "balance_fen": line["balance_after_fen"],
        "calculation": _calculation(_localize(calculation, locale)),
        "fee_basis": _fee_basis(line.get("fee_basis"), script),
        "settles": [
            {"name": _settled_name(s, script, names), "period": s.get("period"), "amount_fen": s["amount_fen"]}
            for s in line.get("settles") or []
        ],
        "late_fee": late,
        "late_text": late_text,
        "reason": line.get("reason"),
    }


def _calculation(text: str | None) -> dict[str, Any] | None:
    """ "89.57平方米 × 2.35元/平方米·月 × 1个月 = ¥210.49" → its factors and its result."""
    if not text:
        return None
    inputs, sep, result = text.rpartition(" = ")
    if not sep:
        inputs, result = text, ""
    return {"factors": inputs.split(" × "), "result": result}


def _age_label(bucket: str, labels: Mapping[str, str]) -> str:
    if bucket.startswith(">"):
        return labels["age_over"].format(low=bucket[1:])
    match = _AGE_RE.fullmatch(bucket)
    return labels["age_days"].format(low=match.group(1), high=match.group(2)) if match else bucket


def _services(items: list[Mapping[str, Any]], script: str, labels: Mapping[str, str]) -> list[dict[str, str]]:
    """One line a month: "本期服务：保洁 30 次、维修 15 次"."""
    months: dict[str, list[str]] = {}
    for item in items:
        label = _ACTIVITIES[script].get(item["kind"], item["label"])
        months.setdefault(item["period"], []).append(labels["services_item"].format(label=label, count=item["count"]))
    return [
        {"period": period, "text": labels["services_line"].format(items=labels["services_sep"].join(parts))}
        for period, parts in months.items()
    ]


def statement_context(statement: Statement, *, service_phone: str = "", address: str = "") -> dict[str, Any]:
    """Everything ``letters/statement.html`` prints, as plain data (dates stay dates for the filters).

    The printed statement is its account owner's document: the other owners staff see apart
    (``other_owners``) are not printed on it (a seller's debt on the buyer's paper, or the reverse)."""
    data: dict[str, Any] = msgspec.to_builtins(statement, builtin_types=(date, Decimal))
    locale = normalize_locale(statement.locale)
    script = script_of(locale)
    labels = _labels(locale)
    unit = data["unit"]
    names = _charge_names(data["lines"], script)
    return {
        "locale": locale,
        "t": labels,
        "company": {"name": unit["company"], "phone": service_phone, "address": address},
        "estate_name": unit["estate"],
        "unit_label": f"{unit['building']} {unit['number']}",
        "area": area_text(Decimal(unit["floor_area_m2"]), locale),
        "owner_name": data["owner_name"] or "",
        "as_of": data["as_of"],
        "period_from": data["period_from"],
        "period_to": data["period_to"],
        "opening_fen": data["opening_balance_fen"],
        "closing_fen": data["closing_balance_fen"],
        "owed_fen": data["owed_fen"],
        "overdue_fen": data["overdue_fen"],
        "prepaid_credit_fen": data["prepaid_credit_fen"],
        "payoff": data["payoff"],
        "lines": [_line(line, script, locale, names) for line in data["lines"]],
        "ages": [
            {"label": _age_label(b["bucket"], labels), "amount_fen": b["amount_fen"]} for b in data["overdue_by_age"]
        ],
        "services": _services(data["service_summary"], script, labels),
    }


def statement_filename(statement: Statement) -> str:
    unit = statement.unit
    return f"statement-{unit.id}-{statement.as_of.isoformat()}.pdf"


def statement_pdf(statement: Statement, *, service_phone: str = "", address: str = "") -> bytes:
    """The statement as an A4 PDF (WeasyPrint: synchronous and CPU-bound)."""
    return render_pdf(TEMPLATE, statement_context(statement, service_phone=service_phone, address=address))


async def statement_pdf_async(statement: Statement, *, service_phone: str = "", address: str = "") -> bytes:
    """``statement_pdf`` in a worker thread, so the event loop keeps serving other requests."""
    render = partial(statement_pdf, statement, service_phone=service_phone, address=address)
    return await anyio.to_thread.run_sync(render)
