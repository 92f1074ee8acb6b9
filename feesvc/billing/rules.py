"""How much a unit is charged for a period, and when it falls due. Pure functions."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from dateutil.relativedelta import relativedelta

from feesvc.standards.models import Basis

FEN_PER_YUAN = Decimal(100)


def to_fen(yuan: Decimal) -> int:
    """Round once, at the charge line: half-up to the fen (DOMAIN.md ledger rule 3)."""
    return int((yuan * FEN_PER_YUAN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def charge_amount(basis: Basis, rate: Decimal, area_m2: Decimal, months: int, payable_ratio: Decimal) -> int:
    quantity = area_m2 if basis == Basis.per_m2_month else Decimal(1)
    return to_fen(rate * quantity * months * payable_ratio)


def is_cycle_start(period_start: date, cycle_months: int) -> bool:
    """Cycles start in January: a quarterly estate bills periods 01, 04, 07 and 10."""
    return (period_start.month - 1) % cycle_months == 0


def due_date(period_start: date, due_day: int) -> date:
    return period_start.replace(day=due_day)


def vacant_long_enough(vacancy_start: date, vacancy_end: date | None, period_start: date, min_months: int) -> bool:
    """A notified vacancy counts from the period in which it has lasted ``min_months`` whole months."""
    if vacancy_end is not None and vacancy_end < period_start + relativedelta(months=1, days=-1):
        return False
    return vacancy_start + relativedelta(months=min_months) <= period_start
