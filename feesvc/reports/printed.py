"""The printed monthly collection-rate report (letters/report_collection.html) and its chart."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any, Final

import anyio.to_thread

from feesvc.documents.render import render_pdf
from feesvc.formatting import date_long, normalize_locale, period_label
from feesvc.registry.models import Estate
from feesvc.reports.chart import ChartPoint, collection_chart
from feesvc.reports.common import rate, script
from feesvc.reports.schemas import MonthlySeries

REPORT_TEMPLATE: Final = "report_collection.html"

REPORT_LABELS: Final[dict[str, dict[str, str]]] = {
    "zh_Hans": {
        "title": "物业费收缴率月度报表",
        "estate": "项目",
        "range": "统计期间",
        "range_sep": "至",
        "measured": "统计口径",
        "measured_month_end": "各月按当月月末（当期收缴率）",
        "measured_as_of": "截至{date}",
        "printed": "制表日期",
        "by_amount": "收缴率（按金额）",
        "by_households": "收缴率（按户数）",
        "month": "月份",
        "billed": "应收金额",
        "collected": "实收金额",
        "units": "应收户数",
        "rate_amount_short": "金额收缴率",
        "rate_households_short": "户数收缴率",
        "settled_units": "结清户数",
        "old_open": "月初往期欠费",
        "old_collected": "清欠收回",
        "total": "合计",
        "none": "—",
        "notes": (
            "口径说明：应收金额为当月计费的物业服务费等费用（已扣除冲正）；实收金额为缴费及预存款抵扣，"
            "预缴优惠与减免不计入实收；按户数收缴率为当月费用已全部结清的户数占应收户数的比例。"
            "清欠为往期欠费，单独列示，不计入当期收缴率。违约金不计入本表。"
        ),
    },
    "zh_Hant": {
        "title": "物業費收繳率月度報表",
        "estate": "項目",
        "range": "統計期間",
        "range_sep": "至",
        "measured": "統計口徑",
        "measured_month_end": "各月按當月月末（當期收繳率）",
        "measured_as_of": "截至{date}",
        "printed": "製表日期",
        "by_amount": "收繳率（按金額）",
        "by_households": "收繳率（按戶數）",
        "month": "月份",
        "billed": "應收金額",
        "collected": "實收金額",
        "units": "應收戶數",
        "rate_amount_short": "金額收繳率",
        "rate_households_short": "戶數收繳率",
        "settled_units": "結清戶數",
        "old_open": "月初往期欠費",
        "old_collected": "清欠收回",
        "total": "合計",
        "none": "—",
        "notes": (
            "口徑說明：應收金額為當月計費的物業服務費等費用（已扣除沖正）；實收金額為繳費及預存款抵扣，"
            "預繳優惠與減免不計入實收；按戶數收繳率為當月費用已全部結清的戶數佔應收戶數的比例。"
            "清欠為往期欠費，單獨列示，不計入當期收繳率。違約金不計入本表。"
        ),
    },
    "en": {
        "title": "Monthly collection rate",
        "estate": "Estate",
        "range": "Months",
        "range_sep": " – ",
        "measured": "Measured",
        "measured_month_end": "each month at its last day",
        "measured_as_of": "as of {date}",
        "printed": "Printed",
        "by_amount": "Rate by amount",
        "by_households": "Rate by households",
        "month": "Month",
        "billed": "Billed",
        "collected": "Collected",
        "units": "Units billed",
        "rate_amount_short": "Rate (amount)",
        "rate_households_short": "Rate (units)",
        "settled_units": "Units settled",
        "old_open": "Old arrears at start",
        "old_collected": "Old arrears collected",
        "total": "Total",
        "none": "—",
        "notes": (
            "Billed: the month's charges, net of reversals. Collected: payments and prepaid credit applied; "
            "prepay discounts and waivers are not collected money. Rate by households: units whose charges "
            "of the month are fully settled, of the units billed. Old arrears (earlier periods) are shown "
            "apart and are not in the month's rate. Late fees are not included."
        ),
    },
}


def _percent_text(value: str | None, none: str) -> str:
    if value is None:
        return none
    return f"{(Decimal(value) * 100).quantize(Decimal('0.01'))}%"


def collection_chart_svg(series: MonthlySeries, locale: str) -> str:
    t = REPORT_LABELS[script(locale)]
    points = [
        ChartPoint(
            p.period_label,
            None if p.rate_by_amount is None else Decimal(p.rate_by_amount),
            None if p.rate_by_households is None else Decimal(p.rate_by_households),
        )
        for p in series.points
    ]
    return collection_chart(points, t["by_amount"], t["by_households"], normalize_locale(locale), t["title"])


def monthly_report_context(estate: Estate, series: MonthlySeries, today: date) -> dict[str, Any]:
    """Plain data for ``letters/report_collection.html``."""
    locale = normalize_locale(estate.locale)
    t = REPORT_LABELS[script(locale)]
    billed = sum(p.billed_fen for p in series.points)
    collected = sum(p.collected_fen for p in series.points)
    units = sum(p.units_billed for p in series.points)
    settled = sum(p.units_settled for p in series.points)
    rows = [
        {
            "label": p.period_label,
            "billed_fen": p.billed_fen,
            "collected_fen": p.collected_fen,
            "by_amount": _percent_text(p.rate_by_amount, t["none"]),
            "units": p.units_billed,
            "settled": p.units_settled,
            "by_households": _percent_text(p.rate_by_households, t["none"]),
            "old_open_fen": p.old_arrears_open_at_start_fen,
            "old_collected_fen": p.old_arrears_collected_fen,
        }
        for p in series.points
    ]
    measured = (
        t["measured_month_end"]
        if series.as_of is None
        else t["measured_as_of"].format(date=date_long(series.as_of, locale))
    )
    return {
        "locale": locale,
        "t": t,
        "company_name": estate.company_name,
        "estate_name": estate.name,
        "range_text": period_label(series.period_from, locale)
        + t["range_sep"]
        + period_label(series.period_to, locale),
        "measured": measured,
        "printed_on": today,
        "chart_svg": collection_chart_svg(series, locale),
        "rows": rows,
        "total": {
            "billed_fen": billed,
            "collected_fen": collected,
            "by_amount": _percent_text(rate(collected, billed), t["none"]),
            "units": units,
            "settled": settled,
            "by_households": _percent_text(rate(settled, units), t["none"]),
            "old_collected_fen": sum(p.old_arrears_collected_fen for p in series.points),
        },
    }


async def monthly_report_pdf(estate: Estate, series: MonthlySeries, today: date) -> bytes:
    context = monthly_report_context(estate, series, today)
    # WeasyPrint is synchronous and CPU-bound: keep the event loop serving other requests meanwhile.
    return await anyio.to_thread.run_sync(render_pdf, REPORT_TEMPLATE, context)
