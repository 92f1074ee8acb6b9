"""Installment plans (分期): schedules through the API, refusals, agreement, freeze, break, completion.

The API refuses dates in the future (plans due in the past, reviews and accruals ahead of today), so
plans here fall due after the real today and the review and accrual runs that look ahead are driven
through the service functions with explicit ``as_of`` dates.
"""

from __future__ import annotations

import calendar
import uuid
from datetime import date, timedelta
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import func
from sqlmodel import col, select

from feesvc.audit.models import AuditEvent
from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.db import business_today
from feesvc.latefees.service import accrue_late_fees
from feesvc.ledger.limitation import InterruptionKind, LimitationEvent
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.models import Method
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.plans.models import Installment, InstallmentPlan, PlanCharge
from feesvc.plans.review import review_plans
from feesvc.plans.standing import covered_charge_ids, plan_kept
from tests.support import Api, Estate, problem

PLANS = "/api/v1/installment-plans"
# Plans fall due next year or later, so the API takes them whatever day the suite runs.
NEXT_YEAR = business_today().year + 1
# 2.00 元/m²·month × 100 m² = 200 元 a month; due on the 1st; late fee 万分之三 a day = 6 fen a day.
MONTHLY = 20000
DAILY_FEE = 6


async def billed(api: Api, months: list[str], units: int = 1, area: str = "100.00", **settings: Any) -> Estate:
    estate = await api.make_estate(
        units=units,
        rate="2.00",
        area=area,
        settings={"due_day": 1, "grace_days": 5, "late_fee_daily_rate": "0.0003", **settings},
    )
    for month in months:
        await api.bill(estate.id, month, f"{month}-01")
    return estate


async def propose(api: Api, unit_id: int, **body: Any) -> Any:
    payload = {"unit_id": unit_id, "installments": 3, "first_due": f"{NEXT_YEAR}-01-31", "late_fee_treatment": "freeze"}
    return await api.ok(await api.post(PLANS, {**payload, **body}), 201)


async def agree(api: Api, plan_id: int, **body: Any) -> Any:
    return await api.ok(await api.post(f"{PLANS}/{plan_id}/agree", body), 200)


async def pay(api: Api, unit_id: int, amount: int, on: date) -> None:
    async with api.sessions() as s:
        data = PaymentCreate(unit_id=unit_id, amount_fen=amount, method=Method.cash, received_on=on)
        await record_payment(s, COMMAND_LINE, data, uuid.uuid4().hex, on)


async def accrue(api: Api, estate_id: int, as_of: date) -> None:
    async with api.sessions() as s:
        await accrue_late_fees(s, COMMAND_LINE, estate_id, as_of)


async def review(api: Api, estate_id: int, as_of: date) -> Any:
    async with api.sessions() as s:
        return await review_plans(s, COMMAND_LINE, estate_id, as_of)


async def entries(api: Api, unit_id: int, kind: EntryKind) -> list[LedgerEntry]:
    async with api.sessions() as s:
        query = select(LedgerEntry).where(LedgerEntry.unit_id == unit_id, LedgerEntry.kind == kind)
        return list((await s.execute(query.order_by(col(LedgerEntry.id)))).scalars())


async def late_fees_posted(api: Api, unit_id: int) -> int:
    return sum(e.amount_fen for e in await entries(api, unit_id, EntryKind.late_fee))


async def late_fees_open(api: Api, unit_id: int) -> int:
    ledger = await api.ledger(unit_id, as_of="2099-12-31")
    return sum(e["amount_fen"] for e in ledger["entries"] if e["kind"] in ("late_fee", "waiver", "reversal"))


async def ledger_rows(api: Api, unit_id: int) -> int:
    return await api.count(LedgerEntry, LedgerEntry.unit_id == unit_id)


