"""Who owes which part of a billing period when the unit changed hands in it (过户, DOMAIN.md
"Change of owner"). Pure functions over dates and fen.

A fee is owed by the owner of the period in which the service was given. A period split by a
handover is charged to each owner for the days they owned the unit (the estate's ``by_days``
setting), or whole to the owner on the period's first day (``owner_on_period_start``).

Rounding, stated on every split charge: each owner's share is the period's amount × their days ÷
the period's days, rounded half-up to the fen; the last owner in the period takes what is left,
so the shares always add up to the period's amount exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

ROUNDING_NOTE = "按日分摊：本期金额×持有天数÷本期天数，四舍五入到分，尾差计入本期最后一位业主"


class SaleProration(enum.StrEnum):
    by_days = "by_days"
    owner_on_period_start = "owner_on_period_start"


@dataclass(frozen=True)
class Holding:
    """An owner's hold on the unit: from ``starts_on`` (the handover date) to ``ends_on`` (None: still)."""

    owner_id: int
    starts_on: date
    ends_on: date | None


@dataclass(frozen=True)
class Share:
    owner_id: int | None  # None: days nobody on record owned the unit
    first_day: date
    last_day: date
    days: int
    period_days: int
    amount_fen: int

    @property
    def whole_period(self) -> bool:
        return self.days == self.period_days


def _overlap(holding: Holding, first: date, last: date) -> tuple[date, date] | None:
    start = max(holding.starts_on, first)
    end = min(holding.ends_on or last, last)
    return (start, end) if start <= end else None


def period_shares(
    amount_fen: int,
    first_day: date,
    last_day: date,
    holdings: Sequence[Holding],
    proration: SaleProration = SaleProration.by_days,
) -> list[Share]:
    """Each owner's share of a period's charge, in date order. Days no holding covers are a share of
    their own with ``owner_id`` None (the caller decides; billing charges them to nobody). One
    owner for the whole period: one share, the whole amount."""
    if last_day < first_day:
        raise ValueError("a period ends on or after its first day")
    period_days = (last_day - first_day).days + 1
    if proration == SaleProration.owner_on_period_start:
        on_start = [h for h in holdings if _overlap(h, first_day, first_day)]
        owner = on_start[0].owner_id if on_start else None
        return [Share(owner, first_day, last_day, period_days, period_days, amount_fen)]
    spans: list[tuple[int | None, date, date]] = []
    for holding in sorted(holdings, key=lambda h: h.starts_on):
        overlap = _overlap(holding, first_day, last_day)
        if overlap:
            spans.append((holding.owner_id, *overlap))
    covered: list[tuple[int | None, date, date]] = []
    day = first_day
    for owner, start, end in spans:
        if start > day:
            covered.append((None, day, start - timedelta(days=1)))
        covered.append((owner, start, end))
        day = end + timedelta(days=1)
    if day <= last_day:
        covered.append((None, day, last_day))
    shares: list[Share] = []
    given = 0
    for index, (owner, start, end) in enumerate(covered):
        days = (end - start).days + 1
        if index == len(covered) - 1:
            fen = amount_fen - given
        else:
            fen = int((Decimal(amount_fen) * days / period_days).quantize(Decimal(1), rounding=ROUND_HALF_UP))
        given += fen
        shares.append(Share(owner, start, end, days, period_days, fen))
    return shares
