"""How installment plans stand on a day, read from the ledger: their progress and standing.

One reading for every run that asks (the review, the reminder run, the late-fee accrual, billing):
what has been paid towards a plan by the end of a day is the covered principal it started from less
what is still open on the covered charges that day (so a void takes the money back out), and the
standing follows from that by :func:`feesvc.rules.installments.plan_standing`, never from the state
the last review stored.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.ledger.models import LedgerEntry
from feesvc.plans.models import Installment, InstallmentPlan, PlanCharge, PlanState
from feesvc.registry.models import Estate
from feesvc.rules import installments as rules


@dataclass
class Progress:
    """A plan's covered charges as the ledger has them, and what has been paid towards it."""

    plan: InstallmentPlan
    covered: list[PlanCharge]
    charges: dict[int, LedgerEntry]
    installments: list[rules.Installment]
    # charge id → [(day, change of its open amount)], in day order
    changes: dict[int, list[tuple[date, int]]]

    @property
    def baseline_fen(self) -> int:
        return sum(c.principal_fen for c in self.covered)

    def open_on(self, charge_id: int, day: date) -> int:
        amount = self.charges[charge_id].amount_fen + sum(d for on, d in self.changes[charge_id] if on <= day)
        return max(amount, 0)

    def open_total(self, day: date) -> int:
        return sum(self.open_on(c.entry_id, day) for c in self.covered)

    def paid_by(self, day: date) -> int:
        """Paid towards the plan by the end of ``day``: the starting principal less what is open then."""
        return min(max(self.baseline_fen - self.open_total(day), 0), self.baseline_fen)

    def payments(self) -> list[tuple[date, int]]:
        """What each day changed of the amount paid towards the plan (a void: negative)."""
        days = sorted({on for changes in self.changes.values() for on, _ in changes})
        payments, before = [], 0
        for day in days:
            paid = self.paid_by(day)
            if paid != before:
                payments.append((day, paid - before))
            before = paid
        return payments

    def standing(self, as_of: date, grace_days: int) -> rules.PlanStanding:
        """How the plan stood at the end of ``as_of``, from the ledger (not from the stored state)."""
        plan = self.plan
        cancelled_on = plan.ended_on if plan.state == PlanState.cancelled else None
        return rules.plan_standing(self.installments, self.payments(), as_of, grace_days, plan.agreed_on, cancelled_on)


# Ids per query: asyncpg takes at most 32,767 parameters, SQLite 32,766.
ID_BATCH = 10_000


def _batches(ids: Sequence[int]) -> list[list[int]]:
    return [list(ids[start : start + ID_BATCH]) for start in range(0, len(ids), ID_BATCH)]


async def progresses_of(session: AsyncSession, plans: Sequence[InstallmentPlan]) -> dict[int, Progress]:
    """Plan id → its progress, read for all the plans at once."""
    plan_ids = [p.id for p in plans if p.id is not None]
    covered: dict[int, list[PlanCharge]] = defaultdict(list)
    schedules: dict[int, list[rules.Installment]] = defaultdict(list)
    for batch in _batches(plan_ids):
        rows = await session.execute(
            select(PlanCharge).where(col(PlanCharge.plan_id).in_(batch)).order_by(col(PlanCharge.entry_id))
        )
        for charge in rows.scalars():
            covered[charge.plan_id].append(charge)
        installments = await session.execute(
            select(Installment).where(col(Installment.plan_id).in_(batch)).order_by(col(Installment.number))
        )
        for i in installments.scalars():
            schedules[i.plan_id].append(rules.Installment(i.number, i.due_date, i.amount_fen))
    ids = sorted({c.entry_id for charges in covered.values() for c in charges})
    charges: dict[int, LedgerEntry] = {}
    changes: dict[int, list[tuple[date, int]]] = {i: [] for i in ids}
    for batch in _batches(ids):
        entries = await session.execute(select(LedgerEntry).where(col(LedgerEntry.id).in_(batch)))
        charges.update((e.id, e) for e in entries.scalars() if e.id is not None)
        settled = await session.execute(
            select(col(LedgerEntry.settles_entry_id), col(LedgerEntry.effective_date), func.sum(LedgerEntry.amount_fen))
            .where(col(LedgerEntry.settles_entry_id).in_(batch))
            .group_by(col(LedgerEntry.settles_entry_id), col(LedgerEntry.effective_date))
            .order_by(col(LedgerEntry.effective_date))
        )
        for charge_id, day, amount in settled.all():
            assert charge_id is not None
            changes[charge_id].append((day, int(amount)))
    return {
        plan.id: Progress(
            plan,
            covered[plan.id],
            {c.entry_id: charges[c.entry_id] for c in covered[plan.id]},
            schedules[plan.id],
            {c.entry_id: changes[c.entry_id] for c in covered[plan.id]},
        )
        for plan in plans
        if plan.id is not None
    }


