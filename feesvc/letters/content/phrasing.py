"""Values as a letter prints them (money, dates, periods in words, the service summary, the plan
and the complaint) and ``template_context``, what the templates receive. Babel underneath, through
``feesvc.formatting``: nothing is formatted by hand."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from typing import Any, Final

from babel.dates import format_skeleton, format_time

from feesvc import formatting
from feesvc.db import BUSINESS_TZ
from feesvc.documents.qr import qr_svg_data_uri
from feesvc.letters.content.model import BELIEFS, ComplaintInfo, LetterContext, PeriodLine, PlanTerms, PrepayOffer
from feesvc.letters.content.traditional import for_display
from feesvc.letters.content.words import (
    BELIEF_WORDS,
    COMPLAINT_CATEGORIES,
    LABELS,
    LATE_FEE_TEXTS,
    SERVICE_LABELS_EN,
    SERVICE_LABELS_HANT,
    letter_title,
    script_of,
)

_CN_DIGITS: Final = "零一二三四五六七八九"


def zhe(percent_off: Decimal) -> str:
    """5 % off → "九五折", 10 % off → "九折", 12.5 % off → "八七五折" (how shops say it)."""
    rest = Decimal(100) - percent_off
    digits = format(rest.normalize(), "f").replace(".", "")
    digits = digits.rstrip("0") or "0"
    return "".join(_CN_DIGITS[int(d)] for d in digits) + "折"


def percent_text(percent_off: Decimal) -> str:
    return format(percent_off.normalize(), "f") + "%"


def money_text(fen: int, locale: str, style: str | None = None) -> str:
    return formatting.money(fen, locale, style)


_BABEL_LOCALES: Final = {"zh_CN": "zh_Hans_CN", "zh_TW": "zh_Hant_TW", "zh_HK": "zh_Hant_HK", "en": "en_GB"}


def _local(value: datetime) -> datetime:
    """Times print on the estate's clock: an aware datetime is converted to the business time zone,
    a naive one is taken to be local already."""
    return value.astimezone(BUSINESS_TZ) if value.tzinfo is not None else value


def _when(value: datetime, locale: str) -> str:
    """A day and time: "2026年11月23日 14:00", "23 November 2026, 14:00"."""
    value = _local(value)
    clock = format_time(value, "HH:mm", locale=_BABEL_LOCALES[locale])
    day = formatting.date_long(value.date(), locale)
    return f"{day}, {clock}" if locale == "en" else f"{day} {clock}"


def distinct_periods(periods: Sequence[PeriodLine]) -> list[str]:
    return sorted({line.period for line in periods})


def _month_index(period: str) -> int:
    return int(period[:4]) * 12 + int(period[5:7]) - 1


def _period_label_short(period: str, locale: str) -> str:
    """English short month for short messages, "Mar 2026"; Chinese labels are short already."""
    if locale != "en":
        return formatting.period_label(period, locale)
    first_day = date(int(period[:4]), int(period[5:7]), 1)
    return format_skeleton("yMMM", first_day, locale="en_GB")


def periods_text(periods: Sequence[PeriodLine], locale: str, *, limit: int = 3, short: bool = False) -> str:
    """The periods in words: "2025年1月至2025年6月", "2025年1月、2025年3月", "March 2025 to June 2025"…
    ``short``: "Mar 2025 to Jun 2025" in English (short messages)."""
    loc = formatting.normalize_locale(locale)
    months = distinct_periods(periods)
    if not months:
        return ""
    labels = [_period_label_short(p, loc) if short else formatting.period_label(p, loc) for p in months]
    consecutive = all(_month_index(b) - _month_index(a) == 1 for a, b in pairwise(months))
    if len(months) == 1:
        return labels[0]
    if consecutive:
        joiner = " to " if loc == "en" else "至"
        return f"{labels[0]}{joiner}{labels[-1]}"
    if len(months) <= limit:
        return (", " if loc == "en" else "、").join(labels)
    shown = (", " if loc == "en" else "、").join(labels[:limit])
    if loc == "en":
        return f"{shown} and {len(months) - limit} more months"
    return f"{shown}等{len(months)}个月" if loc == "zh_CN" else f"{shown}等{len(months)}個月"


def service_items(ctx: LetterContext, script: str) -> list[tuple[str, int]]:
    labels = {"hant": SERVICE_LABELS_HANT, "en": SERVICE_LABELS_EN}.get(script, {})
    return [(labels.get(label, label), count) for label, count in ctx.service_summary]


def service_text(items: Sequence[tuple[str, int]], script: str) -> str:
    """The summary in a line: 保洁 30 次、维修 15 次 / 30 cleaning rounds, 15 repairs."""
    if script == "en":
        return ", ".join(f"{count} {label}" for label, count in items)
    return "、".join(f"{label} {count} 次" for label, count in items)


def _offer_context(offer: PrepayOffer, locale: str) -> dict[str, Any]:
    return {
        "months": offer.months,
        "percent": percent_text(offer.percent_off),
        "zhe": zhe(offer.percent_off),
        "saving_fen": offer.saving_fen,
    }


def _late_fee_text(plan: PlanTerms, late_fees_fen: int, locale: str, script: str, style: str) -> str:
    texts = LATE_FEE_TEXTS[script]
    if plan.late_fee_treatment not in texts:
        return plan.late_fee_treatment  # the agreed wording, as given
    amount = money_text(late_fees_fen, locale, style)
    if late_fees_fen <= 0:
        late = ""
    elif script == "en":
        late = f" ({amount})"
    else:
        late = f"（{amount}）"
    return texts[plan.late_fee_treatment].format(late=late)


def _plan_context(plan: PlanTerms, late_fees_fen: int, locale: str, script: str, style: str) -> dict[str, Any]:
    ordered = sorted(plan.installments, key=lambda i: (i.due_date, i.number))
    return {
        "installments": ordered,
        "count": len(ordered),
        "first": ordered[0],
        "last": ordered[-1],
        "total_fen": plan.total_fen,
        "late_fee_text": _late_fee_text(plan, late_fees_fen, locale, script, style),
        "grace_days": plan.grace_days,
        "waived_fees_return": plan.waived_fees_return
        and plan.late_fee_treatment in ("waive_on_completion", "waive_now")
        and late_fees_fen > 0,
        "ordinal": [LABELS[script]["installment_ordinal"].format(n=i.number) for i in ordered],
    }


def complaint_context(complaint: ComplaintInfo, locale: str, script: str) -> dict[str, Any]:
    steps = sorted(complaint.steps, key=lambda s: _sort_key(s.at))
    inspect_at = complaint.inspect_at if complaint.inspect_at is not None else steps[-1].at
    category = COMPLAINT_CATEGORIES[script].get(complaint.category, complaint.category)
    return {
        "opened": _when(complaint.opened, locale),
        "opened_day": formatting.date_long(_day(complaint.opened), locale),
        "category": category,
        "text": complaint.text.strip(),
        "steps": [{"when": _when(step.at, locale), "action": step.action} for step in steps],
        "done_by": formatting.date_long(_day(steps[-1].at), locale),
        "inspect_at": _when(inspect_at, locale),
        "contact": complaint.contact,
    }


def _day(value: datetime) -> date:
    return _local(value).date()


def _sort_key(value: datetime) -> datetime:
    """Steps in time order, every time on the estate's clock."""
    return _local(value).replace(tzinfo=None)


