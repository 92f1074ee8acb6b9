"""What one unit's late fees are computed from, gathered the way the accrual run gathers them.

The accrual run reads these facts for a whole estate at once, in SQL (``service.py``); the payoff
and the evidence pack need them for one unit, from its ledger entries. Both call this module, so
a charge's late fee is computed from the same inputs wherever it is shown:

* the charge's principal and due date;
* every day its unpaid principal changed (what settled it, summed per day, in date order; the
  unpaid amount never below zero), as ``service._principal_changes`` computes in SQL;
* the daily rate: the charge's fee standard's own rate, else the estate's;
* the estate's grace days, cap and start date (``service.policy_for``);
* the days a kept installment plan froze it (``service.frozen_intervals``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.latefees.service import court_rates, frozen_intervals, policy_for
from feesvc.registry.models import Estate
from feesvc.rules.late_fees import LateFeePolicy, PrincipalChange
from feesvc.standards.models import FeeStandard


def principal_changes(principal_fen: int, settlements: Iterable[tuple[date, int]]) -> list[PrincipalChange]:
    """Every day the unpaid principal changed: ``settlements`` are (effective date, amount) of the
    entries settling the charge (negative for a payment, positive for a reversal), in any order."""
    per_day: dict[date, int] = defaultdict(int)
    for day, amount_fen in settlements:
        per_day[day] += amount_fen
    unpaid = principal_fen
    changes = []
    for day in sorted(per_day):
        unpaid += per_day[day]
        changes.append(PrincipalChange(on=day, unpaid_fen=max(unpaid, 0)))
    return changes


@dataclass(frozen=True, slots=True)
class ChargeFeeFacts:
    """Everything one charge's late fee depends on, besides the day it is computed to."""

    charge_id: int
    principal_fen: int
    due_date: date
    daily_rate: Decimal
    policy: LateFeePolicy
    changes: list[PrincipalChange]
    frozen: list[tuple[date, date]]


@dataclass
class UnitFeeTerms:
    """The late-fee terms of one unit's estate as of a day: shared by all its charges."""

    estate: Estate
    as_of: date
    standard_rates: dict[int, Decimal]  # fee standard id → its own daily rate (only those that have one)
    court_rates: list[tuple[date, Decimal]]
    frozen: dict[int, list[tuple[date, date]]]  # charge id → days a kept plan froze its late fee
    _policies: dict[Decimal, LateFeePolicy] = field(default_factory=dict)

    def daily_rate(self, fee_standard_id: int | None) -> Decimal:
        """A fee standard's own late-fee rate overrides the estate's."""
        own = self.standard_rates.get(fee_standard_id or 0)
        return self.estate.late_fee_daily_rate if own is None else own

    def policy(self, daily_rate: Decimal) -> LateFeePolicy:
        policy = self._policies.get(daily_rate)
        if policy is None:
            policy = self._policies[daily_rate] = policy_for(self.estate, daily_rate)
        return policy

    def charge(
        self,
        charge_id: int,
        principal_fen: int,
        due_date: date,
        fee_standard_id: int | None,
        settlements: Iterable[tuple[date, int]],
    ) -> ChargeFeeFacts:
        rate = self.daily_rate(fee_standard_id)
        return ChargeFeeFacts(
            charge_id=charge_id,
            principal_fen=principal_fen,
            due_date=due_date,
            daily_rate=rate,
            policy=self.policy(rate),
            changes=principal_changes(principal_fen, settlements),
            frozen=self.frozen.get(charge_id, []),
        )


async def unit_fee_terms(
    session: AsyncSession, estate: Estate, unit_id: int, as_of: date, *, with_court_rates: bool = True
) -> UnitFeeTerms:
    """The late-fee terms of the unit's charges as the accrual run as of ``as_of`` would apply them;
    the court-likely rates too, unless the caller computes no court-likely figure."""
    assert estate.id is not None
    rows = await session.execute(
        select(col(FeeStandard.id), col(FeeStandard.late_fee_daily_rate)).where(
            FeeStandard.estate_id == estate.id, col(FeeStandard.late_fee_daily_rate).is_not(None)
        )
    )
    return UnitFeeTerms(
        estate=estate,
        as_of=as_of,
        standard_rates={
            standard_id: rate for standard_id, rate in rows.all() if standard_id is not None and rate is not None
        },
        court_rates=await court_rates(session, estate.id) if with_court_rates else [],
        frozen=await frozen_intervals(session, estate.id, as_of, unit_id=unit_id),
    )