async def plan_rows(api: Api) -> tuple[int, ...]:
    async with api.sessions() as s:
        plan_audits = select(func.count()).where(col(AuditEvent.action).like("installment_plan%"))
        audits = int((await s.execute(plan_audits)).scalar_one())
    return (
        await api.count(InstallmentPlan),
        await api.count(PlanCharge),
        await api.count(Installment),
        await api.count(LimitationEvent),
        await api.count(LedgerEntry),
        audits,
    )


def leap_year_from(year: int) -> int:
    return next(y for y in range(year, year + 8) if calendar.isleap(y))


def due_dates(plan: dict[str, Any]) -> list[date]:
    return [date.fromisoformat(i["due_date"]) for i in plan["schedule"]]


async def test_schedule_from_the_31st_and_over_a_leap_february(api: Api) -> None:
    # 100.01 m² × 2.00 = 200.02 元: three charges of 20002 fen.
    estate = await billed(api, ["2026-01", "2026-02", "2026-03"], units=3, area="100.01")
    unit, other, third = estate.unit_ids
    charges = [e.id for e in await entries(api, unit, EntryKind.charge)]
    y = NEXT_YEAR
    plan = await propose(api, unit, installments=7, first_due=f"{y}-01-31", note="失业，分7期")
    assert plan["state"] == "proposed" and plan["agreed_on"] is None
    assert plan["total_fen"] == 60006 and plan["frequency"] == "monthly"
    assert [c["entry_id"] for c in plan["charges"]] == charges
    assert plan["periods"] == ["2026-01", "2026-02", "2026-03"]
    february = 29 if calendar.isleap(y) else 28
    assert due_dates(plan) == [
        date(y, 1, 31),
        date(y, 2, february),
        date(y, 3, 31),  # from the anchor: not the 28th carried on from February
        date(y, 4, 30),
        date(y, 5, 31),
        date(y, 6, 30),
        date(y, 7, 31),
    ]
    # 60006 = 7 × 8572 + 2: the remainder on the last installment.
    schedule = plan["schedule"]
    assert [i["amount_fen"] for i in schedule] == [8572] * 6 + [8574]
    assert sum(i["amount_fen"] for i in schedule) == plan["total_fen"]
    assert {(i["paid_fen"], i["status"]) for i in schedule} == {(0, "due")}

    leap = leap_year_from(y)  # e.g. 2028-01-31 → 2028-02-29
    spread = await propose(api, other, installments=3, first_due=f"{leap}-01-31")
    assert due_dates(spread) == [date(leap, 1, 31), date(leap, 2, 29), date(leap, 3, 31)]
    assert [i["amount_fen"] for i in spread["schedule"]] == [20002, 20002, 20002]
    leap = leap_year_from(y + 1)
    quarterly = await propose(api, third, installments=4, first_due=f"{leap - 1}-11-30", frequency="quarterly")
    assert due_dates(quarterly) == [date(leap - 1, 11, 30), date(leap, 2, 29), date(leap, 5, 30), date(leap, 8, 30)]
    # 60006 = 4 × 15001 + 2
    assert [i["amount_fen"] for i in quarterly["schedule"]] == [15001, 15001, 15001, 15003]

    # Read back: by staff, by the unit's owner, not by another owner.
    assert await api.ok(await api.get(f"{PLANS}/{plan['id']}", Role.cashier)) == plan
    owner = await api.owner_token(estate.owner_ids[0])
    assert (await api.ok(await api.get(f"{PLANS}/{plan['id']}", owner)))["id"] == plan["id"]
    [listed] = await api.ok(await api.get(f"/api/v1/units/{unit}/installment-plans", owner))
    assert listed["id"] == plan["id"] and len(listed["schedule"]) == 7
    stranger = await api.owner_token(estate.owner_ids[1])
    problem(await api.get(f"{PLANS}/{plan['id']}", stranger), 403)
    problem(await api.get(f"/api/v1/units/{unit}/installment-plans", stranger), 403)
    problem(await api.get(f"{PLANS}/999999999"), 404)
    problem(await api.get("/api/v1/units/999999999/installment-plans"), 404)


