"""The sales (过户) of the demo, decided up front with the rest of the plan: which homes change hands,
on which handover day (always in the middle of a billing period), who leaves what unpaid, and
where the sellers live now. Pure data, as plan.py; history.py records each sale through
``registry.service.transfer_ownership`` on its day, between the billing runs.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Final

from dateutil.relativedelta import relativedelta

from feesvc.demo.people import fake_person
from feesvc.demo.plan import DemoPlan, EstateSpec, Profile, Sale, UnitPlan
from feesvc.registry.models import UnitUse

# Where sellers moved to: the postal address their letters go to.
MOVED_TO: Final = (
    "浙江省杭州市拱墅区湖墅南路{n}号{b}幢{r}室",
    "浙江省杭州市上城区望江东路{n}号{b}幢{r}室",
    "浙江省杭州市余杭区文一西路{n}号{b}幢{r}室",
    "浙江省宁波市鄞州区天童南路{n}号{b}幢{r}室",
    "上海市闵行区七莘路{n}弄{b}号{r}室",
)

# The shapes of the sales, in turn: (the seller leaves arrears, the seller's new address is on
# file, the buyer falls behind later). With the sale of a seller who had booked a prepayment,
# they put both sides' arrears and both attention paths of the letters in every demo.
SALE_SHAPES: Final = (
    (True, True, False),  # the seller moved away owing; the buyer pays
    (True, False, True),  # arrears on both sides, and the seller left no address
    (False, True, True),  # the seller settled up at the sale; the buyer falls behind later
)


def _sole_holdings(plan: DemoPlan) -> set[int]:
    """Owners (by person) who own one unit only: a seller who moves away owns nothing here after."""
    holdings: dict[int, int] = {}
    for unit in plan.units:
        holdings[id(unit.owner)] = holdings.get(id(unit.owner), 0) + 1
    return {person for person, count in holdings.items() if count == 1}


def _billing_after(day: date, cycle_months: int) -> date:
    """The first billing month that starts after ``day``."""
    month = day.replace(day=1) + relativedelta(months=1)
    while (month.month - 1) % cycle_months:
        month += relativedelta(months=1)
    return month


def buyer_stop(sale_month: date, estate: EstateSpec, today: date) -> date | None:
    """The buyer pays the first bill after the handover and none from the next one on; None if that
    next bill would not be overdue (its due date and grace days past) by ``today``."""
    settings = estate.settings
    stop = _billing_after(sale_month, settings.cycle_months) + relativedelta(months=settings.cycle_months)
    overdue_from = stop.replace(day=settings.due_day) + timedelta(days=settings.grace_days + 1)
    return stop if overdue_from < today else None


def _sale_month(plan: DemoPlan, unit: UnitPlan, buyer_behind: bool, rng: random.Random) -> date:
    """A month in the middle third of the history (where the buyer who falls behind has time to)."""
    months = plan.timeline.months
    middle = list(months[len(months) // 3 : max(2 * len(months) // 3, len(months) // 3 + 1)])
    if buyer_behind:
        today = plan.timeline.today
        fits = [m for m in middle if buyer_stop(m, unit.estate, today)]
        fits = fits or [m for m in months[1:] if buyer_stop(m, unit.estate, today)]
        middle = fits or middle
    return rng.choice(middle)


def _sell(
    plan: DemoPlan, unit: UnitPlan, shape: tuple[bool, bool, bool], sale_month: date, rng: random.Random
) -> None:
    leaves_arrears, address_known, buyer_behind = shape
    months = plan.timeline.months
    # In the middle of the period: the bill of the month (or the quarter) is out, the next is not.
    sale_on = sale_month + timedelta(days=rng.randint(4, 24))
    seller_stops = max(sale_month - relativedelta(months=rng.randint(3, 6)), months[0] + relativedelta(months=1))
    address = rng.choice(MOVED_TO).format(n=rng.randint(1, 999), b=rng.randint(1, 30), r=rng.randint(101, 2604))
    unit.sale = Sale(
        sale_on,
        fake_person(rng),
        leaves_arrears,
        seller_stops if leaves_arrears else sale_on,
        seller_address=address if address_known else "",
        buyer_stops_on=buyer_stop(sale_month, unit.estate, plan.timeline.today) if buyer_behind else None,
        seller_prepaid=unit.books_prepayment,
    )
    # Each bill on its own, so the payments follow the periods of each owner.
    unit.habit_months = unit.estate.settings.cycle_months
    unit.anchor = 0


def plan_sales_and_mistakes(plan: DemoPlan, rng: random.Random) -> None:
    """A few sales in the middle of periods, two mistaken payments and one refund of credit.

    The sellers own nothing else here. One sale is of a home whose owner had booked a prepayment
    (in an estate with the prepay discount) running past the handover: three months before the
    history's end, well inside the year booked.
    """
    months = plan.timeline.months
    sole = _sole_holdings(plan)
    regular = [
        u for u in plan.units if u.use == UnitUse.residential and u.profile == Profile.on_time and u.habit_months < 12
    ]
    rng.shuffle(regular)
    sellable = [u for u in regular if id(u.owner) in sole]
    homes = sum(1 for u in plan.units if u.use == UnitUse.residential)
    sales = max(len(SALE_SHAPES), homes // 100)
    for n, unit in enumerate(sellable[:sales]):
        shape = SALE_SHAPES[n % len(SALE_SHAPES)]
        _sell(plan, unit, shape, _sale_month(plan, unit, shape[2], rng), rng)
    prepaying = [
        u
        for u in plan.units
        if u.use == UnitUse.residential
        and u.profile == Profile.prepaid
        and u.estate.settings.cycle_months == 1
        and id(u.owner) in sole
    ]
    if prepaying and len(months) >= 12:
        unit = rng.choice(prepaying)
        unit.books_prepayment = True
        _sell(plan, unit, (False, True, False), months[-3], rng)
    regular = [u for u in regular if u.sale is None]
    mistakes = (("duplicate", len(months) // 2), ("wrong_amount", 2 * len(months) // 3))
    for unit, (mistake, month) in zip(regular, mistakes, strict=False):
        unit.mistake, unit.mistake_from = mistake, months[month]
    unsold = [u for u in plan.units if u.use == UnitUse.residential and u.sale is None]
    prepaid = [u for u in unsold if u.profile == Profile.prepaid]
    if prepaid:
        refund_month = months[-2] if len(months) > 1 else months[-1]
        rng.choice(prepaid).refund_on = min(refund_month + timedelta(days=19), plan.timeline.today)


def sold_units(plan: DemoPlan) -> list[UnitPlan]:
    """The units sold in the history (handed over by the demo's today)."""
    return [u for u in plan.units if u.sale is not None and u.sale.on <= plan.timeline.today]
