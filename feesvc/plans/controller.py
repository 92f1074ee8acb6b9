from __future__ import annotations

from datetime import date

from litestar import Controller, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from feesvc.auth.guards import anyone, managers, managers_or_system
from feesvc.auth.principal import Principal
from feesvc.auth.scope import check_owns, owned_by_reader
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.plans import service
from feesvc.plans.models import InstallmentPlan
from feesvc.plans.review import review_plans
from feesvc.plans.schemas import PlanAgree, PlanCancel, PlanCreate, PlanOut, PlanReview, PlanReviewCreate
from feesvc.registry.service import can_read_unit, get_unit
from feesvc.schemas import PathId


def _not_future(day: date, today: date, field: str, what: str) -> None:
    if day > today:
        raise InvalidInput(f"{what} cannot be a future date (today is {today})", field=field)


class InstallmentPlanController(Controller):
    path = "/api/v1"
    tags = ["installment plans"]

    @post("/installment-plans", guards=[managers])
    async def propose(self, db: AsyncSession, principal: Principal, data: PlanCreate) -> PlanOut:
        """Propose a plan for overdue charges of a unit (default: all of them not in another plan)."""
        today = business_today()
        plan = await service.propose_plan(db, principal, data, today)
        assert plan.id is not None
        return await service.plan_out(db, plan.id, today)

    @post("/installment-plans/review", guards=[managers_or_system], status_code=200)
    async def review(self, db: AsyncSession, principal: Principal, data: PlanReviewCreate) -> PlanReview:
        """Complete or break the estate's active plans as of ``as_of`` (default today); a rerun changes nothing."""
        today = business_today()
        as_of = data.as_of or today
        _not_future(as_of, today, "as_of", "a review")
        return await review_plans(db, principal, data.estate_id, as_of)

    @post("/installment-plans/{plan_id:int}/agree", guards=[managers], status_code=200)
    async def agree(self, db: AsyncSession, principal: Principal, plan_id: PathId, data: PlanAgree) -> PlanOut:
        """The owner signed the plan (on ``agreed_on``, default today): it becomes active."""
        today = business_today()
        agreed_on = data.agreed_on or today
        _not_future(agreed_on, today, "agreed_on", "the agreement")
        await service.agree_plan(db, principal, plan_id, agreed_on)
        return await service.plan_out(db, plan_id, today)

    @post("/installment-plans/{plan_id:int}/cancel", guards=[managers], status_code=200)
    async def cancel(self, db: AsyncSession, principal: Principal, plan_id: PathId, data: PlanCancel) -> PlanOut:
        """Cancel an installment plan with a reason; what it covered falls due again as before."""
        today = business_today()
        await service.cancel_plan(db, principal, plan_id, data.reason, today)
        return await service.plan_out(db, plan_id, today)

    @get("/installment-plans/{plan_id:int}", guards=[anyone])
    async def get_plan(
        self, db: AsyncSession, principal: Principal, plan_id: PathId, as_of: date | None = None
    ) -> PlanOut:
        """A plan with its schedule and what is paid of each installment as of ``as_of`` (default today)."""
        if not principal.is_staff:  # an owner: their own plans only; 403 for any other id, existing or not
            mine = await db.get(InstallmentPlan, plan_id)
            check_owns(principal, mine.owner_id if mine else None, "installment plan")
        plan = await service.get_plan(db, plan_id)
        await can_read_unit(db, principal, plan.unit_id)
        return await service.plan_out(db, plan_id, as_of or business_today())

    @get("/units/{unit_id:int}/installment-plans", guards=[anyone])
    async def unit_plans(
        self, db: AsyncSession, principal: Principal, unit_id: PathId, as_of: date | None = None
    ) -> list[PlanOut]:
        """The unit's installment plans as of ``as_of`` (default today). An owner: only the plans for
        their own account."""
        await get_unit(db, unit_id)
        await can_read_unit(db, principal, unit_id)
        plans = await service.unit_plans(db, unit_id, as_of or business_today())
        return [p for p in plans if owned_by_reader(principal, p.owner_id)]  # a seller's are not the buyer's