async def test_bad_input_is_refused_and_nothing_is_written(api: Api) -> None:
    today = business_today()
    next_month = today.replace(day=1) + relativedelta(months=1)
    estate = await billed(api, ["2026-10"], units=2)
    # Next month's charge, issued today, is due on the 1st of next month: not overdue yet.
    await api.bill(estate.id, f"{next_month:%Y-%m}", today.isoformat())
    unit, other = estate.unit_ids
    october, upcoming = await entries(api, unit, EntryKind.charge)
    [other_october, _] = await entries(api, other, EntryKind.charge)
    assert october.due_date == date(2026, 10, 1) and upcoming.due_date == next_month
    owner = await api.owner_token(estate.owner_ids[0])
    yesterday = (today - timedelta(days=1)).isoformat()
    good = {"unit_id": unit, "installments": 3, "first_due": f"{NEXT_YEAR}-01-31", "late_fee_treatment": "freeze"}
    before = await plan_rows(api)

    async def refused(body: dict[str, Any], status: int, field: str | None, role: Role | str = Role.manager) -> None:
        problem(await api.post(PLANS, {**good, **body}, role), status, field)
        assert await plan_rows(api) == before, body

    for count in (0, 1, 100, -3):
        await refused({"installments": count}, 422, "installments")
    await refused({"first_due": yesterday}, 422, "first_due")
    await refused({"charge_ids": [upcoming.id]}, 422, "charge_ids")  # not overdue
    await refused({"charge_ids": [other_october.id]}, 422, "charge_ids")  # another unit's
    await refused({"charge_ids": [october.id, october.id]}, 422, "charge_ids")
    await refused({"charge_ids": []}, 422, "charge_ids")
    await refused({"charge_ids": [10**12]}, 422, "charge_ids")
    await refused({"unit_id": 10**9}, 404, "unit_id")
    await refused({"frequency": "weekly"}, 400, "frequency")
    await refused({"late_fee_treatment": "forget"}, 400, "late_fee_treatment")
    await refused({"installment": 3}, 400, None)  # a misspelt field
    await refused({}, 403, None, owner)
    await refused({}, 403, None, Role.cashier)
    await refused({}, 401, None, "not-a-token")

    # A fully paid charge cannot be spread: the other unit pays its October.
    await pay(api, other, MONTHLY, today)
    await api.bill(estate.id, "2026-09", "2026-09-01")
    before = await plan_rows(api)
    await refused({"unit_id": other, "charge_ids": [other_october.id]}, 422, "charge_ids")

    # The default takes every overdue charge (September and October, not next month's).
    plan = await propose(api, unit)
    assert plan["periods"] == ["2026-09", "2026-10"] and plan["total_fen"] == 2 * MONTHLY
    await agree(api, plan["id"])
    before = await plan_rows(api)
    await refused({"charge_ids": [october.id]}, 409, "charge_ids")  # already in an active plan
    await refused({}, 409, "charge_ids")  # nothing overdue left that no plan covers
    # Agreeing twice, or on a future date, is refused too; so are a review ahead of today and a bad reason.
    problem(await api.post(f"{PLANS}/{plan['id']}/agree", {}), 409)
    tomorrow = (today + timedelta(days=1)).isoformat()
    problem(await api.post(f"{PLANS}/{plan['id']}/agree", {"agreed_on": tomorrow}), 422, "agreed_on")
    problem(await api.post(f"{PLANS}/{plan['id']}/cancel", {"reason": "x"}), 400, "reason")
    problem(await api.post(f"{PLANS}/{plan['id']}/cancel", {"reason": "业主要求"}, owner), 403)
    problem(await api.post(f"{PLANS}/999999999/agree", {}), 404)
    problem(await api.post(f"{PLANS}/review", {"estate_id": estate.id, "as_of": tomorrow}), 422, "as_of")
    problem(await api.post(f"{PLANS}/review", {"estate_id": 10**9}), 404, "estate_id")
    assert await plan_rows(api) == before


