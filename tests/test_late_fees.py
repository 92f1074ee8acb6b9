from __future__ import annotations

import asyncio
import uuid
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from feesvc.auth.models import Role
from feesvc.auth.principal import COMMAND_LINE
from feesvc.billing.service import run_billing
from feesvc.db import create_engine, session_factory
from feesvc.latefees import service as late_fee_service
from feesvc.latefees.service import ACCRUAL_LOCK_NAMESPACE, accrue_late_fees
from feesvc.ledger.models import EntryKind, LedgerEntry
from feesvc.payments.recording import record_payment
from feesvc.payments.schemas import PaymentCreate
from feesvc.registry.schemas import BuildingCreate, EstateCreate, EstateSettings, UnitCreate
from feesvc.registry.service import create_building, create_estate, create_unit
from feesvc.settings import DatabaseSettings
from feesvc.standards.schemas import FeeStandardCreate
from feesvc.standards.service import create_fee_standard
from tests.support import Api, problem


def plainly_computed_late_fee(
    principal: int,
    due: date,
    payments: list[tuple[date, int]],
    as_of: date,
    rate: Decimal,
    grace: int,
    cap: str,
    cap_fen: int | None,
) -> int:
    """Day by day: each day after the grace period, the unpaid principal that day times the rate."""
    total = Decimal(0)
    day = due + timedelta(days=grace + 1)
    while day <= as_of:
        unpaid = principal - sum(amount for paid_on, amount in payments if paid_on <= day)
        total += max(unpaid, 0) * rate
        day += timedelta(days=1)
    if cap == "principal":
        total = min(total, Decimal(principal))
    elif cap == "fixed" and cap_fen is not None:
        total = min(total, Decimal(cap_fen))
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


scenarios = st.fixed_dictionaries(
    {
        "area": st.sampled_from(["35.00", "89.57", "120.35", "180.00"]),
        "rate": st.sampled_from(["0.0001", "0.0003", "0.0005", "0.001", "0.003", "0.01"]),
        "grace": st.integers(0, 30),
        "cap": st.sampled_from(["none", "principal", "fixed"]),
        "cap_fen": st.integers(100, 20000),
        # Partial payments: (days after 2025-01-01, fen); the unit has 3 monthly charges.
        "payments": st.lists(st.tuples(st.integers(0, 300), st.integers(1, 30000)), max_size=4),
        "runs": st.lists(st.integers(20, 420), min_size=1, max_size=3),
    }
)


async def _scenario(url: str, s: dict) -> None:  # type: ignore[type-arg]
    engine = create_engine(DatabaseSettings(url=url))
    try:
        async with session_factory(engine)() as session:
            estate = await create_estate(
                session,
                COMMAND_LINE,
                EstateCreate(
                    code="L" + uuid.uuid4().hex[:10],
                    name="违约金测试",
                    company_name="测试物业",
                    settings=EstateSettings(
                        due_day=10,
                        grace_days=s["grace"],
                        late_fee_daily_rate=s["rate"],
                        late_fee_cap=s["cap"],
                        late_fee_cap_fen=s["cap_fen"],
                    ),
                ),
            )
            assert estate.id is not None
            building = await create_building(session, COMMAND_LINE, estate.id, BuildingCreate(name="A"))
            assert building.id is not None
            unit, _ = await create_unit(session, COMMAND_LINE, UnitCreate(building.id, "101", s["area"]))
            await create_fee_standard(
                session,
                COMMAND_LINE,
                estate.id,
                FeeStandardCreate(
                    unit_use="residential",
                    item="service_fee",
                    item_name="物业服务费",
                    basis="per_m2_month",
                    rate="2.50",
                    effective_from=date(2024, 1, 1),
                    posted_on=date(2024, 1, 1),
                    decision_kind="contract",
                    decision_ref="合同",
                ),
            )
            for period in ("2025-01", "2025-02", "2025-03"):
                await run_billing(session, COMMAND_LINE, estate.id, period, date.fromisoformat(period + "-01"))
            start = date(2025, 1, 1)
            for offset, amount in sorted(s["payments"]):
                await record_payment(
                    session,
                    COMMAND_LINE,
                    PaymentCreate(
                        unit_id=unit.id, amount_fen=amount, method="cash", received_on=start + timedelta(days=offset)
                    ),
                    uuid.uuid4().hex,
                    date(2026, 11, 1),
                )
            as_of = start
            for offset in sorted(s["runs"]):
                as_of = start + timedelta(days=offset)
                await accrue_late_fees(session, COMMAND_LINE, estate.id, as_of)
            await accrue_late_fees(session, COMMAND_LINE, estate.id, as_of)  # a rerun changes nothing

            entries = (
                (
                    await session.execute(
                        select(LedgerEntry).where(LedgerEntry.unit_id == unit.id).order_by(col(LedgerEntry.id))
                    )
                )
                .scalars()
                .all()
            )
            charges = [e for e in entries if e.kind == EntryKind.charge]
            for charge in charges:
                assert charge.due_date is not None
                paid = [
                    (e.effective_date, -e.amount_fen)
                    for e in entries
                    if e.settles_entry_id == charge.id and e.effective_date <= as_of
                ]
                posted = sum(
                    e.amount_fen for e in entries if e.kind == EntryKind.late_fee and e.basis_entry_id == charge.id
                )
                expected = plainly_computed_late_fee(
                    charge.amount_fen,
                    charge.due_date,
                    paid,
                    as_of,
                    Decimal(s["rate"]),
                    s["grace"],
                    s["cap"],
                    s["cap_fen"],
                )
                # Posting follows payments made up to each run; the last run sees them all.
                assert posted == expected, (charge.period, posted, expected)
    finally:
        await engine.dispose()


