"""The limitation period (诉讼时效) of one billing period. Pure functions: no database, no I/O.

DOMAIN.md "Limitation period". The rules and the decisions taken here:

* **Three years** (民法典 188), counted **per billing period from its due date** (SPC case
  2023-16-2-121-007), not from the last period.
* **Counting** (民法典 201, 202): the day the clock starts (the due date, or the day of an
  interruption) is not counted; the period ends on the corresponding day three years later, which
  is its **last day**: ``expires_on = start + relativedelta(years=3)``. A claim filed on
  ``expires_on`` is in time; from the next day it is expired.
* **Feb 29**: a clock starting on Feb 29 has no corresponding day three years later; 民法典 202 makes
  the last day of that month the last day of the period, so it ends on **Feb 28** (never Mar 1).
  ``relativedelta`` clamps to the month end, which is exactly that rule.
* **Interruptions** (民法典 195; 诉讼时效规定 §8–14): a delivered demand, the owner's acknowledgement
  (a signed installment plan), a part payment, and legal action (suit, arbitration, a payment-order
  application) each restart the clock from their own day; the latest one counts. An interruption
  on or before the due date does nothing (no clock is running yet), nor does one after ``as_of``
  (the pack states the position on ``as_of``).
* **Legal action**: the new clock runs from the end of the proceedings (195). Their end is not
  recorded here, so the clock is counted, conservatively, from the day the action was taken.
* **After expiry** nothing interrupts: a clock that has run out cannot restart. So a demand, a part
  payment or a legal action after expiry does not revive the claim; it is listed as ignored.
  The exception is the owner's **acknowledgement** after expiry (a signed plan): it is a new promise
  to pay, and the courts do not allow the owner to plead limitation against it afterwards
  (诉讼时效规定 §19). It is marked ``defence_waived_on`` and a new three-year clock runs from it.
  (A part payment after expiry is voluntary performance: the money paid cannot be reclaimed, but
  courts differ on whether it waives the defence for the rest, so it is not counted.)
* **Status** on ``as_of``: ``expired`` after ``expires_on``; ``expiring`` when ``expires_on`` is at
  most ``EXPIRING_WITHIN_DAYS`` (90) days away, the last day included; else ``ok``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from dateutil.relativedelta import relativedelta

from feesvc.ledger.limitation import InterruptionKind

__all__ = [
    "EXPIRING_WITHIN_DAYS",
    "LIMITATION_YEARS",
    "IgnoredInterruption",
    "Interruption",
    "InterruptionKind",
    "LimitationStatus",
    "PeriodLimitation",
    "expiry_from",
    "limitation_status",
]

LIMITATION_YEARS = 3  # 民法典 188
EXPIRING_WITHIN_DAYS = 90


class LimitationStatus(enum.StrEnum):
    ok = "ok"
    expiring = "expiring"
    expired = "expired"


@dataclass(frozen=True)
class Interruption:
    """Something that restarts the clock of a period, on a day, with where we know it from."""

    kind: InterruptionKind
    on: date
    source: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", InterruptionKind(self.kind))


@dataclass(frozen=True)
class IgnoredInterruption:
    interruption: Interruption
    reason: str  # "before_due" | "after_as_of" | "after_expiry"


@dataclass(frozen=True)
class PeriodLimitation:
    due: date
    as_of: date
    clock_start: date  # the due date, or the day of the interruption that counts
    last_interruption: Interruption | None
    counted: tuple[Interruption, ...]  # every interruption that restarted the clock, in order
    ignored: tuple[IgnoredInterruption, ...]
    expires_on: date  # the last day a claim is in time
    status: LimitationStatus
    days_left: int  # expires_on - as_of; negative once expired
    # An acknowledgement after expiry: the owner may no longer plead limitation (诉讼时效规定 §19).
    defence_waived_on: date | None = None
    expired_on: date | None = None  # the first day out of time, if the claim ever expired before as_of


def expiry_from(start: date) -> date:
    """The last day of a three-year period whose clock starts on ``start`` (民法典 201, 202)."""
    return start + relativedelta(years=LIMITATION_YEARS)


def limitation_status(due: date, interruptions: Sequence[Interruption], as_of: date) -> PeriodLimitation:
    """Where the limitation clock of a period with due date ``due`` stands on ``as_of``.

    See the module docstring for the rules. ``interruptions`` may come in any order and may hold
    several of a day or ones outside the clock (they are reported in ``ignored``).
    """
    start = due
    expires = expiry_from(due)
    last: Interruption | None = None
    counted: list[Interruption] = []
    ignored: list[IgnoredInterruption] = []
    waived_on: date | None = None
    lapsed_on: date | None = None
    # Same day: an acknowledgement sorts last, so a demand delivered on the day of a post-expiry
    # acknowledgement is judged against the clock as it stood that morning.
    order = {
        InterruptionKind.demand_delivered: 0,
        InterruptionKind.part_payment: 1,
        InterruptionKind.legal_action: 2,
        InterruptionKind.acknowledgement: 3,
    }
    for item in sorted(interruptions, key=lambda i: (i.on, order[i.kind])):
        if item.on > as_of:
            ignored.append(IgnoredInterruption(item, "after_as_of"))
        elif item.on <= due:
            ignored.append(IgnoredInterruption(item, "before_due"))
        elif item.on <= expires:
            start, expires, last = item.on, expiry_from(item.on), item
            counted.append(item)
        elif item.kind == InterruptionKind.acknowledgement:
            lapsed_on = lapsed_on or expires + relativedelta(days=1)
            waived_on = item.on
            start, expires, last = item.on, expiry_from(item.on), item
            counted.append(item)
        else:
            lapsed_on = lapsed_on or expires + relativedelta(days=1)
            ignored.append(IgnoredInterruption(item, "after_expiry"))
    days_left = (expires - as_of).days
    if days_left < 0:
        status = LimitationStatus.expired
        lapsed_on = lapsed_on or expires + relativedelta(days=1)
    elif days_left <= EXPIRING_WITHIN_DAYS:
        status = LimitationStatus.expiring
    else:
        status = LimitationStatus.ok
    return PeriodLimitation(
        due=due,
        as_of=as_of,
        clock_start=start,
        last_interruption=last,
        counted=tuple(counted),
        ignored=tuple(ignored),
        expires_on=expires,
        status=status,
        days_left=days_left,
        defence_waived_on=waived_on,
        expired_on=lapsed_on,
    )