def pay_context(ctx: LetterContext) -> dict[str, Any]:
    """How and where to pay, as the letter states it: the desk (its address, else the estate's) and
    hours, the bank account with the unit as the transfer's reference, the online payment page only
    where the estate has one, the owner's pages only where the letter is given them: with the QR code
    and the offer to pay there only where the estate takes payments on them."""
    ways = ctx.payment
    return {
        "desk": ways.desk_address or ctx.estate_address,
        "hours": ways.desk_hours,
        "bank": ways.has_bank,
        "account_name": ways.bank_account_name,
        "bank_name": ways.bank_name,
        "account_no": ways.bank_account_no,
        "reference": f"{ctx.estate} {ctx.unit_label}",
        "online_url": ways.online_url,
        "owner_page_url": ctx.owner_page_url or "",
        "owner_page_pays": bool(ctx.owner_page_url and ctx.owner_page_pays_online),
        "owner_page_qr": qr_svg_data_uri(ctx.owner_page_url)
        if ctx.owner_page_url and ctx.owner_page_pays_online
        else "",
        "phone": ctx.service_phone,
    }


def basis_context(ctx: LetterContext) -> list[dict[str, Any]]:
    """The fee standards a final demand rests on: item, rate, what it rests on, when it was posted."""
    return [
        {"item": s.item_name, "rate": s.rate_text, "ref": s.decision_ref, "posted_on": s.posted_on}
        for s in ctx.fee_standards
    ]


def template_context(ctx: LetterContext) -> dict[str, Any]:
    """What the letter templates receive: the context itself as ``letter`` plus derived values.
    Traditional letters get the record's text in Traditional (``traditional.for_display``)."""
    ctx = for_display(ctx)
    locale = ctx.locale
    script = script_of(locale)
    principal = sum(line.amount_fen for line in ctx.periods)
    late_fees = sum(line.late_fee_fen for line in ctx.periods)
    service = service_items(ctx, script)
    months = distinct_periods(ctx.periods)
    return {
        "locale": locale,
        "script": script,
        "letter": ctx,
        "kind": ctx.kind.value,
        "t": LABELS[script],
        "title": letter_title(ctx),
        "principal_fen": principal,
        "late_fees_fen": late_fees,
        "has_late_fees": late_fees > 0,
        "periods_text": periods_text(ctx.periods, locale),
        "first_period": months[0] if months else None,
        "month_count": len(months),
        "service": service,
        "service_text": service_text(service, script),
        "offer": _offer_context(ctx.prepay_offer, locale) if ctx.prepay_offer else None,
        "plan": _plan_context(ctx.plan, late_fees, locale, script, ctx.money_style) if ctx.plan else None,
        "complaint": complaint_context(ctx.complaint, locale, script) if ctx.complaint else None,
        "belief": ctx.belief,
        "basis": BELIEF_WORDS[script][ctx.belief][2] if ctx.belief in BELIEFS else "",
        "money_style": ctx.money_style,
        "pay": pay_context(ctx),
        "standards": basis_context(ctx),
        "dispute": ctx.dispute,
    }