def test_posted_late_fees_match_a_plain_day_by_day_computation(database_url: str) -> None:
    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(scenarios)
    def check(scenario: dict) -> None:  # type: ignore[type-arg]
        asyncio.run(_scenario(database_url, scenario))

    check()


async def test_accrual_run_is_idempotent_and_stops_when_paid(api: Api) -> None:
    estate = await api.make_estate(
        units=1, rate="2.00", area="100.00", settings={"due_day": 15, "grace_days": 10, "late_fee_daily_rate": "0.0003"}
    )
    unit = estate.unit_ids[0]
    await api.bill(estate.id, "2026-01", "2026-01-01")
    first = await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-03-31"}), 200)
    # 200 元 due 01-15, grace to 01-25: 26 Jan – 31 Mar = 65 days × 20000 × 0.0003 = 390 fen.
    assert (first["late_fees_posted"], first["posted_fen"]) == (1, 390)
    again = await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-03-31"}), 200)
    assert again["late_fees_posted"] == 0
    statement = await api.ok(await api.get(f"/api/v1/units/{unit}/statement", params={"as_of": "2026-03-31"}))
    [line] = [x for x in statement["lines"] if x["kind"] == "late_fee"]
    assert line["calculation"] == "2026-01-26 至 2026-03-31 共 65 天：¥200.00 × 万分之三 (0.03%/日) × 65"
    assert line["detail"]["principal_fen"] == 20000