async def test_agreeing_acknowledges_the_debt_and_waive_now_waives(api: Api) -> None:
    estate = await billed(api, ["2026-01", "2026-02", "2026-03", "2026-04"])
    unit = estate.unit_ids[0]
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-11-01"}), 200)
    fees = await entries(api, unit, EntryKind.late_fee)
    assert len(fees) == 4 and (posted := sum(f.amount_fen for f in fees)) > 0
    charges = await entries(api, unit, EntryKind.charge)
    plan = await propose(api, unit, charge_ids=[c.id for c in charges[:3]], late_fee_treatment="waive_now")
    assert plan["periods"] == ["2026-01", "2026-02", "2026-03"]
    assert await api.count(LimitationEvent, LimitationEvent.unit_id == unit) == 0
    assert await entries(api, unit, EntryKind.waiver) == []

    agreed = await agree(api, plan["id"])
    today = business_today()
    assert agreed["state"] == "active" and agreed["agreed_on"] == today.isoformat()
    async with api.sessions() as s:
        events = (await s.execute(select(LimitationEvent).where(LimitationEvent.unit_id == unit))).scalars().all()
    assert sorted(e.period for e in events) == ["2026-01", "2026-02", "2026-03"]
    assert {(e.kind, e.occurred_on, e.source) for e in events} == {
        (InterruptionKind.acknowledgement, today, f"installment plan #{plan['id']}")
    }
    # The three covered charges' late fees are waived in full; April's, not covered, stays open.
    waivers = await entries(api, unit, EntryKind.waiver)
    assert [w.settles_entry_id for w in waivers] == [f.id for f in fees[:3]]
    assert {w.reason for w in waivers} == {f"installment plan #{plan['id']}: late fees waived"}
    assert -sum(w.amount_fen for w in waivers) == posted - fees[3].amount_fen
    assert await late_fees_open(api, unit) == fees[3].amount_fen

    # Cancelling the active plan brings the waived late fees back (the estate restores them on a break).
    cancelled = await api.ok(await api.post(f"{PLANS}/{plan['id']}/cancel", {"reason": "业主反悔，未按约定签字"}), 200)
    assert cancelled["state"] == "cancelled" and cancelled["end_reason"] == "业主反悔，未按约定签字"
    reversals = await entries(api, unit, EntryKind.reversal)
    assert [r.reverses_entry_id for r in reversals] == [w.id for w in waivers]
    assert all(r.reason and "cancelled" in r.reason for r in reversals)
    assert await late_fees_open(api, unit) == posted
    problem(await api.post(f"{PLANS}/{plan['id']}/cancel", {"reason": "再次取消"}), 409)
    # Its charges are free again for a new plan.
    again = await propose(api, unit, late_fee_treatment="freeze", installments=2)
    assert again["periods"] == ["2026-01", "2026-02", "2026-03", "2026-04"]


