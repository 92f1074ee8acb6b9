"""Installment plans (分期): the schedule, when a plan breaks, and how it stands on a day. Pure
functions: no database, no I/O.

DOMAIN.md "Installment plans": N installments in whole fen with the remainder on the last; due
dates from the anchor (start + n months), never by adding a month to the previous date; a plan
breaks when an installment is more than the grace days late. No rounding happens here: amounts
are integer division of whole fen.

How a plan stands on a day (:func:`plan_standing`) is decided from what was paid towards it, not
from what a review run last stored: the reminder run, the late-fee accrual, billing and the review
itself all ask this one function, for any day, past ones included.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from dateutil.relativedelta import relativedelta

__all__ = [
    "MAX_INSTALLMENTS",
    "MIN_INSTALLMENTS",
    "Frequency",
    "Installment",
    "PlanRefused",
    "PlanStanding",
    "Standing",
    "deadline",
    "plan_breaks",
    "plan_standing",
    "schedule",
]

MIN_INSTALLMENTS = 2  # one "installment" is just a due date
MAX_INSTALLMENTS = 60  # five years of monthly payments


class PlanRefused(ValueError):
    """A plan the rules do not allow; ``field`` names the input at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Frequency(StrEnum):
    monthly = "monthly"
    quarterly = "quarterly"

    @property
    def months(self) -> int:
        return 3 if self is Frequency.quarterly else 1


@dataclass(frozen=True)
class Installment:
    number: int  # 1-based
    due_date: date
    amount_fen: int


