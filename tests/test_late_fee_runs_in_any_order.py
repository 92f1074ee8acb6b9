"""The late-fee run works for any as_of with plans, waivers, voids and sales in any order, and a
charge it cannot compute stops nothing (issue 14 item 1, the accrual and the evidence pack's late fees)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import pytest
from click.testing import CliRunner
from sqlmodel import col, func, select

from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.service import run_billing
from feesvc.cli import cli
from feesvc.db import create_engine, session_factory
from feesvc.latefees.service import accrue_late_fees, waive_late_fee
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.models import Method
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.payments.voids import void_payment
from feesvc.plans.models import LateFeeTreatment
from feesvc.plans.schemas import PlanCreate
from feesvc.plans.service import agree_plan, propose_plan
from feesvc.settings import DatabaseSettings, get_settings
from tests.support import Api, one_unit_estate


async def _posted(api: Api, unit_id: int) -> int:
    async with api.sessions() as s:
        total = await s.execute(
            select(func.coalesce(func.sum(LedgerEntry.amount_fen), 0)).where(
                LedgerEntry.unit_id == unit_id, LedgerEntry.kind == EntryKind.late_fee
            )
        )
        return int(total.scalar_one())


async def test_runs_in_any_order_with_plans_waivers_voids_and_sales(api: Api) -> None:
    estate = await api.make_estate(
        units=1, rate="2.00", area="100.00", settings={"due_day": 1, "grace_days": 5, "late_fee_daily_rate": "0.0003"}
    )
    unit = estate.unit_ids[0]
    for month in ("2026-01", "2026-02", "2026-03"):
        await api.bill(estate.id, month, f"{month}-01")

    async def run(as_of: date) -> None:
        async with api.sessions() as s:
            result = await accrue_late_fees(s, COMMAND_LINE, estate.id, as_of)
        assert result.problems == []

    await run(date(2026, 4, 30))
    async with api.sessions() as s:
        # A payment received in February, recorded in May; a plan agreed on 05-10; a waiver; the void.
        paid, _ = await record_payment(
            s,
            COMMAND_LINE,
            PaymentCreate(unit_id=unit, amount_fen=10000, method=Method.cash, received_on=date(2026, 2, 10)),
            uuid.uuid4().hex,
            date(2026, 5, 8),
        )
        plan = await propose_plan(
            s,
            COMMAND_LINE,
            PlanCreate(unit, 3, date(2027, 1, 31), LateFeeTreatment.freeze),
            date(2026, 5, 10),
        )
        assert plan.id is not None
        await agree_plan(s, COMMAND_LINE, plan.id, date(2026, 5, 10))
        fee = (
            (
                await s.execute(
                    select(LedgerEntry)
                    .where(LedgerEntry.unit_id == unit, LedgerEntry.kind == EntryKind.late_fee)
                    .order_by(col(LedgerEntry.id))
                )
            )
            .scalars()
            .first()
        )
        assert fee is not None and fee.id is not None
        await waive_late_fee(s, COMMAND_LINE, fee.id, 50, "困难户", date(2026, 5, 10))
    # A sale on 05-12: the buyer owes nothing of the seller's periods, which keep their late fees.
    buyer = await api.ok(await api.post("/api/v1/owners", {"name": "买方", "phone": "13900000000"}))
    await api.ok(
        await api.post(f"/api/v1/units/{unit}/ownerships", {"owner_id": buyer["id"], "starts_on": "2026-05-12"})
    )
    async with api.sessions() as s:
        await void_payment(s, COMMAND_LINE, paid.id, "录入错误", date(2026, 5, 13))

    await run(date(2026, 5, 9))  # yesterday's nightly run, the day before the agreement
    after_may_9 = await _posted(api, unit)
    await run(date(2026, 4, 15))  # before the last run: the later figures stand
    assert await _posted(api, unit) == after_may_9
    await run(date(2026, 5, 31))
    at_month_end = await _posted(api, unit)
    await run(date(2026, 5, 31))  # a rerun
    assert await _posted(api, unit) == at_month_end
    await run(date(2026, 6, 30))
    # The plan froze every charge from 05-10: June adds nothing.
    assert await _posted(api, unit) == at_month_end
    # The evidence pack as of a day before the agreement.
    pack = await api.post(f"/api/v1/units/{unit}/evidence-packs", {"as_of": "2026-05-09"})
    assert pack.status_code == 200 and pack.headers["content-type"] == "application/zip"


async def _estate_with_a_bad_charge(url: str) -> int:
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            estate_id, unit_id = await one_unit_estate(session, rate="2.00")
            await run_billing(session, COMMAND_LINE, estate_id, "2026-01", date(2026, 1, 1))
            session.add(
                LedgerEntry(
                    estate_id=estate_id,
                    unit_id=unit_id,
                    kind=EntryKind.charge,
                    amount_fen=-1,  # imported wrongly
                    effective_date=date(2026, 1, 1),
                    due_date=date(2026, 1, 1),
                    dedupe_key=f"test-cli-bad-charge-{estate_id}",
                    actor="import",
                )
            )
            await session.commit()
            return estate_id
    finally:
        await engine.dispose()


def test_the_accrual_command_reports_a_bad_charge_and_exits_needing_attention(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    estate_id = asyncio.run(_estate_with_a_bad_charge(database_url))
    monkeypatch.setenv("FEESVC_DATABASE_URL", database_url)
    get_settings.cache_clear()  # the command reads its settings from the environment, once
    try:
        result = CliRunner().invoke(cli, ["accrue", "--estate", str(estate_id), "--as-of", "2026-03-31"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 3, result.output
    assert "1 late fees posted" in result.output
    assert "not computed: ValueError: principal_fen must be at least 0: -1" in result.output