async def test_freeze_stops_late_fees_while_kept_and_they_resume_after_a_break(api: Api) -> None:
    estate = await billed(api, ["2026-01", "2026-02", "2026-03"], units=2)
    unit, control = estate.unit_ids
    today = business_today()
    yesterday = today - timedelta(days=1)
    await accrue(api, estate.id, yesterday)
    before_plan = await late_fees_posted(api, unit)
    # January: due 01-01, grace to 01-06, then 6 fen a day up to yesterday.
    assert (await entries(api, unit, EntryKind.late_fee))[0].amount_fen == DAILY_FEE * (
        yesterday - date(2026, 1, 6)
    ).days
    plan = await propose(api, unit, installments=3, late_fee_treatment="freeze")
    first, second, _ = due_dates(plan)
    await agree(api, plan["id"])
    charges = {c.id for c in await entries(api, unit, EntryKind.charge)}
    async with api.sessions() as s:
        assert await covered_charge_ids(s, today, unit_id=unit) == charges
        assert await covered_charge_ids(s, today, unit_id=control) == set()

    # Kept: the first installment paid on its due date; nothing accrues on the covered charges.
    await pay(api, unit, MONTHLY, first)
    control_before = await late_fees_posted(api, control)
    later = first + timedelta(days=10)
    await accrue(api, estate.id, later)
    assert await late_fees_posted(api, unit) == before_plan
    # The control unit, no plan: that many more days on each of its three charges.
    assert await late_fees_posted(api, control) - control_before == 3 * DAILY_FEE * (later - yesterday).days
    kept = await review(api, estate.id, later)
    assert (kept.plans_reviewed, kept.completed, kept.broken) == (1, [], [])

    # The second installment is unpaid on the last grace day: kept; the day after: broken.
    last_day = second + timedelta(days=5)
    view = await api.ok(await api.get(f"{PLANS}/{plan['id']}", params={"as_of": last_day.isoformat()}))
    assert view["paid_fen"] == MONTHLY
    assert [(i["paid_fen"], i["status"]) for i in view["schedule"]] == [(MONTHLY, "paid"), (0, "late"), (0, "due")]
    assert (await review(api, estate.id, last_day)).broken == []
    broke_on = last_day + timedelta(days=1)
    async with api.sessions() as s:
        assert await plan_kept(s, unit, last_day)
        assert not await plan_kept(s, unit, broke_on)
    broke = await review(api, estate.id, broke_on)
    assert broke.broken == [plan["id"]] and broke.late_fees_restored_fen == 0
    after = await api.ok(await api.get(f"{PLANS}/{plan['id']}"))
    assert after["state"] == "broken" and after["ended_on"] == broke_on.isoformat()
    assert "installment 2" in after["end_reason"]
    async with api.sessions() as s:
        assert await plan_kept(s, unit, last_day)  # as it stood then
        assert not await plan_kept(s, unit, broke_on + timedelta(days=30))
        assert await covered_charge_ids(s, last_day, unit_id=unit) == charges
        assert await covered_charge_ids(s, broke_on, unit_id=unit) == set()
    rows = await ledger_rows(api, unit)
    again = await review(api, estate.id, broke_on + timedelta(days=14))
    assert (again.plans_reviewed, again.broken, await ledger_rows(api, unit)) == (0, [], rows)

    # Accrual resumes on the break day itself, on the second and third charges' principal (the first
    # is paid): the break day and the 10 days after it, × 6 fen, on each of the two charges.
    resumed = broke_on + timedelta(days=10)
    await accrue(api, estate.id, resumed)
    assert await late_fees_posted(api, unit) - before_plan == 2 * 11 * DAILY_FEE
    fresh = (await entries(api, unit, EntryKind.late_fee))[-2:]
    assert {f.effective_date for f in fresh} == {resumed}
    frozen_until = (broke_on - timedelta(days=1)).isoformat()
    assert all(f.detail and f.detail["frozen"] == [[today.isoformat(), frozen_until]] for f in fresh)