async def progress_of(session: AsyncSession, plan: InstallmentPlan) -> Progress:
    assert plan.id is not None
    return (await progresses_of(session, [plan]))[plan.id]


@dataclass(frozen=True)
class PlanAsOf:
    """An agreed plan, the charges it covers, and how it stood on the day asked about."""

    plan_id: int
    unit_id: int
    # The account the plan is for: its charges are that owner's only.
    owner_id: int | None
    charge_ids: frozenset[int]
    standing: rules.PlanStanding


async def plan_standings(
    session: AsyncSession,
    as_of: date,
    *,
    estate_id: int | None = None,
    unit_id: int | None = None,
    owner_id: int | None = None,
) -> list[PlanAsOf]:
    """Every plan of the estate (or unit; or of one owner's account) agreed by ``as_of``, with its
    standing that day from the ledger: a plan broken on day X is no longer kept from X whether or
    not a review has run. A plan stands on its own covered charges, which are one owner's: another
    owner's payments on the unit never count towards it."""
    query = select(InstallmentPlan).where(
        col(InstallmentPlan.agreed_on).is_not(None), col(InstallmentPlan.agreed_on) <= as_of
    )
    if estate_id is not None:
        query = query.where(InstallmentPlan.estate_id == estate_id)
    if unit_id is not None:
        query = query.where(InstallmentPlan.unit_id == unit_id)
    if owner_id is not None:
        query = query.where(InstallmentPlan.owner_id == owner_id)
    plans = list((await session.execute(query.order_by(col(InstallmentPlan.id)))).scalars())
    if not plans:
        return []
    estate_ids = sorted({p.estate_id for p in plans})
    grace_rows = await session.execute(
        select(col(Estate.id), col(Estate.grace_days)).where(col(Estate.id).in_(estate_ids))
    )
    grace = {estate: days for estate, days in grace_rows.all()}
    progresses = await progresses_of(session, plans)
    result = []
    for plan in plans:
        assert plan.id is not None
        progress = progresses[plan.id]
        result.append(
            PlanAsOf(
                plan.id,
                plan.unit_id,
                plan.owner_id,
                frozenset(c.entry_id for c in progress.covered),
                progress.standing(as_of, grace[plan.estate_id]),
            )
        )
    return result


async def plan_kept(session: AsyncSession, unit_id: int, as_of: date, owner_id: int | None = None) -> bool:
    """Whether the unit (that owner's account of it, if given) had an agreed plan that was being
    kept on ``as_of``."""
    return any(p.standing.kept for p in await plan_standings(session, as_of, unit_id=unit_id, owner_id=owner_id))


async def covered_charge_ids(
    session: AsyncSession, as_of: date, *, unit_id: int | None = None, estate_id: int | None = None
) -> set[int]:
    """Charges of the unit (or of every unit of the estate) in a plan kept on ``as_of``."""
    standings = await plan_standings(session, as_of, unit_id=unit_id, estate_id=estate_id)
    return {charge_id for p in standings if p.standing.kept for charge_id in p.charge_ids}