async def test_an_estate_is_read_a_page_of_charges_at_a_time(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = {"due_day": 15, "grace_days": 10, "late_fee_daily_rate": "0.0003"}
    twins = [await api.make_estate(units=3, rate="2.00", area="100.00", settings=settings) for _ in range(2)]
    for estate in twins:
        for period in ("2026-01", "2026-02", "2026-03"):
            await api.bill(estate.id, period, f"{period}-01")
        # Part of one unit's first charge is paid: its late fee runs on the rest.
        payment = {"unit_id": estate.unit_ids[1], "amount_fen": 5000, "method": "cash", "received_on": "2026-02-10"}
        await api.ok(await api.post("/api/v1/payments", payment, headers={"Idempotency-Key": uuid.uuid4().hex}), 201)
    runs = []
    for estate, page in zip(twins, (2, late_fee_service.CHARGE_PAGE), strict=True):
        monkeypatch.setattr(late_fee_service, "CHARGE_PAGE", page)  # 9 charges: five pages, or one
        for as_of in ("2026-04-30", "2026-05-31", "2026-05-31"):
            run = await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": as_of}), 200)
            runs.append((run["charges_considered"], run["late_fees_posted"], run["posted_fen"]))
    assert runs[:3] == runs[3:]
    # 2026-04-30: Jan (from 01-26: 95 days), Feb (from 02-26: 64 days), Mar (from 03-26: 36 days) on 200 元
    # a unit, at 0.0003: 570 + 384 + 216 fen; the part-paid unit's January: 15 days on 200 元 and 80 on 150.
    assert runs[0] == (9, 9, 3 * (570 + 384 + 216) - 570 + 90 + 360)
    assert runs[2] == (9, 0, 0)  # the rerun posts nothing


async def test_a_fee_standard_may_carry_its_own_late_fee_rate(api: Api) -> None:
    estate = await api.make_estate(
        units=1, rate="2.00", area="100.00", settings={"due_day": 15, "grace_days": 10, "late_fee_daily_rate": "0.0003"}
    )
    parking = {
        "unit_use": "residential",
        "item": "parking",
        "item_name": "车位管理费",
        "basis": "fixed_month",
        "rate": "100.00",
        "effective_from": "2025-01-01",
        "posted_on": "2025-01-01",
        "decision_kind": "contract",
        "decision_ref": "车位管理合同",
        "late_fee_daily_rate": "0.0005",
    }
    await api.ok(await api.post(f"/api/v1/estates/{estate.id}/fee-standards", parking))
    await api.bill(estate.id, "2026-01", "2026-01-01")
    result = await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-03-31"}), 200)
    assert result["late_fees_posted"] == 2
    ledger = await api.ledger(estate.unit_ids[0])
    fees = {e["item"]: e["amount_fen"] for e in ledger["entries"] if e["kind"] == "late_fee"}
    # 65 days from 26 Jan: the service fee (200 元) at the estate's 0.0003, parking (100 元) at its own 0.0005.
    assert fees == {"service_fee": 390, "parking": 325}


async def test_two_runs_at_once_post_each_late_fee_once(api: Api) -> None:
    estate = await api.make_estate(
        units=3, rate="2.00", area="100.00", settings={"due_day": 15, "grace_days": 10, "late_fee_daily_rate": "0.0003"}
    )
    await api.bill(estate.id, "2026-01", "2026-01-01")
    run = {"estate_id": estate.id, "as_of": "2026-03-31"}
    responses = await api.post_at_once("/api/v1/late-fee-runs", [run, run], Role.manager, [{}, {}])
    assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
    # One run posts the three fees (390 fen each, as above); the other waits for it and posts nothing.
    assert sorted(r.json()["late_fees_posted"] for r in responses) == [0, 3]
    for unit in estate.unit_ids:
        ledger = await api.ledger(unit)
        assert [e["amount_fen"] for e in ledger["entries"] if e["kind"] == "late_fee"] == [390]


async def test_a_run_waits_for_the_run_in_progress_on_its_estate(
    api: Api, sessions: async_sessionmaker[AsyncSession], is_postgres: bool
) -> None:
    """PostgreSQL runs post by COPY, which cannot skip a taken dedupe key: runs of one estate queue."""
    if not is_postgres:
        pytest.skip("SQLite serialises every write transaction (BEGIN IMMEDIATE)")
    estate = await api.make_estate(units=1, rate="2.00", area="100.00", settings={"due_day": 15, "grace_days": 10})
    await api.bill(estate.id, "2026-01", "2026-01-01")
    async with sessions() as holder, sessions() as runner:
        await holder.execute(
            text("SELECT pg_advisory_xact_lock(:namespace, :estate)"),
            {"namespace": ACCRUAL_LOCK_NAMESPACE, "estate": estate.id},
        )
        run = asyncio.create_task(accrue_late_fees(runner, COMMAND_LINE, estate.id, date(2026, 3, 31)))
        await asyncio.sleep(0.5)
        assert not run.done()  # waiting for the estate's lock
        await holder.commit()
        result = await asyncio.wait_for(run, 10)
    assert result.late_fees_posted == 1


async def test_waiver_of_a_late_fee(api: Api) -> None:
    estate = await api.make_estate(units=1, rate="2.00", area="100.00", settings={"due_day": 1})
    unit = estate.unit_ids[0]
    await api.bill(estate.id, "2026-01", "2026-01-01")
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-04-30"}), 200)
    ledger = await api.ledger(unit)
    [fee] = [e for e in ledger["entries"] if e["kind"] == "late_fee"]
    problem(await api.post(f"/api/v1/late-fees/{fee['id']}/waivers", {"reason": "困难户"}, Role.cashier), 403)
    problem(
        await api.post(f"/api/v1/late-fees/{fee['id']}/waivers", {"amount_fen": 10**6, "reason": "困难户"}),
        422,
        "amount_fen",
    )
    await api.ok(
        await api.post(f"/api/v1/late-fees/{fee['id']}/waivers", {"amount_fen": 100, "reason": "困难户，经理批准"})
    )
    after = await api.ledger(unit)
    assert after["balance_fen"] == ledger["balance_fen"] - 100
    [waiver] = [e for e in after["entries"] if e["kind"] == "waiver"]
    assert waiver["reason"] == "困难户，经理批准" and waiver["settles_entry_id"] == fee["id"]


async def test_court_likely_figure_beside_the_contract_fee(api: Api) -> None:
    estate = await api.make_estate(
        units=1, rate="2.00", area="100.00", settings={"due_day": 1, "late_fee_daily_rate": "0.005"}
    )
    await api.ok(
        await api.post(
            f"/api/v1/estates/{estate.id}/court-rates",
            {"effective_from": "2020-01-01", "annual_rate": "0.0390", "basis": "1年期LPR 3.00% × 1.3"},
        )
    )
    problem(
        await api.post(
            f"/api/v1/estates/{estate.id}/court-rates",
            {"effective_from": "2021-01-01", "annual_rate": "1.5", "basis": "错误"},
        ),
        422,
        "annual_rate",
    )
    await api.bill(estate.id, "2026-01", "2026-01-01")
    await api.ok(await api.post("/api/v1/late-fee-runs", {"estate_id": estate.id, "as_of": "2026-10-31"}), 200)
    fee = next(e for e in (await api.ledger(estate.unit_ids[0]))["entries"] if e["kind"] == "late_fee")
    # Contract: 303 days × 20000 × 0.005 = 30300, capped at the principal; court: 20000 × 3.9% × 303/365 = 647.5.
    assert fee["amount_fen"] == 20000 and fee["detail"]["capped"] is True
    assert fee["detail"]["court_likely_fen"] == 648