async def test_a_break_restores_the_waived_late_fees_when_the_estate_says_so(api: Api) -> None:
    restoring = await billed(api, ["2026-01", "2026-02"])
    keeping = await billed(api, ["2026-01", "2026-02"], plan_break_restores_waived=False)
    outcome = {}
    for estate in (restoring, keeping):
        unit = estate.unit_ids[0]
        await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-11-01"}), 200)
        plan = await propose(api, unit, installments=2, late_fee_treatment="waive_now")
        first = due_dates(plan)[0]
        await agree(api, plan["id"])
        assert await late_fees_open(api, unit) == 0
        # While kept, late fees the accrual run posts on the covered charges are waived by the review.
        while_kept = first - timedelta(days=15)
        await accrue(api, estate.id, while_kept)
        assert await late_fees_open(api, unit) > 0
        kept = await review(api, estate.id, while_kept)
        assert kept.broken == [] and kept.late_fees_waived_fen > 0
        assert await late_fees_open(api, unit) == 0
        waived = -sum(w.amount_fen for w in await entries(api, unit, EntryKind.waiver))
        assert waived == await late_fees_posted(api, unit)
        # Nothing paid by the first due date + 5 grace days: broken the day after.
        broke_on = first + timedelta(days=6)
        assert (await review(api, estate.id, broke_on - timedelta(days=1))).broken == []
        result = await review(api, estate.id, broke_on + timedelta(days=4))
        assert result.broken == [plan["id"]]
        view = await api.ok(await api.get(f"{PLANS}/{plan['id']}"))
        assert (view["state"], view["ended_on"]) == ("broken", broke_on.isoformat())
        rows = await ledger_rows(api, unit)
        assert (await review(api, estate.id, broke_on + timedelta(days=25))).broken == []
        assert await ledger_rows(api, unit) == rows
        outcome[estate.id] = (result.late_fees_restored_fen, waived, unit, plan["id"], broke_on)

    restored, waived, unit, plan_id, broke_on = outcome[restoring.id]
    assert restored == waived
    reversals = await entries(api, unit, EntryKind.reversal)
    waivers = await entries(api, unit, EntryKind.waiver)
    assert [r.reverses_entry_id for r in reversals] == [w.id for w in waivers]
    assert {r.reason for r in reversals} == {
        f"installment plan #{plan_id} broken on {broke_on}: waived late fees restored"
    }
    assert {r.effective_date for r in reversals} == {broke_on}
    assert await late_fees_open(api, unit) == await late_fees_posted(api, unit) == waived

    restored, waived, unit, _, _ = outcome[keeping.id]
    assert restored == 0 and await entries(api, unit, EntryKind.reversal) == []
    assert await late_fees_open(api, unit) == 0


async def test_paying_in_full_completes_the_plan_and_waives_on_completion(api: Api) -> None:
    estate = await billed(api, ["2026-01", "2026-02", "2026-03"], units=2)
    first, second = estate.unit_ids
    paid_on = date(NEXT_YEAR, 1, 10)
    plans = {}
    for unit in estate.unit_ids:
        plans[unit] = await propose(api, unit, installments=3, late_fee_treatment="waive_on_completion")
        await agree(api, plans[unit]["id"])
        await pay(api, unit, 3 * MONTHLY, paid_on)

    # The accrual run catches up (the days before agreement; frozen after), then the review completes
    # the plans and waives those late fees.
    await accrue(api, estate.id, paid_on + timedelta(days=2))
    posted = await late_fees_posted(api, first)
    assert posted > 0 and await late_fees_posted(api, second) == posted
    result = await review(api, estate.id, paid_on + timedelta(days=2))
    assert sorted(result.completed) == sorted(p["id"] for p in plans.values()) and result.broken == []
    assert result.late_fees_waived_fen == 2 * posted
    for unit in estate.unit_ids:
        view = await api.ok(
            await api.get(f"{PLANS}/{plans[unit]['id']}", params={"as_of": (paid_on + timedelta(days=2)).isoformat()})
        )
        assert (view["state"], view["ended_on"], view["paid_fen"]) == ("completed", paid_on.isoformat(), 3 * MONTHLY)
        assert {i["status"] for i in view["schedule"]} == {"paid"}
        assert await late_fees_open(api, unit) == 0
        assert {w.reason for w in await entries(api, unit, EntryKind.waiver)} == {
            f"installment plan #{plans[unit]['id']}: late fees waived"
        }
    async with api.sessions() as s:
        assert not await plan_kept(s, first, paid_on + timedelta(days=2))
        assert await covered_charge_ids(s, paid_on + timedelta(days=2), unit_id=first) == set()
    rows = await ledger_rows(api, first)
    rerun = await review(api, estate.id, paid_on + timedelta(days=2))
    assert (rerun.plans_reviewed, rerun.late_fees_waived_fen, await ledger_rows(api, first)) == (0, 0, rows)


