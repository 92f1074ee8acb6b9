"""What one unit's late fees are computed from, gathered the way the accrual run gathers them.

The accrual run reads these facts for a whole estate at once, in SQL (``service.py``); the payoff
and the evidence pack need them for one unit, from its ledger entries. Both call this module, so
a charge's late fee is computed from the same inputs and terms wherever it is shown:

* the charge's principal and due date;
* every day its unpaid principal changed (what settled it, summed per day, in date order; the
  unpaid amount never below zero), as ``service._principal_changes`` computes in SQL;
* the table of late-fee terms its days accrue under (``terms.estate_terms(...).for_standard``:
  the estate's versions, with a fee standard's own rate where it has one);
* the days a kept installment plan froze it (``service.freezes_of``, from the ledger's plan standings);
* the court-likely rates, for the evidence pack.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.latefees.service import carried_in, court_rates, freezes_of
from feesvc.latefees.terms import EstateTerms, estate_terms
from feesvc.plans.standing import plan_standings
from feesvc.rules.late_fees import LateFeeTerms, PrincipalChange


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
    terms: LateFeeTerms
    changes: list[PrincipalChange]
    frozen: list[tuple[date, date]]
    # An imported opening balance's late fee up to its balance day (the days up to it are frozen).
    carried_fen: int = 0


@dataclass(frozen=True)
class UnitFeeTerms:
    """The late-fee terms of one unit's estate, its plan freezes as of a day and the court-likely rates."""

    terms: EstateTerms
    as_of: date
    court_rates: list[tuple[date, Decimal]]
    frozen: dict[int, list[tuple[date, date]]]  # charge id → days a kept plan froze its late fee
    in_plans: frozenset[int]  # the charges of the unit's plans agreed by then, kept or not

    def charge(
        self,
        charge_id: int,
        principal_fen: int,
        due_date: date,
        fee_standard_id: int | None,
        settlements: Iterable[tuple[date, int]],
        detail: dict[str, Any] | None = None,
    ) -> ChargeFeeFacts:
        frozen = self.frozen.get(charge_id, [])
        carried = carried_in(detail)
        if carried is not None and carried[0] >= due_date:
            frozen = [*frozen, (due_date, carried[0])]  # the source system's days, as the run counts them
        return ChargeFeeFacts(
            charge_id=charge_id,
            principal_fen=principal_fen,
            due_date=due_date,
            terms=self.terms.for_standard(fee_standard_id),
            changes=principal_changes(principal_fen, settlements),
            frozen=frozen,
            carried_fen=carried[1] if carried is not None else 0,
        )


async def unit_fee_terms(
    session: AsyncSession, estate_id: int, unit_id: int, as_of: date, *, with_court_rates: bool = True
) -> UnitFeeTerms:
    """The late-fee terms of the unit's charges as the accrual run as of ``as_of`` would apply them;
    the court-likely rates too, unless the caller computes no court-likely figure."""
    plans = await plan_standings(session, as_of, estate_id=estate_id, unit_id=unit_id)
    return UnitFeeTerms(
        terms=await estate_terms(session, estate_id),
        as_of=as_of,
        court_rates=await court_rates(session, estate_id) if with_court_rates else [],
        frozen=freezes_of(plans),  # as service.frozen_intervals, for this unit
        in_plans=frozenset(charge_id for plan in plans for charge_id in plan.charge_ids),
    )
