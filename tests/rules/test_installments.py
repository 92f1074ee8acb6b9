"""feesvc.rules.installments: anchor-based schedules, exact amounts, refusals, breaking."""

from __future__ import annotations

from datetime import date, timedelta
from itertools import pairwise

import pytest
from dateutil.relativedelta import relativedelta
from hypothesis import given
from hypothesis import strategies as st

from feesvc.rules.installments import (
    Frequency,
    Installment,
    PlanRefused,
    deadline,
    plan_breaks,
    schedule,
)


def due_dates(plan: list[Installment]) -> list[date]:
    return [i.due_date for i in plan]


def test_month_end_start_does_not_drift() -> None:
    assert due_dates(schedule(40000, 4, date(2026, 1, 31))) == [
        date(2026, 1, 31),
        date(2026, 2, 28),
        date(2026, 3, 31),
        date(2026, 4, 30),
    ]


def test_leap_years() -> None:
    assert due_dates(schedule(300, 3, date(2028, 1, 31)))[1] == date(2028, 2, 29)
    assert due_dates(schedule(500, 5, date(2024, 2, 29), Frequency.quarterly)) == [
        date(2024, 2, 29),
        date(2024, 5, 29),
        date(2024, 8, 29),
        date(2024, 11, 29),
        date(2025, 2, 28),
    ]
    # Anchor, not chaining: after Feb 28 2025 the next quarter is back on the 29th.
    assert due_dates(schedule(600, 6, date(2024, 2, 29), Frequency.quarterly))[5] == date(2025, 5, 29)


def test_remainder_on_the_last() -> None:
    plan = schedule(10000, 3, date(2026, 4, 10))
    assert [i.amount_fen for i in plan] == [3333, 3333, 3334]
    assert [i.number for i in plan] == [1, 2, 3]
    assert schedule(3, 3, date(2026, 4, 10))[-1].amount_fen == 1  # total == count is allowed


@given(
    total=st.integers(min_value=2, max_value=10**12),
    count=st.integers(min_value=2, max_value=60),
    first=st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31)),
    frequency=st.sampled_from(list(Frequency)),
)
def test_amounts_sum_exactly_and_dates_come_from_the_anchor(
    total: int, count: int, first: date, frequency: Frequency
) -> None:
    if total < count:
        with pytest.raises(PlanRefused):
            schedule(total, count, first, frequency)
        return
    plan = schedule(total, count, first, frequency)
    assert len(plan) == count
    assert sum(i.amount_fen for i in plan) == total
    assert all(i.amount_fen == total // count for i in plan[:-1])
    assert plan[-1].amount_fen == total // count + total % count
    assert all(i.amount_fen > 0 for i in plan)
    step = 3 if frequency == Frequency.quarterly else 1
    assert [i.due_date for i in plan] == [first + relativedelta(months=k * step) for k in range(count)]
    assert all(a.due_date < b.due_date for a, b in pairwise(plan))


@pytest.mark.parametrize(
    ("total", "count", "field"),
    [
        (10000, 0, "count"),
        (10000, 1, "count"),
        (10000, 61, "count"),
        (10000, 100, "count"),
        (0, 3, "total_fen"),
        (-100, 3, "total_fen"),
        (3, 4, "count"),
    ],
)
def test_refusals(total: int, count: int, field: str) -> None:
    with pytest.raises(PlanRefused) as refused:
        schedule(total, count, date(2026, 1, 1))
    assert refused.value.field == field
    assert isinstance(refused.value, ValueError)
    assert str(refused.value)


def test_bounds_are_allowed() -> None:
    assert len(schedule(10000, 2, date(2026, 1, 1))) == 2
    assert len(schedule(10000, 60, date(2026, 1, 1))) == 60


# ---------------------------------------------------------------------------
# plan_breaks
# ---------------------------------------------------------------------------

PLAN = schedule(30000, 3, date(2026, 4, 10))  # 10000 each: Apr 10, May 10, Jun 10
GRACE = 5


def test_paid_exactly_grace_days_late_keeps_the_plan() -> None:
    paid = [(date(2026, 4, 15), 10000)]  # 5 days late, grace 5
    assert deadline(PLAN[0], GRACE) == date(2026, 4, 15)
    assert plan_breaks(PLAN, paid, date(2026, 5, 1), GRACE) is None


def test_paid_grace_plus_one_days_late_breaks_the_plan() -> None:
    paid = [(date(2026, 4, 16), 10000)]  # 6 days late
    assert plan_breaks(PLAN, paid, date(2026, 5, 1), GRACE) == PLAN[0]


def test_not_broken_until_the_grace_period_is_over() -> None:
    assert plan_breaks(PLAN, [], date(2026, 4, 15), GRACE) is None  # still within grace
    assert plan_breaks(PLAN, [], date(2026, 4, 16), GRACE) == PLAN[0]


def test_short_payment_breaks_and_later_installments_are_cumulative() -> None:
    assert plan_breaks(PLAN, [(date(2026, 4, 10), 9999)], date(2026, 4, 16), GRACE) == PLAN[0]
    # Paying ahead covers the next installment; the third then breaks.
    ahead = [(date(2026, 4, 10), 20000)]
    assert plan_breaks(PLAN, ahead, date(2026, 6, 15), GRACE) is None
    assert plan_breaks(PLAN, ahead, date(2026, 6, 16), GRACE) == PLAN[2]
    # The first kept, the second short by 1 fen.
    kept_then_short = [(date(2026, 4, 10), 10000), (date(2026, 5, 15), 9999)]
    assert plan_breaks(PLAN, kept_then_short, date(2026, 5, 16), GRACE) == PLAN[1]


def test_all_paid_never_breaks() -> None:
    paid = [(i.due_date, i.amount_fen) for i in PLAN]
    assert plan_breaks(PLAN, paid, date(2030, 1, 1), GRACE) is None


def test_callable_and_payment_list_agree() -> None:
    payments = [(date(2026, 4, 12), 10000), (date(2026, 5, 20), 10000)]

    def paid_by(day: date) -> int:
        return sum(amount for on, amount in payments if on <= day)

    for offset in range(0, 90):
        as_of = date(2026, 4, 1) + timedelta(days=offset)
        assert plan_breaks(PLAN, paid_by, as_of, GRACE) == plan_breaks(PLAN, payments, as_of, GRACE)
    assert plan_breaks(PLAN, paid_by, date(2026, 5, 16), GRACE) == PLAN[1]


def test_grace_zero() -> None:
    assert plan_breaks(PLAN, [(date(2026, 4, 10), 10000)], date(2026, 5, 10), 0) is None
    assert plan_breaks(PLAN, [(date(2026, 4, 11), 10000)], date(2026, 4, 11), 0) == PLAN[0]