async def test_late_fees_posted_after_completion_are_waived_by_the_next_review(api: Api) -> None:
    estate = await billed(api, ["2026-01", "2026-02"])
    unit = estate.unit_ids[0]
    paid_on = date(NEXT_YEAR, 1, 10)
    plan = await propose(api, unit, installments=2, late_fee_treatment="waive_on_completion")
    await agree(api, plan["id"])
    await pay(api, unit, 2 * MONTHLY, paid_on)
    done = await review(api, estate.id, paid_on)
    assert done.completed == [plan["id"]] and done.late_fees_waived_fen == 0
    # The accrual run had not caught up on the days before the agreement: it posts them now.
    await accrue(api, estate.id, paid_on + timedelta(days=10))
    posted = await late_fees_posted(api, unit)
    assert posted > 0 and await late_fees_open(api, unit) == posted
    swept = await review(api, estate.id, paid_on + timedelta(days=10))
    assert (swept.plans_reviewed, swept.late_fees_waived_fen) == (0, posted)
    assert await late_fees_open(api, unit) == 0
    assert (await review(api, estate.id, paid_on + timedelta(days=11))).late_fees_waived_fen == 0


async def test_review_through_the_api(api: Api) -> None:
    estate = await billed(api, ["2026-01"])
    unit = estate.unit_ids[0]
    plan = await propose(api, unit, installments=2)
    async with api.sessions() as s:
        assert not await plan_kept(s, unit, business_today())  # proposed is not agreed
        assert await covered_charge_ids(s, business_today(), unit_id=unit) == set()
    # Entered the day after the owner signed on paper: the agreement (and acknowledgement) is dated then.
    signed = business_today() - timedelta(days=1)
    agreed = await agree(api, plan["id"], agreed_on=signed.isoformat())
    assert agreed["agreed_on"] == signed.isoformat()
    assert await api.count(LimitationEvent, LimitationEvent.unit_id == unit, LimitationEvent.occurred_on == signed) == 1
    body = {"estate_id": estate.id}
    problem(await api.post(f"{PLANS}/review", body, Role.cashier), 403)
    result = await api.ok(await api.post(f"{PLANS}/review", body, Role.system), 200)
    assert result == {
        "estate_id": estate.id,
        "as_of": business_today().isoformat(),
        "plans_reviewed": 1,
        "completed": [],
        "broken": [],
        "late_fees_waived_fen": 0,
        "late_fees_restored_fen": 0,
        "reinstated": [],
        "needs_attention": [],
    }


async def test_installments_paid_on_time_keep_a_freeze_plan_with_old_late_fees(api: Api) -> None:
    estate = await billed(api, ["2026-01", "2026-02", "2026-03"])
    unit = estate.unit_ids[0]
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-11-01"}), 200)
    plan = await propose(api, unit, installments=3, late_fee_treatment="freeze")
    await agree(api, plan["id"])
    first, second, _ = due_dates(plan)
    await pay(api, unit, MONTHLY, first)
    await pay(api, unit, MONTHLY, second)
    assert (await review(api, estate.id, second + timedelta(days=6))).broken == []


async def test_an_accrual_as_of_a_day_before_a_plan_was_agreed_runs(api: Api) -> None:
    """The README's nightly cron line accrues as of yesterday; a plan agreed today froze nothing
    then, and must not stop the estate's run."""
    estate = await billed(api, ["2026-01", "2026-02"])
    unit = estate.unit_ids[0]
    plan = await propose(api, unit, late_fee_treatment="freeze")
    agreed = await agree(api, plan["id"])
    yesterday = date.fromisoformat(agreed["agreed_on"]) - timedelta(days=1)
    await accrue(api, estate.id, yesterday)
    # January: due 01-01, grace to 01-06; February: due 02-01, grace to 02-06; 6 fen a day each.
    expected = DAILY_FEE * ((yesterday - date(2026, 1, 6)).days + (yesterday - date(2026, 2, 6)).days)
    assert await late_fees_posted(api, unit) == expected
    run = await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": yesterday.isoformat()})
    assert run.status_code == 200, run.text
