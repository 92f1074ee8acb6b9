"""The plan review run (``feesvc plans review``): what the ledger says of each plan, stored.

Idempotent: each active plan's standing on ``as_of`` comes from the ledger
(``plans.standing``); the review stores it (completed when the covered principal is paid, broken on
``deadline + 1`` when an installment is more than the estate's grace days late) and does what that
entails: waivers as agreed, and with ``estate.plan_break_restores_waived`` the late fees the plan
waived come back as reversing entries. A plan it broke is reinstated when the ledger later shows the
installment was paid in time (a backdated payment). Each plan is handled in a savepoint: one that
cannot be reviewed is rolled back and reported in ``needs_attention``, and the run goes on.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.attention import UnitReport, unit_isolated
from feesvc.audit.service import record_audit
from feesvc.auth.principal import Principal
from feesvc.ledger.models import LedgerEntry
from feesvc.ledger.service import lock_unit
from feesvc.plans.models import InstallmentPlan, LateFeeTreatment, PlanCharge, PlanState
from feesvc.plans.schemas import PlanReview
from feesvc.plans.service import (
    WAIVING,
    get_plan,
    open_late_fees,
    restore_waived,
    restores_waived,
    waive_late_fees_of,
)
from feesvc.plans.standing import progress_of, progresses_of
from feesvc.registry.models import Estate
from feesvc.registry.service import get_estate
from feesvc.rules import installments as rules


async def review_plans(session: AsyncSession, actor: Principal, estate_id: int, as_of: date) -> PlanReview:
    """Record the completion or break of every active plan of the estate as of ``as_of``; idempotent.

    Each plan's standing comes from the ledger (:func:`feesvc.rules.installments.plan_standing`); the
    review stores it and does what it entails (waivers, restored late fees). A plan that cannot be
    reviewed is rolled back and reported in ``needs_attention``; the others are reviewed.
    """
    estate = await get_estate(session, estate_id, field="estate_id")
    plans = list(
        (
            await session.execute(
                select(InstallmentPlan)
                .where(
                    InstallmentPlan.estate_id == estate_id,
                    InstallmentPlan.state == PlanState.active,
                    col(InstallmentPlan.agreed_on) <= as_of,
                )
                .order_by(col(InstallmentPlan.id))
            )
        ).scalars()
    )
    tally = _ReviewTally()
    reports: list[UnitReport] = []
    for plan in await _broken_in_error(session, estate, as_of):
        outcome = _ReviewTally()
        async with unit_isolated(session, plan.unit_id, reports):
            await _reinstate(session, actor, plan, as_of, outcome)
            await _review_plan(session, actor, estate, plan, as_of, outcome)
            tally.add(outcome)
    for plan in plans:
        outcome = _ReviewTally()
        async with unit_isolated(session, plan.unit_id, reports):
            await _review_plan(session, actor, estate, plan, as_of, outcome)
            tally.add(outcome)  # only what was not rolled back
    tally.waived += await _sweep_completed(session, actor, estate_id, as_of, reports)
    await session.flush()
    await record_audit(
        session,
        actor,
        "installment_plans.review",
        "estate",
        estate_id,
        {
            "as_of": as_of.isoformat(),
            "reviewed": tally.reviewed,
            "completed": tally.completed,
            "broken": tally.broken,
            "reinstated": tally.reinstated,
            "waived_fen": tally.waived,
            "restored_fen": tally.restored,
            "needs_attention": [msgspec.to_builtins(r) for r in reports],
        },
    )
    await session.commit()
    return PlanReview(
        estate_id=estate_id,
        as_of=as_of,
        plans_reviewed=tally.reviewed,
        completed=tally.completed,
        broken=tally.broken,
        reinstated=tally.reinstated,
        late_fees_waived_fen=tally.waived,
        late_fees_restored_fen=tally.restored,
        needs_attention=reports,
    )


@dataclass
class _ReviewTally:
    reviewed: int = 0
    completed: list[int] = field(default_factory=list)
    broken: list[int] = field(default_factory=list)
    reinstated: list[int] = field(default_factory=list)
    waived: int = 0
    restored: int = 0

    def add(self, other: _ReviewTally) -> None:
        self.reviewed += other.reviewed
        self.completed += other.completed
        self.broken += other.broken
        self.reinstated += other.reinstated
        self.waived += other.waived
        self.restored += other.restored


async def _broken_in_error(session: AsyncSession, estate: Estate, as_of: date) -> list[InstallmentPlan]:
    """Plans a review broke that the ledger now shows were kept: an installment paid in time but
    recorded after the review (a backdated payment). Only a review as of the break day or later
    reconsiders a break, so a rerun as of an earlier day never undoes one."""
    plans = list(
        (
            await session.execute(
                select(InstallmentPlan)
                .where(
                    InstallmentPlan.estate_id == estate.id,
                    InstallmentPlan.state == PlanState.broken,
                    col(InstallmentPlan.ended_on) <= as_of,
                )
                .order_by(col(InstallmentPlan.id))
            )
        ).scalars()
    )
    progresses = await progresses_of(session, plans)
    return [
        plan
        for plan in plans
        if plan.id is not None
        and progresses[plan.id].standing(as_of, estate.grace_days).standing is not rules.Standing.broken
    ]


async def _reinstate(
    session: AsyncSession, actor: Principal, plan: InstallmentPlan, as_of: date, tally: _ReviewTally
) -> None:
    """Make a plan broken in error active again; the review then stores what the ledger says of it
    (kept, or completed) and waives as agreed what its break restored."""
    await lock_unit(session, plan.unit_id)
    await session.refresh(plan)
    if plan.state != PlanState.broken:
        return
    assert plan.id is not None
    broke = plan.ended_on
    plan.state = PlanState.active
    plan.ended_on = None
    plan.end_reason = None
    await session.flush()
    tally.reinstated.append(plan.id)
    await record_audit(
        session,
        actor,
        "installment_plan.reinstate",
        "installment_plan",
        plan.id,
        {"as_of": as_of.isoformat(), "broken_on": broke.isoformat() if broke else None},
    )


async def _review_plan(
    session: AsyncSession, actor: Principal, estate: Estate, plan: InstallmentPlan, as_of: date, tally: _ReviewTally
) -> None:
    await lock_unit(session, plan.unit_id)
    await session.refresh(plan)
    if plan.state != PlanState.active:
        return  # ended by a concurrent request meanwhile
    assert plan.id is not None and plan.agreed_on is not None
    tally.reviewed += 1
    progress = await progress_of(session, plan)
    charge_ids = [c.entry_id for c in progress.covered]
    standing = progress.standing(as_of, estate.grace_days)
    if standing.standing is rules.Standing.broken:
        late = standing.late
        assert late is not None and standing.ended_on is not None
        last_day = rules.deadline(late, estate.grace_days)
        plan.state = PlanState.broken
        plan.ended_on = standing.ended_on
        plan.end_reason = (
            f"installment {late.number} ({late.amount_fen} fen, due {late.due_date}) "
            f"was not paid by {last_day} ({estate.grace_days} grace days)"
        )
        back = 0
        if restores_waived(estate):
            why = f"installment plan #{plan.id} broken on {plan.ended_on}: waived late fees restored"
            back = await restore_waived(session, actor, plan, plan.ended_on, why)
        tally.restored += back
        tally.broken.append(plan.id)
        await record_audit(
            session,
            actor,
            "installment_plan.break",
            "installment_plan",
            plan.id,
            {
                "as_of": as_of.isoformat(),
                "ended_on": plan.ended_on.isoformat(),
                "installment": late.number,
                "paid_by_deadline_fen": progress.paid_by(last_day),
                "restored_fen": back,
            },
        )
    elif standing.standing is rules.Standing.completed:
        assert standing.ended_on is not None
        plan.state = PlanState.completed
        plan.ended_on = standing.ended_on
        plan.end_reason = "covered principal paid in full"
        gone = 0
        if plan.late_fee_treatment in WAIVING:
            gone = await waive_late_fees_of(session, actor, plan, charge_ids, plan.ended_on, as_of)
        tally.waived += gone
        tally.completed.append(plan.id)
        await record_audit(
            session,
            actor,
            "installment_plan.complete",
            "installment_plan",
            plan.id,
            {"as_of": as_of.isoformat(), "ended_on": plan.ended_on.isoformat(), "late_fees_waived_fen": gone},
        )
    elif plan.late_fee_treatment == LateFeeTreatment.waive_now:
        # Kept: late fees posted on the covered charges since agreement are waived as agreed.
        tally.waived += await waive_late_fees_of(session, actor, plan, charge_ids, plan.agreed_on, as_of)


async def _sweep_completed(
    session: AsyncSession, actor: Principal, estate_id: int, as_of: date, reports: list[UnitReport]
) -> int:
    """Late fees posted on a completed waiving plan's charges after it completed (an accrual run that
    caught up on the days before agreement) are waived too."""
    rows = await session.execute(
        open_late_fees()
        .add_columns(col(InstallmentPlan.id))
        .join(PlanCharge, col(PlanCharge.entry_id) == LedgerEntry.basis_entry_id)
        .join(InstallmentPlan, col(InstallmentPlan.id) == PlanCharge.plan_id)
        .where(
            col(InstallmentPlan.estate_id) == estate_id,
            col(InstallmentPlan.state) == PlanState.completed,
            col(InstallmentPlan.late_fee_treatment).in_(WAIVING),
            col(LedgerEntry.effective_date) <= as_of,
        )
    )
    by_plan: dict[int, set[int]] = defaultdict(set)
    for fee, _, plan_id in rows.all():
        assert fee.basis_entry_id is not None
        by_plan[int(plan_id)].add(fee.basis_entry_id)
    total = 0
    for plan_id, charge_ids in sorted(by_plan.items()):
        plan = await get_plan(session, plan_id)
        async with unit_isolated(session, plan.unit_id, reports):
            await lock_unit(session, plan.unit_id)
            assert plan.ended_on is not None
            waived = await waive_late_fees_of(session, actor, plan, charge_ids, plan.ended_on, as_of)
            total += waived
    return total
