"""What the reports share: rates, months, the locale's script and the error for a parameter a
report cannot answer.

Every figure comes from ledger entries through the ledger's one rule: what is open on an entry is
its amount plus the amounts of the entries settling it. The work is done by aggregate queries in
the database (a few per report, whatever the number of units); Python only loops over buildings,
causes and months.
"""

from __future__ import annotations

import calendar
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dateutil.relativedelta import relativedelta

from feesvc.errors import DomainError
from feesvc.formatting import normalize_locale
from feesvc.schemas import period_start


class ReportInputError(DomainError):
    """Parameters each well formed that together cannot be answered (``from`` after ``to``, a
    series too long): a rule, so 422 naming the parameter, as the OpenAPI description says."""

    status_code = 422
    title = "Invalid input"


def script(locale: str) -> str:
    loc = normalize_locale(locale)
    return "en" if loc == "en" else "zh_Hant" if loc in ("zh_TW", "zh_HK") else "zh_Hans"


def rate(numerator: int, denominator: int) -> str | None:
    """numerator ÷ denominator as a 4-decimal string, half-up ("0.8333"); None for nothing billed."""
    if denominator == 0:
        return None
    return str((Decimal(numerator) / Decimal(denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def month_end(period: str) -> date:
    start = period_start(period)
    return start.replace(day=calendar.monthrange(start.year, start.month)[1])


def months_between(first: str, last: str) -> list[str]:
    start, end = period_start(first), period_start(last)
    months = []
    while start <= end:
        months.append(f"{start:%Y-%m}")
        start += relativedelta(months=1)
    return months


def int_or_zero(value: Any) -> int:
    return int(value or 0)