def schedule(
    total_fen: int, count: int, first_due: date, frequency: Frequency = Frequency.monthly
) -> list[Installment]:
    """Split ``total_fen`` into ``count`` installments.

    ``due_date(k) = first_due + relativedelta(months=k × step)`` for k = 0 … count−1 (step 1 or 3),
    always from the anchor, so Jan 31 gives Feb 28/29, Mar 31, Apr 30 (no drift to the 28th).
    ``amount(k) = total_fen // count``, the last one plus ``total_fen % count``.

    Raises :class:`PlanRefused` for count outside 2…60, total_fen ≤ 0, or total_fen < count
    (some installment would be 0 fen).
    """
    for value, name in ((total_fen, "total_fen"), (count, "count")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise PlanRefused(name, f"{name} must be a whole number, not {value!r}")
    if not MIN_INSTALLMENTS <= count <= MAX_INSTALLMENTS:
        raise PlanRefused("count", f"a plan has {MIN_INSTALLMENTS} to {MAX_INSTALLMENTS} installments, not {count}")
    if total_fen <= 0:
        raise PlanRefused("total_fen", f"nothing to spread: the total is {total_fen} fen")
    if total_fen < count:
        raise PlanRefused(
            "count", f"{count} installments of a {total_fen}-fen total would leave an installment of 0 fen"
        )
    step = Frequency(frequency).months
    base, remainder = divmod(total_fen, count)
    return [
        Installment(
            number=k + 1,
            due_date=first_due + relativedelta(months=k * step),
            amount_fen=base + (remainder if k == count - 1 else 0),
        )
        for k in range(count)
    ]


def deadline(installment: Installment, grace_days: int) -> date:
    """Last day an installment may be paid without breaking the plan: due_date + grace_days.
    The plan breaks on the day after, if it is still short then."""
    return installment.due_date + timedelta(days=grace_days)


def _cumulative(paid: Callable[[date], int] | Sequence[tuple[date, int]]) -> Callable[[date], int]:
    if callable(paid):
        return paid
    payments = list(paid)
    return lambda day: sum(amount for on, amount in payments if on <= day)


def plan_breaks(
    installments: Sequence[Installment],
    paid_by_date: Callable[[date], int] | Sequence[tuple[date, int]],
    as_of: date,
    grace_days: int,
) -> Installment | None:
    """The first installment that is more than ``grace_days`` late as of ``as_of``, else None.

    ``paid_by_date``: either a function giving the cumulative amount paid towards the plan by the
    end of a day (inclusive), or the individual payments as ``(date, fen)`` pairs.

    Installment k (in due order) breaks the plan when ``as_of > due_date_k + grace_days`` and
    ``paid(due_date_k + grace_days) < Σ amount_fen of installments 1 … k``. Payments run
    cumulatively: paying ahead covers later installments, paying short leaves the shortfall on
    the next. Paid exactly grace_days late is still kept; grace_days + 1 late breaks.
    """
    if isinstance(grace_days, bool) or not isinstance(grace_days, int) or grace_days < 0:
        raise ValueError(f"grace_days must be a non-negative int: {grace_days!r}")
    paid = _cumulative(paid_by_date)
    due_so_far = 0
    for installment in sorted(installments, key=lambda i: (i.due_date, i.number)):
        due_so_far += installment.amount_fen
        last_day = deadline(installment, grace_days)
        if as_of <= last_day:
            return None  # this one (and all later ones) may still be paid in time
        if paid(last_day) < due_so_far:
            return installment
    return None


class Standing(StrEnum):
    pending = "pending"  # not agreed (yet) on that day
    kept = "kept"
    completed = "completed"
    broken = "broken"
    cancelled = "cancelled"


@dataclass(frozen=True)
class PlanStanding:
    """How a plan stood at the end of ``as_of``.

    ``ended_on`` is the first day the plan no longer held (completed, broken or cancelled), None
    while it is pending or kept; ``late`` is the installment that broke it.
    """

    standing: Standing
    as_of: date
    agreed_on: date | None
    ended_on: date | None = None
    late: Installment | None = None

    @property
    def kept(self) -> bool:
        return self.standing is Standing.kept

    @property
    def kept_days(self) -> tuple[date, date] | None:
        """The days up to ``as_of`` the plan was kept (both ends inclusive), None if none: what it
        froze of its charges' late fees."""
        if self.agreed_on is None or self.standing is Standing.pending:
            return None
        last = self.as_of if self.ended_on is None else self.ended_on - timedelta(days=1)
        return (self.agreed_on, last) if self.agreed_on <= last else None


def plan_standing(
    installments: Sequence[Installment],
    payments: Sequence[tuple[date, int]],
    as_of: date,
    grace_days: int,
    agreed_on: date | None,
    cancelled_on: date | None = None,
) -> PlanStanding:
    """How the plan stood at the end of ``as_of``.

    ``payments``: ``(day, fen)`` paid towards the plan, in any order; a void is a negative amount
    on the day it was voided. ``cancelled_on``: the day a manager cancelled it, if so.

    * pending: not agreed, or agreed after ``as_of``;
    * otherwise the plan holds from ``agreed_on`` until the first of these days that is not after
      ``as_of``, and is kept if there is none:
      - completed: the first day the paid total reaches the installments' total (not before
        ``agreed_on``);
      - broken: the day after the deadline (due date + grace days) of the first installment that
        was short by its deadline (:func:`plan_breaks`);
      - cancelled: ``cancelled_on`` (not before ``agreed_on``).
      On the same day, completion wins over a break, a break over a cancellation.
    """
    if agreed_on is None or agreed_on > as_of:
        return PlanStanding(Standing.pending, as_of, None if agreed_on is None else agreed_on)
    total = sum(i.amount_fen for i in installments)
    paid = 0
    completed_on: date | None = None
    for day, amount in sorted(payments):
        paid += amount
        if paid >= total:
            completed_on = max(day, agreed_on)
            break
    late = plan_breaks(installments, payments, as_of, grace_days)
    endings: list[tuple[date, int, Standing]] = []
    if completed_on is not None:
        endings.append((completed_on, 0, Standing.completed))
    if late is not None:
        endings.append((deadline(late, grace_days) + timedelta(days=1), 1, Standing.broken))
    if cancelled_on is not None:
        endings.append((max(cancelled_on, agreed_on), 2, Standing.cancelled))
    ended = [e for e in endings if e[0] <= as_of]
    if not ended:
        return PlanStanding(Standing.kept, as_of, agreed_on)
    ended_on, _, standing = min(ended)
    return PlanStanding(standing, as_of, agreed_on, ended_on, late if standing is Standing.broken else None)
