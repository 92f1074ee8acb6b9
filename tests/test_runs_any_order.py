"""The scheduled runs in any order of desk events (issue 14 item 1).

Seeded random weeks of desk activity on a few units: payments (some backdated), voids, late-fee
waivers, plans agreed on the day (three late-fee treatments), cancellations, installments and sales,
in whatever order the seed gives. After each day the plan review and the reminder run run as of
that day, and now and then as of a past day; billing runs on the 1st and the accrual as of
yesterday. No run may stop or leave a unit out, and evidence packs build as of any day (a unit with
nothing overdue on that day is refused with 409, never a 500).
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from random import Random

import pytest
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.service import run_billing
from feesvc.errors import Conflict, DomainError
from feesvc.evidence.pack import build_evidence_pack
from feesvc.latefees.service import accrue_late_fees, waive_late_fee
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.letters.runs import run_reminders
from feesvc.payments.models import Method, Payment
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.payments.voids import void_payment
from feesvc.plans.models import InstallmentPlan, LateFeeTreatment, PlanState
from feesvc.plans.review import review_plans
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, cancel_plan, propose_plan
from feesvc.plans.standing import plan_standings
from feesvc.registry.schemas import OwnerContactUpdate, OwnerCreate
from feesvc.registry.service import create_owner, transfer_ownership, update_owner_contact
from feesvc.rules.installments import Standing
from feesvc.service_records.service import current_owner_id
from tests.support import Api

START = date(2025, 3, 1)
DAYS = 45
EVENTS = ("pay", "backdated", "void", "waive", "plan", "cancel", "installment", "sale", "nothing")


@pytest.mark.parametrize("seed", [11, 23])
async def test_runs_go_on_whatever_the_order_of_desk_events(api: Api, seed: int) -> None:
    rng = Random(seed)
    estate = await api.make_estate(
        units=3, rate="2.00", area="100.00", settings={"due_day": 10, "grace_days": 3, "late_fee_daily_rate": "0.0005"}
    )
    for month in ("2025-01", "2025-02"):
        await api.bill(estate.id, month, f"{month}-01")
    async with api.sessions() as s:
        await accrue_late_fees(s, COMMAND_LINE, estate.id, date(2025, 1, 31))
    done: list[str] = []
    for n in range(DAYS):
        day = START + timedelta(days=n)
        async with api.sessions() as s:
            if day.day == 1:
                billed = await run_billing(s, COMMAND_LINE, estate.id, f"{day:%Y-%m}", day)
                assert billed.needs_attention == []
                await accrue_late_fees(s, COMMAND_LINE, estate.id, day - timedelta(days=1))
            review = await review_plans(s, COMMAND_LINE, estate.id, day)
            assert review.needs_attention == [], (seed, day, done)
            # What the review stored is what the ledger says of each plan that day.
            assert await _stored_states(s, estate.id, day) == await _ledger_states(s, estate.id, day), (seed, day, done)
            if day.weekday() < 5:
                summary = await run_reminders(s, COMMAND_LINE, estate.id, day)
                assert summary.needs_attention == [], (seed, day, done)
            # Now and then a run as of a past day (a rerun after an outage).
            if rng.random() < 0.2:
                past = day - timedelta(days=rng.randint(1, n + 1))
                assert (await review_plans(s, COMMAND_LINE, estate.id, past)).needs_attention == []
                dry = await run_reminders(s, COMMAND_LINE, estate.id, past, dry_run=True)
                assert dry.needs_attention == []
        for _ in range(rng.randint(0, 3)):
            unit = rng.choice(estate.unit_ids)
            event = rng.choice(EVENTS)
            try:
                await _desk(api, rng, event, unit, day)
                done.append(f"{day} {event} {unit}")
            except DomainError:
                pass  # refused at the desk (nothing overdue, already void…): a 4xx, nothing written

    end = START + timedelta(days=DAYS - 1)
    for unit in estate.unit_ids:
        for as_of in (START + timedelta(days=rng.randint(0, DAYS - 1)), end):
            async with api.sessions() as s:
                try:
                    pack = await build_evidence_pack(s, unit, as_of, COMMAND_LINE)
                except Conflict:
                    continue  # nothing overdue on that day
            assert pack[:2] == b"PK", (seed, unit, as_of, done)


async def _desk(api: Api, rng: Random, event: str, unit: int, day: date) -> None:
    async with api.sessions() as s:
        if event in ("pay", "backdated", "installment"):
            amount = rng.choice([5000, 13334, 20000, 45000])
            received = day - timedelta(days=rng.randint(1, 10)) if event == "backdated" else day
            data = PaymentCreate(unit_id=unit, amount_fen=amount, method=Method.cash, received_on=received)
            await record_payment(s, COMMAND_LINE, data, uuid.uuid4().hex, day)
        elif event == "void":
            payments = (await s.execute(select(Payment.id).where(Payment.unit_id == unit))).scalars().all()
            if payments:
                await void_payment(s, COMMAND_LINE, rng.choice(payments), "冲正", day)
        elif event == "waive":
            fees = await s.execute(
                select(LedgerEntry.id).where(LedgerEntry.unit_id == unit, LedgerEntry.kind == EntryKind.late_fee)
            )
            ids = fees.scalars().all()
            if ids:
                await waive_late_fee(s, COMMAND_LINE, rng.choice(ids), None, "经理批准减免", day)
        elif event == "plan":
            treatment = rng.choice(list(LateFeeTreatment))
            first_due = day + timedelta(days=rng.randint(0, 12))
            data = PlanCreate(
                unit_id=unit, installments=rng.randint(2, 4), first_due=first_due, late_fee_treatment=treatment
            )
            plan = await propose_plan(s, COMMAND_LINE, data, day)
            assert plan.id is not None
            await agree_plan(s, COMMAND_LINE, plan.id, day)
        elif event == "cancel":
            query = select(InstallmentPlan.id).where(
                InstallmentPlan.unit_id == unit, col(InstallmentPlan.state).in_([PlanState.active, PlanState.proposed])
            )
            plan_id = (await s.execute(query.limit(1))).scalar_one_or_none()
            if plan_id is not None:
                await cancel_plan(s, COMMAND_LINE, plan_id, "业主要求撤销", day)
        elif event == "sale":
            # The seller leaves the address where their letters reach them now (never the unit).
            seller = await current_owner_id(s, unit, day)
            if seller is not None:
                moved = OwnerContactUpdate(postal_address=f"上海市静安区新闸路{seller}号")
                await update_owner_contact(s, COMMAND_LINE, seller, moved)
            owner = await create_owner(
                s, COMMAND_LINE, OwnerCreate(name=f"买受人{rng.randint(1, 999)}", phone="13900000009")
            )
            assert owner.id is not None
            await transfer_ownership(s, COMMAND_LINE, unit, owner.id, day)


STORED_AS = {
    PlanState.active: Standing.kept,
    PlanState.broken: Standing.broken,
    PlanState.completed: Standing.completed,
    PlanState.cancelled: Standing.cancelled,
}


async def _stored_states(session: AsyncSession, estate_id: int, day: date) -> dict[int, Standing]:
    query = select(InstallmentPlan).where(InstallmentPlan.estate_id == estate_id, col(InstallmentPlan.agreed_on) <= day)
    return {p.id or 0: STORED_AS[PlanState(p.state)] for p in (await session.execute(query)).scalars()}


async def _ledger_states(session: AsyncSession, estate_id: int, day: date) -> dict[int, Standing]:
    return {p.plan_id: p.standing.standing for p in await plan_standings(session, day, estate_id=estate_id)}
