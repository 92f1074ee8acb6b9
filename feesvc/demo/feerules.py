"""The demo estates' fee rules beyond the fee standards: court-likely rates and prepay discount tiers.

Both go in through the services before the history is played. The late-fee runs read the court
rates for the court-likely figure of every fee they post; the prepayment booking reads the tiers.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Final

from dateutil.relativedelta import relativedelta
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.principal import Principal
from feesvc.billing.rules import charge_amount
from feesvc.demo.plan import DemoPlan, EstateSpec, UnitPlan
from feesvc.latefees.service import add_court_rate
from feesvc.prepay.schemas import TierIn
from feesvc.prepay.service import replace_tiers
from feesvc.rules.prepay import DiscountTier, quote_prepayment

# The one-year loan prime rate (贷款市场报价利率, 1年期) as published, in percent.
LPR_1Y: Final = (
    (date(2019, 8, 20), "4.25"),
    (date(2019, 9, 20), "4.20"),
    (date(2019, 11, 20), "4.15"),
    (date(2020, 2, 20), "4.05"),
    (date(2020, 4, 20), "3.85"),
    (date(2021, 12, 20), "3.80"),
    (date(2022, 1, 20), "3.70"),
    (date(2022, 8, 22), "3.65"),
    (date(2023, 6, 20), "3.55"),
    (date(2023, 8, 21), "3.45"),
    (date(2024, 7, 22), "3.35"),
    (date(2024, 10, 21), "3.10"),
    (date(2025, 5, 20), "3.00"),
)
# Courts that cut an excessive late fee commonly allow up to 1.3 × the one-year LPR.
COURT_FACTOR: Final = Decimal("1.3")

# 锦绣花园's prepay offer: half a year 5% off, a year 10% off (the cap is 12 months).
PREPAY_TIERS: Final = ((6, 5), (12, 10))
PREPAY_MONTHS: Final = 12


def court_rate_steps(first: date, today: date) -> list[tuple[date, Decimal, str]]:
    """(effective from, annual rate, basis) for the LPR in force when the history starts and every
    change up to ``today``."""
    in_force = [i for i, (day, _) in enumerate(LPR_1Y) if day <= first]
    start = in_force[-1] if in_force else 0
    steps = []
    for day, lpr in LPR_1Y[start:]:
        if day > today:
            break
        rate = Decimal(lpr) / 100 * COURT_FACTOR
        basis = f"1年期LPR {lpr}%（{day.year}年{day.month}月{day.day}日起）× 1.3：法院调整违约金的常见上限"
        steps.append((day, rate, basis))
    return steps


async def set_fee_rules(session: AsyncSession, plan: DemoPlan, estate_ids: dict[str, int], actor: Principal) -> None:
    for estate in plan.estates:
        estate_id = estate_ids[estate.key]
        for day, rate, basis in court_rate_steps(plan.timeline.first, plan.timeline.today):
            await add_court_rate(session, actor, estate_id, day, rate, basis)
        if estate.settings.cycle_months == 1:
            tiers = [TierIn(min_months=months, percent_off=percent) for months, percent in PREPAY_TIERS]
            await replace_tiers(session, actor, estate_id, tiers)


def prepay_tiers(estate: EstateSpec) -> list[DiscountTier]:
    if estate.settings.cycle_months != 1:
        return []
    return [DiscountTier(months, Decimal(percent)) for months, percent in PREPAY_TIERS]


def _monthly_charge(unit: UnitPlan, month: date) -> int:
    """What the billing run charges the unit for ``month``: the standard in force then (monthly estate)."""
    standards = [s for s in unit.estate.standards if s.unit_use == unit.use and s.effective_from <= month]
    total = 0
    for item in dict.fromkeys(s.item for s in standards):
        latest = max((s for s in standards if s.item == item), key=lambda s: s.effective_from)
        total += charge_amount(latest.basis, Decimal(latest.rate), unit.area, 1, Decimal(1))
    return total


def prepay_net_fen(unit: UnitPlan, first: date, months: int) -> int:
    """The net of the quote the owner accepts before paying: the periods' charges less the tier's discount.

    The booking service recomputes the quote and refuses the payment if the two differ.
    """
    amounts = [_monthly_charge(unit, first + relativedelta(months=n)) for n in range(months)]
    tiers = prepay_tiers(unit.estate)
    quote = quote_prepayment(f"{first:%Y-%m}", months, amounts, tiers, unit.estate.settings.prepay_cap_months, 0)
    return quote.net_fen
