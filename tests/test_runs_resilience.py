"""The scheduled runs never stop on one unit, and a plan's standing comes from the ledger (issue 14
items 1 and 8).

* A plan broken on day X (an installment unpaid past its grace days) freezes nothing and pauses no
  reminder from X, whether or not the review has run; a run as of a past day sees that day's standing.
* The evidence pack builds for any ``as_of``, before or after a plan agreed today, a void, a waiver
  or a sale.
* Billing and the reminder run leave out a unit they cannot process, report it with its reason,
  write nothing for it, issue the others, and the command exits 3.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from click.testing import CliRunner, Result
from sqlmodel import col, select

from feesvc.attention import UnitReport, unit_isolated
from feesvc.auth.principal import COMMAND_LINE
from feesvc.cli import NEEDS_ATTENTION, cli
from feesvc.db import business_today
from feesvc.errors import InvalidInput
from feesvc.evidence.pack import collect
from feesvc.latefees.service import accrue_late_fees, frozen_intervals, waive_late_fee
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.letters.models import Letter
from feesvc.letters.runs import run_reminders
from feesvc.payments.models import Method
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.payments.voids import void_payment
from feesvc.plans.models import InstallmentPlan, LateFeeTreatment, PlanState
from feesvc.plans.review import review_plans
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, propose_plan
from feesvc.plans.standing import plan_kept
from feesvc.registry.models import Unit
from feesvc.settings import get_settings
from tests.support import Api, Estate

SETTINGS = {"due_day": 10, "grace_days": 5, "late_fee_daily_rate": "0.0003"}
MONTHLY = 20000  # 2.00 元/m² × 100 m²


async def estate_billed(api: Api, units: int, months: tuple[str, ...] = ("2025-01", "2025-02")) -> Estate:
    estate = await api.make_estate(units=units, rate="2.00", area="100.00", settings=SETTINGS)
    for month in months:
        await api.bill(estate.id, month, f"{month}-01")
    return estate


async def agreed_plan(api: Api, unit_id: int, on: date, first_due: date) -> int:
    async with api.sessions() as s:
        data = PlanCreate(
            unit_id=unit_id, installments=3, first_due=first_due, late_fee_treatment=LateFeeTreatment.freeze
        )
        plan = await propose_plan(s, COMMAND_LINE, data, on)
        assert plan.id is not None
        plan_id = plan.id
        await agree_plan(s, COMMAND_LINE, plan_id, on)
    return plan_id


async def pay(api: Api, unit_id: int, amount: int, today: date, received_on: date | None = None) -> int:
    async with api.sessions() as s:
        data = PaymentCreate(unit_id=unit_id, amount_fen=amount, method=Method.cash, received_on=received_on or today)
        payment, _ = await record_payment(s, COMMAND_LINE, data, uuid.uuid4().hex, today)
    return payment.id


async def letters(api: Api, estate_id: int) -> list[tuple[int, date, str]]:
    async with api.sessions() as s:
        rows = await s.execute(
            # Not the payment notices a transfer issues (issue 15).
            select(Letter.unit_id, Letter.issued_on, Letter.kind).where(
                Letter.estate_id == estate_id, Letter.kind != "payment_notice"
            )
        )
        return sorted((u, d, str(k)) for u, d, k in rows.all())


def invoke(env: dict[str, str], args: list[str]) -> Result:
    get_settings.cache_clear()  # the command reads this test's environment
    try:
        return CliRunner().invoke(cli, args, env=env)
    finally:
        get_settings.cache_clear()


async def command(database_url: str, *args: str, **env: str) -> Result:
    return await asyncio.to_thread(invoke, {"FEESVC_DATABASE_URL": database_url, **env}, list(args))


# ---------------------------------------------------------------------------------------------------
# A plan's standing from the ledger


async def test_a_plan_broken_without_a_review_stops_freezing_and_pausing_from_the_day_it_broke(api: Api) -> None:
    estate = await estate_billed(api, units=2, months=("2025-01", "2025-02", "2025-03"))
    unit, control = estate.unit_ids
    agreed = date(2025, 3, 4)
    # The first installment falls due on the 10th; unpaid after 5 grace days the plan breaks on the 16th.
    plan_id = await agreed_plan(api, unit, agreed, first_due=date(2025, 3, 10))
    async with api.sessions() as s:
        assert await plan_kept(s, unit, date(2025, 3, 15))
        assert not await plan_kept(s, unit, date(2025, 3, 16))
        assert not await plan_kept(s, unit, date(2025, 3, 3))  # not agreed yet
        # No review has run: the stored state still says active.
        assert (await s.get(InstallmentPlan, plan_id)).state == PlanState.active  # type: ignore[union-attr]
        # As of the 31st the freeze covers the 4th to the 15th only; as of the 12th, the 4th to the 12th.
        covered = set(await _charge_ids(s, unit, ("2025-01", "2025-02")))
        late = await frozen_intervals(s, estate.id, date(2025, 3, 31))
        assert {c: late[c] for c in covered} == {c: [(agreed, date(2025, 3, 15))] for c in covered}
        early = await frozen_intervals(s, estate.id, date(2025, 3, 12))
        assert {c: early[c] for c in covered} == {c: [(agreed, date(2025, 3, 12))] for c in covered}
        assert await frozen_intervals(s, estate.id, date(2025, 3, 3)) == {}
        # The accrual as of the 31st charges the plan unit's January and February for the days
        # outside the freeze only: 12 days fewer each than the control unit's.
        await accrue_late_fees(s, COMMAND_LINE, estate.id, date(2025, 3, 31))
    fees = await _late_fees(api, [unit, control], ("2025-01", "2025-02"))
    assert fees[control] - fees[unit] == 2 * 12 * 6  # 6 fen a day on 20000 fen

    # The reminder run on the 14th (kept) pauses the covered debts; on the 17th (broken) it does not.
    async with api.sessions() as s:
        kept = await run_reminders(s, COMMAND_LINE, estate.id, date(2025, 3, 14), dry_run=True)
    assert kept.skipped_by_reason.get("installment plan being kept") == 1
    async with api.sessions() as s:
        broken = await run_reminders(s, COMMAND_LINE, estate.id, date(2025, 3, 17), dry_run=True)
    assert "installment plan being kept" not in broken.skipped_by_reason
    assert broken.letters_by_kind == {"formal_reminder": 2}


async def test_a_backdated_installment_keeps_the_plan_a_run_saw_as_broken(api: Api) -> None:
    estate = await estate_billed(api, units=1)
    unit = estate.unit_ids[0]
    plan_id = await agreed_plan(api, unit, date(2025, 3, 4), first_due=date(2025, 3, 10))
    async with api.sessions() as s:
        assert not await plan_kept(s, unit, date(2025, 3, 20))
    plan = await api.ok(await api.get(f"/api/v1/installment-plans/{plan_id}"))
    # Paid at the bank on the 14th (within grace), recorded on the 20th.
    await pay(api, unit, plan["schedule"][0]["amount_fen"], date(2025, 3, 20), received_on=date(2025, 3, 14))
    async with api.sessions() as s:
        assert await plan_kept(s, unit, date(2025, 3, 20))


# ---------------------------------------------------------------------------------------------------
# Evidence packs for any as_of, with plans, voids, waivers and sales in any order


async def test_evidence_packs_build_for_any_as_of_around_a_plan_agreed_today_a_void_a_waiver_and_a_sale(
    api: Api,
) -> None:
    today = business_today()
    estate = await estate_billed(api, units=1, months=("2025-01", "2025-02", "2025-03"))
    unit = estate.unit_ids[0]
    async with api.sessions() as s:
        await accrue_late_fees(s, COMMAND_LINE, estate.id, date(2025, 3, 31))
    paid = await pay(api, unit, MONTHLY, date(2025, 4, 2))
    async with api.sessions() as s:
        await void_payment(s, COMMAND_LINE, paid, "支票退票", date(2025, 4, 3))
        fee = (
            await s.execute(
                select(LedgerEntry.id)
                .where(LedgerEntry.unit_id == unit, LedgerEntry.kind == EntryKind.late_fee)
                .order_by(col(LedgerEntry.id))
                .limit(1)
            )
        ).scalar_one()
        await waive_late_fee(s, COMMAND_LINE, fee, None, "经理批准减免", date(2025, 4, 4))
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "新业主", "phone": "13900000002"}))
    await api.ok(
        await api.post(f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer["id"], "starts_on": "2025-04-05"})
    )
    # The plan is agreed today (the reproduction): then packs as of days before and after everything.
    first_due = (today + timedelta(days=20)).isoformat()
    body = {"unit_id": unit, "installments": 3, "first_due": first_due, "late_fee_treatment": "freeze"}
    # The overdue periods are the seller's: the plan is for the seller's account (issue 15).
    body["owner_id"] = estate.owner_ids[0]
    plan = await api.ok(await api.post("/api/v1/installment-plans", body), 201)
    await api.ok(await api.post(f"/api/v1/installment-plans/{plan['id']}/agree", {}), 200)
    days = [date(2025, 3, 15), date(2025, 4, 2), date(2025, 4, 3), date(2025, 4, 4), date(2025, 4, 5)]
    days += [today - timedelta(days=1), today]
    for as_of in days:
        response = await api.post(f"/api/v1/units/{unit}/evidence-packs", {"as_of": as_of.isoformat()})
        assert response.status_code == 200, (as_of, response.text)
        assert response.headers["content-type"].startswith("application/zip")


# ---------------------------------------------------------------------------------------------------
# One unit that cannot be processed


async def test_billing_leaves_out_a_unit_it_cannot_charge_reports_it_and_issues_the_others(
    api: Api, database_url: str
) -> None:
    estate = await estate_billed(api, units=3, months=())
    good, bad, other = estate.unit_ids
    async with api.sessions() as s:
        # Imported data no charge can be computed from: an area whose charge overflows any integer column.
        unit = await s.get(Unit, bad)
        assert unit is not None
        unit.floor_area_m2 = Decimal("1E+30")
        await s.commit()
    result = await command(database_url, "bill", "--estate", estate.code, "--period", "2025-01", "--on", "2025-01-01")
    assert result.exit_code == NEEDS_ATTENTION, result.output
    assert "2 charges issued" in result.output
    assert f"unit {bad}:" in result.output and "needs attention: 1 units" in result.output
    charged = await _charged_units(api, estate.id)
    assert charged == {good, other}  # nothing half-written for the bad unit
    # Over the API the run answers 200 with the unit in needs_attention; a rerun issues nothing twice.
    again = await api.ok(
        await api.post(
            "/api/v1/billing-runs", {"estate_id": estate.id, "period": "2025-01", "issued_on": "2025-01-01"}
        ),
        200,
    )
    assert again["charges_issued"] == 0
    assert [r["unit_id"] for r in again["needs_attention"]] == [bad]
    assert await _charged_units(api, estate.id) == {good, other}


async def test_a_long_statement_link_no_longer_stops_a_short_message(
    api: Api, database_url: str
) -> None:
    estate = await estate_billed(api, units=2)
    texted, posted = estate.unit_ids
    sms = {"phone": "13900000003", "preferred_channel": "sms"}  # the owner of the period prefers SMS
    await api.ok(await api.patch(f"/api/v1/owners/{estate.owner_ids[0]}", sms))
    # A statement link no short message can hold (issue 16: "blocked unit … exits 0", and the owner
    # got nothing): the message goes without the link, the run says so, and nothing needs attention.
    # A letter that cannot be produced at all: tests/letters/test_issued_letters.py.
    long_url = "https://pay.example.com/" + "x" * 220
    args = ("remind", "--estate", estate.code, "--as-of", "2025-03-03", "--no-print-file")
    result = await command(database_url, *args, FEESVC_PUBLIC_BASE_URL=long_url)
    assert result.exit_code == 0, result.output  # the message went without the owner page link
    assert await letters(api, estate.id) == [
        (texted, date(2025, 3, 3), "formal_reminder"),
        (posted, date(2025, 3, 3), "formal_reminder"),
    ]


async def _charge_ids(session: Any, unit_id: int, periods: tuple[str, ...]) -> list[int]:
    rows = await session.execute(
        select(LedgerEntry.id).where(
            LedgerEntry.unit_id == unit_id, LedgerEntry.kind == EntryKind.charge, col(LedgerEntry.period).in_(periods)
        )
    )
    return [int(i) for i in rows.scalars()]


async def _late_fees(api: Api, unit_ids: list[int], periods: tuple[str, ...]) -> dict[int, int]:
    async with api.sessions() as s:
        rows = await s.execute(
            select(LedgerEntry.unit_id, LedgerEntry.amount_fen).where(
                col(LedgerEntry.unit_id).in_(unit_ids),
                LedgerEntry.kind == EntryKind.late_fee,
                col(LedgerEntry.period).in_(periods),
            )
        )
        fees = dict.fromkeys(unit_ids, 0)
        for unit_id, amount in rows.all():
            fees[unit_id] += amount
    return fees


async def _charged_units(api: Api, estate_id: int) -> set[int]:
    async with api.sessions() as s:
        rows = await s.execute(
            select(LedgerEntry.unit_id).where(LedgerEntry.estate_id == estate_id, LedgerEntry.kind == EntryKind.charge)
        )
        return set(rows.scalars())


async def test_a_pack_as_of_the_signing_day_lists_a_plan_entered_the_day_after(api: Api) -> None:
    today = business_today()
    estate = await estate_billed(api, units=1)
    unit = estate.unit_ids[0]
    first_due = (today + timedelta(days=20)).isoformat()
    body = {"unit_id": unit, "installments": 3, "first_due": first_due, "late_fee_treatment": "freeze"}
    # The overdue periods are the seller's: the plan is for the seller's account (issue 15).
    body["owner_id"] = estate.owner_ids[0]
    plan = await api.ok(await api.post("/api/v1/installment-plans", body), 201)
    signed = today - timedelta(days=1)
    await api.ok(
        await api.post(f"/api/v1/installment-plans/{plan['id']}/agree", {"agreed_on": signed.isoformat()}), 200
    )
    async with api.sessions() as s:
        assert [p.id for p in (await collect(s, unit, signed)).plans] == [plan["id"]]
        assert (await collect(s, unit, signed - timedelta(days=1))).plans == []
    response = await api.post(f"/api/v1/units/{unit}/evidence-packs", {"as_of": signed.isoformat()})
    assert response.status_code == 200, response.text


async def test_a_review_reinstates_a_plan_it_broke_when_a_backdated_installment_shows_it_was_kept(api: Api) -> None:
    estate = await estate_billed(api, units=1)
    unit = estate.unit_ids[0]
    async with api.sessions() as s:
        await accrue_late_fees(s, COMMAND_LINE, estate.id, date(2025, 2, 28))
        data = PlanCreate(
            unit_id=unit, installments=3, first_due=date(2025, 3, 10), late_fee_treatment=LateFeeTreatment.waive_now
        )
        plan = await propose_plan(s, COMMAND_LINE, data, date(2025, 3, 4))
        assert plan.id is not None
        plan_id = plan.id
        await agree_plan(s, COMMAND_LINE, plan_id, date(2025, 3, 4))
    assert await _open_late_fees(api, unit) == 0  # waived on agreement
    async with api.sessions() as s:
        broke = await review_plans(s, COMMAND_LINE, estate.id, date(2025, 3, 17))
    assert broke.broken == [plan_id] and broke.late_fees_restored_fen > 0
    assert await _open_late_fees(api, unit) == broke.late_fees_restored_fen
    # A review as of a day before the break never reconsiders it.
    async with api.sessions() as s:
        assert (await review_plans(s, COMMAND_LINE, estate.id, date(2025, 3, 15))).reinstated == []
    # The first installment was paid at the bank on the 14th (within grace); the slip comes on the 18th.
    view = await api.ok(await api.get(f"/api/v1/installment-plans/{plan_id}"))
    await pay(api, unit, view["schedule"][0]["amount_fen"], date(2025, 3, 18), received_on=date(2025, 3, 14))
    async with api.sessions() as s:
        again = await review_plans(s, COMMAND_LINE, estate.id, date(2025, 3, 18))
    assert (again.reinstated, again.broken, again.needs_attention) == ([plan_id], [], [])
    assert again.late_fees_waived_fen == broke.late_fees_restored_fen  # waived again, as agreed
    assert await _open_late_fees(api, unit) == 0
    async with api.sessions() as s:
        stored = await s.get(InstallmentPlan, plan_id)
        assert stored is not None and (stored.state, stored.ended_on) == (PlanState.active, None)
        rerun = await review_plans(s, COMMAND_LINE, estate.id, date(2025, 3, 18))
    assert (rerun.reinstated, rerun.late_fees_waived_fen) == ([], 0)


async def _open_late_fees(api: Api, unit_id: int) -> int:
    ledger = await api.ledger(unit_id, as_of="2099-12-31")
    return sum(e["amount_fen"] for e in ledger["entries"] if e["kind"] in ("late_fee", "waiver", "reversal"))


async def test_a_units_work_that_fails_is_rolled_back_and_reported_and_the_rest_is_kept(api: Api) -> None:
    estate = await estate_billed(api, units=2, months=())
    good, bad = estate.unit_ids
    reports: list[UnitReport] = []
    async with api.sessions() as s:
        for unit_id in (good, bad):
            async with unit_isolated(s, unit_id, reports):
                s.add(
                    Letter(
                        estate_id=estate.id,
                        unit_id=unit_id,
                        kind="friendly_reminder",
                        channel="paper",
                        locale="zh_CN",
                        letter_no=f"ISO-{unit_id}",
                        issued_on=date(2025, 3, 3),
                        total_fen=1,
                        periods=[],
                        context={},
                        dedupe_key=f"iso:{unit_id}",
                        actor="test",
                    )
                )
                if unit_id == bad:
                    await s.flush()
                    raise InvalidInput("this unit's data cannot be handled")
        await s.commit()
    assert reports == [UnitReport(bad, "this unit's data cannot be handled")]
    assert [u for u, _, _ in await letters(api, estate.id)] == [good]
