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
    PlanStanding,
    Standing,
    deadline,
    plan_breaks,
    plan_standing,
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


# ---------------------------------------------------------------------------
# plan_standing: how a plan stands on a day, from what was paid towards it
# ---------------------------------------------------------------------------

AGREED = date(2026, 4, 1)


def standing(payments: list[tuple[date, int]], as_of: date, cancelled_on: date | None = None) -> PlanStanding:
    return plan_standing(PLAN, payments, as_of, GRACE, AGREED, cancelled_on)


def test_pending_before_the_agreement_and_when_never_agreed() -> None:
    before = standing([], AGREED - timedelta(days=1))
    assert (before.standing, before.kept_days) == (Standing.pending, None)
    assert plan_standing(PLAN, [], date(2026, 5, 1), GRACE, None).standing is Standing.pending


def test_kept_from_the_agreement_day_and_frozen_up_to_the_run() -> None:
    on_the_day = standing([], AGREED)
    assert on_the_day.kept and on_the_day.kept_days == (AGREED, AGREED)
    assert standing([], date(2026, 4, 15)).kept_days == (AGREED, date(2026, 4, 15))


def test_broken_on_the_day_after_the_deadline_with_or_without_a_review() -> None:
    broken = standing([], date(2026, 6, 30))
    assert (broken.standing, broken.ended_on, broken.late) == (Standing.broken, date(2026, 4, 16), PLAN[0])
    assert broken.kept_days == (AGREED, date(2026, 4, 15))
    # A run as of a past day sees the standing of that day.
    assert standing([], date(2026, 4, 15)).kept


def test_a_backdated_payment_keeps_the_plan_it_would_have_broken() -> None:
    assert standing([], date(2026, 4, 20)).standing is Standing.broken
    assert standing([(date(2026, 4, 14), 10000)], date(2026, 4, 20)).kept


def test_completed_on_the_day_the_total_is_paid_and_a_later_void_does_not_reopen_it() -> None:
    paid = [(date(2026, 4, 10), 30000)]
    done = standing(paid, date(2026, 7, 1))
    assert (done.standing, done.ended_on, done.kept_days) == (
        Standing.completed,
        date(2026, 4, 10),
        (AGREED, date(2026, 4, 9)),
    )
    voided = standing([*paid, (date(2026, 4, 20), -30000)], date(2026, 7, 1))
    assert (voided.standing, voided.ended_on) == (Standing.completed, date(2026, 4, 10))


def test_a_void_before_the_deadline_breaks_the_plan() -> None:
    payments = [(date(2026, 4, 10), 10000), (date(2026, 4, 12), -10000)]
    assert standing(payments, date(2026, 4, 16)).standing is Standing.broken


def test_paid_before_the_agreement_completes_on_the_agreement_day() -> None:
    done = standing([(date(2026, 3, 20), 30000)], AGREED)
    assert (done.standing, done.ended_on, done.kept_days) == (Standing.completed, AGREED, None)


def test_cancelled_from_its_day_and_the_first_ending_wins() -> None:
    cancelled = standing([], date(2026, 4, 30), cancelled_on=date(2026, 4, 10))
    assert (cancelled.standing, cancelled.ended_on) == (Standing.cancelled, date(2026, 4, 10))
    assert standing([], date(2026, 4, 9), cancelled_on=date(2026, 4, 10)).kept
    # Cancelled on the day it was agreed: it never froze a day.
    assert standing([], date(2026, 4, 30), cancelled_on=AGREED).kept_days is None
    # Broken on 04-16 before a cancellation on 05-01.
    assert standing([], date(2026, 5, 5), cancelled_on=date(2026, 5, 1)).standing is Standing.broken


@given(
    st.lists(st.tuples(st.dates(date(2026, 3, 1), date(2026, 7, 31)), st.integers(-10000, 20000)), max_size=6),
    st.dates(date(2026, 3, 1), date(2026, 8, 31)),
)
def test_standing_is_kept_exactly_on_the_days_it_reports_as_kept(payments: list[tuple[date, int]], as_of: date) -> None:
    """The kept days as of a day are the days on which, run as of that day, the plan was kept."""
    final = standing(payments, as_of)
    span = final.kept_days
    day = AGREED - timedelta(days=3)
    while day <= as_of:
        inside = span is not None and span[0] <= day <= span[1]
        assert standing(payments, day).kept == inside, day
        day += timedelta(days=1)
