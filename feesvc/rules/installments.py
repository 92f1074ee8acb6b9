"""Installment plans (分期): the schedule and when a plan breaks. Pure functions: no database, no I/O.

DOMAIN.md "Installment plans": N installments in whole fen with the remainder on the last; due
dates from the anchor (start + n months), never by adding a month to the previous date; a plan
breaks when an installment is more than the grace days late. No rounding happens here: amounts
are integer division of whole fen.
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
    "deadline",
    "plan_breaks",
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
